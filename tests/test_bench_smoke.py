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
