"""The catalog's schema version: a catalog written by the release before versions existed
(tests/fixtures/catalog_v0.db, made by tests/fixtures/make_catalog_v0.py) opens with this
release without losing a row, and a catalog newer than this release is refused."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import Reliad

from reliad.catalog import SCHEMA_VERSION, Catalog
from reliad.errors import ReliadError

FIXTURE = Path(__file__).parent / "fixtures" / "catalog_v0.db"
TABLES = ("backups", "jobs", "verify_runs", "lock_waits", "replication")


def _dump(db: Path) -> dict[str, set[tuple]]:
    con = sqlite3.connect(db)
    try:
        return {t: set(con.execute(f"SELECT * FROM {t}")) for t in TABLES}
    finally:
        con.close()


def _old_state(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    shutil.copy(FIXTURE, state / "catalog.db")
    return state


def test_a_catalog_of_the_release_before_versions_keeps_every_row(tmp_path: Path) -> None:
    state = _old_state(tmp_path)
    before = _dump(state / "catalog.db")
    assert sqlite3.connect(state / "catalog.db").execute("PRAGMA user_version").fetchone()[0] == 0
    assert all(before[t] for t in TABLES)  # the fixture has a row of every kind
    catalog = Catalog(state)
    try:
        assert catalog.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        rows = catalog.backups()
        assert {r["status"] for r in rows} == {"ok", "pruned", "failed", "skipped"}
        shop = [r for r in rows if r["policy"] == "shop" and r["status"] != "skipped"]
        assert {tuple(r["classes"]) for r in shop} == {("pages",)}
        assert catalog.last_served("shop", "full") is not None
        assert catalog.last_job("prune", "shop", ok_only=True)["status"] == "ok"
        states = catalog.replication_states()
        assert len(states) == 3 and all(s == {"usb": "replicated"} for s in states.values())
        assert catalog.verify_counts() and catalog.lock_wait_totals()
    finally:
        catalog.close()
    assert _dump(state / "catalog.db") == before
    Catalog(state).close()  # opening again migrates nothing and changes nothing
    assert _dump(state / "catalog.db") == before


def test_list_shows_the_history_of_an_old_catalog(tmp_path: Path) -> None:
    state = _old_state(tmp_path)
    before = _dump(state / "catalog.db")["backups"]
    cfg = tmp_path / "reliad.toml"
    cfg.write_text(f'state_dir = "{state}"\n\n[targets.local]\ntype = "local"\npath = "repo"\n\n'
                   f'[targets.usb]\ntype = "offline"\npath = "{tmp_path / "media"}"\n\n'
                   f'[policies.shop]\nsources = [{{ type = "files", paths = ["{tmp_path}"] }}]\n'
                   'targets = ["local", "usb"]\n\n'
                   f'[policies.broken]\nsources = [{{ type = "files", paths = ["{tmp_path}"] }}]\ntargets = ["local"]\n')
    listed = Reliad(cfg).json("list")
    assert sorted((b["id"], b["target"], b["status"]) for b in listed) == sorted((r[0], r[1], r[6]) for r in before)


def test_a_catalog_newer_than_this_release_is_refused(tmp_path: Path) -> None:
    state = _old_state(tmp_path)
    con = sqlite3.connect(state / "catalog.db")
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(ReliadError, match="newer than this reliad"):
        Catalog(state)


def test_a_scheduled_verification_is_one_check_of_the_daily_failure_rate(tmp_path: Path) -> None:
    """R5 counts each check once: a scheduled verify leaves a job row and its verify_runs row,
    and only the verify_runs row counts, unless the job could not run at all."""
    from reliad.timeutil import iso, utcnow

    catalog = Catalog(tmp_path / "state")
    try:
        now = iso(utcnow())
        ran = catalog.job_start("verify_crc", "shop", "local")
        catalog.record_verify(target="local", policy="shop", mode="crc", started_at=now, finished_at=now,
                              backups=3, damaged_backups=1, files=10, bytes_checked=100)
        catalog.job_finish(ran, "damage", 1.0)
        could_not = catalog.job_start("verify_fast", "shop", "local")
        catalog.job_finish(could_not, "failed", 0.1, "repository missing")
        pruned = catalog.job_start("prune", "shop", "local")
        catalog.job_finish(pruned, "ok", 0.1)
        (checks,) = catalog.daily_checks("2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z").values()
    finally:
        catalog.close()
    assert checks == (3, 2)  # the damaged verification, the one that could not run, the prune
