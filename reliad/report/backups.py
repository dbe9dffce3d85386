"""Backup figures of one month from the catalog (R6-R8) and its verification runs (R10c).

Per policy and backup type: slots the schedule had in the month, runs that served them
(succeeded, or skipped because a larger backup covered them), failed runs, late slots, the
worst age the newest restorable backup reached (the recovery point actually kept), bytes the
month's backups stored and how far the offsite copies lagged behind.

A slot is late when the next run serving it started more than its grace after it was due: a
tenth of the period (at least 5 minutes) plus the schedule's jitter. Interval schedules count
from the previous run (as the daemon does), cron schedules from their clock times. A type
never served before the month counts its slots from its first run.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from reliad.catalog import Catalog
from reliad.config import Config, PolicyConfig
from reliad.config.schedule import BACKUP_TYPES, COVERED_BY, Schedule, cron_trigger
from reliad.report.period import Month
from reliad.timeutil import iso, parse_iso

SERVED = ("ok", "partial", "pruned", "skipped")
SUCCEEDED = ("ok", "partial", "pruned")
MIN_GRACE_S = 300.0
MAX_SLOTS = 50_000  # a minutely cron line has 44,640 slots in a month


def grace(schedule: Schedule, period_s: float) -> float:
    """How long after its due time a slot may start before it counts as late."""
    return max(0.1 * period_s, MIN_GRACE_S) + schedule.jitter


def _t(text: str | None) -> dt.datetime | None:
    return parse_iso(text) if text else None


def _window(schedule: Schedule, start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """The part of [start, end) inside the schedule's own start and end dates."""
    lo = max(start, schedule.start) if schedule.start else start
    hi = min(end, schedule.end) if schedule.end else end
    return (lo, hi) if lo < hi else None


def cron_slots(schedule: Schedule, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Every fire time of a cron schedule in [start, end)."""
    assert schedule.cron is not None
    trig = cron_trigger(schedule.cron, schedule.tz())
    out: list[dt.datetime] = []
    t = trig.get_next_fire_time(None, start)
    while t is not None and t < end and len(out) < MAX_SLOTS:
        out.append(t)
        t = trig.get_next_fire_time(t, t + dt.timedelta(seconds=1))
    return out


def schedule_row(schedule: Schedule, served: list[dt.datetime], before: dt.datetime | None,
                 start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """Scheduled slots and late slots of one schedule over [start, end), from the start times of
    the runs that served it (`before`: the newest one before `start`)."""
    window = _window(schedule, start, end) if schedule.enabled else None
    first = next((t for t in served if t >= start), None)
    if window is not None and before is None:
        # never served before the month: its slots count from the first run (reliad was not yet
        # backing this up), and without any run there is nothing to judge
        window = (max(window[0], first), window[1]) if first is not None and first < window[1] else None
    if window is None:
        return {"scheduled": 0, "late": 0, "period_s": None}
    lo, hi = window
    if schedule.every is not None:
        period = schedule.every
        limit = grace(schedule, period)
        runs = [t for t in served if lo <= t < hi]
        prev = before or lo
        late = 0
        for t in [*runs, hi]:
            if (t - prev).total_seconds() > period + limit:
                late += 1
            prev = t
        return {"scheduled": int((hi - lo).total_seconds() // period), "late": late, "period_s": period}
    slots = cron_slots(schedule, lo, hi)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(slots)]
    period = max(gaps) if gaps else (hi - lo).total_seconds()
    limit = grace(schedule, min(gaps) if gaps else period)
    late = 0
    for slot in slots:
        first = next((t for t in served if t >= slot - dt.timedelta(seconds=limit)), None)
        due_by = slot + dt.timedelta(seconds=limit)
        if (first is None and due_by < hi) or (first is not None and first > due_by):
            late += 1
    return {"scheduled": len(slots), "late": late, "period_s": period}


def worst_age(finishes: list[dt.datetime], start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """The largest age the newest restorable backup reached in [start, end): just before each
    new one finished, and at the end. Without one before `start`, counting starts at the first."""
    before = [t for t in finishes if t < start]
    inside = [t for t in finishes if start <= t < end]
    if not before and not inside:
        return {"worst_age_s": None, "since": None}
    prev = before[-1] if before else inside[0]
    worst = 0.0
    for t in [*inside, end]:
        worst = max(worst, (t - prev).total_seconds())
        prev = max(prev, t)
    return {"worst_age_s": round(worst), "since": None if before else iso(inside[0])}


def _unique(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per backup id (a backup rebuilt from an offsite target has a row per target)."""
    seen: dict[str, dict[str, Any]] = {}
    for r in rows:
        seen.setdefault(r["id"], r)
    return list(seen.values())


def offsite_lag(config: Config, policy: PolicyConfig, done: list[dict[str, Any]], replication: list[dict[str, Any]],
                start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """Per offsite target: backups of the month copied, still pending at `end`, and the longest
    time one of them waited between finishing locally and being complete offsite."""
    state = {(r["backup_id"], r["target"]): r for r in replication}
    out = []
    for target in config.offsite_targets(policy):
        copied = pending = 0
        worst = 0.0
        for b in done:
            finished = _t(b["finished_at"])
            if finished is None or not start <= finished < end:
                continue
            r = state.get((b["id"], target.name))
            replicated = _t(r["replicated_at"]) if r and r["state"] == "replicated" else None
            if replicated is not None and replicated < end:
                copied += 1
                worst = max(worst, (replicated - finished).total_seconds())
            else:
                pending += 1
                worst = max(worst, (end - finished).total_seconds())
        out.append({"target": target.name, "copied": copied, "pending": pending,
                    "worst_lag_s": round(worst) if copied or pending else None})
    return out


def policy_rows(config: Config, policy: PolicyConfig, rows: list[dict[str, Any]], replication: list[dict[str, Any]],
                start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """One row per backup type of one policy."""
    rows = _unique(rows)
    done = [r for r in rows if r["status"] in SUCCEEDED]
    out = []
    for btype in BACKUP_TYPES:
        asked = [r for r in rows if (r["requested_type"] or r["type"]) == btype]
        month = [r for r in asked if start <= parse_iso(r["started_at"]) < end]
        served = sorted(parse_iso(r["started_at"]) for r in asked if r["status"] in SERVED)
        before = [t for t in served if t < start]
        sched = schedule_row(policy.schedules[btype], served, before[-1] if before else None, start, end) \
            if btype in policy.schedules else {"scheduled": 0, "late": 0, "period_s": None}
        covering = sorted(t for r in done if r["type"] in COVERED_BY[btype] and (t := _t(r["finished_at"])))
        stored = [r for r in rows if r["type"] == btype and r["status"] in SUCCEEDED
                  and start <= parse_iso(r["started_at"]) < end]
        out.append({
            "policy": policy.name, "type": btype,
            "schedule": policy.schedules[btype].describe() if btype in policy.schedules else "off",
            **sched,
            "succeeded": sum(r["status"] in SUCCEEDED for r in month),
            "covered": sum(r["status"] == "skipped" for r in month),
            "failed": sum(r["status"] == "failed" for r in month),
            **worst_age(covering, start, end),
            "bytes_stored": sum(int(r["bytes_stored"] or 0) for r in stored),
            "offsite": offsite_lag(config, policy, [r for r in done if r["type"] == btype], replication, start, end),
        })
    return out


def verification(catalog: Catalog, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """R10c: the month's verification runs by mode, what they re-read and the damage they found."""
    runs = catalog.verify_runs(iso(start), iso(end))
    modes: dict[str, dict[str, int]] = {}
    for r in runs:
        m = modes.setdefault(r["mode"], {"runs": 0, "backups": 0, "bytes": 0, "damaged_backups": 0, "damage_runs": 0})
        m["runs"] += 1
        m["backups"] += int(r["backups"])
        m["bytes"] += int(r["bytes_checked"] or 0)
        m["damaged_backups"] += int(r["damaged_backups"])
        m["damage_runs"] += int(r["damaged_backups"] > 0)
    return {"modes": [{"mode": k, **v} for k, v in sorted(modes.items())],
            "runs": len(runs),
            "backups": sum(m["backups"] for m in modes.values()),
            "bytes": sum(m["bytes"] for m in modes.values()),
            "damaged_backups": sum(m["damaged_backups"] for m in modes.values()),
            "damage": [{"at": r["finished_at"], "policy": r["policy"], "target": r["target"], "mode": r["mode"],
                        "damaged_backups": r["damaged_backups"]} for r in runs if r["damaged_backups"]]}


def gather(config: Config, catalog: Catalog, month: Month, now: dt.datetime) -> dict[str, Any]:
    """Every backup figure of the month (up to `now` for the month still running)."""
    start, end = month.start.astimezone(dt.UTC), min(month.end, now).astimezone(dt.UTC)
    replication = catalog.replication()
    rows: list[dict[str, Any]] = []
    attempts = 0
    for name in sorted(config.policies):
        policy = config.policies[name]
        prows = [r for r in catalog.backups(policy=name) if r["status"] != "running"]
        attempts += sum(r["status"] != "skipped" and start <= parse_iso(r["started_at"]) < end for r in prows)
        rows += policy_rows(config, policy, prows, replication, start, end)
    offline = [t.name for t in config.targets.values() if t.type == "offline"]
    return {"rows": rows, "attempts": attempts, "until": iso(end), "offline_targets": offline,
            "verification": verification(catalog, start, end)}
