"""Turning source items into manifest entries and stored frames (one backup's core loop).

Change detection is a merge join: the walker yields items in manifest order and a cursor
streams the reference manifest beside it, so memory does not grow with the number of files.

Content is cut into chunks (content-defined for large files, so an edit in the middle of a
dump changes only nearby chunks). Small chunks share 1 MiB frames, which compress better;
large chunks get a frame each. A full backup also writes tar headers and padding between
the content, so its packs decompress into one valid tar stream.
"""

from __future__ import annotations

import dataclasses
import errno
import itertools
import os
import stat
import tarfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import crc32c
from pyfastcdc import FastCDC

from reliad.repository.manifest import Chunk, Entry, ManifestWriter, entry_depends, sort_key
from reliad.repository.packer import FramePipeline, chunk_hash
from reliad.repository.tarheader import header as tar_header
from reliad.sources.base import LeftOut, SourceItem

SEGMENT = 1 << 20  # raw bytes gathered into one frame from small chunks
DIRECT = 256 << 10  # chunks at least this large get a frame of their own
MAX_PENDING = 4096  # entries waiting for their chunks' frames to be written
READ_BLOCK = 4 << 20  # at least the largest chunk; with the carry, buffers stay under 8 MiB
TAR_TYPES = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
             "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE, "chardev": tarfile.CHRTYPE,
             "blockdev": tarfile.BLKTYPE}


@dataclass
class ArchiveStats:
    files: int = 0
    dirs: int = 0
    other: int = 0
    unchanged_files: int = 0
    bytes_read: int = 0
    bytes_new: int = 0
    chunks_reused: int = 0
    changed_during_backup: list[str] = field(default_factory=list)
    left_out: LeftOut = field(default_factory=LeftOut)
    # the content being read now, so that progress moves inside a large file or a dump
    current: bytes = b""
    current_size: int | None = None  # None for a dump, whose size is known only at its end
    current_done: int = 0


class RefCursor:
    """Walks the reference manifest alongside the source, in the same order."""

    def __init__(self, entries: Iterator[Entry]) -> None:
        self._it = entries
        self._cur = next(self._it, None)

    def find(self, key: bytes) -> Entry | None:
        while self._cur is not None and sort_key(self._cur.path) < key:
            self._cur = next(self._it, None)
        if self._cur is not None and sort_key(self._cur.path) == key:
            return self._cur
        return None


def _unchanged(ref: Entry | None, st: os.stat_result) -> bool:
    return (ref is not None and ref.type in ("file", "hardlink") and "changed_during_backup" not in ref.flags
            and ref.size == st.st_size and ref.mtime_ns == st.st_mtime_ns and ref.ctime_ns == st.st_ctime_ns
            and ref.ino == st.st_ino)


class Archiver:
    def __init__(self, pipeline: FramePipeline, manifest: ManifestWriter, tar_mode: bool,
                 ref: RefCursor | None, chunker: dict[str, Any],
                 progress: Callable[[ArchiveStats], None] | None = None) -> None:
        self.pipeline = pipeline
        self.manifest = manifest
        self.tar_mode = tar_mode
        self.ref = ref
        self.cdc = FastCDC(avg_size=int(chunker["avg"]), min_size=int(chunker["min"]),
                           max_size=int(chunker["max"]), seed=int(chunker.get("seed", 0)))
        self.min_chunk = int(chunker["min"])
        self.stats = ArchiveStats()
        self.depends: set[str] = set()
        self.progress = progress
        self._pending: deque[Entry] = deque()
        self._placed = 0  # how many leading chunks of the first pending entry have a place
        self._seg: list[bytes] = []  # the shared frame's pieces, joined by the compression thread
        self._seg_len = 0
        self._seg_chunks: list[Chunk] = []
        self._links: dict[tuple[int, int], Entry] = {}
        self._last_path: bytes | None = None

    # -- entry bookkeeping -------------------------------------------------------------
    def _queue(self, entry: Entry) -> None:
        self._pending.append(entry)
        self._release()
        if len(self._pending) > MAX_PENDING:
            # A chunk waiting in a shared frame that fills slowly (an incremental stores
            # little) holds back every later entry: write the frame now, so that memory
            # does not grow with the number of files.
            self._flush_segment()
            self.pipeline.drain()
            self._release()

    def _release(self) -> None:
        """Emit entries in order as soon as every chunk of theirs has a place in a pack."""
        pending = self._pending
        while pending:
            chunks = pending[0].chunks
            i = self._placed  # chunks of the head entry before this one are placed already
            while i < len(chunks) and chunks[i].pack:
                i += 1
            if i < len(chunks):
                self._placed = i
                return
            self._placed = 0
            e = pending.popleft()
            self.depends |= entry_depends(e)
            self.manifest.add(e)

    # -- frames ---------------------------------------------------------------------------
    def _flush_segment(self) -> None:
        if self._seg:
            self.pipeline.submit(self._seg, self._seg_chunks)  # handed over, never touched again here
            self._seg = []
            self._seg_len = 0
            self._seg_chunks = []

    def _append(self, data: bytes | memoryview) -> None:
        """Add bytes to the shared frame. They are kept as pieces, not copied into one buffer
        here: this thread is the one every frame waits for, and growing a bytearray copied
        each byte several times over as it was reallocated (the benchmark's pages: 4.4 % of
        all cycles, in this thread). The compression thread joins the pieces, and
        `bytes.join` lets go of the interpreter lock while it copies a megabyte or more.
        A view (the tail chunk of a large file) is copied, so that it does not keep the whole
        read buffer it points into alive until the frame is written."""
        if type(data) is not bytes:
            data = bytes(data)
        self._seg.append(data)
        self._seg_len += len(data)

    def _tar(self, entry: Entry, size: int = 0) -> None:
        if not self.tar_mode:
            return
        dev = (os.major(entry.rdev), os.minor(entry.rdev)) if entry.type in ("chardev", "blockdev") else (0, 0)
        self._append(tar_header(entry.path, TAR_TYPES[entry.type], entry.mode, entry.uid, entry.gid,
                                size if entry.type == "file" else 0, entry.mtime_ns // 1_000_000_000,
                                entry.target or b"", *dev))

    def _store_chunk(self, data: bytes | memoryview, known: tuple[int, str] | None = None) -> Chunk:
        crc, h = known if known else (None, None)
        if len(data) >= DIRECT:
            self._flush_segment()
            chunk = Chunk("", 0, 0, 0, 0, len(data), crc, h)
            self.pipeline.submit(data, [chunk])
        else:
            chunk = Chunk("", 0, 0, 0, self._seg_len, len(data), crc, h)
            self._append(data)
            self._seg_chunks.append(chunk)
            self._segment_full()
        self.stats.bytes_new += len(data)
        return chunk

    def _segment_full(self) -> None:
        """Close the shared frame once it holds SEGMENT bytes. Without this, a tree of many
        small files would gather into one frame, held in memory with every entry waiting on it."""
        if self._seg_len >= SEGMENT:
            self._flush_segment()

    def _zeros(self, n: int) -> None:
        """Tar padding, added in bounded pieces (a file truncated while read can need a lot)."""
        while n > 0:
            k = min(n, SEGMENT)
            self._append(bytes(k))
            n -= k
            self._segment_full()

    def finish(self) -> None:
        if self.tar_mode:
            self._append(bytes(2 * tarfile.BLOCKSIZE))  # tar end-of-archive marker
        self._flush_segment()
        self.pipeline.drain()
        self._release()
        assert not self._pending, "entries left without a place in a pack"

    # -- items ----------------------------------------------------------------------------
    def add(self, item: SourceItem) -> None:
        if item.path == self._last_path:
            return  # a parent directory shared by two sources
        self._last_path = item.path
        st = item.st
        entry = Entry(path=item.path, type=item.type, mode=stat.S_IMODE(st.st_mode), uid=st.st_uid,
                      gid=st.st_gid, mtime_ns=st.st_mtime_ns, ctime_ns=st.st_ctime_ns, ino=st.st_ino,
                      target=item.target)
        if item.type in ("chardev", "blockdev"):
            entry.rdev = st.st_rdev
        if item.type == "file":
            if not self._add_file(item, entry):
                return
        else:
            if item.type == "dir":
                self.stats.dirs += 1
            else:
                self.stats.other += 1
            self._tar(entry)
        self._queue(entry)
        self._segment_full()
        if self.progress:
            self.progress(self.stats)

    def _add_file(self, item: SourceItem, entry: Entry) -> bool:
        st = item.st
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in self._links:
            first = self._links[key]
            entry.type, entry.target, entry.size, entry.chunks = "hardlink", first.path, first.size, first.chunks
            self._tar(entry)
            self.stats.files += 1
            return True
        ref = self.ref.find(sort_key(item.path)) if self.ref else None
        if not self.tar_mode and not item.stream and _unchanged(ref, st):
            assert ref is not None
            entry.size = ref.size
            entry.chunks = ref.chunks  # complete records, which nothing changes: shared, not copied
            self.stats.unchanged_files += 1
        elif not self._read_content(item, entry, ref):
            return False
        if st.st_nlink > 1:
            self._links[key] = entry
            entry.flags.append("linked")
        self.stats.files += 1
        return True

    def _read_content(self, item: SourceItem, entry: Entry, ref: Entry | None) -> bool:
        """Read the content once, storing new chunks; returns False when the file vanished.

        Streams (database dumps) have no size until they end: they are read to EOF, and
        `item.finish` then reports whether the producer succeeded, so that a dump that
        failed half-way raises here instead of being recorded as good.
        """
        assert item.open is not None
        try:
            fd = item.open()
        except FileNotFoundError:
            self.stats.left_out.vanished.append("/" + os.fsdecode(item.path))
            return False
        except OSError as e:
            self.stats.left_out.unreadable.append(f"/{os.fsdecode(item.path)}: {e.strerror}")
            return False
        try:
            st0 = os.fstat(fd)
            if not item.stream:
                entry.mtime_ns, entry.ctime_ns, entry.ino = st0.st_mtime_ns, st0.st_ctime_ns, st0.st_ino
                entry.mode = stat.S_IMODE(st0.st_mode)
            limit = _content_size(fd, st0)
            self.stats.current, self.stats.current_size, self.stats.current_done = item.path, limit, 0
            ref_chunks = {c.hash: c for c in ref.chunks if c.hash} if ref and not self.tar_mode else {}
            if limit is None:
                total = self._read_stream(fd, entry, ref_chunks, item.head)
            else:
                self._tar(entry, limit)
                total = 0
                sparse = stat.S_ISREG(st0.st_mode) and st0.st_blocks * 512 < st0.st_size
                if limit < self.min_chunk and not sparse:  # most files: one read, one chunk
                    piece = _read_upto(fd, limit)
                    total = len(piece)
                    if piece:
                        self._keep(piece, entry, ref_chunks)
                else:
                    for piece in self._pieces(fd, limit, sparse):
                        total += len(piece)
                        self._keep(piece, entry, ref_chunks)
                        self._tick(len(piece))
            st1 = os.fstat(fd)
        finally:
            os.close(fd)
        if item.finish is not None:
            item.finish()
        entry.size = total
        self.stats.current_done = 0
        self.stats.bytes_read += total
        if self.tar_mode and limit is not None:
            self._zeros(limit - total)  # the file shrank: keep the tar header's promise
            self._zeros(-limit % tarfile.BLOCKSIZE)
        if stat.S_ISREG(st0.st_mode) and (total != st0.st_size or st1.st_size != st0.st_size
                                          or st1.st_mtime_ns != st0.st_mtime_ns):
            entry.flags.append("changed_during_backup")
            self.stats.changed_during_backup.append(item.path.decode("utf-8", "replace"))
        return True

    def _keep(self, piece: bytes | memoryview, entry: Entry, ref_chunks: dict[str, Chunk]) -> None:
        """Point at the reference backup's copy of a chunk when it has one, else store it.

        A small chunk is checksummed and hashed here, as it is read, and not in a compression
        thread with the rest of its frame. The blake3 package gives up the interpreter lock for
        every input of 2 KiB or more, so a compression thread hashing a frame's sixty-odd small
        files took the lock back from this thread about once per file, and each hand-over
        costs both threads a sleep and a wake-up. Hashed here, the lock is free when BLAKE3
        gives it up. (The benchmark's pages: 7-13 % less wall time, medians of alternating
        runs; docs/PERFORMANCE.md, "Fifth round".) A large chunk gets a frame of its own and
        is hashed in its compression thread, which gives up the lock once for the whole chunk."""
        if not ref_chunks and len(piece) >= DIRECT:
            entry.chunks.append(self._store_chunk(piece))
            return
        h = chunk_hash(piece)
        old = ref_chunks.get(h)
        if old is not None and old.raw_length == len(piece):
            entry.chunks.append(old)
            self.stats.chunks_reused += 1
            return
        entry.chunks.append(self._store_chunk(piece, (crc32c.crc32c(piece), h)))

    def _read_stream(self, fd: int, entry: Entry, ref_chunks: dict[str, Chunk], head: int = 0) -> int:
        """Content of unknown length (a pipe), read to EOF.

        A tar header must state the size before the data, and holding a whole dump back
        to learn it would take memory or disk of the dump's size. So in a full backup each
        chunk becomes a tar member of its own, `<path>.part-NNNNNNNN` (numbered from 1, at
        least one member even when empty): the tar stream stays valid, and `cat` of the
        parts in order gives the dump back. The manifest entry is still one file.

        `head` bytes, when given, become a chunk of their own: a dump whose first bytes
        change every time (pg_dump writes the time there) then changes only that small
        chunk, and the chunking of the rest starts at the same place in every backup.
        """
        total = parts = 0
        first = [_read_upto(fd, head)] if head else []
        for piece in itertools.chain(first, self._pieces(fd, None)):
            if not piece:
                continue
            parts += 1
            self._tar_part(entry, parts, len(piece))
            self._keep(piece, entry, ref_chunks)
            total += len(piece)
            self._tick(len(piece))
            if self.tar_mode:
                self._zeros(-len(piece) % tarfile.BLOCKSIZE)
        if not parts:
            self._tar_part(entry, 1, 0)
        return total

    def _tick(self, n: int) -> None:
        """Progress inside one large file or dump (per piece), not only between entries."""
        self.stats.current_done += n
        if self.progress:
            self.progress(self.stats)

    def _tar_part(self, entry: Entry, number: int, size: int) -> None:
        if not self.tar_mode:
            return
        part = dataclasses.replace(entry, path=entry.path + b".part-%08d" % number, chunks=[], flags=[])
        self._tar(part, size)

    def _pieces(self, fd: int, limit: int | None, sparse: bool = False) -> Iterator[bytes | memoryview]:
        """Content-defined chunks of at most `limit` bytes read from `fd` (to EOF when None).

        Large content is read in READ_BLOCK pieces straight into a fresh buffer (after the
        carried-over start of the last, unfinished chunk) and the chunks are views of it:
        the bytes are copied once, by the kernel, however many consumers look at them.
        """
        if limit is not None and limit < self.min_chunk:
            data = (_read_sparse if sparse else _read_upto)(fd, limit)
            if data:
                yield data
            return
        carry: memoryview | bytes = b""
        remaining = limit
        while True:
            want = READ_BLOCK if remaining is None else min(READ_BLOCK, remaining)
            buf = bytearray(len(carry) + want)
            buf[:len(carry)] = carry
            got = _read_into(fd, memoryview(buf)[len(carry):], sparse)
            if remaining is not None:
                remaining -= got
            eof = got < want or remaining == 0
            if not got and not carry:
                return
            cuts = list(self.cdc.cut_buf(memoryview(buf)[:len(carry) + got]))
            if not eof:
                carry = cuts.pop().data
            for c in cuts:
                yield c.data
            if eof:
                return


def _content_size(fd: int, st: os.stat_result) -> int | None:
    """Bytes to read: a file's size, a block device's capacity, None for a pipe (read to EOF)."""
    if stat.S_ISREG(st.st_mode):
        return st.st_size
    if stat.S_ISBLK(st.st_mode):
        size = os.lseek(fd, 0, os.SEEK_END)
        os.lseek(fd, 0, os.SEEK_SET)
        return size
    return None


def _read_upto(fd: int, n: int) -> bytes:
    """Read up to n bytes (fewer only at end of file)."""
    if n <= 0:
        return b""
    data = os.read(fd, n)
    if len(data) == n or not data:
        return data
    parts = [data]
    got = len(data)
    while got < n:
        more = os.read(fd, n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _read_sparse(fd: int, n: int) -> bytes:
    """Like `_read_upto` for a file with holes: a hole's zeros are made, not read, so a
    mostly empty disk image does not cost a read of its full size."""
    buf = bytearray(max(n, 0))
    got = _read_into(fd, memoryview(buf), sparse=True)
    del buf[got:]
    return bytes(buf)


def _read_into(fd: int, view: memoryview, sparse: bool = False) -> int:
    """Fill `view` (a fresh, zeroed buffer) from `fd`; fewer bytes only at end of file.
    For a file with holes, a hole is skipped rather than read: the buffer is zeros already."""
    n, got = len(view), 0
    if sparse and n:
        pos = os.lseek(fd, 0, os.SEEK_CUR)
        try:
            data = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError as e:
            if e.errno != errno.ENXIO:
                raise
            n = min(n, max(0, os.fstat(fd).st_size - pos))  # nothing but hole up to the end
            data = pos + n
        if data >= pos + n:
            os.lseek(fd, pos + n, os.SEEK_SET)
            return n
        if data > pos:
            os.lseek(fd, data, os.SEEK_SET)
            got = data - pos
    while got < n:
        k = os.readv(fd, [view[got:]])
        if k == 0:
            break
        got += k
    return got
