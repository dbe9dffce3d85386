"""Issue 16, point 1: `verify` never says OK about what it could not read. A missing repository
(an unmounted backup disk) the catalog lists backups in, a damaged repository config, a damaged
key slot and damaged audit copies in the repository are all damage (exit 3), named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import Reliad, write_config


@pytest.fixture
def backed_up(tmp_path: Path, src: Path) -> tuple[Reliad, str]:
    """An encrypted repository with two backups (the second carries the audit copy of the first)."""
    r = Reliad(write_config(tmp_path / "reliad.toml", [str(src)]))
    r.run("backup", "shop", "--type", "full")
    return r, r.json("backup", "shop", "--type", "incremental")["id"]


def _damage_lines(out: str) -> list[str]:
    return [ln for ln in out.splitlines() if ln.startswith("damaged: ")]


def test_unmounted_repository_is_damage_not_ok(backed_up, tmp_path):
    r, bid = backed_up
    shutil.move(tmp_path / "repo", tmp_path / "unmounted")
    proc = r.run("verify", expect=3)
    assert "OK" not in proc.stdout
    assert any(bid in ln and "no repository here" in ln for ln in _damage_lines(proc.stdout)), proc.stdout
    data = json.loads(r.run("verify", "--json", expect=3).stdout)
    assert not data["ok"] and bid in {d["backup"] for d in data["damaged"]}


def test_fresh_setup_without_repository_is_still_ok(tmp_path, src):
    """No backup written and no repository: nothing to prove, and nothing missing."""
    r = Reliad(write_config(tmp_path / "reliad.toml", [str(src)]))
    assert r.run("verify").stdout.startswith("OK: 0 backups")


@pytest.mark.parametrize("damage", [b"", b"garbage\n", b'{"format": "reliad"}'])
def test_damaged_repository_config_is_damage(backed_up, tmp_path, damage):
    r, bid = backed_up
    (tmp_path / "repo" / "config").write_bytes(damage)
    lines = _damage_lines(r.run("verify", expect=3).stdout)
    assert any(ln.startswith("damaged: config: target 'local'") for ln in lines), lines
    assert any(bid in ln for ln in lines), lines


def test_manifest_missing_that_the_catalog_lists_is_damage(backed_up, tmp_path):
    r, bid = backed_up
    (tmp_path / "repo" / "manifests" / bid).unlink()
    lines = _damage_lines(r.run("verify", expect=3).stdout)
    assert any(bid in ln and "manifest is missing" in ln for ln in lines), lines


def test_damaged_key_slot_is_named_not_blamed_on_the_key(backed_up, tmp_path):
    r, _ = backed_up
    slot = next((tmp_path / "repo" / "keys").iterdir())
    d = json.loads(slot.read_text())
    d["wrapped"] = ("A" if d["wrapped"][0] != "A" else "B") + d["wrapped"][1:]  # still base64 of 48 bytes
    slot.write_text(json.dumps(d))
    bid = r.json("list")[-1]["id"]
    err = r.run("ls", bid, expect=3).stderr
    assert f"damaged key slot: keys/{slot.name}" in err and "does not open" not in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    out = r.run("verify", expect=3).stdout
    assert f"damaged key slot: keys/{slot.name}" in out and "does not open" not in out, out
    assert not out.splitlines()[-1].startswith("OK")


def test_wrong_key_file_is_still_a_wrong_key(backed_up, tmp_path):
    r, _ = backed_up
    key = next((tmp_path / "state" / "keys").iterdir())
    key.write_text("reliad-keyfile-v1 " + "QUFB" * 11 + "\n")
    err = r.run("verify", expect=2).stderr
    assert "does not open the repository" in err and "damaged" not in err


def test_verify_checks_audit_copies_in_the_repository(backed_up, tmp_path):
    r, _ = backed_up
    copy = next(p for p in (tmp_path / "repo" / "audit").rglob("*") if p.is_file())
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0x40
    copy.write_bytes(bytes(data))
    lines = _damage_lines(r.run("verify", expect=3).stdout)
    assert any(ln.startswith(f"damaged: audit/{copy.parent.name}/") for ln in lines), lines
