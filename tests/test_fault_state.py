"""Issue 16, point 2: a truncated, garbled or unreadable catalog is found when it is opened and
reported in one sentence with what to do, never a traceback and never an empty listing passed
off as the truth; `catalog rebuild` works whatever state the old file is in (it sets the file
aside, keeps it and says where); a full disk under the state directory is one sentence, exit 1."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import Reliad, write_config
from faultkit import fill, small_disk

from reliad import sqlitecheck


def _damage(db: Path, how: str) -> None:
    data = db.read_bytes()
    if how == "truncated":
        db.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        db.write_bytes(b"")
    elif how == "garbled header":
        db.write_bytes(b"\x00garbage garbage" + data[16:])
    else:  # garbled pages: every page after the first overwritten with noise
        db.write_bytes(data[:4096] + bytes((i * 131 + 7) % 256 for i in range(len(data) - 4096)))


def _one_sentence(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("reliad: error: "), proc.stderr
    return lines[0]


@pytest.mark.parametrize("how", ["truncated", "empty", "garbled header", "garbled pages"])
def test_damaged_catalog_is_named_and_rebuilt(tmp_path: Path, src: Path, how: str) -> None:
    r = Reliad(write_config(tmp_path / "reliad.toml", [str(src)]))
    ids = [r.json("backup", "shop", "--type", t)["id"] for t in ("full", "incremental")]
    db = tmp_path / "state" / "catalog.db"
    assert not db.with_name("catalog.db-wal").exists()  # the last command closed (and checkpointed) it
    _damage(db, how)
    damaged = db.read_bytes()
    for args in (["list"], ["status"], ["verify"], ["backup", "shop"]):
        msg = _one_sentence(r.run(*args, expect=1))
        assert f"the catalog {db} is damaged" in msg and "reliad catalog rebuild" in msg, msg
    err = r.run("metrics", expect=1).stderr  # the collector logs the event too
    assert err.strip().splitlines()[-1].startswith(f"reliad: error: the catalog {db} is damaged")
    assert "Traceback" not in err
    proc = r.run("catalog", "rebuild", "--json")
    aside = Path(json.loads(proc.stdout)["set_aside"])
    assert aside.parent == db.parent and aside.name.startswith("catalog.db.damaged-")
    assert aside.read_bytes() == damaged  # kept as it was
    assert [b["id"] for b in r.json("list")] == ids
    assert "set aside" not in r.run("catalog", "rebuild").stdout


def test_full_disk_under_the_state_directory(tmp_path: Path, src: Path) -> None:
    with small_disk(tmp_path / "small") as disk:
        cfg = write_config(tmp_path / "reliad.toml", [str(src)])
        cfg.write_text(cfg.read_text().replace('state_dir = "state"', f'state_dir = "{disk}/state"'))
        r = Reliad(cfg)
        first = r.json("backup", "shop", "--type", "full")["id"]
        filler = fill(disk)
        (src / "new.txt").write_text("changed\n")
        for args in (["backup", "shop"], ["list"], ["status"], ["verify"], ["catalog", "rebuild"]):
            proc = r.run(*args, expect=1)
            msg = _one_sentence(proc)
            assert "is full" in msg and str(disk / "state") in msg, msg
            assert "Traceback" not in proc.stderr and "OperationalError" not in proc.stderr
        filler.unlink()
        assert not list((disk / "state").glob("catalog.db.damaged-*"))  # a full disk is no damage
        assert [b["id"] for b in r.json("list") if b["status"] == "ok"] == [first]
        assert r.json("backup", "shop")["status"] == "ok"


def _schema(db) -> None:
    db.execute("CREATE TABLE t (x INTEGER)")


def test_the_helper_checks_any_state_database(tmp_path: Path) -> None:
    """The ledger (issue 13) opens its file through the same helper."""
    path = tmp_path / "ledger.db"
    con = sqlitecheck.connect(path, "the ledger", "move it aside", _schema)
    con.execute("INSERT INTO t VALUES (1)")
    con.close()
    assert sqlitecheck.problem(path) is None
    os.truncate(path, 0)
    with pytest.raises(sqlitecheck.StateFileError, match=r"the ledger .* is damaged .*move it aside"):
        sqlitecheck.connect(path, "the ledger", "move it aside", _schema)
