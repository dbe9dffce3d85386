"""A repository in a local directory (or any mounted filesystem).

Writes go to a temporary name in the same directory, are fsynced, renamed into place and
the directory is fsynced: after power loss an object is either complete or absent.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from reliad.storage.base import ObjectInfo, StagedWriter

_TMP_PREFIX = ".tmp-"
_MAX_OPEN = 32


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _AtomicWriter(StagedWriter):
    """Renames its temporary file (in the object's own directory) into place on close()."""

    def __init__(self, final: Path) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f"{_TMP_PREFIX}{final.name}.{os.getpid()}")
        super().__init__(open(tmp, "wb", buffering=1 << 20), tmp)  # noqa: SIM115 - closed in _commit/abort
        self.final = final

    def _commit(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        os.replace(self.tmp, self.final)
        fsync_dir(self.final.parent)


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.location = str(self.root)
        # Open packs for get_range, one cache per thread: restore and verify read from a
        # pool of threads, and one thread must never close an fd another is reading from.
        self._local = threading.local()
        self._caches: list[tuple[threading.Thread, OrderedDict[str, int]]] = []
        self._caches_lock = threading.Lock()

    def _cache(self) -> OrderedDict[str, int]:
        cache = getattr(self._local, "fds", None)
        if cache is None:
            cache = self._local.fds = OrderedDict()
            with self._caches_lock:
                for thread, fds in self._caches:
                    if not thread.is_alive():  # a finished worker's handles
                        for fd in fds.values():
                            os.close(fd)
                        fds.clear()
                self._caches = [(t, f) for t, f in self._caches if t.is_alive()]
                self._caches.append((threading.current_thread(), cache))
        return cache

    def _path(self, name: str) -> Path:
        return self.root / name

    def put(self, name: str, data: bytes) -> None:
        with _AtomicWriter(self._path(name)) as w:
            w.write(data)

    def put_file(self, name: str, path: Path) -> None:
        with _AtomicWriter(self._path(name)) as w, open(path, "rb") as src:
            shutil.copyfileobj(src, w.fh, 1 << 20)

    def open_write(self, name: str) -> StagedWriter:
        return _AtomicWriter(self._path(name))

    def open_read(self, name: str) -> BinaryIO:
        return open(self._path(name), "rb")

    def get(self, name: str) -> bytes:
        return self._path(name).read_bytes()

    def _fd(self, name: str) -> int:
        fds = self._cache()
        fd = fds.get(name)
        if fd is not None:
            fds.move_to_end(name)
            return fd
        fd = os.open(self._path(name), os.O_RDONLY | os.O_CLOEXEC)
        fds[name] = fd
        if len(fds) > _MAX_OPEN:
            _, old = fds.popitem(last=False)
            os.close(old)
        return fd

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        return os.pread(self._fd(name), length, offset)

    def stat(self, name: str) -> ObjectInfo | None:
        try:
            return ObjectInfo(name, self._path(name).stat().st_size)
        except FileNotFoundError:
            return None

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        base = self._path(prefix) if prefix.endswith("/") or not prefix else self._path(prefix).parent
        if not base.is_dir():
            return
        found = []
        for dirpath, _dirs, files in os.walk(base):
            for f in files:
                if f.startswith(_TMP_PREFIX):
                    continue
                full = os.path.join(dirpath, f)
                rel = os.path.relpath(full, self.root).replace(os.sep, "/")
                if rel.startswith(prefix):
                    found.append(ObjectInfo(rel, os.stat(full).st_size))
        found.sort(key=lambda o: o.name)
        yield from found

    def delete(self, name: str) -> None:
        with self._caches_lock:
            for _, fds in self._caches:
                fd = fds.pop(name, None)
                if fd is not None:
                    os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            self._path(name).unlink()
        parent = self._path(name).parent
        while parent != self.root:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def stale_temporaries(self) -> Iterator[Path]:
        """Temporary files left by a writer that died."""
        for dirpath, _dirs, files in os.walk(self.root):
            for f in files:
                if f.startswith(_TMP_PREFIX):
                    yield Path(dirpath) / f

    def clear_stale_writes(self, dry_run: bool = False) -> tuple[int, int]:
        count = size = 0
        for path in self.stale_temporaries():
            with contextlib.suppress(OSError):
                n = path.stat().st_size
                if not dry_run:
                    path.unlink()
                count += 1
                size += n
        data = self.root / "data"
        for d in sorted(data.iterdir()) if data.is_dir() and not dry_run else []:
            if d.is_dir():
                with contextlib.suppress(OSError):
                    d.rmdir()  # only when empty: what an aborted writer leaves
        return count, size

    def prepare(self, create: bool = False) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def checksum_problem(self, name: str, expected_crc32c: int | None = None) -> str | None:
        return None  # a filesystem keeps no checksum of a file's content

    def local_path(self, name: str) -> Path | None:
        return self._path(name)

    def close(self) -> None:
        with self._caches_lock:
            for _, fds in self._caches:
                for fd in fds.values():
                    os.close(fd)
                fds.clear()
