"""Issue 2, point 1: full / incremental / differential bases, and every backup restoring alone
to exactly the tree it saw (content, mode, mtime ns, empty dirs, symlinks, hard links, owners,
deletions)."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import Reliad, write_config
from engine_kit import assert_same, restored, snapshot

AS_ROOT = os.geteuid() == 0


def _write(p: Path, data: bytes, mode: int = 0o644, mtime_ns: int | None = None) -> None:
    p.write_bytes(data)
    os.chmod(p, mode)
    if mtime_ns is not None:
        os.utime(p, ns=(mtime_ns, mtime_ns))


def _build(tree: Path, outside: Path) -> None:
    (tree / "etc" / "conf.d").mkdir(parents=True)
    (tree / "empty" / "nested-empty").mkdir(parents=True)
    (tree / "var" / "data").mkdir(parents=True)
    _write(tree / "etc" / "app.conf", b"listen = 8080\n", 0o640, 1_600_000_000_123_456_789)
    _write(tree / "etc" / "conf.d" / "x.conf", b"x = 1\n" * 100, 0o600)
    _write(tree / "var" / "data" / "big.bin", os.urandom(600_000), 0o755)
    _write(tree / "var" / "data" / "setuid-tool", b"#!/bin/sh\n", 0o4755)
    _write(tree / "empty.file", b"")
    os.symlink("etc/app.conf", tree / "rel-link")
    os.symlink("/nonexistent/dangling", tree / "dangling-link")
    os.symlink(str(outside), tree / "outside-link")  # a directory outside: must not be followed
    os.link(tree / "etc" / "conf.d" / "x.conf", tree / "x-hardlink")
    os.mkfifo(tree / "fifo")
    if AS_ROOT:
        os.chown(tree / "etc" / "app.conf", 1234, 5678)
        os.lchown(tree / "rel-link", 4321, 8765)
        os.chown(tree / "empty", 2000, 2001)
    os.utime(tree / "empty" / "nested-empty", ns=(1_500_000_000_000_000_001, 1_500_000_000_000_000_001))


def test_chain_of_full_incremental_differential_each_restores_alone(tmp_path):
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("not part of the backup")
    _build(tree, outside)
    r = Reliad(write_config(tmp_path / "reliad.toml", [str(tree)]))
    snaps: dict[str, dict] = {}

    full = r.json("backup", "shop", "--type", "full")
    assert (full["type"], full["base"]) == ("full", None)
    snaps[full["id"]] = snapshot(tree)

    # metadata-only change, content change, deletion, new file, new hard link, owner change
    os.chmod(tree / "etc" / "conf.d" / "x.conf", 0o604)
    _write(tree / "var" / "data" / "big.bin", os.urandom(600_000), 0o755)
    os.unlink(tree / "etc" / "app.conf")
    _write(tree / "new.txt", b"new in incremental 1\n")
    os.link(tree / "new.txt", tree / "empty" / "new-hardlink")
    if AS_ROOT:
        os.chown(tree / "empty.file", 77, 88)
    inc1 = r.json("backup", "shop", "--type", "incremental")
    assert (inc1["type"], inc1["base"]) == ("incremental", full["id"])
    assert inc1["unchanged_files"] >= 1
    assert inc1["bytes_new"] < 700_000  # the new big.bin and small files, not the whole tree again
    snaps[inc1["id"]] = snapshot(tree)

    os.rmdir(tree / "empty" / "nested-empty")
    os.unlink(tree / "rel-link")
    os.symlink("new.txt", tree / "rel-link")
    _write(tree / "var" / "diff-only.txt", b"d" * 3000)
    diff = r.json("backup", "shop", "--type", "differential")
    assert (diff["type"], diff["base"]) == ("differential", full["id"])
    # a differential stores everything changed since the full, including what inc1 stored
    assert diff["bytes_new"] >= 600_000
    snaps[diff["id"]] = snapshot(tree)

    (tree / "new.txt").write_bytes(b"changed after the differential\n")
    inc2 = r.json("backup", "shop", "--type", "incremental")
    assert (inc2["type"], inc2["base"]) == ("incremental", diff["id"])
    assert inc2["bytes_new"] < 10_000
    snaps[inc2["id"]] = snapshot(tree)

    listed = r.json("list")
    assert [b["id"] for b in listed] == list(snaps)
    assert [b["base"] for b in listed] == [None, full["id"], full["id"], diff["id"]]

    for bid, snap in snaps.items():
        dest = tmp_path / f"restore-{bid}"
        r.run("restore", bid, str(dest))
        got = snapshot(restored(dest, tree))
        assert_same(snap, got)
        assert os.readlink(restored(dest, tree) / "outside-link") == str(outside)
        ls = r.json("ls", bid)
        assert not any(e["path"].startswith(str(outside)) for e in ls)

    # "alone": the last incremental needs no other manifest, only the packs it points into
    for bid in list(snaps)[:-1]:
        (tmp_path / "repo" / "manifests" / bid).unlink()
    dest = tmp_path / "restore-alone"
    r.run("restore", inc2["id"], str(dest))
    assert_same(snaps[inc2["id"]], snapshot(restored(dest, tree)))


def test_incremental_or_differential_without_a_full_runs_as_full_and_says_so(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "f").write_text("x")
    r = Reliad(write_config(tmp_path / "reliad.toml", [str(tree)]))
    first = r.run("backup", "shop", "--type", "incremental")
    assert "runs as a full" in first.stderr
    bid = first.stdout.strip()
    row = r.json("list")[0]
    assert (row["id"], row["type"], row["base"], row["status"]) == (bid, "full", None, "ok")
    # another policy in the same repository has no full either
    cfg = tmp_path / "reliad.toml"
    cfg.write_text(cfg.read_text() + f'\n[policies.other]\nsources = [{{ type = "files", paths = ["{tree}"] }}]\n'
                   'targets = ["local"]\n')
    diff = r.json("backup", "other", "--type", "differential")
    assert diff["type"] == "full" and diff["requested_type"] == "differential" and diff["base"] is None
    assert "runs as a full" in diff["note"]
    inc = r.json("backup", "other", "--type", "incremental")
    assert inc["type"] == "incremental" and inc["base"] == diff["id"]
