"""Issue 2, points 10 and 12 and the command line: every run is recorded in the catalog
(failed ones too), `catalog rebuild` recreates it from the repository alone, and mistakes
give one sentence and the documented exit code, never a traceback."""

from __future__ import annotations

import re
import shutil

import pytest
from conftest import Reliad, write_config

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
LIST_KEYS = {"id", "policy", "type", "base", "status", "started_at", "finished_at", "files", "bytes_stored"}


def _one_sentence(proc) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("reliad: error: "), proc.stderr
    return lines[0]


def test_every_run_is_recorded_failed_ones_too(reliad, src, tmp_path):
    full = reliad.json("backup", "shop", "--type", "full")
    for key in ("id", "policy", "type", "base", "files", "bytes_read", "bytes_stored", "duration_s"):
        assert key in full
    moved = tmp_path / "moved-away"
    src.rename(moved)
    proc = reliad.run("backup", "shop", "--type", "incremental", expect=1)
    msg = _one_sentence(proc)
    assert str(src) in msg and "does not exist" in msg
    moved.rename(src)
    inc = reliad.json("backup", "shop", "--type", "incremental")

    rows = reliad.json("list")
    assert all(set(r) >= LIST_KEYS for r in rows)
    assert [r["status"] for r in rows] == ["ok", "failed", "ok"]
    ok, failed, ok2 = rows
    assert (ok["id"], ok["type"], ok["base"], ok["policy"]) == (full["id"], "full", None, "shop")
    assert ok["files"] == full["files"] > 0 and ok["bytes_stored"] == full["bytes_stored"] > 0
    assert ISO.match(ok["started_at"]) and ISO.match(ok["finished_at"]) and ok["started_at"] <= ok["finished_at"]
    assert failed["policy"] == "shop" and failed["type"] == "incremental" and ISO.match(failed["finished_at"])
    assert str(src) in failed["error"] and failed["duration_s"] is not None
    assert (ok2["id"], ok2["base"]) == (inc["id"], full["id"])
    text = reliad.run("list").stdout
    assert "failed" in text and full["id"] in text
    assert [r["id"] for r in reliad.json("list", "shop")] == [r["id"] for r in rows]


@pytest.mark.parametrize("encrypted", [False, True])
def test_catalog_rebuild_from_the_repository_alone(src, tmp_path, encrypted):
    cfg = write_config(tmp_path / "reliad.toml", [str(src)])
    if not encrypted:
        cfg.write_text(cfg.read_text().replace('path = "repo"', 'path = "repo"\nencryption = false'))
    r = Reliad(cfg)
    r.run("backup", "shop", "--type", "full")
    (src / "a.txt").write_text("changed")
    r.run("backup", "shop", "--type", "incremental")
    r.run("backup", "shop", "--type", "differential")
    keys = ("id", "policy", "type", "base", "status", "started_at", "finished_at", "files", "bytes_stored")
    before = [{k: b[k] for k in keys} for b in r.json("list")]

    state = tmp_path / "state"
    saved = tmp_path / "saved-keys"
    if encrypted:  # the host is lost; the administrator kept the key (as reliad tells them to)
        shutil.copytree(state / "keys", saved)
    shutil.rmtree(state)
    if encrypted:
        state.mkdir(mode=0o700)
        shutil.copytree(saved, state / "keys")
    assert r.json("list") == []
    assert r.json("catalog", "rebuild")["targets"] == {"local": 3}
    after = [{k: b[k] for k in keys} for b in r.json("list")]
    assert after == before
    r.run("backup", "shop", "--type", "incremental")  # and life goes on
    assert r.json("list")[-1]["base"] == before[-1]["id"]


def test_command_line_mistakes_are_one_sentence_with_the_right_exit_code(reliad, tmp_path):
    cfg = reliad.config
    bad = tmp_path / "bad.toml"
    bad.write_text(cfg.read_text().replace("state_dir", "stat_dir"))
    msg = _one_sentence(reliad.run("list", "-c", str(bad), expect=2))
    assert "stat_dir" in msg and "did you mean 'state_dir'" in msg
    bad.write_text(cfg.read_text().replace("exclude =", "exlcude ="))
    assert "did you mean 'exclude'" in _one_sentence(reliad.run("backup", "shop", "-c", str(bad), expect=2))
    missing = tmp_path / "nowhere.toml"
    assert str(missing) in _one_sentence(reliad.run("list", "-c", str(missing), expect=2))
    assert "'shpo'" in _one_sentence(reliad.run("backup", "shpo", expect=2))
    assert "did you mean 'shop'" in _one_sentence(reliad.run("list", "shpo", expect=2))

    bid = reliad.json("backup", "shop", "--type", "full")["id"]
    ghost = bid[:-6] + "000000"
    for args in (("restore", ghost, str(tmp_path / "out")), ("ls", ghost), ("verify", ghost),
                 ("ls", "../../etc/passwd"), ("restore", bid, str(tmp_path / "o2"), "--path", "/no/such/path")):
        _one_sentence(reliad.run(*args, expect=1))
    assert reliad.run("backup", "shop", "--type", "weekly", expect=2).returncode == 2


def test_ls_lists_entries_and_filters_by_path(reliad, src):
    bid = reliad.json("backup", "shop", "--type", "full")["id"]
    lines = reliad.run("ls", bid).stdout.splitlines()
    by_path = {ln.split(" ")[-1] if " -> " not in ln else ln.split(" -> ")[0].split(" ")[-1]: ln for ln in lines}
    assert by_path[str(src / "a.txt")].startswith("-rw-")
    assert by_path[str(src / "sub")].startswith("d")
    assert by_path[str(src / "link")].startswith("l") and by_path[str(src / "link")].endswith(" -> a.txt")
    assert str(src / "skip.tmp") not in by_path  # excluded
    sub = reliad.json("ls", bid, str(src / "sub"))
    assert {e["path"] for e in sub} == {str(src / "sub"), str(src / "sub/b.txt"), str(src / "sub/deeper"),
                                        str(src / "sub/deeper/c.bin")}
    c = next(e for e in sub if e["path"].endswith("c.bin"))
    assert c["type"] == "file" and c["size"] == 3 << 20 and "mtime_ns" in c and "mode" in c and "chunks" not in c
