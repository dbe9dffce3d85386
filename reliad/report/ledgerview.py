"""The ledger's figures for the report, taken from `reliad.ledger.stats.compute` (what
`reliad stats --json` prints, its shape in docs/RELIABILITY.md) and never recomputed here: this
module only picks them out. `now` is capped at the period's end, so a finished month's figures
(their `generated_at` included) are the same whenever the report is made.

`compute` is passed in so that the report can be built from any period function with that
signature (the fleet report reads the summaries hosts left in the bucket instead).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from reliad.report.period import Month

Compute = Callable[..., dict[str, Any]]
TREND_MONTHS = 12


def default_compute() -> Compute:
    """`reliad.ledger.stats.compute`, imported when a report is made (the ledger wing is optional
    for the rest of reliad)."""
    from reliad.ledger.stats import compute

    return compute


def month_figures(compute: Compute, ledger: Any, config: Any, month: Month, now: dt.datetime) -> dict[str, Any]:
    """Every ledger figure of the month, as `reliad stats --period YYYY-MM --json` gives it."""
    return compute(ledger, config, month.start, min(month.end, now), now=min(month.end, now))


def daily_availability(compute: Compute, ledger: Any, config: Any, month: Month, now: dt.datetime) -> list[dict[str, Any]]:
    """Per day of the month and per service: up, down, maintenance and unmeasured seconds, from
    the same function over each day (the bar chart of section b)."""
    out = []
    for day, start, end in month.days():
        if start >= now:
            out.append({"date": day.isoformat(), "services": {}})
            continue
        figures = compute(ledger, config, start, min(end, now), now=min(end, now))
        services = {name: {k: a.get(k) for k in ("up_s", "down_s", "maintenance_s", "unmeasured_s")}
                    for name, a in sorted(availability(figures).items())}
        out.append({"date": day.isoformat(), "services": services})
    return out


def trend(compute: Compute, ledger: Any, config: Any, month: Month, now: dt.datetime) -> list[dict[str, Any]]:
    """MTBF (with its interval) and MTRS per class at the end of each of the trailing 12 months."""
    out = []
    for m in month.trailing(TREND_MONTHS):
        if m.start >= now:
            continue
        figures = compute(ledger, config, m.start, min(m.end, now), now=min(m.end, now))
        platform = mtbf(figures)
        out.append({"month": m.label,
                    "mtbf_h": platform.get("mtbf_h"), "lower_h": platform.get("lower_h"),
                    "upper_h": platform.get("upper_h"), "failures": platform.get("failures"),
                    "operating_h": platform.get("operating_h"),
                    "mtrs_s": {c: r.get("mtrs_s") for c, r in sorted(mtrs(figures).items())}})
    return out


# -- accessors: the one place that knows where stats.compute keeps each figure ----------------
def availability(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each service's availability figure, by service name."""
    return {s["service"]: s for s in (figures.get("availability") or {}).get("services") or []}


def mtbf(figures: dict[str, Any]) -> dict[str, Any]:
    return dict((figures.get("mtbf") or {}).get("platform") or {})


def mtrs(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(figures.get("mtrs") or {})


def daily_failure_rate(figures: dict[str, Any]) -> dict[str, Any]:
    return dict(figures.get("daily_failure_rate") or {})


def utilisation(figures: dict[str, Any]) -> dict[str, Any]:
    return dict(figures.get("utilisation") or {})


def coverage(figures: dict[str, Any]) -> float | None:
    """The measured coverage the first page states: the lowest of the services' own (each is
    the ledger's figure; the weakest one is what limits every verdict)."""
    values = [s["coverage"] for s in availability(figures).values() if s.get("coverage") is not None]
    return min(values) if values else None


def incidents(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Incidents of the period, restored ones then open ones, each with its class, by start."""
    rows = []
    for cls, r in sorted(mtrs(figures).items()):
        rows += [{**i, "class": i.get("class", cls), "open": False} for i in r.get("incidents") or []]
        rows += [{**i, "class": i.get("class", cls), "open": True} for i in r.get("open") or []]
    return sorted(rows, key=lambda i: (str(i.get("start")), str(i.get("service"))))
