"""The writer lock of a local repository.

It is an flock(2) on ``locks/writer``: the kernel drops it when the holder dies, so a lock
left by a killed process is never mistaken for a live one. The file also records who holds
it, so that the waiting side can say whom it is waiting for.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from reliad.errors import LockError


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
        return f"pid {info.get('pid')} on {info.get('host')} ({info.get('command')}, since {info.get('since')})"
    except (OSError, ValueError):
        return "another process"


@contextlib.contextmanager
def writer_lock(repo_dir: Path, command: str, wait_s: float = 0.0,
                on_wait: Callable[[float, bool], None] | None = None) -> Iterator[None]:
    """Hold the repository's writer lock; wait up to `wait_s` seconds for it.

    When the lock was busy, `on_wait(seconds_waited, acquired)` is called once, so that the
    caller can record contention (the repository layer itself knows nothing of the catalog)."""
    lock_dir = repo_dir / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_dir / "writer"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        start = time.monotonic()
        deadline = start + wait_s
        busy = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if busy and on_wait:
                    on_wait(time.monotonic() - start, True)
                break
            except BlockingIOError:
                busy = True
                if time.monotonic() >= deadline:
                    if on_wait:
                        on_wait(time.monotonic() - start, False)
                    raise LockError(
                        f"repository {repo_dir} is locked by {_holder(path)}; "
                        "wait for it to finish or pass --lock-wait SECONDS"
                    ) from None
                time.sleep(0.2)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield
    finally:
        os.close(fd)
