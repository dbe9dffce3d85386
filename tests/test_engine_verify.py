"""Issue 2, point 4: verify --mode crc finds a single flipped byte anywhere in any stored
object and names every backup and path it damages; --mode fast finds missing and truncated
objects; damage exits 3 without a traceback."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from conftest import Reliad, write_config
from engine_kit import open_repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reliad.jobs.verify import run_verify


@pytest.fixture(scope="module", params=["encrypted", "plain"])
def chain(request, tmp_path_factory) -> tuple[Reliad, Path, Path, list[str]]:
    """A full and an incremental on top of it that still points into the full's packs, in an
    encrypted and in a plain repository (whose own-pack check combines the CRC32Cs of the
    frames already read with those of the bytes between them)."""
    tmp = tmp_path_factory.mktemp("verify")
    tree = tmp / "tree"
    (tree / "d").mkdir(parents=True)
    (tree / "kept.txt").write_bytes(b"kept " * 2000)
    (tree / "d" / "also-kept.txt").write_bytes(b"also kept\n" * 100)
    (tree / "changes.txt").write_text("v1")
    # a big file near the end, then only headers: the full's last frame holds no file content
    # (300 kB is one chunk, stored in a frame of its own)
    (tree / "x-big.bin").write_bytes(random.Random(7).randbytes(300_000))
    os.symlink("kept.txt", tree / "y-link")
    (tree / "z-empty-dir").mkdir()
    r = Reliad(write_config(tmp / "reliad.toml", [str(tree)]))
    if request.param == "plain":
        r.config.write_text(r.config.read_text().replace('path = "repo"\n', 'path = "repo"\nencryption = false\n'))
    full = r.json("backup", "shop", "--type", "full")["id"]
    (tree / "changes.txt").write_text("v2 is longer")
    inc = r.json("backup", "shop", "--type", "incremental")["id"]
    return r, tmp / "repo", tree, [full, inc]


def _frames(repo_dir: Path, ids: list[str]) -> dict[tuple[str, int, int], set[tuple[str, str]]]:
    """Every referenced frame -> the (backup, path) pairs whose content lives in it."""
    repo = open_repo(repo_dir.parent / "reliad.toml")
    out: dict[tuple[str, int, int], set[tuple[str, str]]] = {}
    for bid in ids:
        for e in repo.entries(bid):
            for c in e.chunks:
                out.setdefault((c.pack, c.frame_offset, c.frame_length), set()).add((bid, "/" + os.fsdecode(e.path)))
    return out


def _objects(repo_dir: Path) -> list[Path]:
    return sorted(p for sub in ("data", "manifests") for p in (repo_dir / sub).rglob("*") if p.is_file())


def _flip(path: Path, offset: int, mask: int = 0x01) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        b = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([b ^ mask]))


def _expected(repo_dir: Path, ids: list[str], obj: Path, offset: int) -> set[tuple[str, str | None]]:
    rel = obj.relative_to(repo_dir).as_posix()
    if rel.startswith("manifests/"):
        return {(rel.split("/", 1)[1], None)}
    pack = rel[len("data/"):-len(".pack")]
    hits = set()
    for (p, off, length), users in _frames(repo_dir, ids).items():
        if p == pack and off <= offset < off + length:
            hits |= users
    return hits or {(pack.split("/", 1)[0], None)}


def _damage(r: Reliad, *ids: str, mode: str = "crc", expect: int = 3) -> set[tuple[str, str | None]]:
    proc = r.run("verify", "--mode", mode, "--json", *ids, expect=expect)
    assert "Traceback" not in proc.stderr
    return {(d["backup"], d["path"]) for d in json.loads(proc.stdout)["damaged"]}


def test_clean_chain_verifies_in_every_mode(chain):
    r = chain[0]
    for mode in ("fast", "crc", "byte"):
        assert r.run("verify", "--mode", mode).returncode == 0


def test_flipped_byte_in_full_names_the_incremental_that_points_into_it(chain):
    r, repo_dir, tree, (full, inc) = chain
    frames = _frames(repo_dir, [full, inc])
    kept = str(tree / "kept.txt")
    (pack, off, length) = next(k for k, users in frames.items() if (inc, kept) in users)
    obj = repo_dir / "data" / f"{pack}.pack"
    _flip(obj, off + length // 2)
    try:
        damaged = _damage(r)
        assert {(full, kept), (inc, kept)} <= damaged
        assert (inc, str(tree / "changes.txt")) not in damaged  # stored in the incremental's own pack
        assert _damage(r, inc) >= {(inc, kept)}  # verifying only the incremental finds it too
        text = r.run("verify", "--mode", "crc", expect=3)
        assert "DAMAGE FOUND" in text.stdout and kept in text.stdout and "Traceback" not in text.stderr
    finally:
        _flip(obj, off + length // 2)


def test_flipped_byte_outside_file_content_and_in_manifest(chain):
    r, repo_dir, _, (full, inc) = chain
    frames = _frames(repo_dir, [full, inc])
    pack = repo_dir / "data" / full / "000001.pack"
    covered = {o for (p, off, n) in frames if p == f"{full}/000001" for o in range(off, off + n)}
    spare = next(o for o in range(pack.stat().st_size) if o not in covered)  # tar headers, end marker
    _flip(pack, spare)
    try:
        assert _damage(r) == {(full, None)}
    finally:
        _flip(pack, spare)
    manifest = repo_dir / "manifests" / inc
    for offset in (3, manifest.stat().st_size // 2, manifest.stat().st_size - 1):
        _flip(manifest, offset)
        try:
            assert (inc, None) in _damage(r)
        finally:
            _flip(manifest, offset)
    assert r.run("verify", "--mode", "crc").returncode == 0


def test_fast_finds_missing_and_truncated_objects(chain):
    r, repo_dir, tree, (full, inc) = chain
    pack = repo_dir / "data" / full / "000001.pack"
    data = pack.read_bytes()
    try:
        pack.unlink()
        damaged = _damage(r, mode="fast")
        assert (inc, str(tree / "kept.txt")) in damaged and (full, str(tree / "kept.txt")) in damaged
        pack.write_bytes(data[:-1])  # one byte short: only the tar end marker is lost
        assert _damage(r, mode="fast") == {(full, None)}
        pack.write_bytes(data[: len(data) // 3])  # cuts into the big file, which comes late in the tree
        damaged = _damage(r, mode="fast")
        assert (inc, str(tree / "x-big.bin")) in damaged and (full, str(tree / "kept.txt")) not in damaged
    finally:
        pack.write_bytes(data)
    manifest = repo_dir / "manifests" / inc
    mdata = manifest.read_bytes()
    try:
        manifest.write_bytes(mdata[:-5])
        assert _damage(r, mode="fast") == {(inc, None)}
    finally:
        manifest.write_bytes(mdata)
    assert r.run("verify", "--mode", "fast").returncode == 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pick=st.floats(0, 1, exclude_max=True), where=st.floats(0, 1, exclude_max=True),
       mask=st.integers(1, 255))
def test_any_flipped_byte_is_found_and_attributed(chain, pick, where, mask):
    _, repo_dir, _, ids = chain
    objects = _objects(repo_dir)
    obj = objects[int(pick * len(objects))]
    offset = int(where * obj.stat().st_size)
    expected = _expected(repo_dir, ids, obj, offset)
    _flip(obj, offset, mask)
    try:
        report = run_verify(open_repo(repo_dir.parent / "reliad.toml"), ids, "crc")
        found = {(d["backup"], d["path"]) for d in report.damaged}
        assert report.damaged and expected <= found, (obj, offset, found)
    finally:
        _flip(obj, offset, mask)


def test_lines_repeated_by_the_incremental_are_still_counted(chain):
    """crc skips the parse of an incremental's lines that verified clean in its full; the
    count of files checked is still every file entry of every backup, as fast counts them."""
    _, repo_dir, _, ids = chain
    repo = open_repo(repo_dir.parent / "reliad.toml")
    crc, fast = run_verify(repo, ids, "crc"), run_verify(repo, ids, "fast")
    assert not crc.damaged and crc.files == fast.files == sum(
        e.type in ("file", "hardlink") for bid in ids for e in repo.entries(bid))
