"""The restore job: write a backup (or part of it) into a destination directory.

Every path is created through directory file descriptors opened with O_NOFOLLOW, one
component at a time, so neither a forged manifest ('..', absolute paths) nor a symlink
planted in the destination can make a restore write outside DEST.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reliad.errors import DamageError, ReliadError
from reliad.repository import Repository
from reliad.repository.manifest import Entry, display_path, safe_relpath
from reliad.repository.prefetch import FrameStream

log = logging.getLogger(__name__)
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_ZERO = bytes(64 << 10)


class DirCache:
    """Open directory fds along the current path; depth-first order makes a stack enough."""

    def __init__(self, root_fd: int) -> None:
        self.root_fd = root_fd
        self.stack: list[tuple[bytes, int]] = []

    def fd_for(self, parts: list[bytes]) -> int:
        i = 0
        while i < len(self.stack) and i < len(parts) and self.stack[i][0] == parts[i]:
            i += 1
        for _, fd in self.stack[i:]:
            os.close(fd)
        del self.stack[i:]
        for part in parts[i:]:
            parent = self.stack[-1][1] if self.stack else self.root_fd
            try:
                fd = os.open(part, _DIR, dir_fd=parent)
            except FileNotFoundError:
                os.mkdir(part, 0o700, dir_fd=parent)
                fd = os.open(part, _DIR, dir_fd=parent)
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise DamageError(
                        f"refusing to restore through {os.fsdecode(part)!r}: it is not a real directory"
                    ) from None
                raise
            self.stack.append((part, fd))
        return self.stack[-1][1] if self.stack else self.root_fd

    def close(self) -> None:
        for _, fd in self.stack:
            os.close(fd)
        self.stack.clear()


def _selected(path: bytes, wanted: list[bytes]) -> bool:
    """The entry is inside a wanted path, or is a parent directory of one."""
    if not wanted:
        return True
    return any(path == w or path.startswith(w + b"/") or w.startswith(path + b"/") for w in wanted)


def _normalise(p: str) -> bytes:
    b = os.fsencode(p).strip(b"/")
    while b"//" in b:
        b = b.replace(b"//", b"/")
    return b


def _write_all(fd: int, data: memoryview, pos: int) -> None:
    while data:
        n = os.pwrite(fd, data, pos)
        data, pos = data[n:], pos + n


def _write_content(stream: FrameStream, fd: int, entry: Entry, chunks: list[Any]) -> None:
    """Write chunks, leaving all-zero blocks as holes so sparse files stay sparse; the data
    between holes goes out in one write per run (a chunk at a time, usually)."""
    pos = 0
    block = len(_ZERO)
    for c in chunks:
        data = stream.data(c)
        start = 0  # first byte of the run not written yet
        for off in range(0, len(data), block):
            piece = data[off:off + block]
            if piece[0] == 0 and piece[-1] == 0 and piece.tobytes() == _ZERO[:len(piece)]:
                if off > start:
                    _write_all(fd, data[start:off], pos + start)
                start = off + len(piece)
        if len(data) > start:
            _write_all(fd, data[start:], pos + start)
        pos += len(data)
    if pos != entry.size:
        raise DamageError(f"stored content has {pos} bytes, the manifest says {entry.size}")
    os.ftruncate(fd, pos)


class Restorer:
    def __init__(self, repo: Repository, dest: Path, overwrite: bool,
                 progress: Callable[[dict[str, int]], None] | None = None) -> None:
        self.repo = repo
        self.dest = dest
        self.overwrite = overwrite
        self.progress = progress
        self.as_root = os.geteuid() == 0
        self.counts = {"files": 0, "dirs": 0, "links": 0, "bytes": 0}
        self.errors: list[dict[str, str]] = []
        self._dirs: list[tuple[bytes, Entry]] = []
        self._linked: set[bytes] = set()

    def run(self, backup_id: str, paths: list[str]) -> dict[str, Any]:
        wanted = [_normalise(p) for p in paths]
        try:
            self.dest.mkdir(parents=True, exist_ok=True)
            # DEST itself may be a symlink the user chose; below it nothing is followed
            root_fd = os.open(self.dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as e:
            raise ReliadError(f"cannot restore into {self.dest}: {e.strerror}") from None
        cache = DirCache(root_fd)
        matched = False
        def plan(e: Entry) -> list[Any]:
            return e.chunks if e.type in ("file", "hardlink") and _selected(e.path, wanted) else []

        stream = FrameStream(self.repo, self.repo.entries(backup_id), plan)
        try:
            for entry, chunks in stream:
                if not _selected(entry.path, wanted):
                    continue
                matched = True
                try:
                    self._restore(cache, entry, stream, chunks)
                except (DamageError, OSError) as e:
                    reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
                    self.errors.append({"path": display_path(entry.path), "reason": reason})
                    # the CLI prints each failed entry once; this event line is for -v and the service log
                    log.info("event=restore_error path=%r error=%r", os.fsdecode(entry.path), reason)
                if self.progress:
                    self.progress(self.counts)
            cache.close()
            self._finish_dirs(root_fd)
        finally:
            stream.close()
            cache.close()
            os.close(root_fd)
        if wanted and not matched:
            raise ReliadError(f"backup {backup_id} has no entry at {', '.join(paths)}; 'reliad ls' lists them")
        return {**self.counts, "errors": self.errors}

    def _restore(self, cache: DirCache, entry: Entry, stream: FrameStream, chunks: list[Any]) -> None:
        parts = safe_relpath(entry.path).split(b"/")
        parent = cache.fd_for(parts[:-1])
        name = parts[-1]
        if entry.type == "dir":
            try:
                os.mkdir(name, 0o700, dir_fd=parent)
            except FileExistsError:
                st = os.stat(name, dir_fd=parent, follow_symlinks=False)
                if not os.path.stat.S_ISDIR(st.st_mode):
                    raise OSError(errno.EEXIST, "exists and is not a directory") from None
            self._dirs.append((entry.path, entry))
            self.counts["dirs"] += 1
            return
        self._make_room(parent, name)
        if entry.type == "file" or (entry.type == "hardlink" and entry.target not in self._linked):
            self._file(parent, name, entry, stream, chunks)
        elif entry.type == "hardlink":
            assert entry.target is not None
            os.link(entry.target, name, src_dir_fd=cache.root_fd, dst_dir_fd=parent, follow_symlinks=False)
            self.counts["links"] += 1
        elif entry.type == "symlink":
            assert entry.target is not None
            os.symlink(entry.target, name, dir_fd=parent)
            self._attrs(parent, name, entry, follow=False)
            self.counts["links"] += 1
        elif entry.type == "fifo":
            os.mkfifo(name, entry.mode, dir_fd=parent)
            self._attrs(parent, name, entry)
        elif entry.type in ("chardev", "blockdev") and self.as_root:
            kind = os.path.stat.S_IFCHR if entry.type == "chardev" else os.path.stat.S_IFBLK
            os.mknod(name, kind | entry.mode, entry.rdev, dir_fd=parent)
            self._attrs(parent, name, entry)

    def _make_room(self, parent: int, name: bytes) -> None:
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return
        if not self.overwrite:
            raise OSError(errno.EEXIST, "already exists (pass --overwrite to replace it)")
        if os.path.stat.S_ISDIR(st.st_mode):
            raise OSError(errno.EISDIR, "a directory is in the way")
        os.unlink(name, dir_fd=parent)

    def _file(self, parent: int, name: bytes, entry: Entry, stream: FrameStream, chunks: list[Any]) -> None:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                     dir_fd=parent)
        try:
            _write_content(stream, fd, entry, chunks)
            if self.as_root:
                os.fchown(fd, entry.uid, entry.gid)
            os.fchmod(fd, entry.mode)
            os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
        finally:
            os.close(fd)
        self.counts["files"] += 1
        self.counts["bytes"] += entry.size
        if "linked" in entry.flags:
            self._linked.add(entry.path)

    def _attrs(self, parent: int, name: bytes, entry: Entry, follow: bool = True) -> None:
        if self.as_root:
            os.chown(name, entry.uid, entry.gid, dir_fd=parent, follow_symlinks=follow)
        if follow:
            os.chmod(name, entry.mode, dir_fd=parent)
        os.utime(name, ns=(entry.mtime_ns, entry.mtime_ns), dir_fd=parent, follow_symlinks=follow)

    def _finish_dirs(self, root_fd: int) -> None:
        """Directory modes and times last, deepest first, once nothing more is written in them."""
        cache = DirCache(root_fd)
        try:
            for path, entry in reversed(self._dirs):
                parts = path.split(b"/")
                try:
                    parent = cache.fd_for(parts[:-1])
                    self._attrs(parent, parts[-1], entry)
                except OSError as e:
                    self.errors.append({"path": display_path(path), "reason": e.strerror or str(e)})
        finally:
            cache.close()


def run_restore(repo: Repository, backup_id: str, dest: Path, paths: list[str], overwrite: bool = False,
                progress: Callable[[dict[str, int]], None] | None = None) -> dict[str, Any]:
    return Restorer(repo, dest, overwrite, progress).run(backup_id, paths)
