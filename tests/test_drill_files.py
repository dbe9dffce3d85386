"""Issue 14 with a files-only policy, through the real command line: a general drill restores
the newest backup into the standby, proves every file against the manifest and grades it;
objectives, damage, failover, safety and status behave as docs/DRILLS.md says."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT, Reliad, write_config
from faultkit import small_disk

from tests.test_metrics import samples, value

PHASES = ["prepare", "fetch", "restore", "verify", "load", "checks", "failover", "cleanup"]


def drill_config(tmp_path: Path, src: Path, drill: str = "") -> Reliad:
    cfg = write_config(tmp_path / "reliad.toml", [str(src)], exclude=["*.tmp"],
                       extra=f'\n[drills.shop]\nstandby = "standby"\n{drill}')
    return Reliad(cfg)


def drill(r: Reliad, *args: str, expect: int = 0) -> dict:
    proc = r.run("drill", "shop", "--scenario", "general", *args, "--json", expect=expect)
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


def test_general_drill_passes_and_proves_every_file(tmp_path, src):
    r = drill_config(tmp_path, src, 'keep_standby = true\n')
    full = r.json("backup", "shop", "--type", "full")
    (src / "a.txt").write_text("changed since the full\n")
    inc = r.json("backup", "shop", "--type", "incremental")
    rec = drill(r)
    assert rec["verdict"] == "PASS" and rec["exit_code"] == 0 and rec["reasons"] == []
    assert rec["backup_id"] == inc["id"] != full["id"]  # the newest backup, its chain behind it
    assert [p["name"] for p in rec["phases"]] == PHASES
    outcomes = {p["name"]: p["outcome"] for p in rec["phases"]}
    assert outcomes == {"prepare": "ok", "fetch": "skipped", "restore": "ok", "verify": "ok", "load": "skipped",
                        "checks": "skipped", "failover": "skipped", "cleanup": "ok"}
    # Completeness is counted from what was read back: 3 MiB file, 5000 + 7 + 0 bytes, hard link too.
    expected_bytes = (3 << 20) + 5000 + len("changed since the full\n") * 2
    assert rec["bytes"] == {"expected": expected_bytes, "verified": expected_bytes}
    assert rec["files"]["expected"] == rec["files"]["verified"] >= 9
    assert rec["completeness"] == 1.0 and rec["completeness_target"] == 1.0
    assert rec["objective_s"] == 3600
    assert rec["recovery_time_s"] == pytest.approx(sum(p["duration_s"] for p in rec["phases"] if p["name"] != "cleanup"))
    assert rec["rpo_s"] >= 0
    restored = Path(rec["standby"]) / str(src).lstrip("/")
    assert (restored / "a.txt").read_text() == "changed since the full\n"
    assert (restored / "sub" / "deeper" / "c.bin").read_bytes() == (src / "sub" / "deeper" / "c.bin").read_bytes()

    text = r.run("drill", "shop", "--scenario", "general").stdout
    assert ": PASS" in text and "recovery time" in text and "against the objective 60.0 min: met" in text
    assert "completeness 100.00 %" in text
    report = r.json("drills")
    assert [d["verdict"] for d in report["drills"]] == ["PASS", "PASS"]
    assert report["status"][0]["status"] == "VERIFIED"
    assert "policy shop: VERIFIED until" in r.run("drills", "shop").stdout
    series = samples(r.run("metrics").stdout)
    assert value(series, "reliad_drill_last_result", policy="shop", scenario="general", result="PASS") == 1
    assert value(series, "reliad_drill_verified", policy="shop") == 1
    assert value(series, "reliad_drill_completeness_ratio", policy="shop", scenario="general") == 1
    assert value(series, "reliad_drill_objective_seconds", policy="shop", scenario="severe") == 12 * 3600
    audit = r.run("audit", "show").stdout
    assert "drill" in audit and inc["id"] in audit


def test_objective_of_one_second_fails(tmp_path, src):
    r = drill_config(tmp_path, src, 'objective = { general = "1s" }\nfailover = "sleep 1.5"\n')
    r.run("backup", "shop", "--type", "full")
    rec = drill(r, expect=1)
    assert rec["verdict"] == "FAIL" and rec["completeness"] == 1.0
    assert rec["recovery_time_s"] > 1.5 and rec["objective_s"] == 1
    assert len(rec["reasons"]) == 1 and "over the general objective of 1.0 s" in rec["reasons"][0]
    assert r.json("drills")["status"][0]["status"] == "NOT_VERIFIED"
    series = samples(r.run("metrics").stdout)
    assert value(series, "reliad_drill_last_result", policy="shop", scenario="general", result="FAIL") == 1
    assert value(series, "reliad_drill_recovery_seconds", policy="shop", scenario="general") > 1.5
    assert value(series, "reliad_drill_verified", policy="shop") == 0


def test_flipped_byte_in_a_pack_fails_with_damage_named(tmp_path, src):
    r = drill_config(tmp_path, src)
    r.run("backup", "shop", "--type", "full")
    packs = sorted((tmp_path / "repo" / "data").rglob("*.pack"), key=lambda p: p.stat().st_size)
    pack = packs[-1]
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0x01
    pack.write_bytes(bytes(data))
    proc = r.run("drill", "shop", "--scenario", "general", expect=3)
    assert "FAIL" in proc.stdout and "damage found" in proc.stdout and "c.bin" in proc.stdout
    rec = drill(r, expect=3)
    assert rec["verdict"] == "FAIL"
    assert any(d["path"].endswith("sub/deeper/c.bin") and "CRC32C" in d["reason"] for d in rec["damage"])
    assert rec["completeness"] < 1.0 and rec["files"]["verified"] == rec["files"]["expected"] - 1
    assert rec["reasons"][0].startswith("damage found")


def test_failover_runs_in_dry_run_mode_with_the_standby_path(tmp_path, src):
    out = tmp_path / "failover.env"
    r = drill_config(tmp_path, src, f'failover = "env > {out}"\n'
                                    '[[drills.shop.checks]]\nname = "front page"\n'
                                    'command = "test -s \\"$RELIAD_DRILL_STANDBY/' + str(src).lstrip("/")
                     + '/a.txt\\""\n')
    r.run("backup", "shop", "--type", "full")
    rec = drill(r)
    assert rec["verdict"] == "PASS"
    assert rec["checks"] == [{"name": "front page", "kind": "command", "outcome": "PASS", "detail": "exit code 0"}]
    env = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    assert env["RELIAD_DRILL"] == "1" and env["RELIAD_DRILL_STANDBY"] == str(tmp_path / "standby")
    assert env["RELIAD_DRILL_BACKUP"] == rec["backup_id"]


def test_missing_failover_command_and_failing_check(tmp_path, src):
    r = drill_config(tmp_path, src, 'failover = "/nonexistent/switch-over"\n')
    r.run("backup", "shop", "--type", "full")
    rec = drill(r, expect=1)
    assert rec["verdict"] == "NOT_VERIFIED"
    assert any(reason.startswith("phase failover did not run") for reason in rec["reasons"])
    cfg = r.config.read_text().replace('failover = "/nonexistent/switch-over"\n',
                                       '[[drills.shop.checks]]\nname = "impossible"\ncommand = "false"\n')
    r.config.write_text(cfg)
    rec = drill(r, expect=1)
    assert rec["verdict"] == "FAIL" and rec["reasons"] == ["phase checks failed: a check failed",
                                                           "check 'impossible' failed: exit code 1; output: (none)"]


def test_never_writes_into_a_foreign_or_source_directory(tmp_path, src):
    r = drill_config(tmp_path, src)
    r.run("backup", "shop", "--type", "full")
    standby = tmp_path / "standby"
    standby.mkdir()
    (standby / "precious.txt").write_text("not reliad's")
    rec = drill(r, expect=1)
    assert rec["verdict"] == "NOT_VERIFIED" and "is not empty and no reliad drill filled it" in rec["reasons"][0]
    assert [p.name for p in standby.iterdir()] == ["precious.txt"]
    assert rec["phases"][2] == {**rec["phases"][2], "outcome": "skipped"}

    cfg = r.config.read_text().replace('standby = "standby"', f'standby = "{src / "sub"}"')
    r.config.write_text(cfg)
    before = sorted(p.name for p in (src / "sub").iterdir())
    rec = drill(r, expect=1)
    assert rec["verdict"] == "NOT_VERIFIED" and "overlaps the source path" in rec["reasons"][0]
    assert sorted(p.name for p in (src / "sub").iterdir()) == before


def test_status_expires_after_a_config_change(tmp_path, src):
    r = drill_config(tmp_path, src)
    r.run("backup", "shop", "--type", "full")
    drill(r)
    assert r.json("drills", "shop")["status"][0]["status"] == "VERIFIED"
    r.config.write_text(r.config.read_text().replace('exclude = ["*.tmp"]', 'exclude = ["*.tmp", "*.log"]'))
    status = r.json("drills", "shop")["status"][0]
    assert status["status"] == "NOT_VERIFIED" and "configuration changed" in status["reason"]
    drill(r)
    assert r.json("drills", "shop")["status"][0]["status"] == "VERIFIED"


def test_drill_killed_mid_restore_then_a_clean_drill(tmp_path, src):
    for i in range(3):
        (src / f"big{i}.bin").write_bytes(os.urandom(48 << 20))
    r = drill_config(tmp_path, src)
    r.run("backup", "shop", "--type", "full")
    standby = tmp_path / "standby"
    proc = subprocess.Popen([sys.executable, "-m", "reliad", "drill", "shop", "--scenario", "general", "-c",
                             str(r.config)], env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    restored = standby / str(src).lstrip("/") / "big0.bin"
    deadline = time.monotonic() + 120
    while not restored.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if not (tmp_path / "state" / "drills" / "running" / "shop.json").exists():
        pytest.fail("the drill finished before it could be killed mid-restore")
    rec = drill(r)
    assert rec["verdict"] == "PASS"
    assert any("was interrupted" in n for n in rec["notes"])
    history = r.json("drills", "shop")["drills"]
    assert [d["verdict"] for d in history] == ["NOT_VERIFIED", "PASS"]
    assert "interrupted" in history[0]["reasons"][0]
    assert not (tmp_path / "state" / "drills" / "running" / "shop.json").exists()
    r.run("backup", "shop", "--type", "incremental")  # nothing left behind trips the next backup


def test_drill_of_a_named_older_backup(tmp_path, src):
    r = drill_config(tmp_path, src)
    full = r.json("backup", "shop", "--type", "full")
    (src / "a.txt").write_text("newer\n")
    r.run("backup", "shop", "--type", "incremental")
    rec = drill(r, "--backup", full["id"])
    assert rec["verdict"] == "PASS" and rec["backup_id"] == full["id"]
    rec = drill(r, "--backup", "20200101T000000.000000Z-000000", expect=1)
    assert rec["verdict"] == "NOT_VERIFIED" and "is not a complete backup of policy 'shop'" in rec["reasons"][0]


def test_refuses_to_start_without_the_space_it_needs(tmp_path, src):
    with small_disk(tmp_path / "small", "1m") as standby:
        r = drill_config(tmp_path, src)
        r.config.write_text(r.config.read_text().replace('standby = "standby"', f'standby = "{standby}"'))
        r.run("backup", "shop", "--type", "full")  # 3 MiB, on a 1 MiB file system
        rec = drill(r, expect=1)
        assert rec["verdict"] == "NOT_VERIFIED" and "not enough space for the standby" in rec["reasons"][0]
        assert {p["name"]: p["outcome"] for p in rec["phases"]}["restore"] == "skipped"
        assert list(standby.iterdir()) == []


def test_check_config_refuses_a_standby_over_a_source_and_warns_about_severe_drills(tmp_path, src):
    r = drill_config(tmp_path, src)
    out = r.json("check-config")
    assert out["drills"]["shop"] == {"standby": str(tmp_path / "standby"), "general": "cron '0 4 1 * *'",
                                     "severe": "cron '0 5 1 1,4,7,10 *'"}
    assert any("no offsite target, so its severe drills will fail" in w for w in out["warnings"])
    r.config.write_text(r.config.read_text().replace('standby = "standby"', f'standby = "{src}/sub"'))
    err = r.run("check-config", expect=2).stderr
    assert f"drills.shop.standby: {src}/sub overlaps the source path {src}" in err
