"""Issue 16, points 7 and 8: one source's failure does not cost the others, and what a backup
leaves out is counted and named in its result (and --json), never dropped silently: files
that vanished between listing and reading, sockets, and directories replaced mid-walk."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
from pathlib import Path

from dbutil import db_config

from reliad.sources.base import LeftOut
from reliad.sources.files import FileWalker, Root


def _shop_db(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
    con.executemany("INSERT INTO orders (total) VALUES (?)", [(i * 1.5,) for i in range(100)])
    con.commit()
    con.close()


def test_missing_path_makes_the_backup_partial_and_the_dump_is_still_taken(tmp_path: Path) -> None:
    src = tmp_path / "www"
    src.mkdir()
    (src / "index.html").write_text("<h1>shop</h1>\n")
    _shop_db(tmp_path / "shop.db")
    gone = tmp_path / "uploads"  # configured, but not mounted today
    r = db_config(tmp_path, [f'{{ type = "files", name = "web", paths = ["{src}", "{gone}"] }}',
                             '{ type = "sqlite", name = "lite", path = "shop.db" }'])
    result = json.loads(r.run("backup", "shop", "--type", "full", "--json", expect=1).stdout)
    assert result["status"] == "partial"
    assert result["left_out"]["missing"] == [f"source 'web': {gone}"]
    assert result["left_out"]["counts"]["missing"] == 1
    paths = {e["path"] for e in r.json("ls", result["id"])}
    assert str(src / "index.html") in paths and any(p.startswith("/_reliad/lite/") for p in paths), paths
    assert [b["status"] for b in r.json("list")] == ["partial"]
    # a files source none of whose paths exists fails alone: the dump is still taken
    shutil.rmtree(src)
    result = json.loads(r.run("backup", "shop", "--type", "full", "--json", expect=1).stdout)
    assert result["status"] == "partial" and len(result["left_out"]["failed_sources"]) == 1
    assert "source 'web'" in result["left_out"]["failed_sources"][0]
    assert any(p.startswith("/_reliad/lite/") for p in (e["path"] for e in r.json("ls", result["id"])))


def test_sockets_are_counted_in_the_result(tmp_path: Path) -> None:
    src = tmp_path / "run"
    src.mkdir()
    (src / "app.pid").write_text("1\n")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(src / "app.sock"))
    try:
        r = db_config(tmp_path, [f'{{ type = "files", paths = ["{src}"] }}'])
        proc = r.run("backup", "shop", "--type", "full")
        assert f"socket or special file not backed up: {src / 'app.sock'}" in proc.stderr
        assert "left out: 1 special" in proc.stderr
        result = r.json("backup", "shop", "--type", "full")
        assert result["status"] == "ok" and result["left_out"]["special"] == [str(src / "app.sock")]
    finally:
        sock.close()


def test_walker_counts_what_changes_under_it(tmp_path: Path) -> None:
    """The walk yields lazily, so the tree can be changed between two entries exactly where
    a running backup would meet it: a file deleted after its directory was listed, a
    directory replaced by a file, and one replaced by another directory."""
    root = tmp_path / "tree"
    for d in ("a", "c", "d"):
        (root / d).mkdir(parents=True)
        (root / d / "f.txt").write_text(d)
    (root / "a" / "g.txt").write_text("g")
    left = LeftOut()
    seen = []
    for item in FileWalker([Root(root, "files")], left_out=left):
        seen.append(os.fsdecode(item.path))
        if item.path.endswith(b"/a/f.txt"):
            (root / "a" / "g.txt").unlink()  # listed with a/, gone before its stat
        if item.path.endswith(b"/tree/c"):  # c was stat'ed as a directory: swap it before it is opened
            shutil.rmtree(root / "c")
            (root / "c").write_text("a file now")
        if item.path.endswith(b"/tree/d"):
            shutil.move(root / "d", tmp_path / "old-d")
            (root / "d").mkdir()
            (root / "d" / "new.txt").write_text("other")
    assert left.vanished == [str(root / "a" / "g.txt")]
    assert left.replaced == [str(root / "c"), str(root / "d")]
    assert not any(s.endswith("/d/new.txt") or s.endswith("/d/f.txt") for s in seen)
    assert left.counts()["replaced"] == 2 and not left.incomplete()
