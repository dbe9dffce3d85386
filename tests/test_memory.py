"""The CLI caps glibc's malloc arenas before a command starts its threads (issue 18: peak
RSS of a full backup), and a MALLOC_ARENA_MAX the user set is left alone."""

from __future__ import annotations

import ctypes.util
import re
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

# Six threads allocate at the same time (64 KiB blocks stay below glibc's mmap threshold, so
# they come from arenas), then glibc's malloc_stats() lists the arenas on stderr ("Arena N:").
PROBE = """
import ctypes, sys, threading
from reliad.memory import limit_malloc_arenas
if sys.argv[1] == "limit":
    limit_malloc_arenas()
gate = threading.Barrier(6)
def work():
    gate.wait()
    kept = [bytearray(64 << 10) for _ in range(100)]
    gate.wait()
threads = [threading.Thread(target=work) for _ in range(6)]
[t.start() for t in threads]
[t.join() for t in threads]
ctypes.CDLL(None).malloc_stats()
"""

GLIBC = "libc.so.6" in (ctypes.util.find_library("c") or "")
pytestmark = pytest.mark.skipif(not GLIBC, reason="malloc arenas are glibc's")


def _arenas(mode: str, env: dict[str, str] | None = None) -> int:
    proc = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": str(REPO_ROOT), **(env or {})})
    return len(re.findall(r"^Arena \d+:", proc.stderr, re.M))


def test_threads_share_two_arenas_once_limited():
    assert _arenas("default") > 2  # what the cap is for: glibc gives the threads arenas of their own
    assert _arenas("limit") <= 2


def test_the_users_malloc_arena_max_wins():
    assert _arenas("limit", {"MALLOC_ARENA_MAX": "4"}) == 4


def test_the_cli_sets_the_cap_before_a_command_runs(monkeypatch):
    from click.testing import CliRunner

    from reliad import cli
    calls = []
    monkeypatch.setattr(cli, "limit_malloc_arenas", lambda: calls.append(1))
    CliRunner().invoke(cli.main, ["list", "--help"])
    assert calls == [1]
