"""Turning content into frames in packs, in parallel but in order.

Compression runs in a thread pool (zstandard, crc32c and blake3 release the GIL); frames are
written in submission order by a writer thread, so a full backup's packs concatenate into one
valid tar stream. The raw bytes in flight are bounded, which bounds memory however large the
source is.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import blake3
import crc32c

from reliad.errors import ReliadError
from reliad.repository import codec
from reliad.repository.crypto import OVERHEAD, Cipher
from reliad.repository.manifest import Chunk
from reliad.repository.names import pack_name, pack_object
from reliad.storage.base import Storage

log = logging.getLogger(__name__)

Frame = bytes | memoryview | list[bytes]  # one buffer, or pieces to concatenate


class PackWriter:
    """Appends frames to the packs of one backup, starting a new pack at `pack_size`.

    With a cipher, each compressed frame is sealed here, where its pack and offset (which the
    encryption binds it to) are known; AES-GCM holds the GIL anyway, so a worker thread would
    not make it faster.

    A full pack is committed (fsync and rename locally, the upload on S3) in a background
    thread while the next one fills, so the disk or the network works while the cores
    compress; `close` waits for every commit and raises the first failure.
    """

    def __init__(self, storage: Storage, backup_id: str, pack_size: int, cipher: Cipher | None = None) -> None:
        self.storage = storage
        self.backup_id = backup_id
        self.pack_size = pack_size
        self.cipher = cipher
        self.packs: list[str] = []
        self.sums: dict[str, dict[str, int]] = {}  # pack -> size and CRC32C of the whole object
        self._out: Any = None
        self._pos = 0
        self._crc = 0
        self.bytes_written = 0
        self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reliad-commit")
        self._commits: list[tuple[Future[None], Any]] = []  # oldest first

    def write(self, compressed: bytes, crc: int) -> tuple[str, int, int, int]:
        """Store one frame; returns (pack, offset, stored length, CRC32C of the stored bytes)."""
        size = len(compressed) + (OVERHEAD if self.cipher else 0)
        if self._out is None or (self._pos and self._pos + size > self.pack_size):
            self._roll()
        off = self._pos
        pack = self.packs[-1]
        stored = compressed
        if self.cipher:
            stored = self.cipher.seal_frame(pack, off, compressed)
            crc = crc32c.crc32c(stored)
        self._out.write(stored)
        self._crc = crc32c.crc32c(stored, value=self._crc)
        self._pos += len(stored)
        self.bytes_written += len(stored)
        return pack, off, len(stored), crc

    def _roll(self) -> None:
        self._commit_current()
        name = pack_name(self.backup_id, len(self.packs) + 1)
        self.packs.append(name)
        self._out = self.storage.open_write(pack_object(name))
        self._pos = 0
        self._crc = 0

    def _commit_current(self) -> None:
        if self._out is not None:
            self._commits.append((self._committer.submit(self._out.close), self._out))
            self._out = None
            self.sums[self.packs[-1]] = {"size": self._pos, "crc32c": self._crc}
            while self._commits and self._commits[0][0].done():
                self._commits[0][0].result()  # a failed commit fails the backup as soon as it is seen
                self._commits.pop(0)

    def close(self) -> None:
        """Commit the current pack and wait until every pack is committed."""
        self._commit_current()
        while self._commits:
            self._commits[0][0].result()
            self._commits.pop(0)
        self._committer.shutdown(wait=True)

    def abort(self) -> None:
        """Drop the pack being written and any not yet committed, wait for a commit under way,
        then delete the packs this backup committed: no manifest will ever point at them, and
        left behind on a full disk they would make the next backup fail for lack of space too.
        What cannot be deleted now (the store is gone) prune removes later."""
        for fut, out in [*self._commits, (None, self._out)]:
            if out is not None and (fut is None or fut.cancel()):
                out.abort()
        self._out = None
        self._commits.clear()
        self._committer.shutdown(wait=True)
        for pack in self.packs:
            try:
                self.storage.delete(pack_object(pack))
            except (OSError, ReliadError) as e:
                log.warning("event=pack_not_removed pack=%s error=%r", pack, str(e))


def chunk_hash(data: bytes | memoryview) -> str:
    """The content hash that lets a later backup recognise a chunk it already has."""
    return blake3.blake3(data).hexdigest(length=16)


def _encode(frame: Frame, level: int, chunks: list[Chunk], want_crc: bool) -> tuple[bytes, int]:
    """Worker side: join the frame's pieces, compress it, and checksum each chunk's raw slice
    unless the archiver did already (small chunks, and any it looked for in the reference
    backup: see `Archiver._keep`). The CRC32C of the compressed bytes is skipped when the
    frame is to be sealed: the writer checksums the envelope instead."""
    if isinstance(frame, list):
        raw: bytes | memoryview = b"".join(frame)
        frame.clear()  # the pieces are not needed once joined, though the pool holds the list
    else:
        raw = frame
    view = memoryview(raw)
    for c in chunks:
        if c.raw_crc32c is None:
            piece = view[c.raw_offset:c.raw_offset + c.raw_length]
            c.raw_crc32c = crc32c.crc32c(piece)
            c.hash = chunk_hash(piece)
    stored = codec.compress(raw, level)
    return stored, crc32c.crc32c(stored) if want_crc else 0


COMPRESS_NICE = 2  # how much lower the compression threads' CPU priority is than their feeder's


def _yield_to_the_feeder() -> None:
    """Run this compression thread at a lower CPU priority (a higher nice value) than the
    thread that feeds it frames.

    The feeder (the archiver: walking, reading, chunking, hashing small files) runs Python,
    and every frame waits for it. With three threads wanting two cores, the scheduler shared
    them evenly and preempted the feeder 540-580 times in the benchmark's full backup;
    preempted with the interpreter lock held, it stopped every thread that needed the lock.
    At a lower priority the compression threads give way to it (330-430 times) and use the
    cores it leaves: the full took 7-10 % less time and 3-9 % less CPU (docs/PERFORMANCE.md,
    "Fifth round"). Two steps are enough (+2, +5 and +10 gave the same times), and the
    smallest step costs a backup least on a machine whose other work keeps every core busy:
    at the unit's nice 10, two steps lower leaves compression 64 % of the CPU share it had,
    five steps a third. On Linux a thread's nice value is its own. A refusal (a sandbox
    without setpriority) leaves the thread as it was, which is only slower."""
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + COMPRESS_NICE)
    except OSError as e:
        log.debug("event=compress_priority_unchanged error=%r", str(e))


class FramePipeline:
    """Compresses frames in worker threads and writes them, in submission order, from a
    writer thread of its own.

    The caller's thread (the archiver: walking, reading, chunking) only queues frames; it
    waits only when `window` bytes of raw content are in flight. Before, it wrote each
    frame itself and so waited for the oldest frame's compression whenever one large frame
    was still being compressed while the other workers sat idle.

    A frame carries the chunk records whose place it fills in once written. The writer sets
    a record's pack name last, so a record with a pack name is complete: that is how the
    caller tells which entries can go into the manifest (`placed`).

    The window is 6 MiB: peak RSS of the benchmark's full backup (issue 18's limit is 90 MiB)
    was 81-83 MiB with 4 MiB, 87-89 with 6, 89-93 with 8 and 103-111 with 16; with 4 MiB the
    full took 6.0-6.4 s against 5.4-5.5 s with 8 (`/usr/bin/time`, alternating, load 1).
    """

    def __init__(self, writer: PackWriter, level: int, workers: int | None = None,
                 window: int = 6 << 20) -> None:
        self.writer = writer
        self.level = level
        n = workers or max(1, min(4, os.cpu_count() or 1))
        self.pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="reliad-compress",
                                       initializer=_yield_to_the_feeder)
        self.window = window
        self._seal = writer.cipher is not None
        self._queue: queue.SimpleQueue[tuple[Future[tuple[bytes, int]], list[Chunk], int] | None] = \
            queue.SimpleQueue()
        self._cond = threading.Condition()
        self._inflight = 0  # raw bytes submitted and not yet written
        self._frames = 0  # frames submitted and not yet written
        self._error: BaseException | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._write_loop, name="reliad-write", daemon=True)
        self._thread.start()

    def submit(self, frame: Frame, chunks: list[Chunk]) -> None:
        """Queue a frame, one buffer or a list of pieces to be joined in a worker thread; the
        caller must not change it afterwards (it is not copied)."""
        size = sum(map(len, frame)) if isinstance(frame, list) else len(frame)
        with self._cond:
            self._cond.wait_for(lambda: self._error is not None or self._frames == 0
                                or self._inflight + size <= self.window)
            self._raise_error()
            self._inflight += size
            self._frames += 1
        self._queue.put((self.pool.submit(_encode, frame, self.level, chunks, not self._seal), chunks, size))

    def drain(self) -> None:
        """Wait until every queued frame is written; raises the first failure."""
        with self._cond:
            self._cond.wait_for(lambda: self._error is not None or self._frames == 0)
            self._raise_error()

    def shutdown(self) -> None:
        """Stop the writer thread and the workers; frames not yet written are dropped."""
        self._stopping = True
        self._queue.put(None)
        self._thread.join()
        self.pool.shutdown(wait=True, cancel_futures=True)

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _write_loop(self) -> None:
        while (item := self._queue.get()) is not None:
            fut, chunks, size = item
            if self._error is None and not self._stopping:
                try:
                    compressed, crc = fut.result()
                    pack, off, length, crc = self.writer.write(compressed, crc)
                    for c in chunks:
                        c.frame_offset, c.frame_length, c.frame_crc32c = off, length, crc
                        c.pack = pack  # last: a record with a pack name is complete
                except BaseException as e:  # handed to the caller's thread
                    with self._cond:
                        self._error = e
            else:
                fut.cancel()
            with self._cond:
                self._inflight -= size
                self._frames -= 1
                self._cond.notify_all()
