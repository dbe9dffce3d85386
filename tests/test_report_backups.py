"""Backup and verification figures of a report month, from a real catalog with a generated
history, against the figures worked out by hand in tests/report_month.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from report_month import EXPECTED, populate, write_config

from reliad.catalog import Catalog
from reliad.config import load_config
from reliad.report import backups, model
from reliad.report.period import Month

NOW = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp: Path = tmp_path_factory.mktemp("month")
    config = load_config(write_config(tmp))
    populate(config.state_dir)
    cat = Catalog(config.state_dir)
    try:
        return backups.gather(config, cat, Month(2026, 11, dt.UTC), NOW)
    finally:
        cat.close()


@pytest.mark.parametrize("btype", ["full", "incremental", "differential"])
def test_each_type_of_the_month_has_the_hand_computed_figures(figures: dict, btype: str) -> None:
    row = next(r for r in figures["rows"] if r["type"] == btype)
    got = {k: row[k] for k in EXPECTED[btype]}
    assert got == EXPECTED[btype]


def test_verification_counts_only_the_months_runs_and_reports_the_damage(figures: dict) -> None:
    v = figures["verification"]
    assert (v["runs"], v["backups"], v["bytes"], v["damaged_backups"]) == (3, 16, 6100, 1)
    assert [(m["mode"], m["runs"], m["backups"]) for m in v["modes"]] == [("byte", 1, 2), ("crc", 2, 14)]
    assert v["damage"] == [{"at": "2026-11-28T03:00:00Z", "policy": "shop", "target": "local", "mode": "crc",
                            "damaged_backups": 1}]


def test_the_backup_clauses_are_judged_from_those_figures(figures: dict) -> None:
    r6, r7, r8 = model.backup_rows(figures)
    assert (r6["verdict"], r6["actual"]["args"]["types"]) == ("PASS", "full, incremental")
    assert (r7["verdict"], r7["actual"]["args"]["copied"], r7["reason"]["args"]["seconds"]) == ("PASS", 355, 42600)
    assert r8["verdict"] == "FAIL"
    assert r8["actual"]["args"] == {"late": 2, "scheduled": 420}
    r10 = model.verification_row(figures["verification"])
    assert (r10["verdict"], r10["reason"]["args"]) == ("FAIL", {"count": 1})


def test_a_month_still_running_counts_up_to_now(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    populate(config.state_dir)
    cat = Catalog(config.state_dir)
    try:
        half = backups.gather(config, cat, Month(2026, 11, dt.UTC), dt.datetime(2026, 11, 16, tzinfo=dt.UTC))
    finally:
        cat.close()
    full = next(r for r in half["rows"] if r["type"] == "full")
    # Nov 1-15: 30 slots, 30 successes (the failed 12:00 full of the 15th and its 14:00 retry)
    assert (full["scheduled"], full["succeeded"], full["failed"], full["late"]) == (30, 30, 1, 1)
    assert half["until"] == "2026-11-16T00:00:00Z"


def test_a_month_without_backups_has_no_figures_and_no_verdicts(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    cat = Catalog(config.state_dir)
    try:
        empty = backups.gather(config, cat, Month(2026, 11, dt.UTC), NOW)
    finally:
        cat.close()
    assert empty["attempts"] == 0
    assert all(r["worst_age_s"] is None and r["succeeded"] == 0 for r in empty["rows"])
    assert [r["verdict"] for r in model.backup_rows(empty)] == ["NOT_ENOUGH_DATA"] * 3
    assert model.verification_row(empty["verification"])["verdict"] == "NOT_VERIFIED"


def test_cron_slots_are_late_when_the_next_run_starts_after_the_grace() -> None:
    from reliad.config.schedule import Schedule

    sched = Schedule("full", cron="0 3 * * *", timezone="UTC")
    start, end = dt.datetime(2026, 11, 1, tzinfo=dt.UTC), dt.datetime(2026, 11, 4, tzinfo=dt.UTC)
    before = dt.datetime(2026, 10, 31, 3, tzinfo=dt.UTC)
    served = [before, dt.datetime(2026, 11, 1, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 11, 2, 5, tzinfo=dt.UTC),
              dt.datetime(2026, 11, 3, 3, 4, tzinfo=dt.UTC)]
    # daily: grace 2.4 h; Nov 2 started 2 h late, inside it; a start at 06:00 would not be
    assert backups.schedule_row(sched, served, before, start, end)["late"] == 0
    served[2] = dt.datetime(2026, 11, 2, 6, tzinfo=dt.UTC)
    assert backups.schedule_row(sched, served, before, start, end) == {"scheduled": 3, "late": 1, "period_s": 86400.0}


def test_a_type_never_served_before_counts_its_slots_from_its_first_run() -> None:
    from reliad.config.schedule import Schedule

    start, end = dt.datetime(2026, 11, 1, tzinfo=dt.UTC), dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    installed = dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC)  # reliad's first backup of it
    every = Schedule("full", every=43200.0)
    assert backups.schedule_row(every, [installed], None, start, end) == {"scheduled": 3, "late": 1,
                                                                          "period_s": 43200.0}
    daily = Schedule("full", cron="0 3 * * *", timezone="UTC")
    assert backups.schedule_row(daily, [installed], None, start, end)["scheduled"] == 1  # Nov 30 03:00
    assert backups.schedule_row(every, [], None, start, end) == {"scheduled": 0, "late": 0, "period_s": None}


def test_the_months_drills_come_from_the_ledger_and_are_set_against_the_standard(tmp_path: Path) -> None:
    from report_month import DRILLS

    from reliad.ledger.store import Ledger
    from reliad.report import drillrows

    with Ledger(tmp_path) as ledger:
        for record in DRILLS:
            ledger.add_drill(record)
        rows = drillrows.gather(ledger, Month(2026, 11, dt.UTC), NOW)
    assert [(d["id"], d["rto_met"], d["completeness_met"]) for d in rows] == [
        ("drill-1", True, True), ("drill-2", False, False)]
    r11, r12, r13 = model.drill_rows(rows)
    assert (r11["verdict"], r12["verdict"], r13["verdict"]) == ("FAIL", "FAIL", "FAIL")
    assert r12["reason"]["args"] == {"scenario": "severe", "seconds": 50400.0, "target": 43200.0}
    assert r13["actual"]["args"] == {"value": 0.973, "scenario": "severe"}
    assert [r["verdict"] for r in model.drill_rows([])] == ["NOT_VERIFIED"] * 3
