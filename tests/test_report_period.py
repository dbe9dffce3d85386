"""The report's month: local midnights in the configured zone, DST days, and clear errors."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from reliad.errors import ConfigError
from reliad.report.period import Month, previous_month, zone


def test_a_month_runs_from_local_midnight_to_local_midnight() -> None:
    m = Month.parse("2026-11", ZoneInfo("Asia/Shanghai"))
    assert m.start.astimezone(dt.UTC) == dt.datetime(2026, 10, 31, 16, tzinfo=dt.UTC)
    assert m.end.astimezone(dt.UTC) == dt.datetime(2026, 11, 30, 16, tzinfo=dt.UTC)
    assert len(m.days()) == 30 and m.label == "2026-11" and m.tz_name == "Asia/Shanghai"


def test_a_day_across_a_clock_change_is_25_hours_long() -> None:
    m = Month.parse("2026-10", ZoneInfo("Europe/Berlin"))
    lengths = {d.isoformat(): (e.astimezone(dt.UTC) - s.astimezone(dt.UTC)).total_seconds() / 3600
               for d, s, e in m.days()}
    assert lengths["2026-10-25"] == 25 and sum(lengths.values()) == 31 * 24 + 1


def test_trailing_months_cross_the_year() -> None:
    labels = [x.label for x in Month.parse("2026-02", dt.UTC).trailing(12)]
    assert labels[0] == "2025-03" and labels[-1] == "2026-02" and len(labels) == 12
    assert Month.parse("2026-12", dt.UTC).end == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


def test_on_the_first_the_previous_month_is_reported_in_the_reports_zone() -> None:
    now = dt.datetime(2026, 11, 30, 17, tzinfo=dt.UTC)  # already Dec 1 in Shanghai
    assert previous_month(now, ZoneInfo("Asia/Shanghai")).label == "2026-11"
    assert previous_month(now, dt.UTC).label == "2026-10"


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-11", "2026/11", "", "november"])
def test_a_month_that_is_not_one_is_refused_with_the_form_to_use(text: str) -> None:
    with pytest.raises(ConfigError, match="write it as YYYY-MM"):
        Month.parse(text, dt.UTC)


def test_an_unknown_zone_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Olympus'"):
        zone("Mars/Olympus")
