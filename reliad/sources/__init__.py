"""What gets backed up. Each source type yields `SourceItem`s in manifest sort order;
`SOURCE_TYPES` maps a configured `type` to the function that opens it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from reliad.config import PolicyConfig, SourceConfig
from reliad.errors import ConfigError, ReliadError
from reliad.sources.base import SourceItem
from reliad.sources.files import FileWalker, Root
from reliad.sources.image import open_image
from reliad.sources.mariadb import open_mariadb
from reliad.sources.postgres import open_postgres
from reliad.sources.sqlite import open_sqlite

Opener = Callable[[PolicyConfig, SourceConfig, list[Any]], Iterable[SourceItem]]


def open_files(policy: PolicyConfig, src: SourceConfig, skip_dirs: list[Any]) -> Iterator[SourceItem]:
    for p in src.paths:
        if not os.path.lexists(p):
            raise ReliadError(f"policy {policy.name!r}, source {src.name!r}: path {p} does not exist")
    one_fs = bool(src.options.get("one_file_system"))
    roots = [Root(p, src.name, src.exclude, one_fs) for p in src.paths]
    return iter(FileWalker(roots, skip_dirs=skip_dirs))


SOURCE_TYPES: dict[str, Opener] = {"files": open_files, "postgres": open_postgres, "mariadb": open_mariadb,
                                   "mysql": open_mariadb, "sqlite": open_sqlite, "image": open_image}


def open_source(policy: PolicyConfig, src: SourceConfig, skip_dirs: list[Any]) -> Iterator[SourceItem]:
    opener = SOURCE_TYPES.get(src.type)
    if opener is None:
        raise ConfigError(f"source type {src.type!r} is not supported by this build")
    return iter(opener(policy, src, skip_dirs))
