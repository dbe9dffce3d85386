"""Shared fixtures: a source tree, a configuration and a way to run the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REQUIRE_ALL = os.environ.get("RELIAD_REQUIRE_ALL") == "1"
REPO_ROOT = Path(__file__).resolve().parent.parent


def need_program(name: str) -> str:
    """Path of an external program; skip (or fail under CI) when it is missing."""
    path = shutil.which(name)
    if path is None:
        msg = f"{name} is not installed"
        if REQUIRE_ALL:
            pytest.fail(f"{msg}, and RELIAD_REQUIRE_ALL=1 forbids skipping")
        pytest.skip(msg)
    return path


class Reliad:
    """Runs `python -m reliad` as a user would, with a given config."""

    def __init__(self, config: Path) -> None:
        self.config = config

    def run(self, *args: str, check: bool = True, expect: int | None = None, env: dict | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "reliad", *args]
        if "-c" not in args and "--config" not in args:
            cmd += ["-c", str(self.config)]
        full_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=timeout)
        if expect is not None:
            assert proc.returncode == expect, f"{args}: rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        elif check and proc.returncode != 0:
            raise AssertionError(f"{args}: rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def json(self, *args: str, **kw) -> object:
        return json.loads(self.run(*args, "--json", **kw).stdout)


def write_config(path: Path, sources: list[str], extra: str = "", exclude: list[str] | None = None) -> Path:
    excl = json.dumps(exclude or [])
    path.write_text(
        f'state_dir = "state"\n\n[targets.local]\ntype = "local"\npath = "repo"\n\n'
        f"[policies.shop]\nsources = [{{ type = \"files\", paths = {json.dumps(sources)}, exclude = {excl} }}]\n"
        f'targets = ["local"]\n{extra}'
    )
    return path


@pytest.fixture
def src(tmp_path: Path) -> Path:
    s = tmp_path / "src"
    (s / "sub" / "deeper").mkdir(parents=True)
    (s / "empty_dir").mkdir()
    (s / "a.txt").write_text("hello\n")
    (s / "sub" / "b.txt").write_text("b" * 5000)
    (s / "sub" / "deeper" / "c.bin").write_bytes(os.urandom(3 << 20))
    (s / "empty.txt").write_bytes(b"")
    (s / "skip.tmp").write_text("excluded")
    os.symlink("a.txt", s / "link")
    os.link(s / "a.txt", s / "hard")
    return s


@pytest.fixture
def reliad(tmp_path: Path, src: Path) -> Reliad:
    return Reliad(write_config(tmp_path / "reliad.toml", [str(src)], exclude=["*.tmp"]))


@pytest.fixture
def slow_creation(monkeypatch):
    """Every O_CREAT open takes 20 ms longer; returns the names of the threads that made them."""
    real_open = os.open
    threads: list[str] = []

    def slow_open(path, flags, mode=0o777, *, dir_fd=None):
        if flags & os.O_CREAT:
            threads.append(threading.current_thread().name)
            time.sleep(0.02)
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", slow_open)
    return threads
