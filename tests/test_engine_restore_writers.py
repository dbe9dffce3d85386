"""Restore writes file contents from a few threads (issue 3): what they write must be what
a single thread wrote, their memory must stay bounded, and a failure in one of them must be
reported once, for the right path, while the other files are restored."""

from __future__ import annotations

import errno
import os
import random
import threading
from pathlib import Path

import pytest
from conftest import Reliad, write_config
from engine_kit import assert_same, open_repo, restored, snapshot

from reliad.jobs import restore
from reliad.repository.manifest import display_path

MiB = 1 << 20


def _tree(tree: Path) -> None:
    """Many small files (sharing frames), a few multi-chunk ones, a sparse one, hard links,
    and modes and times that differ file by file."""
    rnd = random.Random(7)
    for i in range(400):
        d = tree / f"d{i % 7}" / f"e{i % 3}"
        d.mkdir(parents=True, exist_ok=True)
        p = d / f"f{i:03d}"
        p.write_bytes(rnd.randbytes(rnd.choice([0, 1, 100, 4000, 70_000, 300_000])))
        os.chmod(p, rnd.choice([0o600, 0o644, 0o755, 0o400]))
        os.utime(p, ns=(1_600_000_000_000_000_000 + i * 1_000_003, 1_600_000_000_000_000_000 + i * 1_000_003))
    (tree / "big.bin").write_bytes(rnd.randbytes(9 * MiB) + bytes(3 * MiB) + rnd.randbytes(12 * MiB))
    with open(tree / "sparse.img", "wb") as fh:
        fh.write(b"head")
        fh.seek(10 * MiB)
        fh.write(rnd.randbytes(MiB))
        fh.truncate(20 * MiB)
    os.link(tree / "big.bin", tree / "big-link")
    os.link(tree / "d0" / "e0" / "f000", tree / "small-link")


def _backup(tmp_path: Path, tree: Path) -> tuple[Path, str]:
    r = Reliad(write_config(tmp_path / "reliad.toml", [str(tree)]))
    return r.config, r.json("backup", "shop", "--type", "full")["id"]


def test_many_files_through_the_writers_restore_identical_with_bounded_memory(tmp_path, monkeypatch):
    tree = tmp_path / "tree"
    _tree(tree)
    config, bid = _backup(tmp_path, tree)
    # tiny limits, so that the main thread waits for the writers again and again
    monkeypatch.setattr(restore, "_WRITERS", 3)
    monkeypatch.setattr(restore, "_BUDGET", 2 * MiB)
    monkeypatch.setattr(restore, "_OPEN_FILES", 3)
    monkeypatch.setattr(restore, "_BATCH_ITEMS", 5)
    peak = [0]
    hold = restore._Writers._hold

    def watched(self: restore._Writers, frame: bytes) -> None:
        hold(self, frame)
        peak[0] = max(peak[0], self._held)

    monkeypatch.setattr(restore._Writers, "_hold", watched)
    dest = tmp_path / "dest"
    result = restore.run_restore(open_repo(config), bid, dest, [])

    assert result["errors"] == []
    assert result["files"] == 402 and result["links"] == 2
    assert_same(snapshot(tree), snapshot(restored(dest, tree)))
    sparse = os.stat(restored(dest, tree) / "sparse.img")
    assert sparse.st_blocks * 512 < 3 * MiB, "the holes were filled in"
    # the 24 MiB file went through chunk by chunk: at most the budget, a batch and a frame or two
    assert 0 < peak[0] <= 2 * MiB + 6 * MiB


def test_a_write_failing_in_a_writer_is_reported_once_for_its_path(tmp_path, monkeypatch):
    tree = tmp_path / "tree"
    tree.mkdir()
    rnd = random.Random(3)
    for i in range(60):
        (tree / f"ok-{i:02d}").write_bytes(rnd.randbytes(rnd.choice([10, 5000, 400_000])))
    (tree / "bad-1").write_bytes(b"one chunk\n")
    os.link(tree / "bad-1", tree / "bad-1-link")  # its target fails: restored as a file of its own
    (tree / "bad-2").write_bytes(rnd.randbytes(5 * MiB))  # several chunks: its later writes are skipped
    (tree / "zz-after").write_bytes(b"after the failures\n")
    config, bid = _backup(tmp_path, tree)

    real_pwrite = os.pwrite
    failed: list[tuple[bytes, str]] = []

    def pwrite(fd: int, data: memoryview, pos: int) -> int:
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}".encode()))
        if name in (b"bad-1", b"bad-2"):
            failed.append((name, threading.current_thread().name))
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_pwrite(fd, data, pos)

    monkeypatch.setattr(os, "pwrite", pwrite)
    dest = tmp_path / "dest"
    result = restore.run_restore(open_repo(config), bid, dest, [])
    monkeypatch.undo()

    assert {n for n, _ in failed} == {b"bad-1", b"bad-2"}
    assert all(t.startswith("reliad-write-") for _, t in failed)
    bad = [display_path(os.fsencode(tree / n).lstrip(b"/")) for n in ("bad-1", "bad-2")]
    assert result["errors"] == [{"path": p, "reason": os.strerror(errno.EIO)} for p in bad]  # once, in order
    assert result["files"] == 62  # 60 ok, the link as a file, zz-after
    out = restored(dest, tree)
    expected = {p: v for p, v in snapshot(tree).items() if not p.startswith(b"bad-")}
    got = snapshot(out)
    assert_same(expected, {p: v for p, v in got.items() if not p.startswith(b"bad-")})
    assert (out / "bad-1-link").read_bytes() == b"one chunk\n"
    assert os.stat(out / "bad-1-link").st_ino != os.stat(out / "bad-1").st_ino
    assert os.stat(out / "bad-1").st_mode & 0o777 == 0o600  # left as created, not given the stored mode
    assert not _open_below(dest)


@pytest.mark.parametrize("where", ["before", "during"])
def test_damage_while_writers_hold_a_file_is_reported_once(tmp_path, monkeypatch, where):
    """A chunk that fails its check in the main thread ends a file whose earlier chunks are
    already queued: one error for it, none left open, and the restore goes on."""
    tree = tmp_path / "tree"
    tree.mkdir()
    rnd = random.Random(5)
    (tree / "a-first").write_bytes(b"first\n")
    (tree / "b-damaged").write_bytes(rnd.randbytes(6 * MiB))
    (tree / "c-last").write_bytes(b"last\n")
    config, bid = _backup(tmp_path, tree)
    data = restore.FrameStream.data
    seen = [0]

    def damaged(self: restore.FrameStream, chunk: list) -> memoryview:
        view = data(self, chunk)
        if len(view) > 1000:
            seen[0] += 1
            if where == "before" or seen[0] == 3:
                raise restore.DamageError("forged damage")
        return view

    monkeypatch.setattr(restore.FrameStream, "data", damaged)
    dest = tmp_path / "dest"
    result = restore.run_restore(open_repo(config), bid, dest, [])
    assert result["errors"] == [{"path": display_path(os.fsencode(tree / "b-damaged").lstrip(b"/")),
                                 "reason": "forged damage"}]
    assert result["files"] == 2
    assert (restored(dest, tree) / "c-last").read_bytes() == b"last\n"
    assert not _open_below(dest)


def _open_below(dest: Path) -> list[str]:
    """This process's fds that point into DEST (a file the writers never closed)."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(dest) + "/"):
            out.append(target)
    return out


def test_files_of_two_directories_are_created_at_the_same_time(tmp_path, monkeypatch):
    """A directory's files go down one writer's lane and the next directory's down another's
    (issue 18): while a creation in one directory is slow (after mass deletion ext4 makes every
    creation scan past the freed inodes), the next directory's files are created beside it.
    Here the first file of `a` is created only once a file of `b` has been: with one
    creating thread (or one queue for both directories) it waits, in vain, for 20 s."""
    tree = tmp_path / "tree"
    for d in ("a", "b"):
        (tree / d).mkdir(parents=True)
        for i in range(5):
            (tree / d / f"{d}-{i}").write_bytes(f"{d}{i}\n".encode())
    config, bid = _backup(tmp_path, tree)

    real_open = os.open
    b_made = threading.Event()
    waited: list[bool] = []
    threads: dict[bytes, set[str]] = {b"a": set(), b"b": set()}

    def open_(path, flags, mode=0o777, *, dir_fd=None):
        name = os.fsencode(path)
        if flags & os.O_CREAT and name[:2] in (b"a-", b"b-"):
            threads[name[:1]].add(threading.current_thread().name)
            if name == b"a-0":
                waited.append(b_made.wait(20))
            fd = real_open(path, flags, mode, dir_fd=dir_fd)
            if name.startswith(b"b-"):
                b_made.set()
            return fd
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", open_)
    dest = tmp_path / "dest"
    result = restore.run_restore(open_repo(config), bid, dest, [])
    monkeypatch.undo()

    assert waited == [True], "the second directory's files waited for the first directory's"
    assert result["errors"] == [] and result["files"] == 10
    assert len(threads[b"a"]) == 1 and len(threads[b"b"]) == 1 and threads[b"a"] != threads[b"b"]
    assert_same(snapshot(tree), snapshot(restored(dest, tree)))
