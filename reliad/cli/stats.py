"""`reliad stats`: availability, MTBF, MTRS, daily failure rate and utilisation of a period,
each with its target from the standard and a verdict (docs/RELIABILITY.md)."""

from __future__ import annotations

from typing import Any

import click

from reliad.cli.base import Context, command
from reliad.timeutil import utcnow


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.3f} %"


def _hours(s: float | None) -> str:
    return "n/a" if s is None else f"{s / 3600:.2f} h"


def render(s: dict[str, Any]) -> str:
    p = s["period"]
    out = [f"period {p['start']} - {p['end']}: {s['verdict']}"]
    for a in s["availability"]["services"]:
        out.append(f"availability {a['service']}: {_pct(a['availability'])} (objective {_pct(a['objective'])}), "
                   f"down {a['down_minutes']} min, maintenance {a['maintenance_s'] / 60:.0f} min, "
                   f"coverage {_pct(a['coverage'])}: {a['verdict']}")
    m = s["mtbf"]["platform"]
    mtbf = "n/a" if m["mtbf_h"] is None else f"{m['mtbf_h']:.0f} h"
    upper = "unbounded" if m["upper_h"] is None else f"{m['upper_h']:.0f} h"
    out.append(f"MTBF (R2, 12 months): {mtbf} over {m['operating_h']:.0f} h with {m['failures']} failures, "
               f"90 % interval {m['lower_h']:.0f} h - {upper}, target {m['target_h']:.0f} h: {m['verdict']}")
    for cls, r in s["mtrs"].items():
        out.append(f"MTRS {cls} ({r['requirement']}): {_hours(r['mtrs_s'])} over {r['restored']} incidents, "
                   f"{len(r['open'])} open, target {_hours(r['target_s'])}: {r['verdict']}")
    d = s["daily_failure_rate"]
    over = ", ".join(d["days_over"]) or "none"
    out.append(f"daily failure rate (R5): {d['failed']} of {d['checks']} checks failed; days at or over 1 %: {over}: "
               f"{d['verdict']}")
    u = s["utilisation"]
    parts = ", ".join(f"{k} avg {u[k]['average']:.1f} % peak {u[k]['peak']:.1f} %" for k in ("cpu", "memory", "disk")
                      if u[k]["average"] is not None)
    out.append(f"utilisation (R1): {parts or 'no samples'}: {u['verdict']}")
    return "\n".join(out)


@command("stats")
@click.option("--period", default="30d", show_default=True,
              help="30d (the last 30 days), 2026-03 (a month) or 2026 (a year); UTC.")
@click.option("--service", default=None, help="Only this service (reliad's own jobs are then not counted).")
def stats_cmd(ctx: Context, period: str, service: str | None) -> int:
    """Print the ledger's figures for a period with targets and verdicts. Exit 0 when all pass,
    3 when one missed its target, 1 when there was not enough data to judge."""
    from reliad.ledger.stats import compute, parse_period, verdict_exit_code
    from reliad.ledger.store import Ledger

    now = utcnow()
    start, end, _ = parse_period(period, now)
    with Ledger(ctx.config.state_dir) as led:
        s = compute(led, ctx.config, start, end, service=service, now=now)
    ctx.emit(s, lambda: render(s))
    return verdict_exit_code(s)
