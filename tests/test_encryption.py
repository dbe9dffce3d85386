"""Encrypted repositories: nothing readable without the key, every altered byte or moved object found."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from reliad.config import load_config
from reliad.errors import DamageError
from reliad.jobs.verify import run_verify
from reliad.repository import Repository
from reliad.repository.crypto import Cipher
from reliad.storage import LocalStorage
from reliad.targets import open_repository
from tests.conftest import Reliad, need_program, write_config


def _objects(repo: Path) -> list[Path]:
    return [p for p in repo.rglob("*") if p.is_file() and "locks" not in p.parts]


def _only(paths: list[Path]) -> Path:
    assert len(paths) == 1, paths
    return paths[0]


def test_default_repository_is_encrypted_with_a_private_generated_key(reliad, src, tmp_path):
    (src / "customer-jane-doe.txt").write_text("IBAN DE89370400440532013000 belongs to Jane Doe\n")
    first = reliad.run("backup", "shop", "--type", "full")
    assert "keep a copy" in first.stderr
    state, repo = tmp_path / "state", tmp_path / "repo"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    config = json.loads((repo / "config").read_text())
    key = _only(list((state / "keys").iterdir()))
    assert key.name == f"{config['id']}.key" and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert config["encryption"]["cipher"] == "AES-256-GCM"
    # Neither content nor names are in any stored object (plain zstd would show names in tar headers).
    for obj in _objects(repo):
        data = obj.read_bytes()
        for needle in (b"Jane Doe", b"customer-jane-doe", b"DE89370400440532013000", b"sub/deeper", b"hello"):
            assert needle not in data, (obj, needle)
        if obj.parent.name != "keys" and obj.name != "config":
            with pytest.raises(subprocess.CalledProcessError):
                subprocess.run(["zstd", "-dc", str(obj)], check=True, capture_output=True)
    # The warning is given once, when the key file is made.
    second = reliad.run("backup", "shop")
    assert "keep a copy" not in second.stderr
    out = tmp_path / "out"
    reliad.run("restore", json.loads(reliad.run("backup", "shop", "--json").stdout)["id"], str(out))
    assert (out / str(src).lstrip("/") / "customer-jane-doe.txt").read_text().startswith("IBAN")


def test_plain_repository_on_request_is_tar_compatible(tmp_path, src):
    need_program("zstd")
    r = Reliad(write_config(tmp_path / "reliad.toml", [str(src)], exclude=["*.tmp"]))
    init = r.run("init", "--target", "local", "--no-encryption")
    assert "NOT encrypted" in init.stderr and "zstd and tar" in init.stderr
    assert not (tmp_path / "state" / "keys").exists()
    bid = r.json("backup", "shop", "--type", "full")["id"]
    packs = sorted((tmp_path / "repo" / "data" / bid).glob("*.pack"))
    out = tmp_path / "untar"
    out.mkdir()
    cat = subprocess.run(["zstd", "-dc", *map(str, packs)], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(out)], input=cat.stdout, check=True)
    assert (out / str(src).lstrip("/") / "sub" / "b.txt").read_text() == "b" * 5000
    # encryption = false on the target does the same for a repository a backup creates.
    r2 = Reliad(write_config(tmp_path / "r2.toml", [str(src)], extra="").parent / "r2.toml")
    text = (tmp_path / "r2.toml").read_text().replace('path = "repo"', 'path = "repo2"\nencryption = false')
    (tmp_path / "r2.toml").write_text(text)
    assert "NOT encrypted" in r2.run("backup", "shop").stderr
    assert json.loads((tmp_path / "repo2" / "config").read_text())["encryption"] is None


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _hide_key(tmp_path: Path) -> Path:
    key = _only(list((tmp_path / "state" / "keys").iterdir()))
    moved = tmp_path / "key.bak"
    key.rename(moved)
    return moved


def _envelopes(data: bytes) -> list[tuple[int, int]]:
    """(offset, sealed length) of each envelope, read as docs/FORMAT.md describes them."""
    out, off = [], 0
    while off < len(data):
        n = int.from_bytes(data[off:off + 4], "big")
        out.append((off, n))
        off += 8 + n
    assert off == len(data)
    return out


def _verify_in_process(config: Path, bid: str, with_key: bool) -> dict:
    cfg = load_config(config)
    target = cfg.targets["local"]
    repo = open_repository(cfg, target) if with_key else Repository.open(LocalStorage(target.path))
    try:
        return run_verify(repo, [bid], "crc").to_json()
    finally:
        repo.storage.close()


def test_any_changed_byte_is_found_with_and_without_key(reliad, tmp_path):
    bid = reliad.json("backup", "shop", "--type", "full")["id"]
    repo = tmp_path / "repo"
    manifest = repo / "manifests" / bid
    pack = _only(list((repo / "data" / bid).glob("*.pack")))
    pristine = {p: p.read_bytes() for p in (manifest, pack)}
    for obj in (manifest, pack):
        size = obj.stat().st_size
        for offset in (0, 5, 9, 30, size // 3, size // 2, size - 20, size - 1):  # length, CRC, nonce, data, tag
            _flip(obj, offset)
            keyed = _verify_in_process(reliad.config, bid, with_key=True)
            assert not keyed["ok"] and keyed["decrypted"], (obj, offset)
            keyless = _verify_in_process(reliad.config, bid, with_key=False)
            assert not keyless["ok"] and not keyless["decrypted"], (obj, offset)
            obj.write_bytes(pristine[obj])
    assert reliad.json("verify", bid)["ok"]
    # Every frame of the pack is covered, frames that hold only tar headers included.
    for offset, length in _envelopes(pristine[pack]):
        _flip(pack, offset + 8 + length // 2)
        assert not _verify_in_process(reliad.config, bid, with_key=True)["ok"], offset
        pack.write_bytes(pristine[pack])
    # Cut the end record off the manifest: a truncation is found too, also by the command line.
    manifest.write_bytes(pristine[manifest][:-44])
    assert not reliad.json("verify", bid, expect=3)["ok"]
    _hide_key(tmp_path)
    assert not reliad.json("verify", bid, expect=3)["ok"]


def test_reordered_frames_and_swapped_objects_are_found(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    content = os.urandom(1 << 20)  # two files of the same content: frames of the same length
    for name in ("one", "two"):
        (src / name).write_bytes(content)
    r = Reliad(write_config(tmp_path / "reliad.toml", [str(src)]))
    first = r.json("backup", "shop", "--type", "full")["id"]
    second = r.json("backup", "shop", "--type", "full")["id"]
    repo = tmp_path / "repo"
    # Reorder: swap two frames of the same length inside the first pack.
    pack = _only(list((repo / "data" / first).glob("*.pack")))
    data = pack.read_bytes()
    frames = [data[off:off + 8 + n] for off, n in _envelopes(data)]
    big = [i for i, f in enumerate(frames) if len(f) > 200 << 10]
    i, j = big[0], big[len(big) // 2]
    assert len(frames[i]) == len(frames[j]) and frames[i] != frames[j]
    frames[i], frames[j] = frames[j], frames[i]
    pack.write_bytes(b"".join(frames))
    assert not r.json("verify", first, expect=3)["ok"]
    pack.write_bytes(data)
    # Swap the two backups' packs, then put one backup's manifest in the other's place.
    pack2 = _only(list((repo / "data" / second).glob("*.pack")))
    a, b = pack.read_bytes(), pack2.read_bytes()
    pack.write_bytes(b)
    pack2.write_bytes(a)
    report = r.json("verify", expect=3)
    assert {d["backup"] for d in report["damaged"]} == {first, second}
    pack.write_bytes(a)
    pack2.write_bytes(b)
    m1, m2 = repo / "manifests" / first, repo / "manifests" / second
    a, b = m1.read_bytes(), m2.read_bytes()
    m1.write_bytes(b)
    m2.write_bytes(a)
    report = r.json("verify", expect=3)
    assert {d["backup"] for d in report["damaged"]} == {first, second}
    assert all("authentication failed" in d["reason"] for d in report["damaged"])
    r.run("ls", first, expect=3)


def test_envelopes_are_bound_to_their_place():
    """Two envelopes of equal size and content still open only where they were written."""
    cipher = Cipher(os.urandom(32), "repo-id")
    frame = cipher.seal_frame("b1/000001", 0, b"x" * 100)
    assert cipher.open_frame("b1/000001", 0, frame, "here") == b"x" * 100
    for pack, off in (("b1/000001", 136), ("b2/000001", 0)):
        with pytest.raises(DamageError, match="authentication failed"):
            cipher.open_frame(pack, off, frame, "there")
    a = cipher.seal_object("manifests/a", [b"same"])
    b = cipher.seal_object("manifests/b", [b"same"])
    assert len(a) == len(b)
    with pytest.raises(DamageError, match="authentication failed"):
        list(cipher.iter_records(io.BytesIO(a), "manifests/b"))
    other = Cipher(os.urandom(32), "repo-id")
    with pytest.raises(DamageError, match="authentication failed"):
        other.open_frame("b1/000001", 0, frame, "here")


def test_encrypted_repository_without_key_says_so(reliad, tmp_path):
    bid = reliad.json("backup", "shop", "--type", "full")["id"]
    _hide_key(tmp_path)
    for args in (("ls", bid), ("restore", bid, str(tmp_path / "out")), ("backup", "shop")):
        proc = reliad.run(*args, expect=2)
        assert "is encrypted and no key was given" in proc.stderr
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
