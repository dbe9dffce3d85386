"""Issue 3, point 3: no file is read twice in a backup. A full opens every source file once and
reads exactly its bytes; an incremental opens only the files that changed, once each.

Counted, not timed: os.open, os.read and os.readv are watched while real backups run in-process,
and every call on a descriptor of a source file is charged to that file's inode."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import write_config

from reliad.config import load_config
from reliad.jobs.backup import run_backup


class ReadLedger:
    """Opens and bytes read per source inode, from the process's own system calls."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, inodes: set[int]) -> None:
        self.inodes = inodes
        self.opens: Counter[int] = Counter()
        self.bytes: Counter[int] = Counter()
        self._fds: dict[int, int] = {}
        real_open, real_close, real_read, real_readv = os.open, os.close, os.read, os.readv

        def watched_open(*args: Any, **kwargs: Any) -> int:
            fd = real_open(*args, **kwargs)
            ino = os.fstat(fd).st_ino
            if ino in self.inodes:
                self.opens[ino] += 1
                self._fds[fd] = ino
            return fd

        def watched_close(fd: int) -> None:
            self._fds.pop(fd, None)
            real_close(fd)

        def watched_read(fd: int, n: int) -> bytes:
            data = real_read(fd, n)
            if fd in self._fds:
                self.bytes[self._fds[fd]] += len(data)
            return data

        def watched_readv(fd: int, buffers: Any) -> int:
            got = real_readv(fd, buffers)
            if fd in self._fds:
                self.bytes[self._fds[fd]] += got
            return got

        for name, fn in (("open", watched_open), ("close", watched_close), ("read", watched_read),
                         ("readv", watched_readv)):
            monkeypatch.setattr(os, name, fn)


def _tree(root: Path) -> dict[str, int]:
    """Small files sharing frames, and one file large enough to be read in several blocks and
    cut into several chunks; returns each file's inode by path relative to `root`."""
    for i in range(60):
        (root / f"d{i // 20}").mkdir(parents=True, exist_ok=True)
        (root / f"d{i // 20}" / f"f{i:02d}.txt").write_bytes(b"%d " % i * (50 + i))
    (root / "dump.sql").write_bytes(os.urandom(11 << 20))
    return {str(p.relative_to(root)): p.stat().st_ino for p in root.rglob("*") if p.is_file()}


def test_each_file_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    inodes = _tree(src)
    config = load_config(write_config(tmp_path / "reliad.toml", [str(src)]))

    full = ReadLedger(monkeypatch, set(inodes.values()))
    assert run_backup(config, "shop", "full")["type"] == "full"
    assert all(full.opens[ino] == 1 for ino in inodes.values()), full.opens
    assert {rel: full.bytes[ino] for rel, ino in inodes.items()} == \
        {rel: (src / rel).stat().st_size for rel in inodes}

    changed = ["d1/f25.txt", "dump.sql"]
    (src / "d1" / "f25.txt").write_bytes(b"new content\n")
    with open(src / "dump.sql", "ab") as fh:
        fh.write(b"INSERT INTO orders VALUES (1);\n")
    monkeypatch.undo()
    inc = ReadLedger(monkeypatch, set(inodes.values()))
    assert run_backup(config, "shop", "incremental")["type"] == "incremental"
    assert {rel: inc.opens[inodes[rel]] for rel in changed} == dict.fromkeys(changed, 1)
    assert sum(inc.opens.values()) == len(changed)  # unchanged files are not even opened
    assert {rel: inc.bytes[inodes[rel]] for rel in changed} == {rel: (src / rel).stat().st_size for rel in changed}
