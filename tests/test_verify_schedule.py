"""Issue 16, point 6: verification runs itself. Every policy has a `verify_fast` (default daily)
and a `verify_crc` (default weekly) schedule; the service runs them, records each run as a
job, and damage they find shows in `status` like damage any verify finds."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Reliad
from daemon_support import Daemon, config, jobs, rows, wait_for


def test_defaults_verify_every_policy_daily_and_weekly(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    cfg = config(tmp_path, [src], "")
    schedules = Reliad(cfg).json("check-config")["schedules"]["shop"]
    assert schedules["verify_fast"] == "every 1d" and schedules["verify_crc"] == "every 7d", schedules


def test_the_service_verifies_on_schedule_and_finds_damage(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("one\n" * 1000)
    cfg = config(tmp_path, [src], 'full = "1h"\nincremental = "off"\ndifferential = "off"\nprune = "off"\n'
                 'verify_fast = "off"\nverify_crc = "3s"')
    d = Daemon(tmp_path, cfg)
    try:
        wait_for("a full", lambda: [r for r in rows(tmp_path) if r["status"] == "ok"], proc=d)
        bid = rows(tmp_path)[0]["id"]
        first = wait_for("a clean verification of it",
                         lambda: [j for j in jobs(tmp_path, "verify_crc") if j["status"] == "ok"
                                  and json.loads(j["detail"])["backups"] == 1], proc=d)
        pack = next((tmp_path / "repo" / "data" / bid).glob("*.pack"))
        data = bytearray(pack.read_bytes())
        data[len(data) // 2] ^= 0xFF
        pack.write_bytes(bytes(data))
        found = wait_for("the damage found", lambda: [j for j in jobs(tmp_path, "verify_crc")
                                                      if j["status"] == "damage"], proc=d)
        assert found[0]["seq"] > first[0]["seq"] and json.loads(found[0]["detail"])["damaged_backups"] == [bid]
        status = Reliad(cfg).json("status")
        by_type = {j["type"]: j for j in status["jobs"]}
        assert by_type["verify_crc"]["active"] and by_type["verify_fast"]["state"] == "off"
        assert [x["backup"] for x in status["damaged"]] == [bid]
        assert d.stop() == 0
    finally:
        d.close()
    assert "verifying (crc)" in "".join(d.notifications()) or "event=job_done policy=shop type=verify_crc" in d.log()


def test_coverage_metrics_follow_crc_verification(tmp_path: Path) -> None:
    from test_metrics import samples, value

    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("one\n")
    r = Reliad(config(tmp_path, [src], ""))
    r.run("backup", "shop", "--type", "full")
    s = samples(r.run("metrics").stdout)
    assert value(s, "reliad_verify_coverage_ratio", policy="shop", target="local") == 0
    assert value(s, "reliad_verify_within_seconds") == 30 * 86400
    r.run("verify", "--mode", "fast")  # reads no content: proves nothing for coverage
    assert value(samples(r.run("metrics").stdout), "reliad_verify_coverage_ratio", policy="shop", target="local") == 0
    r.run("verify", "--mode", "crc")
    s = samples(r.run("metrics").stdout)
    assert value(s, "reliad_verify_coverage_ratio", policy="shop", target="local") == 1
    assert value(s, "reliad_verify_oldest_unverified_seconds", policy="shop", target="local") < 30 * 86400


def test_scheduled_crc_verification_reads_a_slice_oldest_proven_first(tmp_path: Path) -> None:
    """Each run takes the share of backups proven longest ago (never proven first), so runs
    spread the reading over the window, and a run cut short is taken up where it stopped."""
    from reliad.config import load_config
    from reliad.jobs.verify import verify_backups

    src = tmp_path / "src"
    src.mkdir()
    cfg = config(tmp_path, [src], "")
    r = Reliad(cfg)
    ids = []
    for i in range(4):
        (src / f"f{i}.txt").write_text(f"{i}\n")
        ids.append(r.json("backup", "shop", "--type", "full")["id"])
    config_ = load_config(cfg)
    first = verify_backups(config_, [], "crc", policy="shop", share=0.5).backups
    second = verify_backups(config_, [], "crc", policy="shop", share=0.5).backups
    third = verify_backups(config_, [], "crc", policy="shop", share=0.5).backups
    assert sorted(first + second) == sorted(ids) and len(first) == len(second) == 2
    assert third == first  # now the ones proven longest ago
