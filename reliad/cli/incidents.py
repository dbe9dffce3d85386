"""`reliad incidents` and `reliad incident add|update|close`: the ledger's outages, and an
operator's record of the ones reliad could not see (each edit goes to the audit log)."""

from __future__ import annotations

from typing import Any

import click

from reliad.cli.base import Context, command
from reliad.ledger import incidents as ops
from reliad.ledger.store import Ledger


def _line(i: dict[str, Any]) -> str:
    end = i["restored_at"] or "OPEN"
    cause = f" cause: {i['cause']}" if i.get("cause") else ""
    what = f" [{i['probe']}: {i['error']}]" if i.get("error") else ""
    return f"#{i['id']} {i['service']} {i['class']} {i['start']} -> {end} ({i['origin']}){what}{cause}"


@command("incidents")
@click.option("--since", default=None, help="Only incidents still open at or restored after this time (ISO 8601, or today).")
@click.option("--open", "open_only", is_flag=True, help="Only incidents not yet restored.")
@click.option("--service", default=None, help="Only this service's incidents.")
def incidents_cmd(ctx: Context, since: str | None, open_only: bool, service: str | None) -> int:
    """List incidents, oldest first, with class, start, restoration, failing probe and cause."""
    t = ops.parse_time(since, "--since") if since else None
    with Ledger(ctx.config.state_dir) as led:
        rows = [led.incident(i["id"]) for i in led.incidents(service=service, since=t, open_only=open_only)]
    ctx.emit({"incidents": rows}, lambda: "\n".join(_line(i) for i in rows if i) or "no incidents")
    return 0


@click.group("incident")
def incident_group() -> None:
    """Record, correct and close incidents by hand (every change is audited)."""



def _times(**raw: str | None) -> dict[str, Any]:
    out = {}
    for key, value in raw.items():
        if value is not None:
            out[key] = ops.parse_time(value, "--" + key.removesuffix("_at").replace("_", "-"))
    return out


def _show(ctx: Context, inc: dict[str, Any]) -> None:
    ctx.emit({"incident": inc}, lambda: _line(inc))


@command("add", group=incident_group)
@click.option("--service", required=True, help="The service that was down.")
@click.option("--class", "cls", type=click.Choice(ops.CLASSES), required=True, help="software or hardware.")
@click.option("--start", required=True, help="When the outage began (ISO 8601, UTC unless it says otherwise).")
@click.option("--end", default=None, help="When the service was back; leave out while it is still down.")
@click.option("--detected", default=None, help="When the outage was noticed.")
@click.option("--repaired", default=None, help="When the fault was repaired (the service may come back later).")
@click.option("--cause", default=None, help="What caused it.")
@click.option("--notes", default=None, help="Anything else worth keeping.")
def incident_add_cmd(ctx: Context, service: str, cls: str, start: str, end: str | None, detected: str | None,
                     repaired: str | None, cause: str | None, notes: str | None) -> int:
    """Record an outage reliad did not see (a hardware fault, an outage while it was not running)."""
    with Ledger(ctx.config.state_dir) as led:
        inc = ops.add(led, ctx.config, service=service, cls=cls, start=ops.parse_time(start, "--start"),
                      end=ops.parse_time(end, "--end") if end else None, cause=cause, notes=notes,
                      **_times(detected_at=detected, repaired_at=repaired))
    _show(ctx, inc)
    return 0


@command("update", group=incident_group)
@click.argument("incident_id", type=int)
@click.option("--class", "cls", type=click.Choice(ops.CLASSES), default=None, help="software or hardware.")
@click.option("--start", default=None, help="Correct when the outage began.")
@click.option("--detected", default=None, help="When the outage was noticed.")
@click.option("--repaired", default=None, help="When the fault was repaired.")
@click.option("--restored", default=None, help="Correct when the service was back.")
@click.option("--cause", default=None, help="What caused it.")
@click.option("--notes", default=None, help="Anything else worth keeping.")
def incident_update_cmd(ctx: Context, incident_id: int, cls: str | None, start: str | None, detected: str | None,
                        repaired: str | None, restored: str | None, cause: str | None, notes: str | None) -> int:
    """Set an incident's class, times, cause or notes (the change is kept in its timeline)."""
    with Ledger(ctx.config.state_dir) as led:
        inc = ops.update(led, incident_id, cause=cause, notes=notes, **{"class": cls},
                         **_times(start=start, detected_at=detected, repaired_at=repaired, restored_at=restored))
    _show(ctx, inc)
    return 0


@command("close", group=incident_group)
@click.argument("incident_id", type=int)
@click.option("--at", "at", default="now", show_default=True, help="When the service was back.")
def incident_close_cmd(ctx: Context, incident_id: int, at: str) -> int:
    """End an open incident: the service was restored at --at."""
    with Ledger(ctx.config.state_dir) as led:
        inc = ops.close(led, incident_id, ops.parse_time(at, "--at"))
    _show(ctx, inc)
    return 0
