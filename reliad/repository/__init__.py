"""The repository format: packs of frames, manifests, locks. Knows nothing of sources or S3."""

from reliad.repository.repo import Repository

__all__ = ["Repository"]
