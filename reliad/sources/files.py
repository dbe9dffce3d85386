"""Walking directory trees for the `files` source.

The walk goes through directory file descriptors (openat, fstatat) rather than path
strings: trees deeper than PATH_MAX work, and a directory swapped for a symlink while we
walk cannot lead us outside the tree. Siblings are visited in byte order so that entries
come out in manifest sort order, ready for a merge join with the reference backup.
"""

from __future__ import annotations

import errno
import fnmatch
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from reliad.repository.manifest import sort_key
from reliad.sources.base import LeftOut, SourceItem

log = logging.getLogger(__name__)

_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class Root:
    path: Path
    source: str
    exclude: list[str] = field(default_factory=list)
    one_file_system: bool = False


def kind_of(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISCHR(mode):
        return "chardev"
    if stat.S_ISBLK(mode):
        return "blockdev"
    return None  # sockets and doors cannot be restored meaningfully


def _opener(name: bytes, dir_fd: int):
    def open_file() -> int:
        try:
            return os.open(name, _OPEN_FILE | os.O_NOATIME, dir_fd=dir_fd)
        except PermissionError:
            return os.open(name, _OPEN_FILE, dir_fd=dir_fd)
    return open_file


class FileWalker:
    """Yields every entry under the configured roots, plus their parent directories."""

    def __init__(self, roots: list[Root], skip_dirs: list[Path] | None = None, left_out: LeftOut | None = None) -> None:
        self.roots = sorted(roots, key=lambda r: sort_key(_rel(r.path)))
        self.left_out = left_out or LeftOut()
        self._skip: set[tuple[int, int]] = set()
        for d in skip_dirs or []:
            try:
                st = os.stat(d)
                self._skip.add((st.st_dev, st.st_ino))
            except OSError:
                pass

    def __iter__(self) -> Iterator[SourceItem]:
        emitted_parents: set[bytes] = set()
        done: list[bytes] = []
        for root in self.roots:
            rel = _rel(root.path)
            if any(rel == d or rel.startswith(d + b"/") for d in done):
                continue  # already covered by an enclosing root
            done.append(rel)
            yield from self._parents(rel, root.source, emitted_parents)
            yield from self._walk_root(root, rel)

    def _parents(self, rel: bytes, source: str, emitted: set[bytes]) -> Iterator[SourceItem]:
        parts = rel.split(b"/")[:-1]
        for i in range(1, len(parts) + 1):
            p = b"/".join(parts[:i])
            if p in emitted:
                continue
            emitted.add(p)
            st = os.lstat(b"/" + p)
            yield SourceItem(path=p, type="dir", st=st, source=source)

    def _excluded(self, root: Root, name: bytes, rel: bytes) -> bool:
        if not root.exclude:
            return False
        sname, spath = os.fsdecode(name), "/" + os.fsdecode(rel)
        for pat in root.exclude:
            if "/" in pat:
                if fnmatch.fnmatchcase(spath, pat) or fnmatch.fnmatchcase(spath, pat.rstrip("/") + "/*"):
                    return True
            elif fnmatch.fnmatchcase(sname, pat):
                return True
        return False

    def _walk_root(self, root: Root, rel: bytes) -> Iterator[SourceItem]:
        abs_path = os.fsencode(root.path)
        parent = os.path.dirname(abs_path) or b"/"
        name = os.path.basename(abs_path)
        pfd = os.open(parent, _OPEN_DIR)
        try:
            try:
                st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
            except FileNotFoundError:
                self.left_out.missing.append(f"source {root.source!r}: {root.path}")
                return
            yield from self._visit(root, pfd, name, rel, st, st.st_dev)
        finally:
            os.close(pfd)

    def _visit(self, root: Root, dir_fd: int, name: bytes, rel: bytes, st: os.stat_result,
               root_dev: int) -> Iterator[SourceItem]:
        """Depth-first with an explicit stack, so depth is not bounded by recursion."""
        stack: list[tuple[int, bytes, Iterator[bytes]]] = []
        item = self._item(root, dir_fd, name, rel, st)
        if item is None:
            return
        yield item
        if item.type != "dir":
            return
        opened = self._open_dir(dir_fd, name, rel, st, root, root_dev)
        if opened is None:
            return
        stack.append(opened)
        try:
            while stack:
                fd, drel, names = stack[-1]
                child = next(names, None)
                if child is None:
                    os.close(fd)
                    stack.pop()
                    continue
                crel = drel + b"/" + child
                if self._excluded(root, child, crel):
                    continue
                try:
                    cst = os.stat(child, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    self.left_out.vanished.append(_shown(crel))  # between listing and stat
                    continue
                citem = self._item(root, fd, child, crel, cst)
                if citem is None:
                    continue
                if citem.type == "dir":
                    if (cst.st_dev, cst.st_ino) in self._skip:
                        continue
                    yield citem
                    sub = self._open_dir(fd, child, crel, cst, root, root_dev)
                    if sub is not None:
                        stack.append(sub)
                else:
                    yield citem
        finally:
            for fd, _, _ in stack:
                os.close(fd)

    def _open_dir(self, dir_fd: int, name: bytes, rel: bytes, st: os.stat_result, root: Root,
                  root_dev: int) -> tuple[int, bytes, Iterator[bytes]] | None:
        if root.one_file_system and st.st_dev != root_dev:
            return None
        try:
            fd = os.open(name, _OPEN_DIR, dir_fd=dir_fd)
        except OSError as e:
            if e.errno == errno.ENOENT:
                self.left_out.vanished.append(_shown(rel))
            elif e.errno in (errno.ENOTDIR, errno.ELOOP):  # now a file or a symlink
                self.left_out.replaced.append(_shown(rel))
            else:
                self._unreadable(rel, e)
            return None
        try:
            now = os.fstat(fd)
            if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):  # another directory in its place
                os.close(fd)
                self.left_out.replaced.append(_shown(rel))
                return None
            names = sorted(os.fsencode(n) for n in os.listdir(fd))
        except OSError as e:
            os.close(fd)
            self._unreadable(rel, e)
            return None
        return fd, rel, iter(names)

    def _unreadable(self, rel: bytes, e: OSError) -> None:
        log.warning("event=unreadable path=%r error=%r", _shown(rel), e.strerror)
        self.left_out.unreadable.append(f"{_shown(rel)}: {e.strerror}")

    def _item(self, root: Root, dir_fd: int, name: bytes, rel: bytes, st: os.stat_result) -> SourceItem | None:
        kind = kind_of(st.st_mode)
        if kind is None:
            self.left_out.special.append(_shown(rel))
            return None
        item = SourceItem(path=rel, type=kind, st=st, source=root.source)
        if kind == "file":
            item.open = _opener(name, dir_fd)
        elif kind == "symlink":
            try:
                item.target = os.readlink(name, dir_fd=dir_fd)
            except FileNotFoundError:
                self.left_out.vanished.append(_shown(rel))
                return None
        return item


def _shown(rel: bytes) -> str:
    return "/" + os.fsdecode(rel)


def _rel(path: Path) -> bytes:
    return os.fsencode(os.path.normpath(os.path.abspath(path))).lstrip(b"/")
