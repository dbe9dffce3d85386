"""What a file system charges for creating a tree's files right after a tree was deleted
(docs/PERFORMANCE.md, "Restore"): the shape of TREE (its directories and file names, not its
content) is made as empty files under SCRATCH, deleted, and made again.

    python -m bench.inode_alloc order TREE SCRATCH [MODE ...]   # default: one-at-a-time, dirs-first, twice
    python -m bench.inode_alloc persist TREE SCRATCH 0 20 40 70 # made again after waiting that many seconds

`one-at-a-time` makes each directory just before its entries, in manifest order, as a
restore did before issue 18; `dirs-first` makes every directory first, as restic's restore
does; `lanes` makes every directory first, then the files from two threads, each taking
every other directory, as reliad's restore does. Each line gives the wall and system time
of making the files fresh and right after deleting them. On ext4 without a journal the
second costs far more when the directories were made one at a time, and least with lanes.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import threading
import time
from pathlib import Path

MODES = ("one-at-a-time", "dirs-first", "lanes")


def shape(tree: Path) -> list[tuple[str, bool]]:
    """(relative path, is a directory) of everything in `tree`, in depth-first sorted order."""
    out: list[tuple[str, bool]] = []
    for d, dirs, files in os.walk(tree):
        dirs.sort()
        rel = os.path.relpath(d, tree)
        out.append((rel, True))
        out.extend((os.path.join(rel, f), False) for f in sorted(files))
    return out


def make(paths: list[tuple[str, bool]], dest: Path, mode: str) -> tuple[float, float]:
    """Make the shape under `dest`; returns (wall seconds, system seconds)."""
    sys0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_stime, time.perf_counter()
    if mode in ("dirs-first", "lanes"):
        for rel, is_dir in paths:
            if is_dir:
                os.makedirs(dest / rel, exist_ok=True)
    if mode == "lanes":
        _lanes(paths, dest)
    else:
        for rel, is_dir in paths:
            if is_dir:
                os.makedirs(dest / rel, exist_ok=True)
            else:
                _touch(dest / rel)
    return time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_stime - sys0


def _touch(path: Path) -> None:
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600))


def _lanes(paths: list[tuple[str, bool]], dest: Path) -> None:
    """The files of every other directory from one thread, the rest from another."""
    by_dir: dict[str, list[str]] = {}
    for rel, is_dir in paths:
        if not is_dir:
            by_dir.setdefault(os.path.dirname(rel), []).append(rel)
    groups = list(by_dir.values())

    def lane(mine: list[list[str]]) -> None:
        for files in mine:
            for rel in files:
                _touch(dest / rel)

    threads = [threading.Thread(target=lane, args=(groups[k::2],)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def delete(dest: Path) -> None:
    os.sync()
    shutil.rmtree(dest)
    os.sync()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.inode_alloc", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("order", "persist"))
    ap.add_argument("tree", type=Path, help="a tree whose shape is made (the benchmark's generated tree)")
    ap.add_argument("scratch", type=Path, help="where to make it (on the file system to measure)")
    ap.add_argument("args", nargs="*", help="order: modes; persist: seconds to wait")
    a = ap.parse_args(argv)
    paths = shape(a.tree)
    print(f"{sum(not d for _, d in paths)} files in {sum(d for _, d in paths)} directories")
    if a.what == "order":
        for i, mode in enumerate(a.args or [*MODES, *MODES]):
            if mode not in MODES:
                ap.error(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
            dest = a.scratch / f"order-{i}"
            fresh = make(paths, dest, mode)
            delete(dest)
            again = make(paths, dest, mode)
            delete(dest)
            print(f"{mode:14s} fresh {fresh[0]:.2f} s (sys {fresh[1]:.2f}) | "
                  f"right after deleting it {again[0]:.2f} s (sys {again[1]:.2f})", flush=True)
        return 0
    dest = a.scratch / "persist"
    for wait in [float(x) for x in a.args or ["0", "20", "40", "70"]]:
        make(paths, dest, "one-at-a-time")
        delete(dest)
        time.sleep(wait)
        again = make(paths, dest, "one-at-a-time")
        print(f"after {wait:3.0f} s: {again[0]:.2f} s (sys {again[1]:.2f})", flush=True)
        delete(dest)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
