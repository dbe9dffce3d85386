"""What a drill leaves in the state directory so that a killed one can be cleaned up.

    STATE_DIR/drills/<policy>.lock        flock held while a drill of the policy runs
    STATE_DIR/drills/running/<policy>.json  the running drill (id, pid, standby): a file whose
                                          process is gone is an interrupted drill
    STATE_DIR/drills/scratch/<name>.json  a scratch database that may exist, written before it
                                          is created and removed once it is dropped
    STATE_DIR/drills/standby/<policy>.json  the standby tree a drill of ours created, so the
                                          next drill may empty it (and nothing else)

Every file is written whole through a temporary name, so a kill -9 leaves either the old or
the new content.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from reliad.errors import LockError
from reliad.statedir import ensure_state_dir


def drills_dir(state_dir: Path) -> Path:
    return state_dir / "drills"


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def alive(data: dict[str, Any]) -> bool:
    """Whether the process that wrote a bookkeeping file still runs (on this host)."""
    pid = data.get("pid")
    return isinstance(pid, int) and pid != os.getpid() and psutil.pid_exists(pid)


@contextlib.contextmanager
def policy_lock(state_dir: Path, policy: str) -> Iterator[None]:
    """One drill of a policy at a time; the kernel drops the lock when its holder dies."""
    path = drills_dir(ensure_state_dir(state_dir)) / f"{policy}.lock"
    path.parent.mkdir(exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockError(f"a drill of policy {policy!r} is already running; wait for it to finish") from None
        yield
    finally:
        os.close(fd)


def entries(state_dir: Path, kind: str) -> list[tuple[Path, dict[str, Any]]]:
    """The bookkeeping files of one kind (running, scratch, standby) with their content."""
    folder = drills_dir(state_dir) / kind
    out = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        data = read_json(path)
        if data is not None:
            out.append((path, data))
    return out
