"""Peak memory of `reliad backup` as the number of files grows (issue 2, point 9).

For each file count, builds a tree of small files, runs a real `python -m reliad backup`
subprocess for a full backup and then for an incremental after touching 1 % of the files,
and reports each run's peak resident set size. The peak comes from the kernel's own
accounting of the finished child (wait4's ru_maxrss), so nothing is sampled or missed.

    python bench/memory.py                       # 10,000 and 200,000 files
    python bench/memory.py --files 50000 --json  # one size, machine-readable
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PER_DIR = 1000


def make_tree(src: Path, files: int, rng: random.Random) -> None:
    """`files` files of 100 B to 4 KiB, a thousand per directory, text-like content."""
    words = [f"word{i}".encode() for i in range(500)]
    for i in range(files):
        d = src / f"d{i // PER_DIR:05d}"
        if i % PER_DIR == 0:
            d.mkdir(parents=True)
        size = rng.randint(100, 4096)
        body = b" ".join(rng.choice(words) for _ in range(size // 6))[:size]
        (d / f"file-{i:07d}.txt").write_bytes(body)


def touch_some(src: Path, files: int, rng: random.Random) -> int:
    """Append to 1 % of the files and add as many new ones: work for an incremental."""
    n = max(1, files // 100)
    for i in rng.sample(range(files), n):
        with open(src / f"d{i // PER_DIR:05d}" / f"file-{i:07d}.txt", "ab") as fh:
            fh.write(b" appended")
    extra = src / "new"
    extra.mkdir(exist_ok=True)
    for i in range(n):
        (extra / f"new-{i}.txt").write_bytes(b"new file %d\n" % i)
    return n


def run_measured(config: Path, btype: str) -> dict:
    """Run one backup and return its JSON result with the child's peak RSS."""
    cmd = [sys.executable, "-m", "reliad", "backup", "bench", "--type", btype, "--json", "-c", str(config)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    # read the pipes before waiting, so a chatty child cannot block on a full pipe
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit(f"backup failed ({proc.returncode}): {err.decode(errors='replace')}")
    result = json.loads(out)
    return {"type": btype, "files": result["files"], "bytes_read": result["bytes_read"],
            "bytes_stored": result["bytes_stored"], "wall_s": round(wall, 1),
            "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)}  # ru_maxrss is in KiB on Linux


def bench(files: int, workdir: Path) -> list[dict]:
    rng = random.Random(files)
    src, repo = workdir / "src", workdir / "repo"
    make_tree(src, files, rng)
    config = workdir / "reliad.toml"
    config.write_text(f'state_dir = "{workdir / "state"}"\n\n[targets.local]\ntype = "local"\npath = "{repo}"\n\n'
                      f'[policies.bench]\nsources = [{{ type = "files", paths = ["{src}"] }}]\ntargets = ["local"]\n')
    rows = [run_measured(config, "full")]
    touch_some(src, files, rng)
    rows.append(run_measured(config, "incremental"))
    for r in rows:
        r["tree_files"] = files
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, action="append", help="file count (repeatable; default 10000 and 200000)")
    ap.add_argument("--workdir", type=Path, help="where to build trees (default: a temporary directory)")
    ap.add_argument("--json", action="store_true", help="print one JSON list instead of a table")
    args = ap.parse_args()
    counts = args.files or [10_000, 200_000]
    base = args.workdir or Path(tempfile.mkdtemp(prefix="reliad-membench-"))
    results = []
    try:
        for n in counts:
            work = base / f"n{n}"
            if work.exists():
                shutil.rmtree(work)
            work.mkdir(parents=True)
            results += bench(n, work)
            shutil.rmtree(work)
    finally:
        if not args.workdir:
            shutil.rmtree(base, ignore_errors=True)
    if args.json:
        print(json.dumps(results))
        return
    print(f"{'tree files':>10} {'backup':<12} {'files':>8} {'read MiB':>9} {'stored MiB':>10} {'wall s':>7} "
          f"{'peak RSS MiB':>12}")
    for r in results:
        print(f"{r['tree_files']:>10} {r['type']:<12} {r['files']:>8} {r['bytes_read'] / 2**20:>9.1f} "
              f"{r['bytes_stored'] / 2**20:>10.1f} {r['wall_s']:>7} {r['peak_rss_mib']:>12}")


if __name__ == "__main__":
    main()
