"""Issue 2, point 5: kill -9 at any moment of a real backup leaves a repository in which every
backup verifies and the next backup succeeds, with the killed run recorded as failed; a second
writer fails clearly or waits, and a lock left by a dead process does not block."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from conftest import REPO_ROOT, Reliad, write_config
from engine_kit import assert_same, restored, snapshot


def _spawn(r: Reliad, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "reliad", *args, "-c", str(r.config)],
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _running_id(state: Path) -> str | None:
    try:
        db = sqlite3.connect(state / "catalog.db", timeout=5)
        try:
            row = db.execute("SELECT id FROM backups WHERE status='running'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def _wait(cond: Callable[[], bool], proc: subprocess.Popen) -> None:
    while not cond() and proc.poll() is None:
        time.sleep(0.005)


def _packs(repo: Path, bid: str) -> int:
    d = repo / "data" / bid
    return len([p for p in d.iterdir() if p.suffix == ".pack" and not p.name.startswith(".")]) if d.is_dir() else 0


def _grow(tree: Path, round_: int) -> None:
    """New content for every attempt, so that each kind of backup has real work to do."""
    d = tree / f"round{round_}"
    d.mkdir()
    for i in range(150):
        (d / f"small{i}.txt").write_bytes(os.urandom(200))
    (d / "big.bin").write_bytes(os.urandom(4 << 20))


def test_kill_minus_nine_at_many_moments(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    _grow(tree, 0)
    r = Reliad(write_config(tmp_path / "reliad.toml", [str(tree)]))
    cfg = r.config
    cfg.write_text(cfg.read_text().replace('path = "repo"', 'path = "repo"\npack_size_mib = 1'))
    repo, state = tmp_path / "repo", tmp_path / "state"
    r.run("backup", "shop", "--type", "full")

    # moments: just after the run is recorded, after the first pack, mid-way, near the end
    moments: list[tuple[str, Callable[[str], bool]]] = [
        ("full", lambda bid: True),
        ("incremental", lambda bid: _packs(repo, bid) >= 1),
        ("differential", lambda bid: _packs(repo, bid) >= 2),
        ("full", lambda bid: _packs(repo, bid) >= 4),
        ("incremental", lambda bid: any(p.name.startswith(".tmp-") for p in (repo / "manifests").iterdir())),
    ]
    killed = []
    for n, (btype, moment) in enumerate(moments, start=1):
        _grow(tree, n)
        proc = _spawn(r, "backup", "shop", "--type", btype)
        bid = _running_id(state)
        while bid is None and proc.poll() is None:
            time.sleep(0.005)
            bid = _running_id(state)
        if bid is not None:
            _wait(lambda bid=bid, moment=moment: moment(bid), proc)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed.append(bid)
        proc.communicate()

        rows = {b["id"]: b for b in r.json("list")}
        if bid in killed and not (repo / "manifests" / bid).exists():
            assert rows[bid]["status"] == "failed" and "interrupted" in rows[bid]["error"], rows[bid]
        assert r.run("verify", "--mode", "crc").returncode == 0
    assert len(killed) >= 3, "the backups finished before they could be killed"

    last = r.json("backup", "shop", "--type", "incremental")
    assert last["status"] == "ok"
    listed = r.json("list")
    assert all(b["status"] in ("ok", "failed") for b in listed)
    ok = [b["id"] for b in listed if b["status"] == "ok"]
    assert sorted(ok) == sorted(p.name for p in (repo / "manifests").iterdir() if not p.name.startswith("."))
    r.run("verify", "--mode", "crc", *ok)
    r.run("verify", "--mode", "fast")
    dest = tmp_path / "out"
    r.run("restore", last["id"], str(dest))
    assert_same(snapshot(tree), snapshot(restored(dest, tree)))


_HOLD = """
import sys
from pathlib import Path
from reliad.repository.lock import writer_lock
with writer_lock(Path(sys.argv[1]), "test holder"):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def _holder(repo: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(repo)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_second_writer_fails_clearly_or_waits_and_dead_holder_is_stale(reliad, tmp_path):
    repo = tmp_path / "repo"
    reliad.run("backup", "shop", "--type", "full")
    holder = _holder(repo)
    try:
        proc = reliad.run("backup", "shop", expect=1)
        assert f"pid {holder.pid}" in proc.stderr and "--lock-wait" in proc.stderr
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
        refused = reliad.json("list")[-1]
        assert refused["status"] == "failed" and "locked" in refused["error"]

        waiting = _spawn(reliad, "backup", "shop", "--lock-wait", "120", "--json")
        time.sleep(0.5)
        assert waiting.poll() is None  # still waiting for the holder
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait()
    _, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err

    dead = _holder(repo)
    os.kill(dead.pid, signal.SIGKILL)
    dead.wait()
    assert str(dead.pid) in (repo / "locks" / "writer").read_text()  # its record is still there
    reliad.run("backup", "shop")
