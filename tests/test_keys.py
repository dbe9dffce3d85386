"""Key slots: passphrases from a systemd credential or the environment, key files, recovery copies,
and the refusals that keep secrets private (issue 7, points 2 and 5)."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from reliad.repository import keys
from tests.conftest import Reliad, write_config

FAST_KDF = {keys.TEST_KDF_ENV: "1"}


def _config(tmp_path: Path, src: Path, key_line: str) -> Reliad:
    cfg = write_config(tmp_path / "reliad.toml", [str(src)], exclude=["*.tmp"])
    cfg.write_text(cfg.read_text().replace('path = "repo"\n', f'path = "repo"\n{key_line}\n', 1))
    return Reliad(cfg)


def _one_sentence(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def _private(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_passphrase_from_systemd_credential_and_wrong_passphrase(tmp_path, src):
    creds = tmp_path / "creds"
    creds.mkdir(mode=0o700)
    _private(creds / "reliad-pass", "correct horse battery staple\n")
    env = {"CREDENTIALS_DIRECTORY": str(creds), **FAST_KDF}
    r = _config(tmp_path, src, 'passphrase_credential = "reliad-pass"')
    init = r.json("init", "--target", "local", env=env)
    assert init["encrypted"] and not init["notes"]  # no generated key file with a passphrase
    assert not (tmp_path / "state" / "keys").exists()
    bid = r.json("backup", "shop", "--type", "full", env=env)["id"]
    r.run("restore", bid, str(tmp_path / "ok"), env=env)
    assert (tmp_path / "ok" / str(src).lstrip("/") / "a.txt").read_text() == "hello\n"

    _private(creds / "reliad-pass", "Tr0ub4dor&3\n")
    out = tmp_path / "wrong"
    proc = r.run("restore", bid, str(out), env=env, expect=2)
    assert "does not open the repository" in _one_sentence(proc) and "Tr0ub4dor" not in proc.stderr
    assert not out.exists() or not any(out.iterdir())
    # Without $CREDENTIALS_DIRECTORY (not started by systemd) the error says what is missing.
    assert "CREDENTIALS_DIRECTORY" in _one_sentence(r.run("ls", bid, env=FAST_KDF, expect=2))


def test_add_switch_revoke_and_recover(tmp_path, src):
    env = {"NEW_PASS": "a much longer new passphrase", **FAST_KDF}
    r = _config(tmp_path, src, 'key_file = "keys/local.key"')
    bid = r.json("backup", "shop", "--type", "full", env=env)["id"]
    key_file = tmp_path / "keys" / "local.key"  # created on first use, private
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = r.json("key", "list", env=env)["slots"]
    assert len(first) == 1 and first[0]["in_use"] and first[0]["kind"] == "keyfile"
    added = r.json("key", "add", "--passphrase-env", "NEW_PASS", "--label", "ops team", env=env)["slot"]
    assert added["kdf"]["name"] == "argon2id"

    # The same repository through the passphrase: the old slot can then be revoked.
    r2 = _config(tmp_path / "p", src, 'passphrase_env = "NEW_PASS"') if (tmp_path / "p").mkdir() is None else None
    r2.config.write_text(r2.config.read_text().replace('path = "repo"', f'path = "{tmp_path / "repo"}"'))
    listed = r2.json("key", "list", env=env)["slots"]
    assert [s["id"] for s in listed if s["in_use"]] == [added["id"]]
    refused = r.run("key", "remove", first[0]["id"], env=env, expect=2)
    assert "pass --force" in _one_sentence(refused)
    r2.run("key", "remove", first[0]["id"], env=env)
    assert "does not open" in _one_sentence(r.run("ls", bid, env=env, expect=2))
    assert "last key slot" in _one_sentence(r2.run("key", "remove", added["id"], "--force", env=env, expect=2))

    # A recovery copy opens the repository even with every key slot gone.
    recovery = r2.run("key", "export", env=env)
    assert "data key" in recovery.stderr and "reliad-data-key-v1" in recovery.stdout
    _private(tmp_path / "recovery.key", recovery.stdout)
    for slot in (tmp_path / "repo" / "keys").iterdir():
        slot.unlink()
    r3 = _config(tmp_path / "p", src, f'key_file = "{tmp_path / "recovery.key"}"')
    r3.config.write_text(r3.config.read_text().replace('path = "repo"', f'path = "{tmp_path / "repo"}"'))
    r3.run("restore", bid, str(tmp_path / "recovered"), env=env)
    assert (tmp_path / "recovered" / str(src).lstrip("/") / "sub" / "b.txt").read_text() == "b" * 5000


def test_secrets_readable_by_others_are_refused(tmp_path, src):
    r = _config(tmp_path, src, 'passphrase_file = "pass.txt"')
    pw = _private(tmp_path / "pass.txt", "a passphrase of decent length\n")
    pw.chmod(0o640)
    assert "chmod 600" in _one_sentence(r.run("init", "--target", "local", env=FAST_KDF, expect=2))
    pw.chmod(0o600)
    r.run("init", "--target", "local", env=FAST_KDF)
    # A configuration that others could change, or read while it holds a secret, is refused too.
    r.config.chmod(0o666)
    assert "chmod go-w" in _one_sentence(r.run("key", "list", expect=2))
    r.config.chmod(0o644)
    if os.geteuid() == 0:  # a configuration or key someone else owns (a sudo user's own file, say)
        os.chown(r.config, 65534, 65534)
        assert "owned by uid 65534" in _one_sentence(r.run("key", "list", expect=2))
        os.chown(r.config, 0, 0)
        os.chown(pw, 65534, 65534)
        assert "owned by uid 65534" in _one_sentence(r.run("key", "list", expect=2))
        os.chown(pw, 0, 0)
    text = r.config.read_text()
    r.config.write_text(text.replace('state_dir = "state"', 'state_dir = "state"\napi_token = "s3cr3t-t0ken"'))
    proc = r.run("key", "list", expect=2)  # a secret in a world-readable file: refused without showing it
    assert "s3cr3t" not in proc.stderr and "api_token" in _one_sentence(proc) and "chmod 600" in proc.stderr


def test_generated_key_directory_and_state_are_private(tmp_path, src):
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)  # as systemd's StateDirectory= would make it
    r = _config(tmp_path, src, "")
    r.run("backup", "shop")
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "keys").stat().st_mode) == 0o700
    for f in (state / "keys").iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600


def test_default_kdf_is_memory_hard(monkeypatch):
    monkeypatch.delenv(keys.TEST_KDF_ENV, raising=False)
    kdf = keys.passphrase_kdf()
    assert kdf["name"] == "argon2id" and kdf["memory_kib"] >= 64 << 10 and kdf["iterations"] >= 3


def test_edited_key_slot_no_longer_opens(tmp_path, monkeypatch):
    from reliad.storage import LocalStorage

    storage = LocalStorage(tmp_path)
    secret = keys.Secret("passphrase", b"secret passphrase", "test")
    monkeypatch.setenv(keys.TEST_KDF_ENV, "1")
    slot = keys.make_slot(b"k" * 32, "rid", secret)
    keys.write_slot(storage, slot)
    assert keys.unlock(storage, "rid", secret)[0] == b"k" * 32
    weakened = dict(slot, kdf={**slot["kdf"], "memory_kib": 16})
    keys.write_slot(storage, weakened)
    with pytest.raises(Exception, match="damaged key slot"):  # its CRC32C no longer matches
        keys.unlock(storage, "rid", secret)
    weakened.pop("crc32c")  # an editor who also drops the CRC32C: the wrapping still refuses it
    keys.write_slot(storage, weakened)
    with pytest.raises(Exception, match="does not open"):
        keys.unlock(storage, "rid", secret)
    assert json.loads((tmp_path / "keys" / slot["id"]).read_text())["kdf"]["memory_kib"] == 16


def test_offsite_slots_follow_additions_and_revocations(tmp_path, monkeypatch):
    from reliad.storage import LocalStorage

    monkeypatch.setenv(keys.TEST_KDF_ENV, "1")
    src, dst = LocalStorage(tmp_path / "local"), LocalStorage(tmp_path / "offsite")
    old = keys.make_slot(b"k" * 32, "rid", keys.Secret("passphrase", b"old passphrase", "test"))
    keys.write_slot(src, old)
    assert keys.sync_slots(src, dst) == ([f"keys/{old['id']}"], [])
    new = keys.make_slot(b"k" * 32, "rid", keys.Secret("keyfile", b"n" * 32, "test"))
    keys.write_slot(src, new)
    src.delete(f"keys/{old['id']}")
    assert keys.sync_slots(src, dst) == ([f"keys/{new['id']}"], [f"keys/{old['id']}"])
    with pytest.raises(Exception, match="does not open"):
        keys.unlock(dst, "rid", keys.Secret("passphrase", b"old passphrase", "test"))
    assert keys.sync_slots(src, dst) == ([], [])


def test_the_slots_of_an_offsite_copy_are_changed_where_replication_takes_them_from(tmp_path, src):
    """Replication mirrors the local repository's slots: a slot added to the offsite copy alone
    would be removed by the next replication, one removed there would come back. The command
    refuses that and names the target where the change lasts."""
    env = {"NEW_PASS": "a much longer new passphrase", "OTHER_PASS": "another long passphrase", **FAST_KDF}
    media = tmp_path / "media"
    media.mkdir()
    cfg = write_config(tmp_path / "reliad.toml", [str(src)],
                       extra=f'\n[targets.usb]\ntype = "offline"\npath = "{media / "reliad"}"\n')
    cfg.write_text(cfg.read_text().replace('targets = ["local"]', 'targets = ["local", "usb"]'))
    r = Reliad(cfg)
    assert r.json("backup", "shop", "--type", "full", env=env)["replication"]["usb"]["state"] == "replicated"
    before = r.json("key", "list", "--target", "usb", env=env)["slots"]
    for argv in (["add", "--passphrase-env", "NEW_PASS"], ["remove", before[0]["id"], "--force"]):
        said = _one_sentence(r.run("key", argv[0], "--target", "usb", *argv[1:], env=env, expect=2))
        assert "offsite copy of target 'local'" in said and "--target local" in said, said
    assert r.json("key", "list", "--target", "usb", env=env)["slots"] == before  # the copy was not touched

    # At the source, the new slot lasts, and replication carries it offsite.
    added = r.json("key", "add", "--target", "local", "--passphrase-env", "NEW_PASS", env=env)["slot"]
    r.json("replicate", "--target", "usb", env=env)
    assert added["id"] in [s["id"] for s in r.json("key", "list", "--target", "usb", env=env)["slots"]]

    # A host rebuilt from the copy alone (no local repository to replicate from) manages the copy's keys.
    shutil.rmtree(tmp_path / "repo")
    third = r.json("key", "add", "--target", "usb", "--passphrase-env", "OTHER_PASS", env=env)["slot"]
    assert third["id"] in [s["id"] for s in r.json("key", "list", "--target", "usb", env=env)["slots"]]
