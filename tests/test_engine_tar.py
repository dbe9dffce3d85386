"""Issue 2, point 8: an unencrypted full backup restores with the standard zstd and tar alone,
exactly as docs/FORMAT.md tells a reader to do it; its tar headers are the ones `tarfile` writes."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT, Reliad, need_program, write_config
from engine_kit import restored, snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

from reliad.jobs.archiver import TAR_TYPES
from reliad.repository.tarheader import header


def _documented_command() -> str:
    text = (REPO_ROOT / "docs" / "FORMAT.md").read_text()
    line = next(ln.strip() for ln in text.splitlines() if ln.strip().startswith("zstd -dc data/"))
    assert "| tar -x" in line
    return line


def test_full_backup_restores_with_zstd_and_tar(tmp_path: Path):
    need_program("zstd")
    need_program("tar")
    tree = tmp_path / "tree"
    (tree / "sub" / "empty").mkdir(parents=True)
    (tree / "small.txt").write_text("small\n")
    (tree / "sub" / "big.bin").write_bytes(os.urandom(5 << 20))  # several chunks and frames
    (tree / "sub" / "text.sql").write_bytes(b"INSERT INTO t VALUES (1);\n" * 100_000)
    (tree / "empty.file").write_bytes(b"")
    with open(os.fsencode(tree) + b"/odd name \xe9\nnewline", "wb") as fh:
        fh.write(b"odd")
    (tree / ("l" * 200)).write_text("long name")
    os.symlink("small.txt", tree / "link")
    os.link(tree / "small.txt", tree / "hard")
    os.chmod(tree / "sub" / "text.sql", 0o640)
    if os.geteuid() == 0:
        os.chown(tree / "small.txt", 1234, 5678)
    cfg = write_config(tmp_path / "reliad.toml", [str(tree)])
    cfg.write_text(cfg.read_text().replace('path = "repo"', 'path = "repo"\nencryption = false'))
    r = Reliad(cfg)
    bid = r.json("backup", "shop", "--type", "full")["id"]

    out = tmp_path / "out"
    out.mkdir()
    cmd = _documented_command().replace("<ID>", bid)
    proc = subprocess.run(["sh", "-c", f"{cmd} -C {out}"], cwd=tmp_path / "repo", capture_output=True)
    assert proc.returncode == 0, proc.stderr

    def comparable(snap: dict) -> dict:  # tar keeps mtime to the second only
        return {p: (v[0], *v[1:4], v[4] // 1_000_000_000, *v[5:]) for p, v in snap.items() if p != b""}

    expected = comparable(snapshot(tree))
    got = comparable(snapshot(restored(out, tree)))
    # tar restores directory times too, but only of directories it was given
    assert {p: v for p, v in got.items() if v[0] != "dir"} == {p: v for p, v in expected.items() if v[0] != "dir"}
    assert {p for p, v in got.items() if v[0] == "dir"} == {p for p, v in expected.items() if v[0] == "dir"}


# -- tar headers ------------------------------------------------------------------------------
# `tarheader.header` builds the common case's header by hand for speed; the stream it goes into
# is documented as what Python's `tarfile` writes in PAX_FORMAT. The reference below builds the
# TarInfo exactly as the archiver did before the fast path existed (commit 10878ac), with the
# arguments the archiver passes now: link target only for links, device numbers only for devices.
# No input is meant to differ: the fast path covers only what fits one ustar block and hands
# everything else to tarfile itself, so even a device number too large for its field (which
# Linux's 12 + 20 bits never are) must fail the same way, with tarfile's ValueError.

_DEVICES = (tarfile.CHRTYPE, tarfile.BLKTYPE)
_LINKS = (tarfile.SYMTYPE, tarfile.LNKTYPE)


def _tarfile_header(name: bytes, type_: bytes, mode: int, uid: int, gid: int, size: int, mtime: int,
                    linkname: bytes = b"", devmajor: int = 0, devminor: int = 0) -> bytes:
    ti = tarfile.TarInfo(os.fsdecode(name))
    ti.type, ti.mode, ti.uid, ti.gid, ti.size, ti.mtime = type_, mode, uid, gid, size, mtime
    if linkname:
        ti.linkname = os.fsdecode(linkname)
    if type_ in _DEVICES:
        ti.devmajor, ti.devminor = devmajor, devminor
    return ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _outcome(build: Callable[..., bytes], *args: Any) -> bytes | type[Exception]:
    """The header, or the kind of error (a number no tar field can hold)."""
    try:
        return build(*args)
    except ValueError as e:
        return type(e)


def _member(buf: bytes) -> tarfile.TarInfo:
    """The first member tar readers see in a header (pax records included)."""
    with tarfile.open(fileobj=io.BytesIO(buf), mode="r:", encoding="utf-8", errors="surrogateescape") as tf:
        member = tf.next()
    assert member is not None
    return member


_ASCII = st.characters(min_codepoint=1, max_codepoint=127, exclude_characters="/")
_COMPONENT = st.one_of(  # one name below a directory: 1 to 255 bytes, neither NUL nor "/"
    st.text(_ASCII, min_size=1, max_size=255).map(str.encode),  # the fast path's case
    st.text(st.characters(exclude_characters="/\0", exclude_categories=("Cs",)), min_size=1, max_size=80)
    .map(lambda s: s.encode()[:255] or b"x"),  # UTF-8 (possibly cut mid-character: then not UTF-8)
    st.binary(min_size=1, max_size=255).map(lambda b: b.replace(b"/", b"_").replace(b"\0", b"_")),
)
_PATH = st.one_of(
    st.sampled_from([98, 99, 100, 101]).flatmap(lambda n: st.text(_ASCII, min_size=n, max_size=n)).map(str.encode),
    st.lists(_COMPONENT, min_size=1, max_size=6).map(b"/".join),
)
# Numbers: mostly ones that fit the octal fields (the fast path), often the edges of what
# fits, sometimes anything (a uid is 32 bits, a size 64, an mtime before 1970 is negative).
_ID = st.one_of(st.integers(0, 65535), st.sampled_from([8**7 - 1, 8**7, 2**32 - 1]), st.integers(0, 2**32 - 1))
_SIZE = st.one_of(st.integers(0, 1 << 20), st.sampled_from([8**11 - 1, 8**11]), st.integers(0, 2**64))  # 8 GiB
_MTIME = st.one_of(st.integers(0, 2**31), st.sampled_from([-1, 8**11 - 1, 8**11]), st.integers(-(2**40), 2**40))
_MODE = st.integers(0, 0o7777) | st.sampled_from([0o100644, 0o40755, 0o120777])  # st_mode's type bits too
_MAJOR = st.integers(0, 2**12 - 1) | st.sampled_from([8**7 - 1, 8**7])  # Linux: 12 bits; the field: < 8**7
_MINOR = st.integers(0, 2**20 - 1)  # Linux: 20 bits


@st.composite
def _members(draw: st.DrawFn) -> tuple:
    """Arguments for `header` as the archiver passes them for one manifest entry."""
    type_ = draw(st.sampled_from(sorted(set(TAR_TYPES.values()))))
    linkname = draw(st.one_of(_PATH, _PATH.map(lambda p: b"/" + p))) if type_ in _LINKS else b""
    devs = (draw(_MAJOR), draw(_MINOR)) if type_ in _DEVICES else (0, 0)
    size = draw(_SIZE) if type_ == tarfile.REGTYPE else 0  # the archiver gives other members size 0
    return (draw(_PATH), type_, draw(_MODE), draw(_ID), draw(_ID), size, draw(_MTIME), linkname, *devs)


def _assert_like_tarfile(member: tuple) -> None:
    got = _outcome(header, *member)
    assert got == _outcome(_tarfile_header, *member)
    if not isinstance(got, bytes):
        return
    assert len(got) % tarfile.BLOCKSIZE == 0
    # and a tar reader gets every field back exactly, names byte for byte
    name, type_, mode, uid, gid, size, mtime, linkname, devmajor, devminor = member
    m = _member(got)
    assert (os.fsencode(m.name), m.type, m.mode, m.uid, m.gid, m.size, m.mtime, os.fsencode(m.linkname)) == (
        name.rstrip(b"/") if type_ == tarfile.DIRTYPE else name, type_, mode & 0o7777, uid, gid, size, mtime,
        linkname)
    if type_ in _DEVICES:
        assert (m.devmajor, m.devminor) == (devmajor, devminor)


@settings(max_examples=600, deadline=None)
@given(_members())
def test_tar_header_is_what_tarfile_writes(member: tuple) -> None:
    _assert_like_tarfile(member)


_FILE = (b"srv/shop/index.html", tarfile.REGTYPE, 0o644, 1000, 1000, 12345, 1_700_000_000, b"", 0, 0)
_EDGES = {  # where the fast path must hand over to tarfile, or just not yet
    "dir name 99 (100 with its /)": (b"d" * 99, tarfile.DIRTYPE, 0o755, *_FILE[3:5], 0, *_FILE[6:]),
    "dir name 100 (101 with its /)": (b"d" * 100, tarfile.DIRTYPE, 0o755, *_FILE[3:5], 0, *_FILE[6:]),
    "dir name empty (the root)": (b"", tarfile.DIRTYPE, 0o755, *_FILE[3:5], 0, *_FILE[6:]),
    "name 100": (b"n" * 100, *_FILE[1:]),
    "name 101": (b"n" * 101, *_FILE[1:]),
    "name 255 non-UTF-8": (b"\xff" * 255, *_FILE[1:]),
    "name UTF-8": ("café/naïve".encode(), *_FILE[1:]),
    "name not UTF-8": (b"odd name \xe9\nnewline", *_FILE[1:]),
    "symlink 100": (b"l", tarfile.SYMTYPE, 0o777, *_FILE[3:5], 0, _FILE[6], b"t" * 100, 0, 0),
    "symlink 101": (b"l", tarfile.SYMTYPE, 0o777, *_FILE[3:5], 0, _FILE[6], b"t" * 101, 0, 0),
    "symlink 4095 not UTF-8": (b"l", tarfile.SYMTYPE, 0o777, *_FILE[3:5], 0, _FILE[6], b"\xe9" * 4095, 0, 0),
    "hardlink": (b"h", tarfile.LNKTYPE, 0o644, *_FILE[3:5], 0, _FILE[6], _FILE[0], 0, 0),
    "fifo": (b"f", tarfile.FIFOTYPE, 0o600, *_FILE[3:5], 0, *_FILE[6:]),
    "chardev max": (b"c", tarfile.CHRTYPE, 0o600, *_FILE[3:5], 0, _FILE[6], b"", 8**7 - 1, 8**7 - 1),
    "blockdev major too big": (b"b", tarfile.BLKTYPE, 0o600, *_FILE[3:5], 0, _FILE[6], b"", 8**7, 0),
    "blockdev minor too big": (b"b", tarfile.BLKTYPE, 0o600, *_FILE[3:5], 0, _FILE[6], b"", 0, 8**7),
    "mode with type bits": (_FILE[0], _FILE[1], 0o104755, *_FILE[3:]),
    "uid 8**7-1": (*_FILE[:3], 8**7 - 1, *_FILE[4:]),
    "uid 8**7": (*_FILE[:3], 8**7, *_FILE[4:]),
    "gid 8**7-1": (*_FILE[:4], 8**7 - 1, *_FILE[5:]),
    "gid 8**7": (*_FILE[:4], 8**7, *_FILE[5:]),
    "uid and gid 2**32-1": (*_FILE[:3], 2**32 - 1, 2**32 - 1, *_FILE[5:]),
    "size 8**11-1": (*_FILE[:5], 8**11 - 1, *_FILE[6:]),
    "size 8**11 (8 GiB)": (*_FILE[:5], 8**11, *_FILE[6:]),
    "size 2**63": (*_FILE[:5], 2**63, *_FILE[6:]),
    "mtime 0": (*_FILE[:6], 0, *_FILE[7:]),
    "mtime -1 (1969)": (*_FILE[:6], -1, *_FILE[7:]),
    "mtime 8**11-1": (*_FILE[:6], 8**11 - 1, *_FILE[7:]),
    "mtime 8**11 (2242)": (*_FILE[:6], 8**11, *_FILE[7:]),
}


@pytest.mark.parametrize("member", list(_EDGES.values()), ids=list(_EDGES))
def test_tar_header_edges_are_what_tarfile_writes(member: tuple) -> None:
    _assert_like_tarfile(member)


@pytest.mark.parametrize(("name", "linkname", "records"), [
    (b"p" * 101, b"", [b"path=" + b"p" * 101]),
    (b"l", b"/" + b"t" * 200, [b"linkpath=/" + b"t" * 200]),
    (b"caf\xc3\xa9", b"", ["path=café".encode()]),
    (b"odd \xe9", b"", [b"hdrcharset=BINARY", b"path=odd \xe9"]),
])
def test_long_or_non_ascii_names_get_pax_records(name: bytes, linkname: bytes, records: list[bytes]) -> None:
    """docs/FORMAT.md promises a pax stream (UTF-8 names, hdrcharset=BINARY for the others), so
    a long or non-ASCII name or link target goes into a pax `x` record before the member's ustar
    block, never into GNU tar's ././@LongLink members (types L and K), the other common way to
    store a 255-byte name, which a reader written from the document would not expect."""
    type_ = tarfile.SYMTYPE if linkname else tarfile.REGTYPE
    buf = header(name, type_, 0o644, 0, 0, 0, 0, linkname)
    assert buf[156:157] == tarfile.XHDTYPE
    body = buf[512:512 + int(buf[124:135], 8)]
    assert [r.split(b" ", 1)[1].rstrip(b"\n") for r in body.splitlines(keepends=True)] == records
    assert buf[512 + 512 * -(-len(body) // 512) + 156:][:1] == type_  # then the member's ustar block


def test_common_header_is_one_ustar_block() -> None:
    """The case the fast path is for: an ASCII path of at most 100 bytes is one 512-byte ustar
    block, with no pax record, empty owner names (tar restores numeric ids) and empty device
    fields for anything but a device."""
    buf = header(b"srv/shop/index.html", tarfile.REGTYPE, 0o644, 1000, 1000, 12345, 1_700_000_000)
    assert len(buf) == tarfile.BLOCKSIZE
    assert buf[257:265] == tarfile.POSIX_MAGIC
    assert buf[265:329] == bytes(64)  # uname, gname
    assert buf[329:345] == bytes(16)  # devmajor, devminor
