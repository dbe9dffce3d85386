"""Issue 2, point 3: odd names survive a round trip (spaces, newlines, non-UTF-8 bytes,
255-byte names, a tree nested deeper than PATH_MAX) and so do sparse and empty files."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from conftest import Reliad, write_config
from engine_kit import assert_same, restored, snapshot

ODD = [b" leading space", b"trailing space ", b"in between spaces", b"new\nline", b"tab\there",
       b"caf\xe9-latin1", b"\xff\xfe-not-utf8", "ünïcødé-✓".encode(), b"n" * 255, b"-dash", b"*?[glob]",
       b"back\\slash", b"'quote\"s"]


def _deep(tree: Path) -> bytes:
    """A chain of directories whose full path is longer than PATH_MAX (4096 bytes)."""
    name = b"d" * 200
    fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    rel = b""
    for _ in range(24):
        os.mkdir(name, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
        rel = rel + b"/" + name if rel else name
    wfd = os.open(b"bottom.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(wfd, b"at the bottom\n")
    os.close(wfd)
    os.close(fd)
    assert len(os.fsencode(tree)) + len(rel) > 4096
    return rel


def _sparse(path: Path, size: int) -> None:
    with open(path, "wb") as fh:
        fh.write(b"head")
        fh.seek(size // 2)
        fh.write(b"middle")
        fh.truncate(size)


def test_odd_names_deep_tree_sparse_and_empty_files_round_trip(tmp_path):
    tree = tmp_path / "tree"
    (tree / "odd").mkdir(parents=True)
    base = os.fsencode(tree / "odd")
    for i, name in enumerate(ODD):
        with open(base + b"/" + name, "wb") as fh:
            fh.write(b"content %d " % i + name)
        os.mkdir(base + b"/dir-" + name[:250])
    os.symlink(b"caf\xe9-latin1", base + b"/link-to-\xe9")
    (tree / "empty-file").write_bytes(b"")
    (tree / "empty-dir").mkdir()
    _sparse(tree / "sparse.img", 16 << 20)
    deep = _deep(tree)
    r = Reliad(write_config(tmp_path / "reliad.toml", [str(tree)]))

    full = r.json("backup", "shop", "--type", "full")
    with open(base + b"/new\nline", "ab") as fh:
        fh.write(b" changed")
    inc = r.json("backup", "shop", "--type", "incremental")
    expected = snapshot(tree)
    assert any(p.startswith(deep) for p in expected)

    for bid in (inc["id"], full["id"]):
        dest = tmp_path / f"out-{bid}"
        r.run("restore", bid, str(dest))
        got = snapshot(restored(dest, tree))
        if bid == inc["id"]:
            assert_same(expected, got)
        else:
            assert set(got) == set(expected)
        st = os.stat(restored(dest, tree) / "sparse.img")
        assert st.st_size == 16 << 20 and st.st_blocks * 512 < (1 << 20), "sparse file was filled in"
        assert os.path.getsize(restored(dest, tree) / "empty-file") == 0

    listing = r.run("ls", inc["id"]).stdout.splitlines()
    odd = str(tree / "odd")
    for shown in (odd + "/new\\nline", odd + "/caf\\xe9-latin1", odd + "/back\\\\slash", odd + "/" + "n" * 255):
        assert any(line.endswith(" " + shown) for line in listing), shown
    assert any(line.endswith("/bottom.txt") for line in listing)
    entries = {e["path"]: e for e in r.json("ls", inc["id"], odd)}
    exact = base64.b64decode(entries[odd + "/\\xff\\xfe-not-utf8"]["path_b64"])
    assert exact == os.fsencode(odd).lstrip(b"/") + b"/\xff\xfe-not-utf8"
    partial = tmp_path / "partial"
    r.run("restore", inc["id"], str(partial), "--path", os.fsdecode(os.fsencode(tree / "odd") + b"/\xff\xfe-not-utf8"))
    assert os.listdir(os.fsencode(restored(partial, tree) / "odd")) == [b"\xff\xfe-not-utf8"]
