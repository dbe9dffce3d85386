"""A restore's data is on disk when the restore says it is restored (reliad/jobs/restore_flush.py):
the destination's file systems are synced while the restore runs and once more after the
last file and directory time is in place, and a write error the kernel reports there is a
restore error, not a success."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest
from engine_kit import open_repo, restored, snapshot

from reliad.jobs import restore, restore_flush


def _spy(monkeypatch, record) -> None:
    """Call `record(fd)` before every real syncfs of a restore."""
    real = restore_flush.syncfs

    def spy(fd: int) -> None:
        record(fd)
        real(fd)

    monkeypatch.setattr(restore_flush, "syncfs", spy)


def test_the_data_is_synced_while_the_restore_runs_and_once_more_when_all_is_in_place(
        reliad, src, tmp_path, slow_creation, monkeypatch):
    bid = reliad.json("backup", "shop", "--type", "full")["id"]
    dest = tmp_path / "dest"
    out = restored(dest, src)
    seen: list[dict | None] = []  # what the tree looked like as each sync started
    _spy(monkeypatch, lambda fd: seen.append(snapshot(out) if out.is_dir() else None))
    monkeypatch.setattr(restore_flush, "INTERVAL", 0.005)

    result = restore.run_restore(open_repo(reliad.config), bid, dest, [])

    assert result["errors"] == [] and result["files"] == 4
    final = snapshot(out)
    assert seen, "the restore never synced its destination"
    assert seen[-1] == final, "the last sync ran before every file and directory time was in place"
    assert any(s != final for s in seen), "nothing was synced while the restore was still writing"


def test_a_write_error_reported_when_syncing_fails_the_restore(reliad, src, tmp_path, monkeypatch):
    bid = reliad.json("backup", "shop", "--type", "full")["id"]
    dest = tmp_path / "dest"

    def failing(fd: int) -> None:  # what syncfs(2) returns after a failed writeback on that disk
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(restore_flush, "syncfs", failing)
    result = restore.run_restore(open_repo(reliad.config), bid, dest, [])

    assert result["errors"] == [{"path": str(dest),
                                 "reason": "the restored data could not all be written to disk: Input/output error"}]
    assert (restored(dest, src) / "a.txt").read_text() == "hello\n"  # the files are there, their durability is not


def test_a_file_system_mounted_below_dest_is_synced_too(reliad, src, tmp_path, monkeypatch):
    bid = reliad.json("backup", "shop", "--type", "full")["id"]
    dest = tmp_path / "dest"
    mount_point = restored(dest, src) / "sub"
    mount_point.mkdir(parents=True)
    if subprocess.run(["mount", "-t", "tmpfs", "reliad-test", str(mount_point)], capture_output=True).returncode:
        pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN)")
    try:
        devices: list[int] = []
        _spy(monkeypatch, lambda fd: devices.append(os.fstat(fd).st_dev))
        result = restore.run_restore(open_repo(reliad.config), bid, dest, [])
        assert result["errors"] == []
        assert (mount_point / "deeper" / "c.bin").read_bytes() == (src / "sub" / "deeper" / "c.bin").read_bytes()
        assert {os.stat(dest).st_dev, os.stat(mount_point).st_dev} <= set(devices)
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_the_flusher_lets_go_of_every_file_system_it_was_shown(tmp_path: Path, monkeypatch):
    synced: list[int] = []
    _spy(monkeypatch, lambda fd: synced.append(os.fstat(fd).st_dev))
    root = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    other = os.open("/dev/shm", os.O_RDONLY | os.O_DIRECTORY)
    try:
        before = len(os.listdir("/proc/self/fd"))
        flusher = restore_flush.Flusher(root)
        flusher.watch(other)
        flusher.watch(root)  # one file system, one sync
        assert flusher.finish() == []
        assert len(os.listdir("/proc/self/fd")) == before
    finally:
        os.close(root)
        os.close(other)
    assert sorted(synced[-2:]) == sorted({os.stat(tmp_path).st_dev,
                                          os.stat("/dev/shm").st_dev})
