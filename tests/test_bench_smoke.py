"""The benchmark runner still works end to end (on a tiny tree; it asserts no timings).

reliad alone by default; RELIAD_BENCH_SMOKE_TOOLS=reliad,restic,borg,tar includes the others
(each needs its program, through need_program).
"""

from __future__ import annotations

import fcntl
import filecmp
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import REPO_ROOT, need_program

from bench import gen
from bench import run as bench_run
from bench.run import (
    METRICS,
    PROGRAMS,
    TOOLS,
    Measured,
    Result,
    Tool,
    cpu_ticks,
    full_again,
    self_ratios,
    steal_line,
    steal_share,
    summarize,
    twice_line,
)


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
    assert any(line.startswith("steal time (psutil), the most any timed step met: run 1 ") for line in lines)
    data = json.loads(out.read_text())
    reliad = data["medians"]["reliad"]
    assert set(reliad) == {m for m, _, _ in METRICS}
    assert reliad["full_s"] > 0 and reliad["restore_s"] > 0 and reliad["repo_mib"] > 0 and reliad["rss_mib"] > 0
    assert reliad["restore_deleted_s"] > 0 and reliad["full_cpu_s"] > 0  # the restore-after-deletion step ran
    assert reliad["incr_growth_mib"] > 0  # the mutation changed something and the incremental stored it
    assert {v["metric"] for v in data["targets"]} >= {"rss_mib"}
    # every tool's full was taken twice, the second into a fresh repository, and compared
    assert any(line.startswith("the same tool's full backup twice in one run") for line in lines)
    assert data["runs"][0]["reliad"]["full_again_s"] > 0 and data["runs"][0]["reliad"]["full_again_cpu_s"] > 0
    assert set(data["self_ratios"]) == set(tools) and all(len(v) == 1 and v[0] > 0
                                                          for v in data["self_ratios"].values())

    # the generator is deterministic: the same seed and scale give the same tree
    again = tmp_path / "again"
    gen.tree(again, 0.002, 1)
    assert _same(tmp_path / "work" / "tree-scale0.002-seed1", again)


def test_targets_are_checked_on_the_worst_run():
    """Issue 18, point 4: beside the median of the per-run ratios, the worst run's ratio, and a
    target counts as met only when every run met it."""
    def run(full: float, ref_full: float, rss: float) -> tuple[dict[str, float], dict[str, float]]:
        base = {m: 1.0 for m, _, _ in METRICS}
        return {**base, "full_s": full, "rss_mib": rss}, {**base, "full_s": ref_full}

    runs = [run(5.0, 10.0, 80.0), run(5.0, 10.0, 85.0), run(7.0, 10.0, 95.0)]  # 0.5, 0.5, 0.7
    s = summarize(Result(runs={"reliad": [r for r, _ in runs], "restic": [x for _, x in runs]}))
    assert s["ratios"]["restic"]["full_s"] == pytest.approx(0.5)
    assert s["worst_ratios"]["restic"]["full_s"] == pytest.approx(0.7)
    verdict = {(v["metric"], v["reference"]): v for v in s["targets"]}
    assert verdict[("full_s", "restic")]["median"] == pytest.approx(0.5)
    assert not verdict[("full_s", "restic")]["met"]  # the median meets 0.55, one run does not
    assert verdict[("rss_mib", None)]["value"] == pytest.approx(95.0) and not verdict[("rss_mib", None)]["met"]
    assert verdict[("verify_s", "restic")]["met"] is False  # 1.0 against 0.45
    assert verdict[("incr_growth_mib", "restic")]["met"] is True  # 1.0 against 1.2


def test_the_twice_line_gives_how_far_each_tool_differs_from_itself():
    """A ratio between two tools in one run is no steadier than either tool against itself:
    the benchmark shows that spread beside the worst run's ratios."""
    runs = [{"reliad": {"full_s": 5.0, "full_again_s": 4.0}, "restic": {"full_s": 10.0, "full_again_s": 8.0}},
            {"reliad": {"full_s": 4.5, "full_again_s": 5.0}, "restic": {"full_s": 11.0, "full_again_s": 10.0}}]
    assert self_ratios(runs) == {"reliad": [1.25, 0.9], "restic": [1.25, 1.1]}
    assert twice_line(self_ratios(runs)).endswith(": reliad 0.90-1.25, restic 1.10-1.25")
    # runs without the second full (--no-twice) say so, rather than a range of nothing
    assert twice_line(self_ratios([{"reliad": {"full_s": 5.0}}])).endswith(": not measured")
    summary = summarize(Result(runs={"reliad": [{**{m: 1.0 for m, _, _ in METRICS}, "full_again_s": 0.5}]}))
    assert summary["self_ratios"] == {"reliad": [2.0]}


def test_the_second_full_reads_a_fresh_copy_into_a_fresh_repository(tmp_path):
    """Both halves of the comparison do the same work: the first full already read its copy
    (and wrote every file's access time doing so), and its repository holds every chunk."""
    pristine = tmp_path / "pristine"
    (pristine / "sub").mkdir(parents=True)
    (pristine / "sub" / "f.txt").write_text("content\n")
    seen: list[tuple[Path, Path, str]] = []

    class Recording(Tool):
        name = "recording"

        def full(self) -> Measured:
            seen.append((self.src, self.repo, (self.src / "sub" / "f.txt").read_text()))
            return Measured(1.0, 1.0, "")

    first = Recording(tmp_path / "run-1", tmp_path / "run-1" / "shop")
    full_again(first, pristine, tmp_path / "run-1-again")
    [(src, repo, text)] = seen
    assert src == tmp_path / "run-1-again" / "shop" and repo == tmp_path / "run-1-again" / "repo"
    assert text == "content\n"


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


def test_a_second_benchmark_on_the_same_work_directory_is_refused(tmp_path):
    """Two invocations sharing --work would set each other's scratch directories aside."""
    work = tmp_path / "work"
    work.mkdir()
    with open(work / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a running benchmark holds it
        proc = subprocess.run([sys.executable, "-m", "bench.run", "--tools", "reliad", "--scale", "0.002",
                               "--runs", "1", "--work", str(work)], cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=120)
    assert proc.returncode == 1 and "another benchmark is running" in proc.stderr
    assert not list(work.glob("run-*")) and not list(work.glob("tree-*"))  # it touched nothing


def test_the_steal_line_names_each_runs_most_disturbed_step():
    """Beside the table, which run the hypervisor slowed and where: a ratio compares two steps
    taken seconds apart, and a reader must be able to tell a slow tool from a stolen CPU."""
    runs = [{"reliad": {"full_steal_pct": 0.2, "verify_steal_pct": 3.0}, "restic": {"full_steal_pct": 12.4}},
            {"reliad": {"full_steal_pct": 0.0}, "tar": {"restore_deleted_steal_pct": 0.1}}]
    line = steal_line(runs)
    assert "run 1 12 % (restic's full)" in line
    assert line.endswith("run 2 0 %")
    # a run whose steal could not be read says so, rather than 0 %
    unread = steal_line([{"reliad": {"full_steal_pct": None}, "tar": {"full_steal_pct": None}}])
    assert unread.endswith("run 1 not measured")


def test_steal_share_is_the_stolen_part_of_all_cpu_time():
    assert steal_share((10, 1000), (60, 1500)) == pytest.approx(10.0)
    assert steal_share((5, 100), (5, 100)) == 0.0
    assert steal_share(None, (5, 100)) is None and steal_share((5, 100), None) is None
    ticks = cpu_ticks()
    assert ticks is not None  # Linux counts steal
    stolen, total = ticks
    assert total > 0 and 0 <= stolen <= total


def test_settle_pauses_between_the_tools_restores_after_deletion_and_nowhere_else(tmp_path, monkeypatch):
    """A tool's restore right after deletion also meets the freed inodes of the tool before it
    for a minute (docs/PERFORMANCE.md, eighth round); `--settle` lets that minute pass."""
    for program in PROGRAMS["reliad"] + PROGRAMS["tar"]:
        need_program(program)
    events: list[tuple[str, object]] = []
    real_restore = bench_run.restore_after_delete
    clock = SimpleNamespace(**{n: getattr(time, n) for n in dir(time) if not n.startswith("_")})
    clock.sleep = lambda s: events.append(("pause", s))  # bench.run's own sleeps only
    monkeypatch.setattr(bench_run, "time", clock)
    monkeypatch.setattr(bench_run, "restore_after_delete",
                        lambda tool, dest: events.append(("restore", tool.name)) or real_restore(tool, dest))
    pristine = bench_run.pristine_tree(tmp_path, 0.002, 1)
    bench_run.run_round(["tar", "reliad"], pristine, tmp_path, 1, 1, lambda _: None, settle=61.0)
    assert events == [("restore", "tar"), ("pause", 61.0), ("restore", "reliad")]
