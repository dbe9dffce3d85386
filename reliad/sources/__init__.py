"""What gets backed up, and where a database dump goes back to. Each source type yields
`SourceItem`s in manifest sort order; `SOURCE_TYPES` maps a configured `type` to its
`SourceType`: the function that opens it and, for a database, the one that loads a dump."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from reliad.config import PolicyConfig, SourceConfig
from reliad.errors import ConfigError, ReliadError
from reliad.sources import mariadb, postgres, sqlite
from reliad.sources.base import LeftOut, SourceItem, SourceType
from reliad.sources.files import FileWalker, Root
from reliad.sources.image import open_image


def open_files(policy: PolicyConfig, src: SourceConfig, skip_dirs: list[Any],
               left_out: LeftOut | None = None) -> Iterator[SourceItem]:
    """The walk over a files source's paths. A path that does not exist is left out and
    counted (the backup is then partial), so that one missing directory does not cost the
    rest; when none exists, the source fails."""
    left_out = left_out if left_out is not None else LeftOut()
    present = [p for p in src.paths if os.path.lexists(p)]
    if not present:
        missing = ", ".join(str(p) for p in src.paths)
        raise ReliadError(f"policy {policy.name!r}, source {src.name!r}: path {missing} does not exist")
    left_out.missing += [f"source {src.name!r}: {p}" for p in src.paths if p not in present]
    one_fs = bool(src.options.get("one_file_system"))
    roots = [Root(p, src.name, src.exclude, one_fs) for p in present]
    return iter(FileWalker(roots, skip_dirs=skip_dirs, left_out=left_out))


SOURCE_TYPES: dict[str, SourceType] = {"files": SourceType(open_files), "postgres": postgres.SOURCE,
                                        "mariadb": mariadb.SOURCE, "mysql": mariadb.SOURCE, "sqlite": sqlite.SOURCE,
                                        "image": SourceType(open_image)}


def open_source(policy: PolicyConfig, src: SourceConfig, skip_dirs: list[Any],
                left_out: LeftOut | None = None) -> Iterator[SourceItem]:
    """A source's items; what a files source leaves out goes into `left_out`."""
    kind = SOURCE_TYPES.get(src.type)
    if kind is None:
        raise ConfigError(f"source type {src.type!r} is not supported by this build")
    if kind.open is open_files:
        return open_files(policy, src, skip_dirs, left_out)
    return iter(kind.open(policy, src, skip_dirs))
