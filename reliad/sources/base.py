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
    """

    path: bytes
    type: str
    st: os.stat_result
    source: str
    open: Callable[[], int] | None = None
    target: bytes | None = None
