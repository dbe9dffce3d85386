"""stats.compute over a hand-worked month: a coverage gap, an operator-recorded hardware outage inside
it, a software incident and a maintenance window (docs/RELIABILITY.md has the arithmetic)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reliad.config import load_config
from reliad.errors import ConfigError
from reliad.ledger.stats import compute, parse_period
from reliad.ledger.store import Ledger


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def month(tmp_path: Path):
    cfg = tmp_path / "reliad.toml"
    cfg.write_text('state_dir = "state"\n')
    config = load_config(cfg)
    led = Ledger(config.state_dir)
    r1 = led.run_started("h", 1, at("2026-03-01T00:00:00Z"))
    for t, ok in (("2026-03-01T00:00:00Z", True), ("2026-03-05T10:00:00Z", False), ("2026-03-20T00:00:00Z", True)):
        led.record_round(run_id=r1, service="web", at=at(t), ok=ok, duration_s=0.1, probe=None if ok else "http",
                         error=None if ok else "503")
    r2 = led.run_started("h", 2, at("2026-03-21T00:00:00Z"))
    for t in ("2026-03-21T00:00:00Z", "2026-04-01T00:00:00Z"):
        led.record_round(run_id=r2, service="web", at=at(t), ok=True, duration_s=0.1)
    sw = led.open_incident(service="web", cls="software", start="2026-03-05T10:00:00Z", origin="probe",
                           at=at("2026-03-05T10:02:00Z"), probe="http", error="503")
    led.update_incident(sw, at("2026-03-05T10:30:00Z"), restored_at="2026-03-05T10:30:00Z")
    led.open_incident(service="web", cls="hardware", start="2026-03-20T12:00:00Z", origin="operator",
                      at=at("2026-03-22T00:00:00Z"), restored_at="2026-03-20T18:00:00Z", cause="PSU")
    led.add_maintenance(service="web", start="2026-03-10T00:00:00Z", end="2026-03-10T02:00:00Z", reason="upgrade",
                        at=at("2026-03-09T00:00:00Z"))
    yield led, config
    led.close()


def test_a_month_by_hand(month) -> None:
    led, config = month
    s = compute(led, config, at("2026-03-01T00:00:00Z"), at("2026-04-01T00:00:00Z"), now=at("2026-04-02T00:00:00Z"))
    json.dumps(s)  # JSON-able as printed by `reliad stats --json`
    (web,) = s["availability"]["services"]
    # measured: 30 days of probing + the 6 h outage an operator recorded inside the 1-day gap - 2 h maintenance
    assert (web["measured_s"], web["maintenance_s"], web["down_s"]) == (2_606_400, 7200, 1800 + 21_600)
    assert web["availability"] == pytest.approx(1 - 23_400 / 2_606_400)
    assert web["coverage"] == pytest.approx(2_606_400 / (2_678_400 - 7200))
    assert (web["verdict"], web["maintenance"]) == ("FAIL", [
        {"start": "2026-03-10T00:00:00Z", "end": "2026-03-10T02:00:00Z", "reason": "upgrade"}])
    assert s["mtrs"]["software"]["mtrs_s"] == 1800 and s["mtrs"]["software"]["verdict"] == "PASS"
    assert [(i["start"], i["restored_at"], i["duration_s"]) for i in s["mtrs"]["hardware"]["incidents"]] == [
        ("2026-03-20T12:00:00Z", "2026-03-20T18:00:00Z", 21_600)]
    platform = s["mtbf"]["platform"]
    assert (platform["failures"], platform["operating_h"]) == (2, pytest.approx((2_606_400 - 23_400) / 3600))
    assert platform["mtbf_h"] == pytest.approx(717.5 / 2) and platform["verdict"] == "FAIL"
    assert s["mtbf"]["window"] == {"start": "2025-04-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"}
    daily = s["daily_failure_rate"]
    assert daily["days_over"] == ["2026-03-05"] and len(daily["days"]) == 31
    assert s["utilisation"]["verdict"] == "NOT_ENOUGH_DATA"
    assert s["verdict"] == "FAIL"
    # reliad run ran Mar 1 - Mar 20 and Mar 21 - Apr 1: 30 of 31 days
    assert s["coverage"] == pytest.approx(30 / 31)


def test_an_incident_still_open_past_its_target_fails_the_period(month) -> None:
    led, config = month
    led.open_incident(service="web", cls="software", start="2026-03-30T00:00:00Z", origin="probe",
                      at=at("2026-03-30T00:01:00Z"))
    s = compute(led, config, at("2026-03-01T00:00:00Z"), at("2026-04-01T00:00:00Z"), now=at("2026-04-02T00:00:00Z"))
    (open_,) = s["mtrs"]["software"]["open"]
    assert (open_["age_s"], open_["over_target"], s["mtrs"]["software"]["verdict"]) == (2 * 86400, True, "FAIL")


def test_a_period_not_yet_ended_counts_up_to_now(month) -> None:
    led, config = month
    s = compute(led, config, at("2026-03-01T00:00:00Z"), at("2026-04-01T00:00:00Z"), now=at("2026-03-05T00:00:00Z"))
    assert s["period"]["end"] == "2026-03-05T00:00:00Z" and len(s["daily_failure_rate"]["days"]) == 4
    (web,) = s["availability"]["services"]
    assert web["coverage"] == pytest.approx(1.0) and web["unmeasured_s"] == 0


def test_one_service_and_unknown_services(month) -> None:
    led, config = month
    s = compute(led, config, at("2026-03-01T00:00:00Z"), at("2026-04-01T00:00:00Z"), service="web")
    assert [x["service"] for x in s["availability"]["services"]] == ["web"]
    with pytest.raises(ConfigError, match=r"no service 'db'.*known: web"):
        compute(led, config, at("2026-03-01T00:00:00Z"), at("2026-04-01T00:00:00Z"), service="db")


def test_periods() -> None:
    now = datetime(2026, 3, 15, 12, tzinfo=UTC)
    assert parse_period("2026-02", now) == (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC), "2026-02")
    assert parse_period("2026", now)[:2] == (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert parse_period("30d", now)[:2] == (datetime(2026, 2, 13, 12, tzinfo=UTC), now)
    with pytest.raises(ConfigError, match="2026-13"):
        parse_period("2026-13", now)


def test_the_daily_failure_rate_counts_each_check_on_the_local_day(tmp_path: Path) -> None:
    """A month in Asia/Shanghai (UTC+8): a probe that failed at 20:00 UTC on the 5th failed at
    04:00 on the 6th on the reader's calendar, and the 6th is the day over 1 %."""
    from zoneinfo import ZoneInfo

    cfg = tmp_path / "reliad.toml"
    cfg.write_text('state_dir = "state"\n')
    config = load_config(cfg)
    led = Ledger(config.state_dir)
    try:
        run = led.run_started("h", 1, at("2026-03-01T00:00:00Z"))
        for t, ok in (("2026-03-05T12:00:00Z", True), ("2026-03-05T20:00:00Z", False), ("2026-03-06T12:00:00Z", True)):
            led.record_round(run_id=run, service="web", at=at(t), ok=ok, duration_s=0.1,
                             probe=None if ok else "http", error=None if ok else "503")
        tz = ZoneInfo("Asia/Shanghai")
        s = compute(led, config, datetime(2026, 3, 1, tzinfo=tz), datetime(2026, 4, 1, tzinfo=tz),
                    now=at("2026-04-02T00:00:00Z"))
    finally:
        led.close()
    daily = s["daily_failure_rate"]
    assert daily["days_over"] == ["2026-03-06"]
    counted = {d["day"]: (d["checks"], d["failed"]) for d in daily["days"] if d["checks"]}
    assert counted == {"2026-03-05": (1, 0), "2026-03-06": (2, 1)}


def test_recurring_maintenance_from_the_configuration(tmp_path: Path) -> None:
    from reliad.ledger.watch import in_maintenance

    cfg = tmp_path / "reliad.toml"
    cfg.write_text('state_dir = "state"\n[services.web]\nprobes = [{ type = "tcp", address = "127.0.0.1:1" }]\n'
                   'maintenance = [{ cron = "30 2 * * *", duration = "1h", reason = "nightly vacuum" }]\n')
    config = load_config(cfg)
    with Ledger(config.state_dir) as led:
        run = led.run_started("h", 1, at("2026-03-01T00:00:00Z"))
        for t in ("2026-03-01T00:00:00Z", "2026-03-03T00:00:00Z"):
            led.record_round(run_id=run, service="web", at=at(t), ok=True, duration_s=0.1)
        s = compute(led, config, at("2026-03-01T00:00:00Z"), at("2026-03-03T00:00:00Z"), now=at("2026-03-04T00:00:00Z"))
        (web,) = s["availability"]["services"]
        assert web["maintenance_s"] == 2 * 3600 and web["measured_s"] == 2 * 86400 - 2 * 3600
        assert [(w["start"], w["end"], w["reason"]) for w in web["maintenance"]] == [
            ("2026-03-01T02:30:00Z", "2026-03-01T03:30:00Z", "nightly vacuum"),
            ("2026-03-02T02:30:00Z", "2026-03-02T03:30:00Z", "nightly vacuum")]
        svc = config.services["web"]
        assert in_maintenance(led, svc, at("2026-03-05T03:29:59Z"))
        assert not in_maintenance(led, svc, at("2026-03-05T03:30:00Z"))
        assert not in_maintenance(led, svc, at("2026-03-05T02:29:59Z"))


def test_reliads_own_jobs_are_checks_of_the_daily_failure_rate(month) -> None:
    from reliad.catalog import Catalog

    led, config = month
    catalog = Catalog(config.state_dir)
    try:
        today = catalog.job_start("prune", "shop", "local")
        catalog.job_finish(today, "ok", 1.0)
        failed = catalog.job_start("verify_fast", "shop", "local")
        catalog.job_finish(failed, "failed", 1.0, error="repository unreadable")
        ran = catalog.job_start("verify_crc", "shop", "local")  # counted by its verify_runs row, not twice
        catalog.job_finish(ran, "damage", 1.0)
        catalog.record_verify(target="local", policy="shop", mode="crc", started_at=iso_now(), finished_at=iso_now(),
                              backups=3, damaged_backups=1, files=10, bytes_checked=100)
    finally:
        catalog.close()
    now = datetime.now(UTC) + timedelta(seconds=2)  # after the jobs' second-precision start times
    day = now.strftime("%Y-%m-%d")
    s = compute(led, config, now.replace(hour=0, minute=0, second=0, microsecond=0), now + timedelta(hours=1), now=now)
    (today_row,) = [d for d in s["daily_failure_rate"]["days"] if d["day"] == day]
    assert (today_row["checks"], today_row["failed"]) == (3, 2)  # prune ok, verify could not run, damage found
    assert compute(led, config, now.replace(hour=0), now, service="web", now=now)["daily_failure_rate"]["checks"] == 0


def iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
