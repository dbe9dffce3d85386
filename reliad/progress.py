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

    def done(self) -> None:
        if self._shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
