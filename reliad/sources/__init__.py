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
from reliad.sources.base import SourceItem, SourceType
from reliad.sources.files import FileWalker, Root
from reliad.sources.image import open_image


def open_files(policy: PolicyConfig, src: SourceConfig, skip_dirs: list[Any]) -> Iterator[SourceItem]:
    for p in src.paths:
        if not os.path.lexists(p):
            raise ReliadError(f"policy {policy.name!r}, source {src.name!r}: path {p} does not exist")
    one_fs = bool(src.options.get("one_file_system"))
    roots = [Root(p, src.name, src.exclude, one_fs) for p in src.paths]
    return iter(FileWalker(roots, skip_dirs=skip_dirs))


SOURCE_TYPES: dict[str, SourceType] = {"files": SourceType(open_files), "postgres": postgres.SOURCE,
                                        "mariadb": mariadb.SOURCE, "mysql": mariadb.SOURCE, "sqlite": sqlite.SOURCE,
                                        "image": SourceType(open_image)}


def open_source(policy: PolicyConfig, src: SourceConfig, skip_dirs: list[Any]) -> Iterator[SourceItem]:
    kind = SOURCE_TYPES.get(src.type)
    if kind is None:
        raise ConfigError(f"source type {src.type!r} is not supported by this build")
    return iter(kind.open(policy, src, skip_dirs))
