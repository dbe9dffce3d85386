"""Incidents from rounds: opened after N failures in a row with the first failure as start,
restored at the first of M good rounds, kept across a restart, none for planned work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from reliad.ledger.store import Ledger
from reliad.ledger.tracker import Round, Tracker

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def feed(tracker: Tracker, pattern: str, start: int = 0, maintenance: str = "") -> list[str | None]:
    """One round per second from T0+start: '+' passes, '-' fails; 'm' in `maintenance` marks planned."""
    out = []
    for i, c in enumerate(pattern):
        r = Round(service="web", at=T0 + timedelta(seconds=start + i), ok=c == "+", duration_s=0.1,
                  probe=None if c == "+" else "http", error=None if c == "+" else f"refused {i}", cls="software",
                  maintenance=maintenance[i:i + 1] == "m")
        out.append(tracker.observe(r))
    return out


def test_threshold_start_and_restoration(tmp_path: Path) -> None:
    with Ledger(tmp_path) as led:
        t = Tracker(led)
        t.configure("web", failures_to_open=3, successes_to_close=2)
        assert feed(t, "+--+---+-++") == [None, None, None, None, None, None, "opened", None, None, None, "restored"]
        (inc,) = led.incidents()
        # first failure of the streak that opened it (round 4), detected at round 6, restored at round 9
        assert (inc["start"], inc["detected_at"], inc["restored_at"]) == (
            "2026-03-01T10:00:04Z", "2026-03-01T10:00:06Z", "2026-03-01T10:00:09Z")
        assert (inc["class"], inc["probe"], inc["error"], inc["origin"]) == ("software", "http", "refused 8", "probe")


def test_an_outage_across_a_restart_stays_one_incident(tmp_path: Path) -> None:
    with Ledger(tmp_path) as led:
        t = Tracker(led)
        t.configure("web", 2, 2)
        assert feed(t, "--") == [None, "opened"]
    with Ledger(tmp_path) as led:
        t = Tracker(led)
        t.configure("web", 2, 2)
        assert feed(t, "--++", start=100) == [None, None, None, "restored"]
        (inc,) = led.incidents()
        assert (inc["start"], inc["restored_at"]) == ("2026-03-01T10:00:00Z", "2026-03-01T10:01:42Z")


def test_failures_inside_maintenance_open_nothing(tmp_path: Path) -> None:
    with Ledger(tmp_path) as led:
        t = Tracker(led)
        t.configure("web", 2, 1)
        assert feed(t, "-----+", maintenance="mmmmm ") == [None] * 6
        assert led.incidents() == []
        # the streak counts from the window's end
        assert feed(t, "--", start=10, maintenance="m ") == [None, None]
        assert feed(t, "-", start=12) == ["opened"]
        assert led.incidents()[0]["start"] == "2026-03-01T10:00:11Z"
