"""Drills run by `reliad run` itself (a real service process): on their schedule, after the
backup of the same repository rather than beside it, at the lowest CPU and I/O priority, and a
drill missed while the service was down is caught up once when it starts again."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from conftest import Reliad
from daemon_support import Daemon, config, rows, slow_tree, wait_for

from reliad.timeutil import parse_iso


def drills(cfg: Path) -> list[dict]:
    return Reliad(cfg).json("drills")["drills"]


def test_service_drills_after_backups_at_low_priority_and_catches_up(tmp_path: Path) -> None:
    src = slow_tree(tmp_path / "src", files=12)
    prio = tmp_path / "priority.txt"
    probe = (f"{sys.executable} -c 'import os, psutil; print(os.nice(0), int(psutil.Process().ionice().ioclass))' "
             f"> {prio}")
    cfg = config(tmp_path, [src], 'full = "1h"\nincremental = "off"\ndifferential = "off"\nprune = "off"',
                 '[drills.shop]\nstandby = "standby"\nschedule = { general = "4s", severe = "off" }\n'
                 f'[[drills.shop.checks]]\nname = "priority"\ncommand = "{probe}"\n', level=19)
    d = Daemon(tmp_path, cfg)
    try:
        first = wait_for("a drill by the service", lambda: drills(cfg), proc=d)[0]
        assert first["verdict"] == "PASS", first["reasons"]
        (full,) = [r for r in rows(tmp_path) if r["status"] == "ok"]
        assert first["backup_id"] == full["id"]
        # The full fell due at the start and ran first; the drill did not run beside it.
        assert parse_iso(first["started_at"]) >= parse_iso(full["finished_at"])
        nice, ioclass = prio.read_text().split()
        assert int(nice) == 19 and int(ioclass) == 3  # IOPRIO_CLASS_IDLE
        assert d.stop() == 0
    finally:
        d.close()
    done = len(drills(cfg))
    time.sleep(4.5)  # a slot passes while the service is down
    d = Daemon(tmp_path, cfg)
    try:
        wait_for("the missed drill", lambda: len(drills(cfg)) > done, proc=d)
        assert "event=catch_up policy=shop type=drill-general" in d.log()
        status = Reliad(cfg).json("status")
        job = next(j for j in status["jobs"] if j["type"] == "drill-general")
        assert job["last_run"]["status"] == "PASS" and job["schedule"] == "every 4s"
        assert status["drills"][0]["status"] == "VERIFIED"
        assert d.stop() == 0
    finally:
        d.close()


def test_stopping_the_service_interrupts_a_drill_which_records_itself(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("one\n")
    flag = tmp_path / "checks-started"
    cfg = config(tmp_path, [src], 'full = "1h"\nincremental = "off"\ndifferential = "off"\nprune = "off"',
                 '[daemon]\nstop_grace = "1s"\n'
                 '[drills.shop]\nstandby = "standby"\nschedule = { general = "2s", severe = "off" }\n'
                 f'[[drills.shop.checks]]\nname = "slow"\ncommand = "touch {flag}; sleep 120"\n')
    d = Daemon(tmp_path, cfg)
    try:
        wait_for("the drill's checks", flag.exists, proc=d)
        assert d.stop() == 0
    finally:
        d.close()
    (rec,) = drills(cfg)
    assert rec["verdict"] == "NOT_VERIFIED"
    phases = {p["name"]: p["outcome"] for p in rec["phases"]}
    assert phases["checks"] == "interrupted" and phases["failover"] == "skipped" and phases["cleanup"] == "ok"
    assert any("interrupted" in reason for reason in rec["reasons"])
    assert not any((tmp_path / "standby").iterdir())  # cleaned up on its way out
    assert not (tmp_path / "state" / "drills" / "running" / "shop.json").exists()
