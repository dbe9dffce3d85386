"""Recreating the catalog's backup records from the repositories alone: after the host (and
its state directory) was lost, or to correct a catalog that no longer matches what is stored.
The repositories are the truth about backups; the catalog only remembers them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reliad.catalog import open_for_rebuild
from reliad.config import Config
from reliad.jobs.locate import repositories


@dataclass
class Rebuilt:
    found: dict[str, int]  # backups found per target
    set_aside: Path | None  # where the damaged catalog file was moved (kept), if it was damaged


def rebuild_catalog(config: Config, target_name: str | None = None) -> dict[str, int]:
    """Replace each target's backup records (or only `target_name`'s) with what its repository
    holds; returns the number of backups found per target (what a severe drill needs)."""
    return rebuild(config, target_name).found


def rebuild(config: Config, target_name: str | None = None) -> Rebuilt:
    """`rebuild_catalog`, also saying where a damaged catalog file was set aside: it works
    whatever state the catalog file is in."""
    catalog, aside = open_for_rebuild(config.state_dir)
    found: dict[str, int] = {}
    try:
        for t, repo in repositories(config, target_name):
            headers = repo.headers()
            catalog.replace_target(t.name, headers)
            found[t.name] = len(headers)
    finally:
        catalog.close()
    return Rebuilt(found, aside)
