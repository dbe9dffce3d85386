"""The shape every source type hands to the archiver, and what each source type offers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reliad.config import PolicyConfig, SourceConfig


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


Opener = Callable[["PolicyConfig", "SourceConfig", list[Any]], Iterable[SourceItem]]
# load(content, mode, into, source's configuration, what): content is the dump's bytes in
# order, mode its file mode, into the database to load it into (a DSN, a URL or a path).
Loader = Callable[[Iterable[bytes], int, str, "SourceConfig", str], None]


@dataclass(frozen=True)
class SourceType:
    """What one configured source `type` can do. `open` yields its items for a backup. A
    database's `load` puts one of its dumps back into a new or empty database
    (`reliad restore --into`), and `suffix` ends the names of its dumps in a backup, so the
    restore finds them. A new database is one module that defines both, plus one line in
    `reliad.sources.SOURCE_TYPES`."""

    open: Opener
    load: Loader | None = None
    suffix: bytes = b""


LEFT_OUT_WORDS = {"vanished": "vanished during backup", "special": "socket or special file not backed up",
                  "replaced": "directory replaced during the backup, its entries left out",
                  "unreadable": "could not read", "missing": "source path does not exist",
                  "failed_sources": "source failed"}


@dataclass
class LeftOut:
    """What a backup could not include, by reason: each is counted and named in the result,
    never dropped silently. Filled by the sources while they walk and by the archiver while
    it reads. Paths are shown as absolute paths ("/srv/shop/x")."""

    vanished: list[str] = field(default_factory=list)  # deleted between listing and reading
    special: list[str] = field(default_factory=list)  # sockets and other types no restore can recreate
    replaced: list[str] = field(default_factory=list)  # directories replaced mid-walk: their entries are left out
    unreadable: list[str] = field(default_factory=list)  # "path: reason" (permissions, I/O errors)
    missing: list[str] = field(default_factory=list)  # configured paths that do not exist
    failed_sources: list[str] = field(default_factory=list)  # "source 'db': reason", the others were still taken

    def counts(self) -> dict[str, int]:
        return {k: len(getattr(self, k)) for k in LEFT_OUT_WORDS}

    def incomplete(self) -> bool:
        """Whether content the configuration asks for is missing (the backup is then `partial`);
        files that vanished or were replaced, and sockets, are churn and only reported."""
        return bool(self.unreadable or self.missing or self.failed_sources)

    def warnings(self) -> list[str]:
        return [f"{LEFT_OUT_WORDS[k]}: {p}" for k in LEFT_OUT_WORDS for p in getattr(self, k)]

    def to_json(self) -> dict[str, Any]:
        return {"counts": self.counts(), **{k: list(getattr(self, k)) for k in LEFT_OUT_WORDS}}
