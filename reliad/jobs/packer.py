"""Turning content into frames in packs, in parallel but in order.

Compression runs in a thread pool (zstandard and crc32c release the GIL); frames are written
in submission order, so a full backup's packs concatenate into one valid tar stream. The
number of frames in flight is bounded, which bounds memory however large the source is.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import blake3
import crc32c

from reliad.repository import codec
from reliad.repository.crypto import OVERHEAD, Cipher
from reliad.repository.repo import pack_object
from reliad.storage.base import Storage

Chunk = list[Any]


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
        name = f"{self.backup_id}/{len(self.packs) + 1:06d}"
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
        """Drop the pack being written and any not yet committed (prune removes the rest)."""
        for fut, out in [*self._commits, (None, self._out)]:
            if out is not None and (fut is None or fut.cancel()):
                abort = getattr(out, "abort", None)
                if abort:
                    abort()
        self._out = None
        self._commits.clear()
        self._committer.shutdown(wait=True)


def chunk_hash(data: bytes | memoryview) -> str:
    """The content hash that lets a later backup recognise a chunk it already has."""
    return blake3.blake3(data).hexdigest(length=16)


def _encode(raw: bytes | bytearray | memoryview, level: int, chunks: list[Chunk]) -> tuple[bytes, int]:
    """Worker side: compress the frame, and checksum each chunk's raw slice unless the
    main thread already had to (to look for it in the reference backup)."""
    view = memoryview(raw)
    for c in chunks:
        if c[6] is None:
            piece = view[c[4]:c[4] + c[5]]
            c[6] = crc32c.crc32c(piece)
            c[7] = chunk_hash(piece)
    stored = codec.compress(raw, level)
    return stored, crc32c.crc32c(stored)


class FramePipeline:
    """Compresses frames in worker threads and writes them in order.

    Each frame carries the chunk records whose location it fills in once written;
    `on_written` lets the caller release entries whose chunks are all placed.
    """

    def __init__(self, writer: PackWriter, level: int, on_written: Callable[[], None],
                 workers: int | None = None) -> None:
        self.writer = writer
        self.level = level
        self.on_written = on_written
        n = workers or max(1, min(4, os.cpu_count() or 1))
        self.pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="reliad-compress")
        self.inflight: deque[tuple[Future[tuple[bytes, int]], list[Chunk]]] = deque()
        # Two frames beyond the ones compressing keep the workers fed; more only adds memory
        # (each holds up to a 4 MiB chunk) and, measured on 2 cores, no speed.
        self.max_inflight = n + 2

    def submit(self, raw: bytes | bytearray | memoryview, chunks: list[Chunk]) -> None:
        """Queue a frame; the caller must not change `raw` afterwards (it is not copied)."""
        self.inflight.append((self.pool.submit(_encode, raw, self.level, chunks), chunks))
        while len(self.inflight) > self.max_inflight:
            self._write_one()

    def _write_one(self) -> None:
        fut, chunks = self.inflight.popleft()
        compressed, crc = fut.result()
        pack, off, length, crc = self.writer.write(compressed, crc)
        for c in chunks:
            c[0], c[1], c[2], c[3] = pack, off, length, crc
        self.on_written()

    def drain(self) -> None:
        while self.inflight:
            self._write_one()

    def shutdown(self) -> None:
        for fut, _ in self.inflight:
            fut.cancel()
        self.inflight.clear()
        self.pool.shutdown(wait=True)
