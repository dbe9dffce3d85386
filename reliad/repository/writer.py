"""Writing one backup into a repository, in the order that makes it crash-safe.

The backup job (through the archiver) hands content to `pipeline` and entries to
`manifest`; the repository decides everything about where and how they are stored: frames
into packs named after the backup (sealed when the repository is encrypted), entries into
a manifest, and the manifest written last, through a staged write, only once every pack is
committed. A run that fails anywhere calls `abort`: what it had not committed is dropped,
and packs already committed are unreferenced leftovers that prune removes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reliad.repository.crypto import Cipher
from reliad.repository.manifest import MANIFEST_FORMAT, MANIFEST_VERSION, ManifestWriter
from reliad.repository.names import manifest_object
from reliad.repository.packer import FramePipeline, PackWriter
from reliad.storage.base import Storage


class BackupWriter:
    """Made by `Repository.start_backup`, which knows the pack size and the key."""

    def __init__(self, storage: Storage, backup_id: str, pack_size: int, cipher: Cipher | None,
                 tmp_dir: Path | None, level: int) -> None:
        self.storage = storage
        self.backup_id = backup_id
        self.packs = PackWriter(storage, backup_id, pack_size, cipher=cipher)
        self.manifest = ManifestWriter(tmp_dir=tmp_dir, cipher=cipher, name=manifest_object(backup_id))
        self.pipeline = FramePipeline(self.packs, level)

    @property
    def bytes_stored(self) -> int:
        return self.packs.bytes_written

    def finish_packs(self) -> None:
        """Commit every pack (the archiver has drained the pipeline); raises the first failure."""
        self.packs.close()

    def commit(self, info: dict[str, Any], stats: dict[str, Any]) -> dict[str, Any]:
        """Write the manifest, which makes the backup exist; returns its header. `info`
        describes the backup (policy, type, base, times, host, sources, depends_on) and
        `stats` its figures; the repository adds what is its own: format, version, id and
        the packs with their sizes and CRC32Cs."""
        header = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "id": self.backup_id, **info,
                  "packs": self.packs.packs, "pack_sums": self.packs.sums, "stats": stats}
        with self.storage.open_write(manifest_object(self.backup_id)) as out:
            self.manifest.write_to(out, header)
        return header

    def close(self) -> None:
        """Stop the pipeline's threads once the backup is committed."""
        self.pipeline.shutdown()

    def abort(self) -> None:
        """Stop the threads and drop whatever is not committed."""
        self.pipeline.shutdown()
        self.packs.abort()
        self.manifest.discard()
