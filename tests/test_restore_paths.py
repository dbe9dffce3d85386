"""Where a restore writes: --strip-components N (as tar) and --relative put a single-directory
policy straight into DEST; a non-empty DEST without --overwrite keeps what it has and says so
in one line (the paths under -v)."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import Reliad, write_config
from hypothesis import given
from hypothesis import strategies as st

from reliad.jobs.restore_paths import relative_to, strip_components

NAMES = st.lists(st.sampled_from([b"a", b"b", b"srv", b"shop", b"x.html"]), min_size=1, max_size=6)


@given(NAMES, st.integers(min_value=0, max_value=8))
def test_strip_components_drops_leading_parts_as_tar_does(parts: list[bytes], n: int) -> None:
    out = strip_components(n)(b"/".join(parts), False)
    assert out == (b"/".join(parts[n:]) if len(parts) > n else None)


@given(NAMES, NAMES, st.booleans())
def test_relative_to_keeps_only_what_is_below_the_root(root: list[bytes], path: list[bytes], is_dir: bool) -> None:
    r, p = b"/".join(root), b"/".join(path)
    out = relative_to(r)(p, is_dir)
    if p.startswith(r + b"/"):
        assert out is not None and r + b"/" + out == p
    elif p == r and not is_dir:
        assert out == path[-1]
    else:
        assert out is None


def _backup(reliad: Reliad) -> str:
    return reliad.json("backup", "shop", "--type", "full")["id"]


def _tree(root: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            out[str(p.relative_to(root))] = os.readlink(p) if p.is_symlink() else p.read_bytes()
    return out


def test_strip_components_puts_the_source_directory_into_dest(reliad: Reliad, src: Path, tmp_path: Path) -> None:
    bid = _backup(reliad)
    dest = tmp_path / "dest"
    n = len(src.parts) - 1  # '/', then every directory down to src itself
    reliad.run("restore", bid, str(dest), "--strip-components", str(n))
    expected = {k: v for k, v in _tree(src).items() if not k.endswith(".tmp")}
    assert _tree(dest) == expected
    assert os.stat(dest / "hard").st_ino == os.stat(dest / "a.txt").st_ino  # the hard link points at its new place


def test_relative_restores_the_one_source_directory(reliad: Reliad, src: Path, tmp_path: Path) -> None:
    bid = _backup(reliad)
    reliad.run("restore", bid, str(tmp_path / "whole"), "--relative")
    assert _tree(tmp_path / "whole") == {k: v for k, v in _tree(src).items() if not k.endswith(".tmp")}
    reliad.run("restore", bid, str(tmp_path / "sub"), "--relative", "--path", str(src / "sub"))
    assert _tree(tmp_path / "sub") == {"b.txt": b"b" * 5000, "deeper/c.bin": (src / "sub/deeper/c.bin").read_bytes()}
    reliad.run("restore", bid, str(tmp_path / "one"), "--relative", "--path", str(src / "hard"))
    assert _tree(tmp_path / "one") == {"hard": b"hello\n"}  # a hard link whose target stays behind is a file


def test_relative_needs_one_source_path(tmp_path: Path, src: Path) -> None:
    cfg = write_config(tmp_path / "two.toml", [str(src / "sub"), str(src / "a.txt")])
    r = Reliad(cfg)
    bid = _backup(r)
    proc = r.run("restore", bid, str(tmp_path / "dest"), "--relative", expect=2)
    (line,) = proc.stderr.strip().splitlines()
    assert "2 source paths" in line and "--path" in line
    both = r.run("restore", bid, str(tmp_path / "dest"), "--relative", "--strip-components", "1", expect=2)
    assert "not both" in both.stderr


def test_non_empty_dest_without_overwrite_is_one_line(reliad: Reliad, src: Path, tmp_path: Path) -> None:
    bid = _backup(reliad)
    dest = tmp_path / "dest"
    reliad.run("restore", bid, str(dest), "--relative")
    (dest / "a.txt").write_text("local edit\n")
    again = reliad.run("restore", bid, str(dest), "--relative", expect=1)
    lines = again.stderr.strip().splitlines()
    kept = len([k for k in _tree(src) if not k.endswith(".tmp")])  # files and links; directories merge
    assert len(lines) == 1 and lines[0].startswith(f"reliad: kept {kept} entries that already existed in {dest}"), \
        again.stderr
    assert (dest / "a.txt").read_text() == "local edit\n"
    listed = reliad.run("restore", bid, str(dest), "--relative", "-v", expect=1)
    assert f"kept: {dest / 'a.txt'}" in listed.stderr.splitlines()
    data = reliad.json("restore", bid, str(dest), "--relative", check=False)
    assert data["ok"] is False and len(data["kept"]) == kept and data["errors"] == []
    reliad.run("restore", bid, str(dest), "--relative", "--overwrite")
    assert (dest / "a.txt").read_text() == "hello\n"
