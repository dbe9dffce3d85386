"""`reliad run` as a real subprocess: schedules in seconds, signals, sd_notify, restarts."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from conftest import Reliad
from daemon_support import Daemon, config, rows, slow_tree, wait_for


def _ok(tmp: Path, btype: str | None = None, pruned: bool = False) -> list[dict]:
    """Successful backups (with `pruned`: also those prune has removed since)."""
    ok = ("ok", "pruned") if pruned else ("ok",)
    return [r for r in rows(tmp) if r["status"] in ok and (btype is None or r["requested_type"] == btype)]


def test_backups_on_schedule_status_and_notify(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("one\n")
    cfg = config(tmp_path, [src], 'full = "6s"\nincremental = "2s"\ndifferential = { every = "1h", '
                 'start = "2099-01-01" }\nprune = "3s"', '[policies.shop.retention]\nkeep_last = 1\n\n'
                 '[daemon]\ncoalesce = "1s"\n')
    d = Daemon(tmp_path, cfg, watchdog_usec=1_000_000)
    try:
        # catch-up at start: the full runs; the incremental due with it is skipped, with the reason
        first_full = wait_for("first full", lambda: _ok(tmp_path, "full"), proc=d)[0]["id"]
        wait_for("skipped incremental", lambda: [r for r in rows(tmp_path) if r["status"] == "skipped"], proc=d)
        skipped = [r for r in rows(tmp_path) if r["status"] == "skipped"]
        assert skipped[0]["requested_type"] == "incremental" and "full" in skipped[0]["error"]
        (src / "b.txt").write_text("two\n")
        # then incrementals every 2 s, each building on the previous backup
        incs = wait_for("two incrementals", lambda: len(_ok(tmp_path, "incremental", True)) >= 2 and
                        _ok(tmp_path, "incremental", True), proc=d)
        assert incs[0]["type"] == "incremental" and incs[0]["base"] == first_full
        assert not [r for r in rows(tmp_path) if r["requested_type"] == "differential"]  # not started yet
        # 6 s after the start the full and the third incremental fall due together: the full runs
        wait_for("second full", lambda: len(_ok(tmp_path, "full", True)) >= 2, proc=d)
        wait_for("second skip", lambda: len([r for r in rows(tmp_path) if r["status"] == "skipped"]) >= 2, proc=d)
        skip2 = [r for r in rows(tmp_path) if r["status"] == "skipped"][1]
        assert skip2["requested_type"] == "incremental" and "full backup" in skip2["error"]
        # the service prunes on its own: once the second full exists, the first one expires
        wait_for("first full pruned", lambda: any(r["id"] == first_full and r["status"] == "pruned"
                                                  for r in rows(tmp_path)), proc=d)
        assert not (tmp_path / "repo" / "manifests" / first_full).exists()
        status = Reliad(cfg).json("status")
        assert status["service"]["running"] is True
        by_type = {j["type"]: j for j in status["jobs"]}
        assert by_type["incremental"]["active"] and by_type["incremental"]["next_run"]
        assert by_type["incremental"]["last_run"]["status"] in ("ok", "skipped", "pruned", "running")
        assert by_type["full"]["last_run"]["status"] in ("ok", "running")
        assert by_type["differential"]["state"] == "not started" and not by_type["differential"]["active"]
        assert by_type["prune"]["active"] and by_type["prune"]["last_run"]["status"] in ("ok", "running")
        text = Reliad(cfg).run("status").stdout
        assert "not started" in text and "running (pid" in text
        wait_for("watchdog pings", lambda: d.notified("WATCHDOG=1"), proc=d)
        assert d.notified("READY=1")
        assert any(m.startswith("STATUS=") or "\nSTATUS=" in m for m in d.notifications())
        assert d.stop() == 0
        wait_for("STOPPING=1", lambda: d.notified("STOPPING=1"))  # the reader thread may lag the exit
    finally:
        d.close()
    status = Reliad(cfg).json("status")
    assert status["service"]["running"] is False


def test_sighup_reload_valid_and_invalid(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("one\n")
    cfg = config(tmp_path, [src], 'full = "1h"\nincremental = "off"\ndifferential = "off"\nprune = "off"')
    d = Daemon(tmp_path, cfg)
    try:
        wait_for("first full", lambda: _ok(tmp_path, "full"), proc=d)
        wait_for("ready", lambda: d.notified("READY=1"), proc=d)
        text = cfg.read_text()
        # a valid new configuration: incrementals every second
        cfg.write_text(text.replace('incremental = "off"', 'incremental = "1s"'))
        d.signal(signal.SIGHUP)
        wait_for("reload", lambda: "event=reloaded" in d.log(), proc=d)
        # sent before the log line, but the test's reader thread may not have taken it in yet
        wait_for("RELOADING=1", lambda: d.notified("RELOADING=1"), proc=d)
        wait_for("incremental after reload", lambda: _ok(tmp_path, "incremental"), proc=d)
        # an invalid one (misspelt key) is refused and the old one keeps running
        cfg.write_text(text.replace('incremental = "off"', 'incremental = "1s"\nincremnetal = "5s"'))
        d.signal(signal.SIGHUP)
        wait_for("refusal", lambda: "event=reload_refused" in d.log(), proc=d)
        assert "incremnetal" in d.log() and "did you mean 'incremental'" in d.log()
        n = len(_ok(tmp_path, "incremental"))
        wait_for("incrementals go on", lambda: len(_ok(tmp_path, "incremental")) > n + 1, proc=d)
        assert d.proc.poll() is None
        # the service's own actions are in the audit log, with the backups they made
        audit = [json.loads(x) for x in (tmp_path / "state" / "audit.log").read_text().splitlines()]
        actions = [(r["command"], r["outcome"]) for r in audit]
        assert ("daemon reload", "ok") in actions and ("daemon reload", "refused") in actions
        fulls = [r for r in audit if r["command"] == "daemon full" and r["outcome"] == "ok"]
        assert fulls and fulls[0]["backups"] == [_ok(tmp_path, "full")[0]["id"]]
        assert d.stop() == 0
    finally:
        d.close()


@pytest.mark.parametrize(("grace", "files"), [("1s", 400), ("10m", 8)])
def test_sigterm_during_backup(tmp_path: Path, grace: str, files: int) -> None:
    src = slow_tree(tmp_path / "src", files)
    cfg = config(tmp_path, [src], 'full = "1h"\nincremental = "off"\ndifferential = "off"\nprune = "off"',
                 f'[daemon]\nstop_grace = "{grace}"\n', level=19)
    d = Daemon(tmp_path, cfg)
    try:
        wait_for("backup running", lambda: [r for r in rows(tmp_path) if r["status"] == "running"], proc=d)
        assert d.stop() == 0
    finally:
        d.close()
    (row,) = rows(tmp_path)
    reliad = Reliad(cfg)
    if grace == "1s":  # the grace period ran out: stopped cleanly, recorded failed, nothing committed
        assert row["status"] == "failed" and "grace period" in row["error"], row
        assert not list((tmp_path / "repo").glob("manifests/*"))
        pruned = reliad.json("prune")  # the stopped backup removed its packs itself; prune finds the rest
        assert pruned["targets"][0]["orphans"] in ([], [row["id"]])
        assert not (tmp_path / "repo" / "data" / row["id"]).exists()
    else:  # within the grace period: the backup finished
        assert row["status"] == "ok", row
        assert reliad.json("verify", "--mode", "crc")["ok"]


def test_kill9_then_restart_catches_up_once(tmp_path: Path) -> None:
    # ~30 MiB at level 19 takes several seconds even on a quiet machine (24 files once finished
    # before `status` could see the full running)
    src = slow_tree(tmp_path / "src", 120)
    sched = 'full = "1h"\nincremental = "1h"\ndifferential = "off"\nprune = "off"'
    cfg = config(tmp_path, [src], sched, level=19)
    d = Daemon(tmp_path, cfg)
    try:
        wait_for("backup running", lambda: [r for r in rows(tmp_path) if r["status"] == "running"], proc=d)
        killed = next(r for r in rows(tmp_path) if r["requested_type"] == "full")
        wait_for("a whole pack", lambda: list((tmp_path / "repo").glob(f"data/{killed['id']}/*.pack")), proc=d)
        jobs = {j["type"]: j for j in Reliad(cfg).json("status")["jobs"]}
        assert jobs["full"]["running_since"] and not jobs["incremental"]["running_since"]
        d.proc.kill()
        d.proc.wait()
    finally:
        d.close()
    assert killed["status"] == "running"  # nobody could record it: the process died
    config(tmp_path, [src], sched, level=1)
    d = Daemon(tmp_path, cfg)
    try:
        wait_for("full after restart", lambda: _ok(tmp_path, "full"), proc=d)
        wait_for("incremental slot accounted for",
                 lambda: [r for r in rows(tmp_path) if r["requested_type"] == "incremental"], proc=d)
        assert d.stop() == 0
    finally:
        d.close()
    log = d.log()
    # one catch-up per overdue type, not one per missed slot
    assert log.count("event=catch_up policy=shop type=full") == 1
    assert log.count("event=catch_up policy=shop type=incremental") == 1
    by_id = {r["id"]: r for r in rows(tmp_path)}
    assert by_id[killed["id"]]["status"] == "failed" and "interrupted" in by_id[killed["id"]]["error"]
    fulls = [r for r in rows(tmp_path) if r["requested_type"] == "full" and r["status"] == "ok"]
    assert len(fulls) == 1
    reliad = Reliad(cfg)
    assert reliad.json("verify", "--mode", "crc")["ok"]
    report = reliad.json("prune")
    assert report["targets"][0]["orphans"] == [killed["id"]]  # the packs the killed run left
    assert not (tmp_path / "repo" / "data" / killed["id"]).exists()
    assert reliad.json("verify", "--mode", "crc")["ok"]
    listing = reliad.json("list")
    assert [b["id"] for b in listing if b["status"] == "ok"] == [fulls[0]["id"]]
    json.dumps(report)


def test_run_refuses_an_invalid_configuration_at_start(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    cfg = config(tmp_path, [src], 'full = { every = "12h", end = "2020-01-01", start = "2021-01-01" }')
    proc = Reliad(cfg).run("run", expect=2, timeout=60)
    (line,) = proc.stderr.strip().splitlines()
    assert str(cfg) in line and "policies.shop.schedule.full.end" in line and "must come after" in line
