"""Real faults for the tests of issue 16: a small filesystem to fill, and a huge block device."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_disk(where: Path, size: str = "4m") -> Iterator[Path]:
    """A small tmpfs at `where` (root may mount; elsewhere the test skips with the reason)."""
    where.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs for the full disk: {proc.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as fh, contextlib.suppress(OSError):
        while True:
            fh.write(b"\0" * 65536)
    return filler


@contextlib.contextmanager
def huge_device(where: Path, size: str = "1T") -> Iterator[Path]:
    """A loop device over a sparse file of `size`: reading it takes far longer than any test
    (skips with the reason where loop devices cannot be set up)."""
    backing = where / "huge.img"
    subprocess.run(["truncate", "-s", size, str(backing)], check=True)
    proc = subprocess.run(["losetup", "--find", "--show", "--read-only", str(backing)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot set up a loop device: {proc.stderr.strip()}")
    dev = Path(proc.stdout.strip())
    try:
        yield dev
    finally:
        subprocess.run(["losetup", "-d", str(dev)], check=False)
