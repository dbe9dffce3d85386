"""sd_notify over a real Unix datagram socket, in both address forms systemd uses."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from reliad.daemon.notify import Notifier


def _recv(sock: socket.socket) -> str:
    sock.settimeout(10)
    return sock.recv(4096).decode()


@pytest.mark.parametrize("abstract", [False, True])
def test_messages_reach_the_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, abstract: bool) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"@reliad-test-{os.getpid()}-{id(tmp_path)}" if abstract else str(tmp_path / "notify")
    sock.bind("\0" + name[1:] if abstract else name)
    monkeypatch.setenv("NOTIFY_SOCKET", name)
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    n = Notifier.from_env()
    assert "NOTIFY_SOCKET" not in os.environ  # children do not inherit it
    assert n.watchdog_interval == 2.0
    n.ready("idle")
    assert _recv(sock).split("\n")[:2] == ["READY=1", "STATUS=idle"]
    n.watchdog()
    assert _recv(sock) == "WATCHDOG=1"
    n.send(STOPPING=1)
    assert _recv(sock) == "STOPPING=1"
    n.close()
    sock.close()


def test_watchdog_meant_for_another_process_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    monkeypatch.setenv("WATCHDOG_PID", "1")
    n = Notifier.from_env()
    assert n.watchdog_interval is None and not n.enabled
    n.ready("idle")  # no socket: a no-op, not an error
