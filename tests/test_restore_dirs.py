"""A restore makes the backup's directories before any of its files (issue 18: on ext4 this
spreads the files over fresh block groups, which makes a restore right after mass deletion
several times cheaper), and that first pass changes nothing else: it stops where the manifest
is not in a backup's order, follows and replaces nothing in DEST, and leaves whatever it
cannot make to the restore proper, which reports it as before."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from conftest import Reliad, write_config
from engine_kit import open_repo, restored

from reliad.errors import RepositoryError
from reliad.jobs import restore
from reliad.jobs.restore_dirs import premake_dirs
from reliad.repository.manifest import Entry


def _lines(*entries: Entry) -> list[bytes]:
    """Manifest lines as the writer makes them (compact JSON, path first)."""
    return [json.dumps(e.to_json(), separators=(",", ":")).encode() for e in entries]


def _dir(path: bytes) -> Entry:
    return Entry(path=path, type="dir", mode=0o755)


def _file(path: bytes) -> Entry:
    return Entry(path=path, type="file", mode=0o644)


def _made(dest: Path) -> list[str]:
    return sorted(str(p.relative_to(dest)) for p in dest.rglob("*"))


def _premake(dest: Path, lines: list[bytes], place=lambda p, d: p) -> int:
    dest.mkdir(exist_ok=True)
    fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return premake_dirs(lines, fd, place, "test")
    finally:
        os.close(fd)


def test_a_restore_makes_every_directory_before_its_first_file(tmp_path, monkeypatch):
    tree = tmp_path / "tree"
    for d in ("a/x", "a/y", "b", "c/z/w"):
        (tree / d).mkdir(parents=True)
    for f in ("a/1", "a/x/2", "a/y/3", "b/4", "c/5", "c/z/w/6", "top"):
        (tree / f).write_text(f)
    cfg = write_config(tmp_path / "reliad.toml", [str(tree)])
    bid = Reliad(cfg).json("backup", "shop", "--type", "full")["id"]

    events: list[str] = []
    real_mkdir, real_open = os.mkdir, os.open

    def mkdir(path, mode=0o777, *, dir_fd=None):
        real_mkdir(path, mode, dir_fd=dir_fd)
        events.append("dir")  # made: the restore proper's mkdir of an existing directory fails
        time.sleep(0.02)  # the writers, handed each file at once, would get ahead of a lazy mkdir

    def open_(path, flags, mode=0o777, *, dir_fd=None):
        if flags & os.O_CREAT:
            events.append("file")
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(restore, "_BATCH_ITEMS", 1)
    monkeypatch.setattr(os, "open", open_)
    dest = tmp_path / "dest"
    result = restore.run_restore(open_repo(cfg), bid, dest, [])
    assert result["errors"] == [] and result["files"] == 7
    first_file = events.index("file")
    assert events[:first_file].count("dir") >= sum(1 for p in dest.rglob("*") if p.is_dir())
    assert "dir" not in events[first_file:]
    out = restored(dest, tree)
    contents = sorted(p.read_text() for p in out.rglob("*") if p.is_file())
    assert contents == ["a/1", "a/x/2", "a/y/3", "b/4", "c/5", "c/z/w/6", "top"]


def test_directories_are_made_in_order_below_dest_only(tmp_path):
    dest = tmp_path / "dest"
    made = _premake(dest, _lines(_dir(b"a"), _file(b"a/0"), _dir(b"a/b"), _dir(b"a/b/c"), _dir(b"d"),
                                 _dir(b"e/f")))  # e/f: its parent is no directory of the manifest
    assert made == 4
    assert _made(dest) == ["a", "a/b", "a/b/c", "d"]
    assert all(os.stat(dest / p).st_mode & 0o777 == 0o700 for p in _made(dest))  # modes come at the end


@pytest.mark.parametrize(("forged", "made"), [
    ([_file(b"b"), _dir(b"b")], ["a"]),  # the same path twice: the file came first in the manifest
    ([_dir(b"b"), _dir(b"b")], ["a", "b"]),
    ([_dir(b"c"), _dir(b"b")], ["a", "c"]),  # out of order
])
def test_the_pass_stops_where_the_manifest_is_not_in_a_backups_order(tmp_path, forged, made):
    dest = tmp_path / "dest"
    _premake(dest, _lines(_dir(b"a"), *forged, _dir(b"z")))
    assert _made(dest) == made


def test_names_that_need_unescaping_end_the_pass(tmp_path):
    dest = tmp_path / "dest"
    _premake(dest, _lines(_dir(b"a"), _dir(b'a/q"uote'), _dir(b"b")))
    assert _made(dest) == ["a"]
    _premake(dest, _lines(_dir(b"c"), _dir(b"c/\xff"), _dir(b"d")))  # not UTF-8: stored as path_b64
    assert _made(dest) == ["a", "c"]


def test_nothing_in_dest_is_followed_or_replaced(tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, dest / "a")
    (dest / "f").write_text("kept\n")
    made = _premake(dest, _lines(_dir(b"a"), _dir(b"a/inner"), _dir(b"b"), _dir(b"f"), _dir(b"f/g")))
    assert made == 1
    assert list(outside.iterdir()) == []
    assert (dest / "a").is_symlink() and (dest / "f").read_text() == "kept\n"
    assert _made(dest) == ["a", "b", "f"]


def test_the_restores_path_mapping_and_selection_apply(tmp_path):
    dest = tmp_path / "dest"

    def place(path: bytes, is_dir: bool) -> bytes | None:
        return path[len(b"src/"):] if path.startswith(b"src/") else None

    _premake(dest, _lines(_dir(b"other"), _dir(b"src"), _dir(b"src/a"), _dir(b"src/a/b")), place)
    assert _made(dest) == ["a", "a/b"]


def test_a_manifest_that_cannot_be_read_leaves_no_writer_thread_behind(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "f").write_text("f")
    cfg = write_config(tmp_path / "reliad.toml", [str(tree)])
    Reliad(cfg).json("backup", "shop", "--type", "full")
    before = threading.active_count()
    with pytest.raises(RepositoryError, match="no backup"):
        restore.run_restore(open_repo(cfg), "20260101T000000.000000Z-0a0a0a", tmp_path / "dest", [])
    assert threading.active_count() == before
