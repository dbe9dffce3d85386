"""Pure logic: schedule parsing and arithmetic, retention selection."""

from __future__ import annotations

import datetime as dt

import pytest

from reliad.config.keys import parse_duration
from reliad.config.retention import Retention, parse_retention, select
from reliad.config.schedule import DEFAULTS, parse_entry, parse_schedules
from reliad.errors import ConfigError

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_defaults_are_the_standards_periods() -> None:
    s = parse_schedules("f.toml", "shop", None)
    assert s["incremental"].every == 2 * 3600  # R8
    assert s["full"].every == 12 * 3600
    assert s["differential"].every == 7 * 86400
    assert DEFAULTS["prune"] == "1d"


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("2h", 7200), ("1h30m", 5400), ("7d", 604800),
                                               ("1w", 604800), ("0.5m", 30)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_forms_of_an_entry() -> None:
    assert parse_entry("f", "k", "full", "12h").every == 43200
    assert parse_entry("f", "k", "full", "0 */2 * * *").cron == "0 */2 * * *"
    assert not parse_entry("f", "k", "full", "off").enabled
    e = parse_entry("f", "k", "full", {"every": "12h", "start": "2026-01-01", "end": dt.date(2027, 1, 1),
                                       "jitter": "5m", "timezone": "UTC"})
    assert e.start == dt.datetime(2026, 1, 1, tzinfo=e.start.tzinfo) and e.end.year == 2027 and e.jitter == 300


@pytest.mark.parametrize(("raw", "needle"), [
    ("2 hours", "is not a schedule"),
    ({"cron": "0 */2 * *"}, "is not a cron expression"),
    ({"cron": "0 25 * * *"}, "is not a cron expression"),
    ({"every": "2x"}, "must be a duration"),
    ({"every": "1h", "cron": "0 * * * *"}, "exactly one of"),
    ({"every": "1h", "jitter": "2h"}, "must be shorter than the interval"),
    ({"every": "1h", "start": "2027-01-01", "end": "2026-01-01"}, "must come after"),
    ({"every": "1h", "start": "next week"}, "must be a date"),
    ({"every": "1h", "timezone": "Mars/Olympus"}, "not a known time zone"),
    ({"evry": "1h"}, "did you mean 'every'"),
    (12, "must be"),
])
def test_bad_entries_name_the_key(raw: object, needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_entry("shop.toml", "policies.shop.schedule.full", "full", raw)
    assert needle in str(e.value) and "shop.toml" in str(e.value) and "policies.shop.schedule.full" in str(e.value)


def test_unknown_type_is_refused_with_suggestion() -> None:
    with pytest.raises(ConfigError, match="did you mean 'incremental'"):
        parse_schedules("f", "shop", {"incremnetal": "2h"})


def test_interval_counts_from_last_served_and_catches_up_once() -> None:
    s = parse_entry("f", "k", "incremental", "2h")
    assert s.next_after(None, T0) == T0  # never ran: due now
    assert s.next_after(T0, T0 + dt.timedelta(hours=1)) == T0 + dt.timedelta(hours=2)
    late = T0 + dt.timedelta(hours=7)
    assert s.next_after(T0, late) < late and s.missed_slots(T0, late) == 3  # reported, run once
    assert s.missed_slots(T0, T0 + dt.timedelta(hours=1)) == 0


def test_dates_bound_a_schedule() -> None:
    s = parse_entry("f", "k", "full", {"every": "12h", "start": "2026-04-01T00:00Z", "end": "2026-05-01T00:00Z"})
    assert s.state(T0) == "not started" and s.next_after(None, T0) == dt.datetime(2026, 4, 1, tzinfo=UTC)
    assert s.state(dt.datetime(2026, 4, 2, tzinfo=UTC)) == "active"
    after = dt.datetime(2026, 5, 2, tzinfo=UTC)
    assert s.state(after) == "ended"
    assert s.next_after(dt.datetime(2026, 4, 30, 20, tzinfo=UTC), after) is None  # next slot is past the end


def test_cron_weekday_numbers_are_crontabs() -> None:
    s = parse_entry("f", "k", "differential", {"cron": "0 3 * * 0", "timezone": "UTC"})  # Sunday
    nxt = s.next_after(T0, T0)  # 2026-03-01 is a Sunday, 12:00
    assert nxt == dt.datetime(2026, 3, 8, 3, 0, tzinfo=UTC) and nxt.weekday() == 6
    assert s.missed_slots(T0 - dt.timedelta(days=15), T0) == 3  # Feb 15, Feb 22, Mar 1
    assert s.period(T0) == 7 * 86400


def _h(i: str, btype: str, day: int, deps: list[str] | None = None) -> dict:
    return {"id": f"202603{day:02d}T000000.000000Z-{i}", "type": btype,
            "started_at": f"2026-03-{day:02d}T00:00:00Z", "depends_on": deps or []}


def test_retention_keeps_dependencies_of_kept_backups() -> None:
    full1 = _h("f1", "full", 1)
    inc1 = _h("i1", "incremental", 2, [full1["id"]])
    full2 = _h("f2", "full", 3)
    diff2 = _h("d2", "differential", 4, [full2["id"]])
    inc2 = _h("i2", "incremental", 5, [full2["id"], diff2["id"]])
    hs = [full1, inc1, full2, diff2, inc2]
    now = dt.datetime(2026, 3, 6, tzinfo=UTC)
    keep = select(hs, Retention({"keep_last": 1}), now)
    assert set(keep) == {inc2["id"], diff2["id"], full2["id"]}  # inc2 points into diff2 and full2
    assert "depends on it" in keep[full2["id"]]
    assert set(select(hs, Retention({"keep_fulls": 2}), now)) == {h["id"] for h in hs}
    assert set(select(hs, Retention({"keep_fulls": 1}), now)) == {full2["id"], diff2["id"], inc2["id"]}
    assert set(select(hs, Retention({"keep_days": 2}), now)) == {inc2["id"], diff2["id"], full2["id"]}
    assert set(select(hs, Retention({"keep_daily": 2}), now)) == {inc2["id"], diff2["id"], full2["id"]}
    assert set(select(hs, Retention(), now)) == {h["id"] for h in hs}  # no rules: keep everything
    # an incremental that points into an otherwise expired full keeps it
    assert set(select([full1, inc1], Retention({"keep_last": 1}), now)) == {full1["id"], inc1["id"]}


def test_retention_keys_are_checked() -> None:
    with pytest.raises(ConfigError, match="did you mean 'keep_fulls'"):
        parse_retention("f", "shop", {"keep_full": 3})
    with pytest.raises(ConfigError, match="must be an integer"):
        parse_retention("f", "shop", {"keep_fulls": "3"})
    with pytest.raises(ConfigError, match="keeps nothing"):
        parse_retention("f", "shop", {"keep_fulls": 0})
