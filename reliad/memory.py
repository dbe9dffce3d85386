"""Keeping the process's memory close to what it uses.

glibc gives each thread that allocates its own malloc arena (up to eight per core), and an
arena keeps what was freed in it for that arena's next allocations. A backup's compression,
writer and commit threads each allocate and free frame-sized buffers in turn, so each arena
holds megabytes nobody uses. With two arenas, peak RSS of the benchmark's full backup was
83 MiB against 88-91 MiB with glibc's default, at the same speed (`/usr/bin/time`,
alternating runs; issue 18's limit is 90 MiB).
"""

from __future__ import annotations

import ctypes
import os

_M_ARENA_MAX = -8  # glibc's malloc.h


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas; call it before any thread starts. MALLOC_ARENA_MAX in the
    environment wins, and a C library without mallopt (not glibc) is left as it is."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(_M_ARENA_MAX, arenas)
