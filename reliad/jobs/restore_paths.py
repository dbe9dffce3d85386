"""Where each path of a backup lands below a restore's DEST.

As stored, a path keeps its whole source path below DEST (`/srv/shop/index.html` restores to
DEST/srv/shop/index.html), like tar. `--strip-components N` drops the first N components, as
tar's option does: an entry with no more than N components is not written (it is DEST or one
of DEST's ancestors). `--relative` restores one directory of the backup (the one `--path`, or
the backup's one source path) straight into DEST, and nothing outside it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

from reliad.errors import ConfigError
from reliad.repository.manifest import Entry

PathMap = Callable[[bytes, bool], "bytes | None"]  # (stored path, is a directory) -> path below DEST


def normalise(p: str) -> bytes:
    """A path as the manifest stores it: no leading or doubled slashes."""
    b = os.fsencode(p).strip(b"/")
    while b"//" in b:
        b = b.replace(b"//", b"/")
    return b


def strip_components(n: int) -> PathMap:
    """tar's --strip-components: the path without its first n components; None when none is left."""

    def mapped(path: bytes, is_dir: bool) -> bytes | None:
        parts = path.split(b"/")
        return b"/".join(parts[n:]) if len(parts) > n else None

    return mapped


def relative_to(root: bytes) -> PathMap:
    """Paths below `root` relative to it; `root` itself, when it is a file, under its own name."""
    prefix = root + b"/"

    def mapped(path: bytes, is_dir: bool) -> bytes | None:
        if path.startswith(prefix):
            return path[len(prefix):]
        if path == root and not is_dir:
            return path.rsplit(b"/", 1)[-1]
        return None

    return mapped


def relative_root(header: dict[str, Any], wanted: list[bytes]) -> bytes:
    """The one directory (or file) --relative restores into DEST: the one --path, else the
    backup's one source path (other sources' database dumps are then left out)."""
    if len(wanted) > 1:
        raise ConfigError("--relative restores one directory straight into DEST: give at most one --path")
    if wanted:
        return wanted[0]
    roots = [p for s in header.get("sources", []) for p in s.get("paths", [])]
    if len(roots) != 1:
        raise ConfigError(f"backup {header.get('id')} has {len(roots)} source paths ({', '.join(roots) or 'none'}); "
                          "--relative restores one: name it with --path")
    return normalise(roots[0])


def moved(entry: Entry, where: PathMap) -> Entry | None:
    """The entry as it is written below DEST, or None when it lands nowhere. A hard link whose
    target lands nowhere is written as a file of its own (it carries the target's content)."""
    path = where(entry.path, entry.type == "dir")
    if path is None:
        return None
    if entry.type != "hardlink" or entry.target is None:
        return dataclasses.replace(entry, path=path)
    target = where(entry.target, False)
    if target is None:
        return dataclasses.replace(entry, path=path, type="file", target=None)
    return dataclasses.replace(entry, path=path, target=target)
