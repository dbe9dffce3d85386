"""Issue 2, point 6: files that grow, shrink or vanish while they are read do not fail the
backup; what is stored matches the recorded size and checksums, and the entry is flagged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import Reliad, write_config
from engine_kit import open_repo, restored

LINE = 16  # every file's content is pattern(0..n): any prefix of it is a consistent snapshot


def pattern(start_line: int, lines: int) -> bytes:
    return b"".join(b"%015d\n" % i for i in range(start_line, start_line + lines))


_CHURN = """
import os, sys, time
LINE = 16
def pattern(a, n):
    return b"".join(b"%015d\\n" % i for i in range(a, a + n))
grow, shrink, vanish_dir, stop = sys.argv[1:5]
lines = os.path.getsize(grow) // LINE
big = os.path.getsize(shrink) // LINE
names = sorted(os.listdir(vanish_dir))
print("ready", flush=True)
i = 0
while not os.path.exists(stop):
    with open(grow, "ab") as fh:                      # grows: appends the next lines
        fh.write(pattern(lines, 4096))
    lines += 4096
    os.truncate(shrink, (big // 2 if i % 2 == 0 else big // 4) * LINE)   # shrinks, then regrows
    with open(shrink, "r+b") as fh:
        fh.seek(0, 2)
        n = fh.tell() // LINE
        fh.write(pattern(n, big - n))
    if names:                                         # vanishes, one file per round
        os.unlink(os.path.join(vanish_dir, names.pop()))
    i += 1
    time.sleep(0.005)
"""


def test_growing_shrinking_vanishing_files_are_stored_consistently(tmp_path: Path):
    tree = tmp_path / "tree"
    (tree / "vanish").mkdir(parents=True)
    grow, shrink = tree / "growing.log", tree / "shrinking.db"
    grow.write_bytes(pattern(0, (8 << 20) // LINE))
    shrink.write_bytes(pattern(0, (8 << 20) // LINE))
    for i in range(400):
        (tree / "vanish" / f"f{i:04d}").write_bytes(pattern(0, 64))
    r = Reliad(write_config(tmp_path / "reliad.toml", [str(tree)]))
    stop = tmp_path / "stop"
    churn = subprocess.Popen([sys.executable, "-c", _CHURN, str(grow), str(shrink), str(tree / "vanish"), str(stop)],
                             stdout=subprocess.PIPE, text=True)
    results = []
    try:
        assert churn.stdout is not None and churn.stdout.readline().strip() == "ready"
        for btype in ("full", "incremental", "incremental"):
            results.append(r.json("backup", "shop", "--type", btype))  # exit 0 even while files change
            flagged = {p for res in results for p in res["changed_during_backup"]}
            if str(grow).lstrip("/") in flagged and len(results) >= 2:
                break
    finally:
        stop.touch()
        churn.wait(timeout=60)
    flagged = {p for res in results for p in res["changed_during_backup"]}
    assert str(grow).lstrip("/") in flagged  # it grows all the time, so every read overlaps a change

    repo = open_repo(r.config)
    for res in results:
        assert res["status"] == "ok"
        entries = {e.path: e for e in repo.entries(res["id"])}
        for path in (grow, shrink):
            e = entries[str(path).lstrip("/").encode()]
            assert e.size == sum(c[5] for c in e.chunks) and e.size % LINE == 0
            if str(path).lstrip("/") in res["changed_during_backup"]:
                assert "changed_during_backup" in e.flags
        dest = tmp_path / f"out-{res['id']}"
        r.run("restore", res["id"], str(dest))
        for path in (grow, shrink):
            data = (restored(dest, tree) / path.name).read_bytes()
            e = entries[str(path).lstrip("/").encode()]
            assert len(data) == e.size and data == pattern(0, e.size // LINE), path
        left = sorted(p.name for p in (restored(dest, tree) / "vanish").iterdir())
        assert all((restored(dest, tree) / "vanish" / n).read_bytes() == pattern(0, 64) for n in left)
    assert r.run("verify", "--mode", "crc").returncode == 0
