"""Reading a backup's frames ahead of use, in worker threads.

Restore and verify walk a manifest in order and need, entry by entry, the frames that the
entry's chunks live in. Reading a frame, checking its CRC32C and decompressing it all
release the GIL, so a few threads decoding the next frames keep every core busy while the
caller's thread writes files. The workers also check the raw CRC32C of every chunk
already planned in a frame while it is hot in their cache, so the caller's thread (the one
that runs Python, hence the bottleneck) mostly just hands out slices. The window is
counted in frames, so memory
stays bounded however large a file or a backup is; neighbouring small files share a frame,
which is decoded once for all of them.

    stream = FrameStream(repo, repo.entries(bid), plan=lambda e: e.chunks)
    for entry, chunks in stream:
        for c in chunks:
            data = stream.data(c)   # the chunk's bytes, checked; DamageError if damaged
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import crc32c

from reliad.errors import DamageError
from reliad.repository.manifest import Chunk, Entry
from reliad.repository.names import pack_object
from reliad.repository.repo import Repository

FrameKey = tuple[str, int, int, int]
Slice = tuple[int, int, int]  # raw_offset, raw_length, raw_crc32c: a chunk's place in its frame
Decoded = tuple[bytes, set[Slice]]  # a frame's raw bytes and the slices of it found intact


class FrameStream:
    """Entries of a manifest in order, with the frames of their planned chunks decoded ahead.

    `plan(entry)` names the chunks the caller will ask for, in the order it will ask; the
    caller may stop early (say, after damage), and what it did not ask for is released
    when it moves on to the next entry.
    """

    def __init__(self, repo: Repository, entries: Iterable[Entry], plan: Callable[[Entry], list[Chunk]],
                 ahead: int | None = None, workers: int | None = None, max_entries: int = 8192) -> None:
        self.repo = repo
        self._src = iter(entries)
        self._plan = plan
        n = workers or max(1, min(4, os.cpu_count() or 1))
        self._pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="reliad-read")
        self._ahead = ahead or 4 * n
        self._max_entries = max_entries
        self._look: deque[tuple[Entry, list[Chunk]]] = deque()  # entries read ahead, head = current
        self._scan_e = 0  # next chunk to schedule: entry index in _look ...
        self._scan_c = 0  # ... and chunk index in its plan
        self._used = 0  # chunks of the head entry handed out so far
        # key -> [future, scheduled but unused chunks, chunks planned in it for the worker to check]
        self._frames: dict[FrameKey, list[Any]] = {}
        self._ended = False
        self._error: BaseException | None = None  # a damaged manifest, raised when reached

    def __iter__(self) -> Iterator[tuple[Entry, list[Chunk]]]:
        try:
            while True:
                if not self._look and not self._pull():
                    if self._error is not None:
                        raise self._error
                    return
                self._used = 0
                self._fill()
                yield self._look[0]
                self._release_head()
        finally:
            self.close()

    def data(self, chunk: Chunk) -> memoryview:
        """A planned chunk's bytes, checked against its raw CRC32C. Chunks are asked for in
        their planned order; planned chunks skipped on the way are released unread."""
        _, chunks = self._look[0]
        self._fill()
        while True:
            if self._used >= len(chunks):
                raise RuntimeError("chunk asked for out of its planned order")
            c = chunks[self._used]
            self._used += 1
            if c is chunk:
                break
            self._unref((c.pack, c.frame_offset, c.frame_length, c.frame_crc32c))
        key: FrameKey = (chunk.pack, chunk.frame_offset, chunk.frame_length, chunk.frame_crc32c)
        try:
            raw, good = self._frames[key][0].result()
        finally:
            self._unref(key)
            self._fill()
        roff, rlen, rcrc = chunk.raw_offset, chunk.raw_length, chunk.raw_crc32c
        data = memoryview(raw)[roff:roff + rlen]
        # a chunk planned after its frame's worker had started is checked here
        if (roff, rlen, rcrc) not in good and (len(data) != rlen or crc32c.crc32c(data) != rcrc):
            raise DamageError(f"{pack_object(chunk.pack)}@{chunk.frame_offset}: content CRC32C mismatch")
        return data

    def close(self) -> None:
        for slot in self._frames.values():
            slot[0].cancel()
        self._frames.clear()
        self._pool.shutdown(wait=True)

    # -- scheduling ---------------------------------------------------------------------
    def _pull(self) -> bool:
        if self._ended:
            return False
        try:
            entry = next(self._src, None)
        except Exception as e:  # a damaged manifest: raised once the entries before it are done
            self._error, entry = e, None
        if entry is None:
            self._ended = True
            return False
        self._look.append((entry, self._plan(entry)))
        return True

    def _fill(self) -> None:
        while len(self._frames) < self._ahead:
            if self._scan_e == len(self._look) and (len(self._look) >= self._max_entries or not self._pull()):
                return
            _, chunks = self._look[self._scan_e]
            if self._scan_c >= len(chunks):
                self._scan_e += 1
                self._scan_c = 0
                continue
            c = chunks[self._scan_c]
            key: FrameKey = (c.pack, c.frame_offset, c.frame_length, c.frame_crc32c)
            slot = self._frames.get(key)
            if slot is None:
                planned: list[Chunk] = []
                slot = self._frames[key] = [self._pool.submit(self._decode, key, planned), 0, planned]
            slot[1] += 1
            slot[2].append(c)
            self._scan_c += 1

    def _decode(self, key: FrameKey, planned: list[Chunk]) -> Decoded:
        """In a worker: read and decode one frame, then check the chunks planned in it so
        far (the caller's thread may still be adding some; it checks those itself)."""
        raw = self.repo.load_frame(*key)
        view = memoryview(raw)
        size = len(raw)
        good: set[Slice] = set()
        for c in planned[:]:
            roff, rlen, rcrc = c.raw_offset, c.raw_length, c.raw_crc32c
            if roff + rlen <= size and crc32c.crc32c(view[roff:roff + rlen]) == rcrc:
                good.add((roff, rlen, rcrc))
        return raw, good

    def _unref(self, key: FrameKey) -> None:
        slot = self._frames[key]
        slot[1] -= 1
        if slot[1] == 0:
            del self._frames[key]

    def _release_head(self) -> None:
        _, chunks = self._look.popleft()
        scheduled = len(chunks) if self._scan_e > 0 else self._scan_c
        for c in chunks[self._used:scheduled]:
            self._unref((c.pack, c.frame_offset, c.frame_length, c.frame_crc32c))
        if self._scan_e > 0:
            self._scan_e -= 1
        else:
            self._scan_c = 0
