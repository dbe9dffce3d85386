"""`reliad maintenance add|list`: planned windows, excluded from down time and shown apart."""

from __future__ import annotations

import click

from reliad.cli.base import Context, command
from reliad.ledger import incidents as ops
from reliad.ledger.store import Ledger


@click.group("maintenance")
def maintenance_group() -> None:
    """Record and list planned maintenance windows (recurring ones go in the configuration)."""


@command("add", group=maintenance_group)
@click.option("--service", required=True, help="The service, or '*' for every service.")
@click.option("--start", required=True, help="Start of the window (ISO 8601, UTC unless it says otherwise).")
@click.option("--end", required=True, help="End of the window.")
@click.option("--reason", required=True, help="Why (shown in stats and the monthly report).")
def maintenance_add_cmd(ctx: Context, service: str, start: str, end: str, reason: str) -> int:
    """Record a planned window: failures inside it open no incident and are no down time."""
    with Ledger(ctx.config.state_dir) as led:
        w = ops.add_maintenance(led, ctx.config, service=service, start=ops.parse_time(start, "--start"),
                                end=ops.parse_time(end, "--end"), reason=reason)
    ctx.emit({"maintenance": w}, f"#{w['id']} {w['service']} {w['start']} -> {w['end']}: {w['reason']}")
    return 0


@command("list", group=maintenance_group)
@click.option("--since", default=None, help="Only windows ending after this time.")
@click.option("--service", default=None, help="Only windows that apply to this service.")
def maintenance_list_cmd(ctx: Context, since: str | None, service: str | None) -> int:
    """List recorded maintenance windows, oldest first."""
    t = ops.parse_time(since, "--since") if since else None
    with Ledger(ctx.config.state_dir) as led:
        rows = led.maintenance(service, since=t)
    ctx.emit({"maintenance": rows},
             lambda: "\n".join(f"#{w['id']} {w['service']} {w['start']} -> {w['end']}: {w['reason']}" for w in rows)
             or "no maintenance windows")
    return 0
