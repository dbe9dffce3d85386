"""Issue 7, point 7: damaged and random manifests, packs, configs, key slots and catalog rows
make the readers fail with one clear error (a ReliadError), never another exception, a hang,
or a write outside the restore target."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tomllib
from pathlib import Path

import pytest
from engine_kit import open_repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reliad.catalog import Catalog
from reliad.config import load_config, parse_config
from reliad.errors import ReliadError
from reliad.jobs.restore import run_restore
from reliad.jobs.verify import run_verify
from reliad.repository import Repository
from reliad.repository.keys import TEST_KDF_ENV, Secret, unlock
from reliad.repository.manifest import Entry, ManifestWriter
from tests.conftest import Reliad, write_config

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])


@pytest.fixture(scope="module")
def repos(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """One small backup in an encrypted and in a plain repository: (config, backup id)."""
    base = tmp_path_factory.mktemp("fuzz")
    src = base / "src"
    (src / "d").mkdir(parents=True)
    (src / "a.txt").write_text("hello\n" * 50)
    (src / "d" / "b.bin").write_bytes(os.urandom(300 << 10))
    os.symlink("a.txt", src / "link")
    out = {}
    for kind, extra in (("encrypted", ""), ("plain", "encryption = false\n")):
        d = base / kind
        d.mkdir()
        cfg = write_config(d / "reliad.toml", [str(src)])
        cfg.write_text(cfg.read_text().replace('path = "repo"\n', f'path = "repo"\n{extra}'))
        out[kind] = (cfg, Reliad(cfg).json("backup", "shop", "--type", "full")["id"])
    return out


def _mutate(data: bytes, how: str, pos: float, blob: bytes) -> bytes:
    at = int(pos * len(data))
    if how == "flip":
        return data[:at] + bytes([data[at] ^ (blob[0] if blob and blob[0] else 1)]) + data[at + 1:] if data else blob
    if how == "truncate":
        return data[:at]
    if how == "insert":
        return data[:at] + blob + data[at:]
    if how == "overwrite":
        return data[:at] + blob + data[at + len(blob):]
    return blob  # random bytes instead of the object


MUTATION = st.tuples(st.sampled_from(["flip", "truncate", "insert", "overwrite", "random"]),
                     st.floats(0, 1, exclude_max=True), st.binary(min_size=0, max_size=64))


def _read_everything(config: Path, bid: str, sandbox: Path) -> None:
    """What a user can do with a backup: all of it may fail only with a ReliadError, and a
    restore writes nothing outside its destination."""
    if sandbox.exists():
        shutil.rmtree(sandbox)
    dest = sandbox / "dest"
    sandbox.mkdir()
    try:
        repo = open_repo(config)
    except ReliadError:
        return
    for step in (lambda: repo.header(bid), lambda: list(repo.entries(bid)),
                 lambda: run_restore(repo, bid, dest, []), lambda: run_verify(repo, [bid], "crc"),
                 lambda: run_verify(repo, [bid], "fast")):
        with contextlib.suppress(ReliadError):
            step()
    outside = [p for p in sandbox.rglob("*") if dest not in p.parents and p != dest]
    assert not outside, outside
    repo.storage.close()


def _read_with_damage(config: Path, bid: str, sandbox: Path, obj: Path, mutation: tuple) -> None:
    """Every read path over the repository with `obj` damaged by `mutation`; the repository is
    put back afterwards, since hypothesis shares it between examples."""
    original = obj.read_bytes()
    obj.write_bytes(_mutate(original, *mutation))
    try:
        _read_everything(config, bid, sandbox)
    finally:
        obj.write_bytes(original)


@FUZZ
@given(kind=st.sampled_from(["encrypted", "plain"]), what=st.sampled_from(["manifest", "pack"]), mutation=MUTATION)
def test_damaged_manifests_and_packs(repos, tmp_path, kind, what, mutation):
    config, bid = repos[kind]
    repo_dir = config.parent / "repo"
    obj = repo_dir / "manifests" / bid if what == "manifest" else sorted((repo_dir / "data" / bid).glob("*.pack"))[0]
    _read_with_damage(config, bid, tmp_path / "sandbox", obj, mutation)


PATH_PART = st.sampled_from(["..", ".", "", "a", "d", "link", "x", "/", "/tmp", "é", "\x01"])
ENTRY = st.builds(
    lambda parts, kind, target: Entry(path="/".join(parts).encode(), type=kind, mode=0o644,
                                      target=target.encode() if target is not None else None),
    st.lists(PATH_PART, min_size=1, max_size=4),
    st.sampled_from(["file", "dir", "symlink", "hardlink", "fifo", "chardev", "nonsense"]),
    st.one_of(st.none(), st.sampled_from(["../../outside", "/etc/passwd", "a", "d", "link"])))


@FUZZ
@given(kind=st.sampled_from(["encrypted", "plain"]), entries=st.lists(ENTRY, max_size=8))
def test_forged_manifests_cannot_escape_the_restore_target(repos, tmp_path, kind, entries):
    """Manifests a key holder (or, for plain repositories, anyone) could write: traversal,
    absolute paths, symlinks to follow, hard links to outside files, unknown types."""
    config, _bid = repos[kind]
    repo = open_repo(config)
    name = "20260101T000000.000000Z-f0f0f0"
    w = ManifestWriter(cipher=repo.cipher, name=f"manifests/{name}")
    for e in entries:
        w.add(e)
    out = repo.storage.open_write(f"manifests/{name}")
    w.write_to(out, {"format": "reliad-manifest", "version": 1, "id": name, "policy": "shop", "type": "full",
                     "packs": [], "pack_sums": {}, "started_at": "2026-01-01T00:00:00Z"})
    out.close()
    try:
        _read_everything(config, name, tmp_path / "sandbox")
    finally:
        repo.storage.delete(f"manifests/{name}")
        repo.storage.close()


@FUZZ
@given(mutation=MUTATION, target=st.sampled_from(["config", "slot"]))
def test_damaged_repository_config_and_key_slots(repos, tmp_path, mutation, target):
    config, bid = repos["encrypted"]
    repo_dir = config.parent / "repo"
    obj = repo_dir / "config" if target == "config" else next((repo_dir / "keys").iterdir())
    _read_with_damage(config, bid, tmp_path / "sandbox", obj, mutation)


@FUZZ
@given(text=st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1"))),
       mutation=MUTATION)
def test_random_and_damaged_configs(repos, tmp_path, text, mutation):
    config, _ = repos["plain"]
    good = config.read_bytes()
    for data in (text.encode("utf-8", "surrogatepass"), _mutate(good, *mutation)):
        f = tmp_path / "fuzz.toml"
        f.write_bytes(data)
        f.chmod(0o600)
        with contextlib.suppress(ReliadError):
            load_config(f)


TOML_VALUE = st.recursive(
    st.one_of(st.booleans(), st.integers(-2, 2**40), st.text(max_size=20), st.floats(allow_nan=False)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12)


@FUZZ
@given(extra=st.dictionaries(st.sampled_from(["state_dir", "targets", "policies", "metrics", "x"]), TOML_VALUE,
                             max_size=4),
       target=st.dictionaries(st.sampled_from(["type", "path", "encryption", "key_file", "passphrase_env",
                                               "pack_size_mib", "passphrase_credential"]), TOML_VALUE, max_size=5))
def test_config_structures_of_any_shape(repos, extra, target):
    config, _ = repos["plain"]
    raw = tomllib.loads(config.read_text())
    raw["targets"]["local"].update(target)
    raw.update(extra)
    with contextlib.suppress(ReliadError):
        parse_config(config, raw)


SQL_VALUE = st.one_of(st.none(), st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=False), st.text(max_size=30),
                      st.binary(max_size=30), st.sampled_from(['["a"]', "[1]", "{}", "not json", "[]"]))


@FUZZ
@given(row=st.fixed_dictionaries({c: SQL_VALUE for c in ("id", "target", "policy", "type", "status", "started_at",
                                                         "files", "bytes_stored", "duration_s", "classes",
                                                         "depends_on", "error")}))
def test_damaged_catalog_rows(repos, tmp_path, row):
    state = tmp_path / "state"
    shutil.rmtree(state, ignore_errors=True)
    Catalog(state).close()
    db = sqlite3.connect(state / "catalog.db")
    cols = ", ".join(row)
    db.execute(f"INSERT OR REPLACE INTO backups ({cols}) VALUES ({', '.join('?' * len(row))})",
               [row[c] if row[c] is not None or c not in ("id", "target", "policy", "type", "status", "started_at")
                else "x" for c in row])
    db.commit()
    db.close()
    cat = Catalog(state)
    try:
        cat.backups()
    except ReliadError:
        pass
    finally:
        cat.close()


def test_wrong_kind_of_secret_is_a_clear_error(repos, monkeypatch):
    """Passphrase material tried against key-file slots only, and the other way round."""
    config, _ = repos["encrypted"]
    monkeypatch.setenv(TEST_KDF_ENV, "1")
    repo = Repository.open(open_repo(config).storage)
    for secret in (Secret("passphrase", b"x" * 40, "test"), Secret("keyfile", b"y" * 40, "test")):
        with pytest.raises(ReliadError, match="does not open"):
            unlock(repo.storage, repo.config.id, secret)
    assert load_config(config).targets["local"].encryption is None
