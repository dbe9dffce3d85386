"""Recreating the catalog's backup records from the repositories alone: after the host (and
its state directory) was lost, or to correct a catalog that no longer matches what is stored.
The repositories are the truth about backups; the catalog only remembers them."""

from __future__ import annotations

from reliad.catalog import Catalog
from reliad.config import Config
from reliad.jobs.locate import repositories


def rebuild_catalog(config: Config, target_name: str | None = None) -> dict[str, int]:
    """Replace each target's backup records (or only `target_name`'s) with what its repository
    holds; returns the number of backups found per target."""
    catalog = Catalog(config.state_dir)
    found: dict[str, int] = {}
    try:
        for t, repo in repositories(config, target_name):
            headers = repo.headers()
            catalog.replace_target(t.name, headers)
            found[t.name] = len(headers)
    finally:
        catalog.close()
    return found
