"""Issue 2, point 6: files that grow, shrink or vanish while they are read do not fail the
backup; what is stored matches the recorded size and checksums, and the entry is flagged.

To change a file exactly while reliad has it open, the test freezes the real backup process
(SIGSTOP), looks in /proc/PID/fd for the file, changes it if it is open, and lets the process
go on (SIGCONT); no timing decides the outcome."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO_ROOT, Reliad, write_config
from engine_kit import open_repo, restored

LINE = 16  # every file's content is pattern(0..n): any prefix of it is a consistent snapshot


def pattern(start_line: int, lines: int) -> bytes:
    return b"".join(b"%015d\n" % i for i in range(start_line, start_line + lines))


def _open_in(pid: int) -> set[str]:
    found = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return found
    for fd in fds:
        with contextlib.suppress(OSError):  # closed meanwhile
            found.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return found


def _backup_interfering(r: Reliad, btype: str, grow: Path, shrink: Path, vanish: Path) -> dict:
    """Run a backup; while it has `grow` open append to it, while it has `shrink` open cut it
    in half, and delete a file of `vanish` now and then."""
    proc = subprocess.Popen([sys.executable, "-m", "reliad", "backup", "shop", "--type", btype, "--json",
                             "-c", str(r.config)], env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    todo = {str(grow), str(shrink)}
    doomed = sorted(vanish.iterdir())
    while proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGSTOP)
        except ProcessLookupError:
            break
        try:
            hit = todo & _open_in(proc.pid)
            if str(grow) in hit:
                with open(grow, "ab") as fh:
                    fh.write(pattern(os.path.getsize(grow) // LINE, 4096))
            if str(shrink) in hit:
                os.truncate(shrink, os.path.getsize(shrink) // LINE // 2 * LINE)
            todo -= hit
            if doomed:
                doomed.pop().unlink()
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.001)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    return json.loads(out)


def test_growing_shrinking_vanishing_files_are_stored_consistently(tmp_path: Path):
    tree = tmp_path / "tree"
    (tree / "vanish").mkdir(parents=True)
    grow, shrink = tree / "growing.log", tree / "shrinking.db"
    grow.write_bytes(pattern(0, (16 << 20) // LINE))
    for i in range(300):
        (tree / "vanish" / f"f{i:04d}").write_bytes(pattern(0, 64))
    r = Reliad(write_config(tmp_path / "reliad.toml", [str(tree)]))
    results = []
    for btype in ("full", "incremental", "incremental", "incremental", "incremental"):
        shrink.write_bytes(pattern(0, (16 << 20) // LINE))  # full size again for every attempt
        with open(grow, "ab") as fh:  # changed since the last backup, so an incremental reads it again
            fh.write(pattern(os.path.getsize(grow) // LINE, 1))
        results.append(_backup_interfering(r, btype, grow, shrink, tree / "vanish"))
        flagged = {p for res in results for p in res["changed_during_backup"]}
        if {str(grow).lstrip("/"), str(shrink).lstrip("/")} <= flagged:
            break
    assert {str(grow).lstrip("/"), str(shrink).lstrip("/")} <= flagged, results

    repo = open_repo(r.config)
    for res in results:
        assert res["status"] == "ok"
        entries = {e.path: e for e in repo.entries(res["id"])}
        dest = tmp_path / f"out-{res['id']}"
        r.run("restore", res["id"], str(dest))
        for path in (grow, shrink):
            e = entries[str(path).lstrip("/").encode()]
            assert ("changed_during_backup" in e.flags) == (str(path).lstrip("/") in res["changed_during_backup"])
            data = (restored(dest, tree) / path.name).read_bytes()
            assert len(data) == e.size == sum(c.raw_length for c in e.chunks)
            assert data == pattern(0, e.size // LINE) and e.size % LINE == 0, path
        left = sorted(p.name for p in (restored(dest, tree) / "vanish").iterdir())
        assert all((restored(dest, tree) / "vanish" / n).read_bytes() == pattern(0, 64) for n in left)
    assert r.run("verify", "--mode", "crc").returncode == 0
