"""Restore creates regular files in its writer threads (issue 18: on ext4 right after mass
deletion, file creation is the slow part), and the result must be exactly what one thread
creating everything in manifest order gave: duplicate paths, a file in the way of a
directory (or the other way round), --overwrite, symlinks planted in DEST, hard links to
files still being created, and directory times set after everything inside was created.

Creation is slowed down in these tests, so the main thread runs far ahead of the writers
and any missing wait shows up as a different result."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import Reliad, write_config
from engine_kit import assert_same, forge_manifest, open_repo, restored, snapshot

from reliad.jobs import restore
from reliad.repository.manifest import Entry

FORGED = "20260101T000000.000000Z-d0d0d0"


def _contents(tmp_path: Path) -> tuple[Path, dict[bytes, list]]:
    """A plain repository holding two small files; their chunk lists, to forge entries with."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "A").write_bytes(b"content A\n")
    (tree / "B").write_bytes(b"content B, longer\n")
    cfg = write_config(tmp_path / "reliad.toml", [str(tree)])
    cfg.write_text(cfg.read_text().replace('path = "repo"', 'path = "repo"\nencryption = false'))
    bid = Reliad(cfg).json("backup", "shop", "--type", "full")["id"]
    chunks = {e.path.rsplit(b"/", 1)[-1]: e.chunks for e in open_repo(cfg).entries(bid) if e.type == "file"}
    return cfg, chunks


def _file(path: bytes, chunks: dict[bytes, list], which: bytes) -> Entry:
    size = {b"A": 10, b"B": 18}[which]
    return Entry(path=path, type="file", mode=0o640, size=size, chunks=chunks[which], mtime_ns=1_500_000_000 * 10**9)


@pytest.mark.parametrize("overwrite", [False, True])
def test_duplicate_paths_give_the_single_thread_result(tmp_path, slow_creation, overwrite):
    cfg, chunks = _contents(tmp_path)
    forge_manifest(tmp_path / "repo", FORGED, [
        _file(b"dup", chunks, b"A"),
        _file(b"dup", chunks, b"B"),  # the same path again: refused, or replaces the first
        _file(b"file-then-dir", chunks, b"A"),
        Entry(path=b"file-then-dir", type="dir", mode=0o755),  # a file is in the way
        _file(b"file-then-dir/child", chunks, b"B"),  # not through a file
        Entry(path=b"dir-then-file", type="dir", mode=0o755),
        _file(b"dir-then-file", chunks, b"A"),  # a directory is in the way
        _file(b"file-then-link", chunks, b"A"),
        Entry(path=b"file-then-link", type="symlink", mode=0o777, target=b"dup"),
        _file(b"last", chunks, b"B"),
    ])
    dest = tmp_path / "dest"
    result = restore.run_restore(open_repo(cfg), FORGED, dest, [], overwrite=overwrite)

    expected_errors = [
        {"path": "/file-then-dir", "reason": "exists and is not a directory"},
        {"path": "/file-then-dir/child",
         "reason": "refusing to restore through 'file-then-dir': it is not a real directory"},
        *([{"path": "/dir-then-file", "reason": "a directory is in the way"}] if overwrite else []),
    ]
    assert result["errors"] == expected_errors
    # without --overwrite, what was there first is kept (and listed in manifest order)
    assert result["kept"] == ([] if overwrite else ["/dup", "/dir-then-file", "/file-then-link"])
    assert (dest / "dup").read_bytes() == (b"content B, longer\n" if overwrite else b"content A\n")
    assert (dest / "file-then-dir").read_bytes() == b"content A\n"
    assert (dest / "dir-then-file").is_dir() and not any((dest / "dir-then-file").iterdir())
    if overwrite:
        assert os.readlink(dest / "file-then-link") == "dup"
    else:
        assert (dest / "file-then-link").read_bytes() == b"content A\n"
    assert (dest / "last").read_bytes() == b"content B, longer\n"
    assert sorted(os.listdir(dest)) == ["dir-then-file", "dup", "file-then-dir", "file-then-link", "last"]
    assert slow_creation and all(t.startswith("reliad-write-") for t in slow_creation)


def test_overwrite_replaces_what_is_in_dest_and_follows_no_planted_symlink(reliad, src, tmp_path, slow_creation):
    bid = reliad.json("backup", "shop", "--type", "full")["id"]
    dest = tmp_path / "dest"
    out = restored(dest, src)
    (out / "sub" / "deeper").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.write_text("must stay as it is\n")
    os.symlink(outside, out / "a.txt")  # a planted symlink where a file is restored
    (out / "sub" / "b.txt").write_text("stale\n")
    (out / "empty.txt").mkdir()  # a directory where a file is restored: never removed
    (out / "sub" / "deeper" / "keep.me").write_text("not in the backup\n")

    refused = restore.run_restore(open_repo(reliad.config), bid, dest, [])
    assert refused["errors"] == []
    assert [p.rsplit("/", 1)[-1] for p in refused["kept"]] == ["a.txt", "empty.txt", "b.txt"]  # manifest order
    assert (out / "sub" / "b.txt").read_text() == "stale\n"

    # now everything is in the way (the link, the hard link and c.bin were restored above)
    result = restore.run_restore(open_repo(reliad.config), bid, dest, [], overwrite=True)
    assert result["kept"] == []
    assert [e["path"].rsplit("/", 1)[-1] for e in result["errors"]] == ["empty.txt"]
    assert result["errors"][0]["reason"] == "a directory is in the way"
    assert outside.read_text() == "must stay as it is\n"
    assert not (out / "a.txt").is_symlink() and (out / "a.txt").read_text() == "hello\n"
    assert os.stat(out / "a.txt").st_ino == os.stat(out / "hard").st_ino  # the link found its target
    assert (out / "sub" / "b.txt").read_text() == "b" * 5000
    assert (out / "sub" / "deeper" / "c.bin").read_bytes() == (src / "sub" / "deeper" / "c.bin").read_bytes()
    assert (out / "sub" / "deeper" / "keep.me").read_text() == "not in the backup\n"
    assert all(t.startswith("reliad-write-") for t in slow_creation)


def test_directory_times_and_modes_are_set_after_everything_in_them_was_created(tmp_path, slow_creation):
    """Directories are made by the main thread in manifest order and get their mode and mtime
    last, deepest first: a file created in them afterwards would move their mtime."""
    tree = tmp_path / "tree"
    for i in range(12):
        d = tree / f"d{i % 3}" / f"e{i % 2}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}").write_bytes(bytes([i]) * (i * 100))
    os.link(tree / "d0" / "e0" / "f0", tree / "d2" / "zz-link")  # its target may still be in creation
    for i, d in enumerate(sorted(p for p in tree.rglob("*") if p.is_dir())):
        os.utime(d, ns=(1_400_000_000 * 10**9 + i, 1_400_000_000 * 10**9 + i))
    os.chmod(tree / "d1" / "e1", 0o555)
    expected = snapshot(tree)
    r = Reliad(write_config(tmp_path / "reliad.toml", [str(tree)]))
    bid = r.json("backup", "shop", "--type", "full")["id"]

    dest = tmp_path / "dest"
    result = restore.run_restore(open_repo(r.config), bid, dest, [])
    assert result["errors"] == [] and result["files"] == 12 and result["links"] == 1
    assert_same(expected, snapshot(restored(dest, tree)))
    assert len(slow_creation) == 12 and all(t.startswith("reliad-write-") for t in slow_creation)
