"""The benchmark runner still works end to end (on a tiny tree; it asserts no timings).

reliad alone by default; RELIAD_BENCH_SMOKE_TOOLS=reliad,restic,borg,tar includes the others
(each needs its program, through need_program).
"""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, need_program

from bench import gen
from bench.run import METRICS, PROGRAMS, TOOLS


def _same(a, b) -> bool:
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    return not mismatch and not errors and all(_same(a / d, b / d) for d in cmp.common_dirs)


def test_runner_prints_the_table_on_a_tiny_tree(tmp_path):
    tools = os.environ.get("RELIAD_BENCH_SMOKE_TOOLS", "reliad").split(",")
    for t in tools:
        assert t in TOOLS, t
        for program in PROGRAMS[t]:
            need_program(program)
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "bench.run", "--tools", ",".join(tools), "--scale", "0.002",
                           "--runs", "1", "--work", str(tmp_path / "work"), "--json", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.startswith("| step"))
    for t in tools:
        assert {"tar": "tar+zstd"}.get(t, t) in header
    assert "reliad/restic" in header and "reliad/tar+zstd" in header
    for _, label, _ in METRICS:
        assert any(line.startswith(f"| {label}") for line in lines), label
    data = json.loads(out.read_text())
    reliad = data["medians"]["reliad"]
    assert set(reliad) == {m for m, _, _ in METRICS}
    assert reliad["full_s"] > 0 and reliad["restore_s"] > 0 and reliad["repo_mib"] > 0 and reliad["rss_mib"] > 0
    assert reliad["incr_growth_mib"] > 0  # the mutation changed something and the incremental stored it
    assert {v["metric"] for v in data["targets"]} >= {"rss_mib"}

    # the generator is deterministic: the same seed and scale give the same tree
    again = tmp_path / "again"
    gen.tree(again, 0.002, 1)
    assert _same(tmp_path / "work" / "tree-scale0.002-seed1", again)


def _bench(tmp_path, *args: str) -> dict:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "bench.run", *args, "--work", str(tmp_path / "work"),
                           "--json", str(out)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return {"stdout": proc.stdout, **json.loads(out.read_text())}


def test_scale_run_reports_time_cpu_and_memory_per_size(tmp_path):
    """Issue 3, point 4: the many-small-files run, at sizes a test can afford."""
    result = _bench(tmp_path, "--tools", "reliad", "--scale-files", "40,80", "--file-size", "512")
    rows = result["scale_run"]
    assert [r["files"] for r in rows] == [40, 80]
    for r in rows:
        assert r["full_s"] > 0 and r["incr_s"] > 0 and r["full_rss_mib"] > 0 and r["repo_mib"] > 0
        assert r["us_per_file"] == pytest.approx(r["full_s"] / r["files"] * 1e6)
        assert {"full_cpu_s", "cpu_us_per_file", "incr_cpu_s"} <= set(r)
    assert "| 80 |" in result["stdout"] and "CPU us/file" in result["stdout"]


def test_s3_run_reports_upload_beside_local_throughput(tmp_path):
    """Issue 3, point 5: the same runner against a real S3 server (SeaweedFS)."""
    need_program("weed")
    row = _bench(tmp_path, "--s3", "--scale", "0.002")["s3_run"]
    assert row["stored_mib"] > 0 and row["local_mb_s"] > 0 and row["s3_upload_mb_s"] > 0
