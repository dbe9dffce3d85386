"""The whole report of a generated month, built the way `reliad report` builds it: the real
ledger (incidents across the month's edges, a maintenance window, a day the daemon did not run,
drills passing and failing) through `reliad.ledger.stats.compute`, the real catalog, the audit
log; the JSON's figures against the ones worked out by hand in tests/report_month.py."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import report_month

from reliad.config import load_config
from reliad.report import model, render
from reliad.report.period import Month

MONTH = Month(2026, 11, dt.UTC)
NOW = dt.datetime(2026, 12, 3, 9, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp: Path = tmp_path_factory.mktemp("month")
    config = load_config(report_month.write_config(tmp))
    report_month.populate(config.state_dir)
    report_month.populate_ledger(config.state_dir)
    return json.loads(render.render(model.build(config, MONTH, NOW, host="shop-1"), "json", "en"))


def test_availability_per_service_is_the_hand_computed_one(data: dict) -> None:
    services = {s["service"]: s for s in data["ledger"]["availability"]["services"]}
    for name, expected in report_month.LEDGER_EXPECTED.items():
        for k, v in expected.items():
            assert services[name][k] == (pytest.approx(v, abs=1e-9) if isinstance(v, float) else v), (name, k)
    assert data["coverage"] == pytest.approx(2498400 / 2584800)  # the lower of the two services


def test_incidents_across_the_months_edges_are_counted_where_they_belong(data: dict) -> None:
    software, hardware = data["ledger"]["mtrs"]["software"], data["ledger"]["mtrs"]["hardware"]
    assert software["mtrs_s"] == 4500 and software["restored"] == 2 and software["verdict"] == "PASS"
    assert [i["start"] for i in software["incidents"]] == ["2026-10-31T23:00:00Z", "2026-11-12T10:00:00Z"]
    assert hardware["mtrs_s"] is None and [(i["service"], i["age_s"]) for i in hardware["open"]] == [("db", 14400)]
    mtbf = data["ledger"]["mtbf"]["platform"]
    assert mtbf["failures"] == 3 and mtbf["operating_h"] == pytest.approx(695.5)
    assert mtbf["mtbf_h"] == pytest.approx(695.5 / 3) and mtbf["verdict"] == "FAIL"
    rows = {r["clause"] + "/" + r["topic"]: r for r in data["summary"]}
    assert rows["R1/availability"]["reason"]["args"]["service"] == "db"  # the one that missed its objective
    assert rows["R3/mtrs_software"]["verdict"] == "PASS"
    # the db incident is still open at the month's end, 4 h old: within the 12 h target, and said so
    assert (rows["R4/mtrs_hardware"]["verdict"], rows["R4/mtrs_hardware"]["reason"]) == (
        "PASS", {"key": "why.mtrs_open_within", "args": {"cls": "hardware", "count": 1, "seconds": 14400.0}})


def test_the_month_has_its_days_trend_backups_and_drills(data: dict) -> None:
    assert [d["date"] for d in data["daily"]][:2] == ["2026-11-01", "2026-11-02"] and len(data["daily"]) == 30
    nov7 = data["daily"][6]["services"]["web"]
    assert nov7["unmeasured_s"] == pytest.approx(12 * 3600)  # the daemon stopped at noon
    assert [t["month"] for t in data["trend"]][-1] == "2026-11" and len(data["trend"]) == 12
    rows = {r["type"]: r for r in data["backups"]["rows"]}
    for btype, expected in report_month.EXPECTED.items():
        assert {k: rows[btype][k] for k in expected} == expected
    assert [d["id"] for d in data["drills"]] == ["drill-1", "drill-2"]
    assert "2026-11-01" in data["ledger"]["daily_failure_rate"]["days_over"]
