"""Every ledger figure of a period, with targets and verdicts: what `reliad stats --json` prints
and what the monthly report renders (it never recomputes a figure). The shape is documented in
docs/RELIABILITY.md ("The stats JSON") and kept stable: new keys may be added, none renamed.

This module gathers inputs (ledger rows, the catalog's job counts, the configured services and
their recurring maintenance) and hands them to the pure functions of `figures`.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from reliad.catalog import Catalog
from reliad.config import Config
from reliad.config.services import ServiceConfig
from reliad.errors import ConfigError
from reliad.ledger import figures as fig
from reliad.ledger.store import Ledger
from reliad.timeutil import iso, parse_iso, utcnow

STATS_VERSION = 1
MTBF_WINDOW = timedelta(days=365)
DEFAULT_OBJECTIVE = 0.999
CLASSES = ("software", "hardware")


def parse_period(text: str, now: datetime) -> tuple[datetime, datetime, str]:
    """[start, end) and a label for "30d" (the last 30 days up to now), "YYYY-MM" or "YYYY"."""
    if m := re.fullmatch(r"(\d+)d", text):
        days = int(m.group(1))
        if days < 1:
            raise ConfigError("--period 0d is empty; give at least 1d")
        return now - timedelta(days=days), now, text
    if m := re.fullmatch(r"(\d{4})-(\d{2})", text):
        y, mo = int(m.group(1)), int(m.group(2))
        if 1 <= mo <= 12:
            start = datetime(y, mo, 1, tzinfo=UTC)
            return start, start + timedelta(days=calendar.monthrange(y, mo)[1]), text
    if re.fullmatch(r"\d{4}", text):
        y = int(text)
        return datetime(y, 1, 1, tzinfo=UTC), datetime(y + 1, 1, 1, tzinfo=UTC), text
    raise ConfigError(f"--period {text!r} is not a period; use 30d (the last 30 days), 2026-03 (a month) "
                      "or 2026 (a year)")


def _ts(value: str | None) -> float | None:
    return None if value is None else parse_iso(value).timestamp()


def _day_bounds(start: datetime, end: datetime) -> list[tuple[str, datetime, datetime]]:
    """Each day of [start, end) in the period's own time zone (a report's month is local), as
    (date, its first instant, the next day's first instant)."""
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    while day < end:
        nxt = day + timedelta(days=1)  # wall-clock arithmetic: the next local midnight, DST or not
        out.append((day.strftime("%Y-%m-%d"), day, nxt))
        day = nxt
    return out


def _days(start: datetime, end: datetime) -> list[str]:
    return [label for label, _, _ in _day_bounds(start, end)]


def _recurring(service_cfg: ServiceConfig | None, start: datetime, end: datetime) -> list[tuple[float, float, str]]:
    """The configured recurring maintenance windows of a service that overlap [start, end)."""
    out = []
    for w in service_cfg.maintenance if service_cfg is not None else ():
        for s in w.starts(start - timedelta(seconds=w.duration), end):
            out.append((s.timestamp(), s.timestamp() + w.duration, w.reason))
    return out


class _Inputs:
    """The ledger rows of one service, read once, as intervals in epoch seconds."""

    def __init__(self, ledger: Ledger, config: Config, name: str, start: datetime, end: datetime, as_of: float) -> None:
        cfg = config.services.get(name)
        self.objective = cfg.objective if cfg is not None else DEFAULT_OBJECTIVE
        self.incidents = [
            {"id": i["id"], "service": name, "class": i["class"], "origin": i["origin"], "probe": i["probe"],
             "error": i["error"], "cause": i["cause"], "start": _ts(i["start"]), "restored_at": _ts(i["restored_at"])}
            for i in ledger.incidents(service=name, since=start, until=end)]
        self.down = [(i["start"], i["restored_at"] if i["restored_at"] is not None else as_of) for i in self.incidents]
        operator = [d for d, i in zip(self.down, self.incidents, strict=True) if i["origin"] == "operator"]
        self.measured = [(_ts(c["start"]), _ts(c["end"])) for c in ledger.coverage(name, start, end)] + operator
        planned = [(_ts(m["start"]), _ts(m["end"]), m["reason"]) for m in ledger.maintenance(name, start, end)]
        self.windows = planned + _recurring(cfg, start, end)
        self.maintenance = [(s, e) for s, e, _ in self.windows]

    def availability(self, period: fig.Interval) -> dict[str, Any]:
        return fig.availability(period=period, measured=self.measured, down=self.down,  # type: ignore[arg-type]
                                maintenance=self.maintenance, objective=self.objective)


def _service_names(ledger: Ledger, config: Config, service: str | None) -> list[str]:
    names = set(config.services) | ledger.service_names()
    if service is not None:
        if service not in names:
            raise ConfigError(f"no service {service!r} in the configuration or the ledger; "
                              f"known: {', '.join(sorted(names)) or 'none'}")
        return [service]
    return sorted(names)


def _iso(ts: float | None) -> str | None:
    return None if ts is None else iso(datetime.fromtimestamp(ts, UTC))


def _shown(incident: dict[str, Any]) -> dict[str, Any]:
    """An incident of the MTRS lists with ISO times again."""
    out = dict(incident)
    out["start"], out["restored_at"] = _iso(incident["start"]), _iso(incident["restored_at"])
    return out


def compute(ledger: Ledger, config: Config, start: datetime, end: datetime, service: str | None = None,
            now: datetime | None = None) -> dict[str, Any]:
    """Every figure of [start, end) (MTBF over the 12 months up to `end`), for one service or all.
    A period that has not ended yet is taken up to `now`: the future is not unmeasured time."""
    now = now or utcnow()
    if end > now:
        end = max(now, start)
    as_of = end.timestamp()
    period = (start.timestamp(), end.timestamp())
    names = _service_names(ledger, config, service)
    w_start = end - MTBF_WINDOW
    per = {n: _Inputs(ledger, config, n, start, end, as_of) for n in names}
    year = {n: _Inputs(ledger, config, n, w_start, end, as_of) for n in names}

    services = []
    for n in names:
        a = per[n].availability(period)
        a["maintenance"] = [{"start": _iso(s), "end": _iso(e), "reason": r} for s, e, r in per[n].windows]
        services.append({"service": n, **a})
    availability = {"requirement": "R1", "services": services, "verdict": fig.worst(s["verdict"] for s in services)}

    mtbf = _mtbf(year, (w_start.timestamp(), end.timestamp()))
    mtbf["window"] = {"start": iso(w_start), "end": iso(end)}

    enough = bool(services) and all(s["coverage"] is not None and s["coverage"] >= fig.MIN_COVERAGE for s in services)
    mtrs: dict[str, Any] = {}
    for cls in CLASSES:
        incs = [i for n in names for i in per[n].incidents if i["class"] == cls]
        m = fig.mtrs(incidents=incs, period=period, as_of=as_of, target_s=fig.MTRS_TARGETS_S[cls], enough_data=enough)
        m["incidents"] = [_shown(i) for i in m["incidents"]]
        m["open"] = [_shown(i) for i in m["open"]]
        mtrs[cls] = {"requirement": fig.MTRS_REQUIREMENTS[cls], **m}

    daily = fig.daily_failure_rate(_daily_checks(ledger, config, start, end, service), _days(start, end))
    daily["requirement"] = "R5"

    minutes = int((min(now, end) - start).total_seconds() // 60)
    util = fig.utilisation(ledger.utilisation(start, end), expected_samples=max(minutes, 0))
    util["requirement"] = "R1"

    runs = [(_ts(r["started_at"]), _ts(r["seen_at"])) for r in ledger.runs(start, end)]
    span = period[1] - period[0]
    coverage = fig.total(fig.intersect(runs, [period])) / span if span > 0 else None  # type: ignore[arg-type]

    parts = [availability["verdict"], mtbf["verdict"], *(m["verdict"] for m in mtrs.values()), daily["verdict"],
             util["verdict"]]
    return {"version": STATS_VERSION, "generated_at": iso(now),
            "period": {"start": iso(start), "end": iso(end), "seconds": period[1] - period[0]},
            "service": service, "coverage": coverage, "availability": availability, "mtbf": mtbf, "mtrs": mtrs,
            "daily_failure_rate": daily, "utilisation": util, "verdict": fig.worst(parts)}


def _mtbf(year: dict[str, _Inputs], window: fig.Interval) -> dict[str, Any]:
    """MTBF per service (its own up time and incidents) and for the platform: the time every
    watched service was measured outside maintenance, less the time any was down, over all
    incidents started in the window."""
    rows, measured_all, down_all, failures_all = [], [], [], 0
    for n, inp in year.items():
        a = inp.availability(window)
        failures = sum(1 for i in inp.incidents if window[0] <= i["start"] < window[1])
        rows.append({"service": n, **fig.mtbf(operating_s=a["up_s"], failures=failures)})
        net = fig.subtract(fig.intersect(inp.measured, [window]), inp.maintenance)  # type: ignore[arg-type]
        measured_all += net
        down_all += fig.intersect(inp.down, net)  # type: ignore[arg-type]
        failures_all += failures
    operating = fig.total(measured_all) - fig.total(fig.intersect(down_all, fig.union(measured_all)))
    platform = fig.mtbf(operating_s=operating, failures=failures_all)
    return {"requirement": "R2", "platform": platform, "services": rows,
            "verdict": fig.worst([platform["verdict"], *(r["verdict"] for r in rows)])}


def _daily_checks(ledger: Ledger, config: Config, start: datetime, end: datetime,
                  service: str | None) -> dict[str, tuple[int, int]]:
    """Probe rounds from the ledger plus, for the whole platform, reliad's own backup, verify,
    replication and prune jobs from the catalog, per day of the period's own time zone: each
    local day is asked for by its bounds, so a check near midnight counts on the day the
    reader's calendar shows, not on its UTC date."""
    catalog = Catalog(config.state_dir) if service is None and (config.state_dir / "catalog.db").exists() else None
    days: dict[str, tuple[int, int]] = {}
    try:
        for label, d0, d1 in _day_bounds(start, end):
            counts = list(ledger.daily_checks(d0, d1, service).values())
            if catalog is not None:
                counts += catalog.daily_checks(iso(d0), iso(d1)).values()
            if counts:
                days[label] = (sum(c for c, _ in counts), sum(f for _, f in counts))
    finally:
        if catalog is not None:
            catalog.close()
    return days


def verdict_exit_code(stats: dict[str, Any]) -> int:
    """0 when the period passes, 3 when a figure failed its target, 1 when it could not be judged."""
    return {fig.PASS: 0, fig.FAIL: 3}.get(stats["verdict"], 1)
