"""The calendar month a report covers, in the report's time zone, as UTC bounds."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reliad.errors import ConfigError

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def zone(name: str | None) -> dt.tzinfo:
    """The named IANA zone, or the host's own when none is configured."""
    if not name:
        import tzlocal

        return tzlocal.get_localzone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name!r}; use an IANA name like 'Asia/Shanghai' or 'UTC'") from None


@dataclass(frozen=True)
class Month:
    """One calendar month; `start` and `end` are its local midnights as aware datetimes."""

    year: int
    month: int
    tz: dt.tzinfo

    @classmethod
    def parse(cls, text: str, tz: dt.tzinfo) -> Month:
        m = MONTH_RE.match(text or "")
        if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1970:
            raise ConfigError(f"--month {text!r} is not a month; write it as YYYY-MM, e.g. 2026-11")
        return cls(int(m.group(1)), int(m.group(2)), tz)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def tz_name(self) -> str:
        return str(getattr(self.tz, "key", None) or self.tz)

    @property
    def start(self) -> dt.datetime:
        return dt.datetime(self.year, self.month, 1, tzinfo=self.tz)

    @property
    def end(self) -> dt.datetime:
        return self.shifted(1).start

    def shifted(self, months: int) -> Month:
        """The month `months` later (negative: earlier)."""
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1, self.tz)

    def days(self) -> list[tuple[dt.date, dt.datetime, dt.datetime]]:
        """(date, local start, local end) of each day; a day across a DST change is 23 or 25 h."""
        out, day = [], self.start.date()
        while day < self.end.date():
            nxt = day + dt.timedelta(days=1)
            out.append((day, dt.datetime.combine(day, dt.time(), self.tz), dt.datetime.combine(nxt, dt.time(), self.tz)))
            day = nxt
        return out

    def trailing(self, count: int) -> list[Month]:
        """The `count` months ending with this one, oldest first."""
        return [self.shifted(-i) for i in range(count - 1, -1, -1)]


def previous_month(now: dt.datetime, tz: dt.tzinfo) -> Month:
    """The month before the one `now` falls in, in `tz` (what the daemon reports on the 1st)."""
    local = now.astimezone(tz)
    return Month(local.year, local.month, tz).shifted(-1)
