"""Running `reliad run` as a real subprocess in tests, with a real sd_notify socket."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import REPO_ROOT

WAIT_S = 90.0  # a guard against hanging, never a performance assertion


def wait_for(what: str, cond: Callable[[], Any], timeout: float = WAIT_S, proc: Daemon | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        if proc is not None and proc.proc.poll() is not None:
            raise AssertionError(f"service exited ({proc.proc.returncode}) while waiting for {what}\n{proc.log()}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}" + (f"\n{proc.log()}" if proc else ""))


def config(tmp: Path, sources: list[Path], schedule: str, extra: str = "", level: int = 3) -> Path:
    """Packs of 1 MiB, so that a backup cut off half way leaves whole packs behind."""
    path = tmp / "reliad.toml"
    path.write_text(
        f'state_dir = "state"\n\n[targets.local]\ntype = "local"\npath = "repo"\npack_size_mib = 1\n\n'
        f"[policies.shop]\nsources = [{{ type = \"files\", paths = {json.dumps([str(s) for s in sources])} }}]\n"
        f'targets = ["local"]\ncompression_level = {level}\n\n[policies.shop.schedule]\n{schedule}\n{extra}'
        # the default metrics port is one per host; these services need none
        '\n[metrics]\nenabled = false\n')
    return path


def slow_tree(root: Path, files: int = 40) -> Path:
    """Random base64 text: at zstd level 19 each 256 KiB file takes a noticeable while, so a
    backup of it is still running when the test acts on it."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (root / f"f{i:03d}.txt").write_bytes(base64.b64encode(os.urandom(192 << 10)))
    return root


def rows(tmp: Path, policy: str = "shop") -> list[dict[str, Any]]:
    return _catalog(tmp, "SELECT * FROM backups WHERE policy=? ORDER BY started_at, id", (policy,))


def jobs(tmp: Path, kind: str) -> list[dict[str, Any]]:
    """The catalog's job records of a kind (prune, verify_crc, ...), oldest first."""
    return _catalog(tmp, "SELECT * FROM jobs WHERE kind=? ORDER BY seq", (kind,))


def _catalog(tmp: Path, sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Rows of the service's catalog, read-only (empty while it does not exist yet)."""
    db = tmp / "state" / "catalog.db"
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql, args)]
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


class Daemon:
    """`python -m reliad run` with NOTIFY_SOCKET bound to a datagram socket we read."""

    def __init__(self, tmp: Path, cfg: Path, watchdog_usec: int | None = None) -> None:
        self.tmp = tmp
        self.log_path = tmp / f"daemon-{time.monotonic_ns()}.log"
        self.sock_path = tmp / f"notify-{time.monotonic_ns() % 100000}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.sock_path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "NOTIFY_SOCKET": str(self.sock_path)}
        if watchdog_usec:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen([sys.executable, "-m", "reliad", "run", "-c", str(cfg)], env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT)

    def _read(self) -> None:
        """Drain the socket as systemd would, so the service never finds it full."""
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue
            except OSError:
                return

    def notifications(self) -> list[str]:
        return list(self.messages)

    def notified(self, line: str) -> bool:
        return any(line in m.split("\n") for m in self.notifications())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = WAIT_S) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
        self.sock.close()
