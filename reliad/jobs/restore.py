"""The restore job: write a backup (or part of it) into a destination directory.

Every path is created through directory file descriptors opened with O_NOFOLLOW, one
component at a time, so neither a forged manifest ('..', absolute paths) nor a symlink
planted in the destination can make a restore write outside DEST.

Restore is disk-bound, so files are created and written by a few threads (as restic does):
the main thread walks the manifest in order, creates every directory, link and node itself,
and hands each regular file (its open parent directory fd, its name and its chunks) to the
writers, which create it through that fd (O_EXCL | O_NOFOLLOW, exactly as the main thread
would), write it, set owner, mode and times and close it. Creating files there matters on
ext4: right after mass deletion each new inode costs a scan past the recently freed ones
(`recently_deleted` under `ext4_create`), and that kernel time now runs beside the main
thread on other cores. Each writer has a lane of its own, and the files of one directory
all go down one lane while the next directory's go down the next: the writers then create
in two directories at once, which the kernel lets run in parallel (two threads creating in
one directory only queue on its lock), so after mass deletion two cores pay those scans
(docs/PERFORMANCE.md, "Restore").

The result is what a single thread in manifest order would give: a path whose file is
still queued for creation is waited for before anything else is done at that path or
through it (a duplicate path in a forged manifest, a file in the way of a directory), and a
hard link waits for its target to be finished.

What was restored is on disk when the restore returns: the destination's file systems are
synced while it runs and once at the end, and a write error reported there is a restore
error (reliad/jobs/restore_flush.py).
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from reliad.errors import DamageError, ReliadError
from reliad.jobs.restore_dirs import premake_dirs
from reliad.jobs.restore_flush import Flusher
from reliad.jobs.restore_paths import PathMap, moved, normalise, relative_root, relative_to, strip_components
from reliad.repository import Repository
from reliad.repository.manifest import Entry, display_path, safe_relpath
from reliad.repository.prefetch import FrameStream

log = logging.getLogger(__name__)
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_ZERO = bytes(64 << 10)
_T = TypeVar("_T")
_WRITERS = 2  # writer threads (lanes); more only add GIL hand-offs on small machines
_BUDGET = 32 << 20  # bytes of decoded frames that queued writes may hold
_OPEN_FILES = 256  # files created but not yet closed by the writers (each holds an fd)
_BATCH_BYTES = 1 << 20  # writes go to the threads in batches: one hand-off per batch, not per file
_BATCH_ITEMS = 64
KEPT = "already exists (pass --overwrite to replace it)"  # an entry left as DEST had it: kept, not failed


class DirRef:
    """An open directory fd shared by the DirCache and the files queued for creation in it:
    closed when the last holder lets go (holders are counted on the main thread only)."""

    __slots__ = ("fd", "holders")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.holders = 1

    def hold(self) -> DirRef:
        self.holders += 1
        return self

    def release(self) -> None:
        self.holders -= 1
        if self.holders == 0:
            os.close(self.fd)


class DirCache:
    """Open directory fds along the current path; depth-first order makes a stack enough.

    `before_open(path)` is called with a directory's path (relative to the root) before it
    is opened or made, so the restore can first wait for whatever is still to be created there;
    `opened(fd)` with each directory found in place (one the cache made is on its parent's
    file system), so the restore can sync a file system mounted below DEST too."""

    def __init__(self, root_fd: int, before_open: Callable[[bytes], None] | None = None,
                 opened: Callable[[int], None] | None = None) -> None:
        self.root = DirRef(root_fd)
        self.root.holders += 1  # the caller's: the root fd is closed by whoever opened it
        self.stack: list[tuple[bytes, DirRef]] = []
        self.before_open = before_open
        self.opened = opened

    def ref_for(self, parts: list[bytes]) -> DirRef:
        i = 0
        while i < len(self.stack) and i < len(parts) and self.stack[i][0] == parts[i]:
            i += 1
        for _, ref in self.stack[i:]:
            ref.release()
        del self.stack[i:]
        for k in range(i, len(parts)):
            part = parts[k]
            if self.before_open is not None:
                self.before_open(b"/".join(parts[:k + 1]))
            parent = self.stack[-1][1].fd if self.stack else self.root.fd
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
            else:
                if self.opened is not None:
                    self.opened(fd)
            self.stack.append((part, DirRef(fd)))
        return self.stack[-1][1] if self.stack else self.root

    def fd_for(self, parts: list[bytes]) -> int:
        return self.ref_for(parts).fd

    def close(self) -> None:
        for _, ref in self.stack:
            ref.release()
        self.stack.clear()


def _selected(path: bytes, wanted: list[bytes]) -> bool:
    """The entry is inside a wanted path, or is a parent directory of one."""
    if not wanted:
        return True
    return any(path == w or path.startswith(w + b"/") or w.startswith(path + b"/") for w in wanted)


def _write_all(fd: int, data: memoryview, pos: int) -> None:
    while data:
        n = os.pwrite(fd, data, pos)
        data, pos = data[n:], pos + n


def _write_chunk(fd: int, data: memoryview, pos: int) -> int:
    """Write one chunk at `pos`, leaving all-zero 64 KiB blocks as holes so sparse files stay
    sparse; the data between holes goes out in one write per run (the whole chunk, usually).
    Returns the offset just past the last byte it wrote (0 when it wrote nothing)."""
    block = len(_ZERO)
    start = 0  # first byte of the run not written yet
    end = 0
    for off in range(0, len(data), block):
        piece = data[off:off + block]
        if piece[0] == 0 and piece[-1] == 0 and piece.tobytes() == _ZERO[:len(piece)]:
            if off > start:
                _write_all(fd, data[start:off], pos + start)
                end = pos + off
            start = off + len(piece)
    if len(data) > start:
        _write_all(fd, data[start:], pos + start)
        end = pos + len(data)
    return end


def _reason(e: BaseException) -> str:
    return e.strerror if isinstance(e, OSError) and e.strerror else str(e)


class _PendingFile:
    """A file queued for the writers: one of them creates it with `make_fd` (in the directory
    `parent` holds open), and they fill it.

    `refs` counts the queued items plus one for the main thread, which the file's last
    write drops: whoever brings it to zero finishes the file, after every write to it.
    """

    def __init__(self, make_fd: Callable[[], int], parent: DirRef, entry: Entry, seq: int, linked: bool,
                 lane: int) -> None:
        self.make_fd: Callable[[], int] | None = make_fd
        self.parent = parent  # held until the file comes back finished (main thread)
        self.fd: int | None = None
        self.lane = lane  # the writer that creates, writes and finishes it, in its items' order
        self.entry = entry
        self.seq = seq  # the entry's place in the manifest, so errors are listed in its order
        self.refs = 1
        self.end = 0  # where the written bytes end: short of the size, a trailing hole is left to make
        self.error: str | None = None  # the first failure only: a path is reported once
        self.done = threading.Event() if linked else None  # for hard links that name it


_CREATE = -1  # the offset of a file's first queued item: create it
_Item = tuple[_PendingFile, int, memoryview | None, bool]  # file, offset (or _CREATE), data, last


class _Writers:
    """Threads that create files, write their chunks, then set the files' attributes and
    close them; finished files come back through `finished`.

    A file's creation is its first queued item, and all its items go down one lane, the
    queue of one writer, which takes them in order: a write always finds its file created
    (or its creation failed), and writers never wait for each other. The main thread picks
    the lane per directory (`lane_for`). `pending` maps the path of every file whose
    creation was queued but not yet tried to the file (see `wait_created`).

    Writes are handed over in batches (many small files, or a few chunks of a large one),
    so a writer wakes once per batch; whenever the main thread hands over a batch it hands
    over every lane's, so that nothing it waits for is still in its own hands. A chunk is a
    memoryview into a decoded frame and keeps the whole frame alive until it is written, so
    the frames held by queued writes are counted, each once, by size, and the main thread
    waits while they exceed `budget` or while `open_files` files are open. FrameStream hands
    out views of immutable bytes it never reuses, so a view stays valid after the stream
    moves on; other buffers are copied.
    """

    def __init__(self, as_root: bool) -> None:
        self.as_root = as_root
        self.budget = _BUDGET
        self.open_files = max(2, _OPEN_FILES)  # the file being queued cannot finish yet
        self.finished: queue.SimpleQueue[_PendingFile] = queue.SimpleQueue()
        self._lanes: list[queue.SimpleQueue[list[_Item] | None]] = [queue.SimpleQueue() for _ in range(_WRITERS)]
        self._lock = threading.Condition(threading.Lock())
        self._batches: list[list[_Item]] = [[] for _ in self._lanes]  # main thread only, until flushed
        self._batch_bytes = 0  # of all lanes' batches
        self._batch_items = 0
        self._lane = 0  # the lane of the directory whose files are being queued ...
        self._lane_dir: DirRef | None = None  # ... and that directory
        self._held = 0  # bytes of the frames in self._frames
        self._frames: dict[int, list[int]] = {}  # id(frame) -> [size, queued writes using it]
        self._opened = 0  # files queued (main thread only)
        self._closed = 0  # files finished (writers, under the lock)
        self.pending: dict[bytes, _PendingFile] = {}  # added by the main thread, removed by writers under the lock
        self._threads = [threading.Thread(target=self._work, args=(lane,), name=f"reliad-write-{i}", daemon=True)
                         for i, lane in enumerate(self._lanes)]
        for t in self._threads:
            t.start()

    def create(self, make_fd: Callable[[], int], parent: DirRef, entry: Entry, seq: int,
               linked: bool) -> _PendingFile:
        """Queue the creation of a file by make_fd, once fewer than `open_files` are open.
        The caller has waited for any earlier file at the same path (`wait_created`)."""
        if self._opened - self._closed >= self.open_files:
            self.flush()
        f = _PendingFile(make_fd, parent.hold(), entry, seq, linked, self.lane_for(parent))
        self._opened += 1
        self.pending[entry.path] = f
        self.add(f, _CREATE, None, False)
        return f

    def lane_for(self, parent: DirRef) -> int:
        """The next lane whenever the files queued move to another directory. The directory's
        DirRef stands for it: the main thread holds one per open directory along its path."""
        if parent is not self._lane_dir:
            self._lane_dir = parent
            self._lane = (self._lane + 1) % len(self._lanes)
        return self._lane

    def wait_created(self, path: bytes) -> None:
        """Return once no file queued at `path` is still to be created: the main thread calls
        this before it does anything at or through a path, so the order stays the manifest's."""
        if path in self.pending:
            self.flush()
            with self._lock:
                self._lock.wait_for(lambda: path not in self.pending)

    def add(self, f: _PendingFile, pos: int, data: memoryview | None, last: bool) -> None:
        """Queue a write of `data` at `pos` (none: nothing to write); `last` ends the file."""
        if data is not None:
            if not isinstance(data.obj, bytes):
                data = memoryview(data.tobytes())
            self._batch_bytes += len(data)
        self._batches[f.lane].append((f, pos, data, last))
        self._batch_items += 1
        if self._batch_bytes >= _BATCH_BYTES or self._batch_items >= _BATCH_ITEMS:
            self.flush()

    def flush(self) -> None:
        """Hand every lane its batch, then wait while too much is held or open."""
        batches, self._batches = self._batches, [[] for _ in self._lanes]
        self._batch_bytes = self._batch_items = 0
        with self._lock:
            for lane, batch in zip(self._lanes, batches, strict=True):
                for f, _, data, _ in batch:
                    f.refs += 1
                    if data is not None:
                        self._hold(data.obj)
                if batch:
                    lane.put(batch)
            self._lock.wait_for(lambda: self._held <= self.budget and self._opened - self._closed < self.open_files)

    def wait(self, f: _PendingFile) -> None:
        """Wait until a file made with `linked` is finished."""
        assert f.done is not None
        self.flush()
        f.done.wait()

    def fail(self, f: _PendingFile, reason: str) -> None:
        with self._lock:
            if f.error is None:
                f.error = reason

    def close(self) -> None:
        """Write everything queued and stop the threads."""
        if not self._threads:
            return
        self.flush()
        for lane in self._lanes:
            lane.put(None)
        for t in self._threads:
            t.join()
        self._threads.clear()

    def _hold(self, frame: Any) -> None:
        slot = self._frames.get(id(frame))
        if slot is None:
            slot = self._frames[id(frame)] = [len(frame), 0]
            self._held += slot[0]
        slot[1] += 1

    def _release(self, frame: Any) -> None:
        slot = self._frames[id(frame)]
        slot[1] -= 1
        if slot[1] == 0:
            del self._frames[id(frame)]
            self._held -= slot[0]

    def _work(self, lane: queue.SimpleQueue[list[_Item] | None]) -> None:
        while (batch := lane.get()) is not None:
            made = [f for f, pos, _, _ in batch if pos == _CREATE]
            for f in made:
                self._make(f)
            if made:
                with self._lock:
                    for f in made:
                        if self.pending.get(f.entry.path) is f:
                            del self.pending[f.entry.path]
                    self._lock.notify_all()
            for f, pos, data, _ in batch:
                if data is not None and f.fd is not None and f.error is None:
                    try:
                        f.end = max(f.end, _write_chunk(f.fd, data, pos))
                    except Exception as e:  # a thread that died would leave the restore waiting
                        self.fail(f, _reason(e))
            ended = []
            with self._lock:
                for f, _, data, last in batch:
                    if data is not None:
                        self._release(data.obj)
                    f.refs -= 2 if last else 1
                    if f.refs == 0:
                        ended.append(f)
                self._lock.notify_all()
            del batch, data
            for f in ended:
                self._finish(f)
            if ended:
                with self._lock:
                    self._closed += len(ended)
                    self._lock.notify_all()

    def _make(self, f: _PendingFile) -> None:
        """Create the file. Its creation came first in the manifest's order, so its failure is
        the one reported, even if the main thread found its content damaged meanwhile."""
        make_fd, f.make_fd = f.make_fd, None
        assert make_fd is not None
        try:
            f.fd = make_fd()
        except Exception as e:  # OSError, or DamageError when --overwrite finds a directory in the way
            with self._lock:
                f.error = _reason(e)

    def _finish(self, f: _PendingFile) -> None:
        if f.fd is None:  # never created; the reason is in f.error
            self.finished.put(f)
            if f.done is not None:
                f.done.set()
            return
        e = f.entry
        try:
            if f.error is None:
                if f.end != e.size:  # a trailing hole (a syscall saved for every other file)
                    os.ftruncate(f.fd, e.size)
                if self.as_root:
                    os.fchown(f.fd, e.uid, e.gid)
                os.fchmod(f.fd, e.mode)
                os.utime(f.fd, ns=(e.mtime_ns, e.mtime_ns))
        except Exception as err:  # OSError, or OverflowError from a forged manifest's numbers
            self.fail(f, _reason(err))
        finally:
            try:
                os.close(f.fd)
            except OSError as err:
                self.fail(f, _reason(err))
            self.finished.put(f)
            if f.done is not None:
                f.done.set()


class Restorer:
    def __init__(self, repo: Repository, dest: Path, overwrite: bool,
                 progress: Callable[[dict[str, int]], None] | None = None, where: PathMap | None = None) -> None:
        self.repo = repo
        self.dest = dest
        self.overwrite = overwrite
        self.progress = progress
        self.where = where  # None: every path as stored
        self.kept: list[str] = []  # entries DEST already had, left alone without --overwrite
        self._kept: list[tuple[int, str]] = []  # (manifest position, path), as _failed
        self.as_root = os.geteuid() == 0
        self.counts = {"files": 0, "dirs": 0, "links": 0, "bytes": 0}
        # for progress only (left out of the result): the file of several chunks being read now
        self.inside = {"inside_size": 0, "inside_done": 0}
        self.errors: list[dict[str, str]] = []
        self._failed: list[tuple[int, dict[str, str]]] = []  # (manifest position, error): writers finish out of order
        self._dirs: list[tuple[bytes, Entry]] = []
        self._linked: dict[bytes, _PendingFile] = {}  # files that later hard links name

    def run(self, backup_id: str, paths: list[str]) -> dict[str, Any]:
        wanted = [normalise(p) for p in paths]
        try:
            self.dest.mkdir(parents=True, exist_ok=True)
            # DEST itself may be a symlink the user chose; below it nothing is followed
            root_fd = os.open(self.dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as e:
            raise ReliadError(f"cannot restore into {self.dest}: {e.strerror}") from None
        flusher = Flusher(root_fd)
        self._writers = _Writers(self.as_root)
        cache = DirCache(root_fd, self._writers.wait_created, flusher.watch)
        matched = False
        def plan(e: Entry) -> list[Any]:
            return e.chunks if e.type in ("file", "hardlink") and _selected(e.path, wanted) else []

        def place(path: bytes, is_dir: bool) -> bytes | None:
            if not _selected(path, wanted):
                return None
            return path if self.where is None else self.where(path, is_dir)

        stream = FrameStream(self.repo, self.repo.entries(backup_id), plan)
        try:
            made = premake_dirs(self.repo.entry_lines(backup_id), root_fd, place, backup_id)
            log.debug("event=restore_dirs_made count=%d", made)
            for seq, (entry, chunks) in enumerate(stream):
                if not _selected(entry.path, wanted):
                    continue
                matched = True
                if self.where is not None:
                    placed = moved(entry, self.where)
                    if placed is None:
                        continue
                    entry = placed
                try:
                    self._restore(cache, entry, stream, chunks, seq)
                except (DamageError, OSError) as e:
                    self._fail(seq, entry.path, _reason(e))
                self._collect()
                if self.progress:
                    self.progress(self.counts)
            cache.close()
            self._writers.close()
            self._collect()
            self.errors = [err for _, err in sorted(self._failed, key=lambda f: f[0])]
            self.kept = [path for _, path in sorted(self._kept)]
            self._finish_dirs(root_fd)
            self.errors += [{"path": str(self.dest), "reason": reason} for reason in flusher.finish()]
        finally:
            self._writers.close()  # no fd left open, whatever stopped the loop
            self._collect()
            stream.close()
            cache.close()
            flusher.close()
            os.close(root_fd)
        if wanted and not matched:
            raise ReliadError(f"backup {backup_id} has no entry at {', '.join(paths)}; 'reliad ls' lists them")
        return {**self.counts, "errors": self.errors, "kept": self.kept}

    def _fail(self, seq: int, path: bytes, reason: str) -> None:
        if reason == KEPT:
            self._kept.append((seq, display_path(path)))
            log.debug("event=restore_kept path=%r", os.fsdecode(path))
            return
        self._failed.append((seq, {"path": display_path(path), "reason": reason}))
        # the CLI prints each failed entry once; this event line is for -v and the service log
        log.info("event=restore_error path=%r error=%r", os.fsdecode(path), reason)

    def _collect(self) -> None:
        """Count the files the writers finished, or record why they failed."""
        while not self._writers.finished.empty():
            f = self._writers.finished.get()
            f.parent.release()
            if f.error is not None:
                self._fail(f.seq, f.entry.path, f.error)
            else:
                self.counts["files"] += 1
                self.counts["bytes"] += f.entry.size

    def _target_restored(self, target: bytes | None) -> bool:
        """Whether a hard link's target was restored whole (waiting for its writes, if any)."""
        f = self._linked.get(target) if target is not None else None
        if f is None:
            return False
        self._writers.wait(f)
        return f.error is None

    def _restore(self, cache: DirCache, entry: Entry, stream: FrameStream, chunks: list[Any], seq: int) -> None:
        parts = safe_relpath(entry.path).split(b"/")
        self._writers.wait_created(entry.path)  # a duplicate path: the earlier file is made first
        parent_ref = cache.ref_for(parts[:-1])
        parent = parent_ref.fd
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
        if entry.type == "file" or (entry.type == "hardlink" and not self._target_restored(entry.target)):
            self._file(parent_ref, name, entry, stream, chunks, seq)
        elif entry.type == "hardlink":
            target = entry.target
            assert target is not None
            self._create(parent, name, lambda: os.link(target, name, src_dir_fd=cache.root.fd, dst_dir_fd=parent,
                                                       follow_symlinks=False))
            self.counts["links"] += 1
        elif entry.type == "symlink":
            target = entry.target
            assert target is not None
            self._create(parent, name, lambda: os.symlink(target, name, dir_fd=parent))
            self._attrs(parent, name, entry, follow=False)
            self.counts["links"] += 1
        elif entry.type == "fifo":
            self._create(parent, name, lambda: os.mkfifo(name, entry.mode, dir_fd=parent))
            self._attrs(parent, name, entry)
        elif entry.type in ("chardev", "blockdev") and self.as_root:
            kind = os.path.stat.S_IFCHR if entry.type == "chardev" else os.path.stat.S_IFBLK
            self._create(parent, name, lambda: os.mknod(name, kind | entry.mode, entry.rdev, dir_fd=parent))
            self._attrs(parent, name, entry)
        else:  # nothing to create here, but what is in the way goes as it always did
            self._make_room(parent, name)

    def _create(self, parent: int, name: bytes, make: Callable[[], _T]) -> _T:
        """make() creates `name` exclusively; what is already there is replaced only with
        --overwrite (trying first saves a stat per entry in an empty destination)."""
        try:
            return make()
        except FileExistsError:
            self._make_room(parent, name)
        return make()

    def _make_room(self, parent: int, name: bytes) -> None:
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return
        if not self.overwrite:
            raise OSError(errno.EEXIST, KEPT)
        if os.path.stat.S_ISDIR(st.st_mode):
            raise OSError(errno.EISDIR, "a directory is in the way")
        os.unlink(name, dir_fd=parent)

    def _file(self, parent_ref: DirRef, name: bytes, entry: Entry, stream: FrameStream, chunks: list[Any],
              seq: int) -> None:
        """Queue the file's creation in `parent_ref`'s directory and its chunks for the writers.
        A failure from here on is the file's, reported once when the writers are done with it."""
        parent = parent_ref.fd
        linked = "linked" in entry.flags
        f = self._writers.create(lambda: self._create(parent, name, lambda: os.open(name, _NEW, 0o600, dir_fd=parent)),
                                 parent_ref, entry, seq, linked)
        if linked:
            self._linked[entry.path] = f
        pos = 0
        ready: tuple[int, memoryview] | None = None  # queued once the next chunk shows it is not the last
        try:
            for c in chunks:
                data = stream.data(c)
                if ready is not None:
                    self._writers.add(f, *ready, last=False)
                ready, pos = (pos, data), pos + len(data)
                if len(chunks) > 1:
                    self._tick(entry.size, pos)
            if pos != entry.size:
                raise DamageError(f"stored content has {pos} bytes, the manifest says {entry.size}")
        except (DamageError, OSError) as e:
            self._writers.fail(f, _reason(e))
        finally:
            self._writers.add(f, *(ready or (0, None)), last=True)

    def _tick(self, size: int, done: int) -> None:
        """Progress inside a file of several chunks: how much of it is read and queued."""
        if self.progress:
            self.inside["inside_size"], self.inside["inside_done"] = size, done
            self.progress({**self.counts, **self.inside})

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
                progress: Callable[[dict[str, int]], None] | None = None, strip: int = 0,
                relative: bool = False) -> dict[str, Any]:
    """Restore into DEST; `strip` and `relative` choose where paths land (reliad/jobs/restore_paths.py)."""
    where: PathMap | None = None
    if relative:
        root = relative_root(repo.header(backup_id), [normalise(p) for p in paths])
        paths, where = [os.fsdecode(root)], relative_to(root)
    elif strip:
        where = strip_components(strip)
    with repo.manifest_fetched(backup_id):  # one download for the restore's two passes over it
        return Restorer(repo, dest, overwrite, progress, where).run(backup_id, paths)
