"""Retention: which backups of a policy to keep, as a pure function of their headers.

`[policies.NAME.retention]` keys (all optional; a backup is kept when ANY rule keeps it):
    keep_last = N       the newest N backups of any type
    keep_fulls = N      the newest N full backups, and every backup taken after the oldest of them
    keep_days = N       every backup started in the last N days
    keep_daily = N      the newest backup of each of the last N days that have one
    keep_weekly = N     ... of each of the last N ISO weeks
    keep_monthly = N    ... of each of the last N months
Whatever the rules say, the newest backup of the policy is kept, and so is every backup a kept
one depends on (its header's `depends_on`): a kept incremental or differential always
restores. A policy without a retention table keeps everything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from reliad.config.keys import check_keys
from reliad.errors import ConfigError
from reliad.timeutil import parse_iso

KEYS = ("keep_last", "keep_fulls", "keep_days", "keep_daily", "keep_weekly", "keep_monthly")


@dataclass(frozen=True)
class Retention:
    rules: dict[str, int] = field(default_factory=dict)

    @property
    def keeps_everything(self) -> bool:
        return not self.rules


def parse_retention(file: Any, policy: str, raw: Any) -> Retention:

    where = f"policies.{policy}.retention"
    if raw is None:
        return Retention()
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: [{where}] must be a table with keys {', '.join(KEYS)}")
    check_keys(file, f"{where}.", raw, dict.fromkeys(KEYS, int))
    for k, v in raw.items():
        if v < 0:
            raise ConfigError(f"{file}: {where}.{k} must be 0 or more, not {v}")
    if raw and not any(raw.values()):
        raise ConfigError(f"{file}: [{where}] keeps nothing but the newest backup; remove the table to keep "
                          "everything, or set one rule above 0")
    return Retention(dict(raw))


def _bucket(ts: dt.datetime, rule: str) -> tuple[int, ...]:
    if rule == "keep_daily":
        return (ts.year, ts.month, ts.day)
    if rule == "keep_weekly":
        iso = ts.isocalendar()
        return (iso.year, iso.week)
    return (ts.year, ts.month)


def select(headers: list[dict[str, Any]], retention: Retention, now: dt.datetime) -> dict[str, str]:
    """Map each backup id to keep to the reason it is kept. `headers` are one policy's
    committed backups in any order; ids not in the result expire."""
    ordered = sorted(headers, key=lambda h: h["id"], reverse=True)  # newest first
    if not ordered:
        return {}
    if retention.keeps_everything:
        return {h["id"]: "no retention rules" for h in ordered}
    keep: dict[str, str] = {ordered[0]["id"]: "newest backup"}
    rules = retention.rules
    for h in ordered[: rules.get("keep_last", 0)]:
        keep.setdefault(h["id"], f"keep_last = {rules['keep_last']}")
    if rules.get("keep_fulls"):
        fulls = [h for h in ordered if h["type"] == "full"][: rules["keep_fulls"]]
        if fulls:
            oldest = fulls[-1]["id"]
            for h in ordered:
                if h["id"] >= oldest:
                    keep.setdefault(h["id"], f"keep_fulls = {rules['keep_fulls']}")
    if rules.get("keep_days"):
        limit = now - dt.timedelta(days=rules["keep_days"])
        for h in ordered:
            if parse_iso(h["started_at"]) >= limit:
                keep.setdefault(h["id"], f"keep_days = {rules['keep_days']}")
    for rule in ("keep_daily", "keep_weekly", "keep_monthly"):
        n = rules.get(rule, 0)
        seen: set[tuple[int, ...]] = set()
        for h in ordered:
            if len(seen) >= n:
                break
            b = _bucket(parse_iso(h["started_at"]), rule)
            if b not in seen:
                seen.add(b)
                keep.setdefault(h["id"], f"{rule} = {n}")
    # Close over dependencies: a kept backup must restore.
    by_id = {h["id"]: h for h in ordered}
    todo = list(keep)
    while todo:
        bid = todo.pop()
        for dep in by_id.get(bid, {}).get("depends_on", []):
            if dep not in keep:
                keep[dep] = f"a kept backup ({bid}) depends on it"
                todo.append(dep)
    return keep
