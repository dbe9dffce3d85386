"""Schedules: when each backup type of a policy runs (R8) and between which dates (R10b).

A policy's `[policies.NAME.schedule]` table has one entry per job type. Each entry is
    "12h"                     an interval (s, m, h, d, w; combined like "1h30m")
    "0 */2 * * *"             a five-field cron expression
    "off"                     never
    { every = "12h" | cron = "0 3 * * *", start = DATE, end = DATE, jitter = "5m", timezone = "Europe/Berlin" }
A type left out gets the standard's default (R8): incremental every 2 h, full every 12 h,
differential every 7 d; prune runs daily. Outside [start, end) a schedule does not fire.

This module only parses and answers questions about time ("is it active", "when next",
"was a slot missed since the last run"); the daemon turns schedules into APScheduler jobs.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reliad.config.keys import check_keys, format_duration, parse_duration, suggest
from reliad.errors import ConfigError

BACKUP_TYPES = ("full", "differential", "incremental")
JOB_TYPES = (*BACKUP_TYPES, "prune", "verify_fast", "verify_crc")
# Verification of a policy's backups in each of its targets, in a mode (jobs/verify.py).
VERIFY_TYPES = {"verify_fast": "fast", "verify_crc": "crc"}
# Which successful backups renew the recovery point a type's schedule promises: a full
# captures everything, so it also renews the differential and incremental clocks.
COVERED_BY = {"full": ("full",), "differential": ("full", "differential"),
              "incremental": ("full", "differential", "incremental")}
# R8: the standard's recommended periods; prune and verification are ours (every object's
# size checked daily, stored bytes read back weekly, a slice at a time: docs/INSTALL.md).
DEFAULTS = {"incremental": "2h", "full": "12h", "differential": "7d", "prune": "1d", "verify_fast": "1d",
            "verify_crc": "7d"}
ENTRY_KEYS = ("every", "cron", "start", "end", "jitter", "timezone")
FORMS = ('a duration like "2h" or "1h30m", a cron expression like "0 */2 * * *", "off", '
         'or a table { every = "12h" | cron = "...", start = "2026-01-01", end = "2027-01-01", jitter = "5m" }')


@dataclass(frozen=True)
class Schedule:
    """When one job type of one policy runs. `every` xor `cron`; None for both means off."""

    type: str
    every: float | None = None
    cron: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    jitter: float = 0.0
    timezone: str | None = None
    text: str = ""

    @property
    def enabled(self) -> bool:
        return self.every is not None or self.cron is not None

    def tz(self) -> dt.tzinfo:
        if self.timezone:
            return ZoneInfo(self.timezone)
        import tzlocal

        return tzlocal.get_localzone()

    def state(self, now: dt.datetime) -> str:
        """'active', 'off', 'not started' (before start) or 'ended' (at or after end)."""
        if not self.enabled:
            return "off"
        if self.start and now < self.start:
            return "not started"
        if self.end and now >= self.end:
            return "ended"
        return "active"

    def cron_trigger(self) -> Any:
        assert self.cron is not None
        return cron_trigger(self.cron, self.tz(), self.start, self.end, self.jitter)

    def trigger(self, first: dt.datetime) -> Any:
        """The APScheduler trigger that fires this schedule from `first` on (intervals count
        from `first`; cron keeps to its clock times)."""
        if self.every is None:
            return self.cron_trigger()
        from apscheduler.triggers.interval import IntervalTrigger

        return IntervalTrigger(seconds=self.every, start_date=first, end_date=self.end,
                               jitter=self.jitter or None, timezone=dt.UTC)

    def next_after(self, last: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
        """The first slot after `last` (the newest run that covers this type) that lies inside
        the schedule's dates; a slot at or before `now` means the type is overdue. An interval
        counts from the last run, so a restarted service keeps the rhythm the catalog shows."""
        if not self.enabled:
            return None
        if self.every is not None:
            t = now if last is None else last + dt.timedelta(seconds=self.every)
            if self.start and t < self.start:
                t = self.start
        else:
            after = last or (self.start or now - dt.timedelta(days=366))
            t = self.cron_trigger().get_next_fire_time(None, max(after, self.start or after))
            if t is None:
                return None
            if last is not None and t <= last:  # get_next_fire_time may return `after` itself
                t = self.cron_trigger().get_next_fire_time(None, last + dt.timedelta(seconds=1))
        if t is None or (self.end and t >= self.end):
            return None
        return t.astimezone(dt.UTC)

    def missed_slots(self, last: dt.datetime | None, now: dt.datetime) -> int:
        """How many slots passed since `last` (for the log line that says a catch-up run
        replaces them; it never runs more than once)."""
        first = self.next_after(last, now)
        if first is None or first > now:
            return 0
        if last is None:
            return 1
        if self.every is not None:
            end = min(now, self.end) if self.end else now
            return max(1, int((end - first).total_seconds() // self.every) + 1)
        n, t, trig = 0, first, self.cron_trigger()
        while t is not None and t <= now and n < 1000:
            n += 1
            t = trig.get_next_fire_time(None, t + dt.timedelta(seconds=1))
        return n

    def period(self, now: dt.datetime) -> float | None:
        """Seconds between two consecutive slots (for cron, the two after `now`)."""
        if self.every is not None:
            return self.every
        if self.cron is None:
            return None
        trig = cron_trigger(self.cron, self.tz())
        a = trig.get_next_fire_time(None, now)
        b = trig.get_next_fire_time(a, a + dt.timedelta(seconds=1)) if a else None
        return (b - a).total_seconds() if a and b else None

    def describe(self) -> str:
        if not self.enabled:
            return "off"
        every = f"every {self.text or format_duration(self.every or 0)}"
        what = every if self.every is not None else f"cron {self.cron!r}"
        if self.jitter:
            what += f" ±{format_duration(self.jitter)}"
        if self.start:
            what += f" from {_shown(self.start)}"
        if self.end:
            what += f" until {_shown(self.end)}"
        return what


def _shown(t: dt.datetime) -> str:
    return t.date().isoformat() if (t.hour, t.minute, t.second) == (0, 0, 0) else t.isoformat(timespec="minutes")


def _date(file: Any, key: str, value: Any, tz: dt.tzinfo) -> dt.datetime:
    """TOML dates and datetimes, or strings in ISO form; naive ones are in the schedule's zone."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f'{file}: {key} must be a date like "2026-01-01" or "2026-01-01T08:00", '
                              f"not {value!r}") from None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=tz)
    raise ConfigError(f'{file}: {key} must be a date like "2026-01-01", not {value!r}')


def _duration(file: Any, key: str, value: Any) -> float:
    try:
        return parse_duration(value)
    except ValueError:
        raise ConfigError(f'{file}: {key} must be a duration like "90s", "5m", "2h" or "7d", '
                          f"not {value!r}") from None


_DOW = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def cron_trigger(expr: str, tz: dt.tzinfo, start: dt.datetime | None = None, end: dt.datetime | None = None,
                 jitter: float = 0.0) -> Any:
    """An APScheduler CronTrigger for a crontab line. APScheduler 3 numbers weekdays from
    Monday = 0; crontab from Sunday = 0 (and 7), so numbers in the weekday field become names."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields, got {len(fields)}")
    minute, hour, day, month, dow = fields
    dow = re.sub(r"(?<![/\d])([0-7])(?!\d)", lambda m: _DOW[int(m.group(1))], dow)
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=dow, timezone=tz,
                       start_date=start, end_date=end, jitter=jitter or None)


def _check_cron(file: Any, key: str, expr: str, tz: dt.tzinfo) -> None:
    try:
        cron_trigger(expr, tz)
    except ValueError as e:
        raise ConfigError(f'{file}: {key} {expr!r} is not a cron expression ({e}); use five fields '
                          'minute hour day month weekday, like "0 */2 * * *"') from None


def parse_entry(file: Any, key: str, jtype: str, raw: Any, check_cron: bool = True) -> Schedule:
    """One schedule entry in any of its forms; errors name the file and the key.

    `check_cron=False` is for reliad's own default cron lines (tests/test_cli_startup.py
    builds their triggers): checking one imports APScheduler's cron trigger and asyncio, 20-40 ms
    that every command paid at start for a constant."""

    if isinstance(raw, str):
        text = raw.strip()
        if text.lower() == "off":
            return Schedule(jtype, text="off")
        if len(text.split()) == 5:
            raw = {"cron": text}
        else:
            try:
                raw = {"every": text}
                parse_duration(text)
            except ValueError:
                raise ConfigError(f"{file}: {key} = {text!r} is not a schedule; use {FORMS}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: {key} must be {FORMS}; not {raw!r}")
    check_keys(file, f"{key}.", raw, {"every": str, "cron": str, "start": (str, dt.date), "end": (str, dt.date),
                                      "jitter": str, "timezone": str})
    if ("every" in raw) == ("cron" in raw):
        raise ConfigError(f'{file}: {key} needs exactly one of every = "12h" or cron = "0 */12 * * *"')
    tzname = raw.get("timezone")
    try:
        # The host's zone is looked up only when something is read in it (cron, naive dates).
        needs_tz = tzname or "cron" in raw or "start" in raw or "end" in raw
        tz: dt.tzinfo = (ZoneInfo(tzname) if tzname else Schedule(jtype).tz()) if needs_tz else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f'{file}: {key}.timezone {tzname!r} is not a known time zone; use a name like '
                          '"UTC" or "Europe/Berlin"') from None
    every = None
    if "every" in raw:
        every = _duration(file, f"{key}.every", raw["every"])
        if every < 1:
            raise ConfigError(f"{file}: {key}.every must be at least 1s, not {raw['every']!r}")
    elif check_cron:
        _check_cron(file, f"{key}.cron", raw["cron"], tz)
    start = _date(file, f"{key}.start", raw["start"], tz) if "start" in raw else None
    end = _date(file, f"{key}.end", raw["end"], tz) if "end" in raw else None
    if start and end and end <= start:
        raise ConfigError(f"{file}: {key}.end ({end.date()}) must come after {key}.start ({start.date()})")
    jitter = _duration(file, f"{key}.jitter", raw["jitter"]) if "jitter" in raw else 0.0
    if every is not None and jitter >= every:
        raise ConfigError(f"{file}: {key}.jitter ({raw['jitter']}) must be shorter than the interval "
                          f"({raw['every']})")
    text = raw.get("every") or raw.get("cron") or ""
    return Schedule(jtype, every=every, cron=raw.get("cron"), start=start, end=end, jitter=jitter,
                    timezone=tzname, text=text)


def parse_schedules(file: Any, policy: str, raw: Any) -> dict[str, Schedule]:
    """The schedule table of a policy, with the defaults filled in for types it leaves out."""

    where = f"policies.{policy}.schedule"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: [{where}] must be a table with keys {', '.join(JOB_TYPES)}")
    for k in raw:
        if k not in JOB_TYPES:
            raise ConfigError(f"{file}: unknown key {where}.{k!r}{suggest(k, JOB_TYPES)}; "
                              f"allowed here: {', '.join(JOB_TYPES)}")
    return {t: parse_entry(file, f"{where}.{t}", t, raw.get(t, DEFAULTS[t])) for t in JOB_TYPES}
