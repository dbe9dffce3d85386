"""Turning raw bytes into stored frames and back.

A frame is one independent zstd frame, so that the frames of a pack decompress in order
with the stock `zstd` tool, any frame can be read alone, and frames compress in parallel
threads (zstandard releases the GIL while it works).
"""

from __future__ import annotations

import threading

import zstandard

from reliad.errors import DamageError

_local = threading.local()


def _compressor(level: int) -> zstandard.ZstdCompressor:
    cache = getattr(_local, "compressors", None)
    if cache is None:
        cache = _local.compressors = {}
    comp = cache.get(level)
    if comp is None:
        comp = cache[level] = zstandard.ZstdCompressor(level=level, write_checksum=False,
                                                       write_content_size=True)
    return comp


def _decompressor() -> zstandard.ZstdDecompressor:
    d = getattr(_local, "decompressor", None)
    if d is None:
        d = _local.decompressor = zstandard.ZstdDecompressor()
    return d


def compress(raw: bytes | memoryview, level: int) -> bytes:
    return _compressor(level).compress(raw)


_ONE_CALL_MAX = 1 << 30  # a larger content size in a frame header is damage: stream it instead


def decompress(stored: bytes, where: str) -> bytes:
    """Decompress one frame; `where` names the object in the error when it is damaged.

    A frame as writers make it (its content size in the header) is decompressed in one call
    into a buffer of exactly that size, without the streaming path's pieces and their final
    copy. Anything else, an error included, takes the streaming path, which names the
    damage. A content size of 0 always streams: the one-call path returns b"" for it
    without looking at the rest of the input."""
    try:
        size = zstandard.frame_content_size(stored)
    except zstandard.ZstdError:
        size = -1
    if 0 < size <= _ONE_CALL_MAX:
        try:
            return _decompressor().decompress(stored, allow_extra_data=False)
        except zstandard.ZstdError:
            pass
    try:
        obj = _decompressor().decompressobj()
        raw = obj.decompress(stored)
        if not obj.eof:
            raise DamageError(f"{where}: frame is truncated")
        if obj.unused_data:
            raise DamageError(f"{where}: trailing bytes after the frame")
        return raw
    except zstandard.ZstdError as e:
        raise DamageError(f"{where}: frame does not decompress ({e})") from None
