"""Memory does not grow with the number of files: entries waiting for a shared frame to be
written are capped (archiver.MAX_PENDING), which is what keeps a 200,000-file incremental
from holding every entry behind one small changed file (it peaked at 251 MiB before the cap).

Counted, not timed or measured: the archiver's queue of waiting entries is watched while real
backups run in-process with a cap of 8, over a tree where far more than 8 would wait."""

from __future__ import annotations

import io
import os
import tarfile
from collections import deque
from pathlib import Path
from typing import Any

import pytest
import zstandard
from conftest import write_config
from engine_kit import assert_same, restored, snapshot

from reliad.config import load_config
from reliad.jobs import archiver
from reliad.jobs.backup import run_backup
from reliad.jobs.restore import run_restore
from reliad.jobs.verify import run_verify
from reliad.targets import open_repository

CAP = 8
FILES = 300  # small files: all of them share one frame, so without the cap all would wait


class _PeakDeque(deque):
    """The archiver's queue of waiting entries, remembering the longest it has been."""

    peak = 0

    def append(self, entry: Any) -> None:
        super().append(entry)
        self.peak = max(self.peak, len(self))


@pytest.fixture
def queues(monkeypatch: pytest.MonkeyPatch) -> list[_PeakDeque]:
    """Every Archiver made from now on runs with MAX_PENDING = CAP and a watched queue."""
    monkeypatch.setattr(archiver, "MAX_PENDING", CAP)
    made: list[_PeakDeque] = []
    init = archiver.Archiver.__init__

    def watched(self: archiver.Archiver, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self._pending = made_queue = _PeakDeque()
        made.append(made_queue)

    monkeypatch.setattr(archiver.Archiver, "__init__", watched)
    return made


def _tree(root: Path) -> dict[str, bytes]:
    """FILES small files in three directories, an empty directory and a symlink; returns the
    files' content by path relative to `root`."""
    content = {f"d{i // 100}/f{i:04d}.txt": b"%d " % i * (20 + i % 50) for i in range(FILES)}
    for rel, data in content.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "empty").mkdir()
    os.symlink("d0/f0000.txt", root / "link")
    return content


def _tar_members(repo: Path, backup_id: str) -> dict[str, bytes]:
    """The files in a full backup's packs read as the tar stream docs/FORMAT.md promises."""
    packs = b"".join(p.read_bytes() for p in sorted((repo / "data" / backup_id).glob("*.pack")))
    raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(packs), read_across_frames=True).read()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        return {m.name: tf.extractfile(m).read() for m in tf if m.isreg()}  # type: ignore[union-attr]


def test_waiting_entries_stay_under_the_cap(tmp_path: Path, queues: list[_PeakDeque]) -> None:
    src = tmp_path / "src"
    content = _tree(src)
    cfg_path = write_config(tmp_path / "reliad.toml", [str(src)])
    cfg_path.write_text(cfg_path.read_text().replace('path = "repo"', 'path = "repo"\nencryption = false'))
    config = load_config(cfg_path)

    # A full: every small file's content waits in the shared frame, whose ~300 KiB never fill it.
    full = run_backup(config, "shop", "full")
    before = snapshot(src)
    # An incremental: one changed small file in every 60 holds back all the unchanged ones after it.
    for i in range(0, FILES, 60):
        (src / f"d{i // 100}" / f"f{i:04d}.txt").write_bytes(b"changed %d\n" % i)
    inc = run_backup(config, "shop", "incremental")
    assert (full["type"], inc["type"], inc["unchanged_files"]) == ("full", "incremental", FILES - FILES // 60)

    # The cap is checked right after an entry is queued, so the queue may hold CAP + 1 for a
    # moment; reaching CAP shows entries really waited (without the cap: about FILES).
    assert [CAP <= q.peak <= CAP + 1 for q in queues] == [True, True], [q.peak for q in queues]

    # ... and the early frames the cap forces change nothing a reader sees.
    repo = open_repository(config, config.targets["local"])
    assert not run_verify(repo, [full["id"], inc["id"]], "crc").damaged
    for bid, expected in ((full["id"], before), (inc["id"], snapshot(src))):
        dest = tmp_path / f"restore-{bid}"
        run_restore(repo, bid, dest, [])
        assert_same(expected, snapshot(restored(dest, src)))
    prefix = str(src).lstrip("/") + "/"
    assert _tar_members(tmp_path / "repo", full["id"]) == {prefix + rel: data for rel, data in content.items()}
