"""A one-line progress display on stderr, shown only to a person at a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def clip(path: str, width: int = 40) -> str:
    """The end of a long path, which says most about it, so that the line fits a terminal."""
    return path if len(path) <= width else "…" + path[-(width - 1):]


def _duration(seconds: float) -> str:
    s = int(seconds + 0.5)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def transfer(done: int, total: int | None, rate: float) -> str:
    """'1.2 GiB of 4.0 GiB, ETA 33s' where the size is known, else '1.2 GiB' (rate in bytes/s)."""
    if total is None:
        return human_bytes(done)
    eta = f", ETA {_duration((total - done) / rate)}" if rate > 0 and total >= done else ""
    return f"{human_bytes(done)} of {human_bytes(total)}{eta}"


class Progress:
    """Redraws at most five times a second; silent when stderr is not a terminal."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._last = 0.0
        self._start = time.monotonic()
        self._shown = False

    def show(self, text: str | Callable[[], str]) -> None:
        """`text` may be a function, called only when the line is redrawn: jobs report
        progress per file, and formatting a line for every one of a million files costs."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.2:
            return
        self._last = now
        if callable(text):
            text = text()
        sys.stderr.write(f"\r\x1b[K[{now - self._start:6.1f}s] {text}")
        sys.stderr.flush()
        self._shown = True

    def rate(self, done: int) -> float:
        """Bytes per second since this display started."""
        elapsed = time.monotonic() - self._start
        return done / elapsed if elapsed > 0 else 0.0

    def done(self) -> None:
        if self._shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
