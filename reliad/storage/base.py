"""The contract every storage backend keeps.

Object names are '/'-separated relative keys such as ``data/<backup>/000001.pack``. A backend
must make `put` atomic: a reader sees the whole object or none of it. That single property is
what lets the repository commit a backup by writing its manifest last.

Every backend offers every method of `Storage`, so callers never ask which backend they
hold: staged writes that can be aborted, `prepare` before a first write, clearing what dead
writers left, the store's own checksums (None where it keeps none) and, where an object is
a file on this machine, its path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, BinaryIO, Protocol

from reliad.errors import ReliadError


@dataclass(frozen=True)
class ObjectInfo:
    name: str
    size: int


class StagedWriter:
    """A writer for `open_write`: the bytes go to a temporary file, which becomes the object
    only on `close()` (`_commit`, which each backend defines) and is thrown away on `abort()`
    or when a `with` block ends in an exception."""

    def __init__(self, fh: IO[bytes], tmp: Path) -> None:
        self.fh = fh
        self.tmp = tmp
        self.closed = False

    def write(self, data: bytes | memoryview) -> int:
        return self.fh.write(data)

    def tell(self) -> int:
        return self.fh.tell()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self._commit()
            except BaseException:  # a full disk, a dead server: the half-written file must not stay
                with contextlib.suppress(OSError):
                    self.fh.close()
                self.tmp.unlink(missing_ok=True)
                raise

    def _commit(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.fh.close()  # may fail flushing its buffer (a full disk): the file goes anyway
            except OSError:
                pass
            finally:
                self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> StagedWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class Storage(Protocol):
    """An atomic object store: the local directory and S3 both fit."""

    location: str

    def put(self, name: str, data: bytes) -> None:
        """Store `data` under `name` atomically, replacing any object of that name."""

    def put_file(self, name: str, path: Path) -> None:
        """Store the content of a local file atomically (large objects go through this)."""

    def open_write(self, name: str) -> StagedWriter:
        """A writable stream whose content appears under `name` only on `close()`, and never
        after `abort()` (or a `with` block left by an exception)."""

    def open_read(self, name: str) -> BinaryIO:
        """A readable stream over the whole object, for objects too large to hold in memory."""

    def get(self, name: str) -> bytes:
        """The whole object; raises FileNotFoundError when it does not exist."""

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        """`length` bytes from `offset` (fewer only when the object is shorter)."""

    def stat(self, name: str) -> ObjectInfo | None:
        """Size of an object, or None when it does not exist."""

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose name starts with `prefix`, in name order."""

    def delete(self, name: str) -> None:
        """Remove an object; removing a missing one is not an error. Raises ObjectLockedError
        when the store protects the object with a retention that has not expired."""

    def close(self) -> None:
        """Release cached handles."""

    def prepare(self, create: bool = False) -> None:
        """Make the location ready to receive a repository: a local directory is created
        (0700); a bucket is proven reachable with these credentials, created when `create`
        is given, and checked to support Object Lock when the target asks for it."""

    def clear_stale_writes(self, dry_run: bool = False) -> tuple[int, int]:
        """Remove what writers that died left behind (temporary files and the empty
        directories they were in, unfinished multipart uploads); (how many, bytes). Only
        under the location's writer lock: otherwise a live writer's work would go."""

    def checksum_problem(self, name: str, expected_crc32c: int | None = None) -> str | None:
        """Where the store keeps a checksum of its own for an object (S3 additional
        checksums, read by a HEAD), a sentence when it is not `expected_crc32c` (else the one
        sent at upload); None when they agree or the store keeps none."""

    def local_path(self, name: str) -> Path | None:
        """The object as a file on this machine (copied as is, in parallel parts, by an
        upload), or None when it is not one."""


class ObjectLockedError(ReliadError):
    """`delete` refused: the object is under an Object Lock retention until `until`.

    Prune catches this to skip the object and try again after that date, instead of failing.
    """

    def __init__(self, name: str, until: datetime | None, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.until = until
