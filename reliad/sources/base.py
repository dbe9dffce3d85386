"""The shape every source type hands to the archiver."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class SourceItem:
    """One entry to back up.

    `open` returns a raw file descriptor to read content from (regular files and dumps);
    `st` is the lstat result for filesystem entries, used both for metadata and for
    change detection against the reference backup.

    `stream` marks content whose metadata says nothing about change (a dump, a block
    device): it is read in full every time and deduplicated by chunk hash instead, and
    `st` is made up by the source. `finish`, when set, is called once the content has been
    read to its end and raises `ReliadError` if its producer failed, so that a truncated
    dump fails the backup instead of being recorded as good. `head`: for a stream, store
    its first `head` bytes as a chunk of their own (see `Archiver._read_stream`).
    """

    path: bytes
    type: str
    st: os.stat_result
    source: str
    open: Callable[[], int] | None = None
    target: bytes | None = None
    stream: bool = False
    finish: Callable[[], None] | None = None
    head: int = 0
