"""`reliad probe [SERVICE]...`: one round of probes now, every result printed (for setting probes up)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import click

from reliad.cli.base import EXIT_FAILED, Context, command
from reliad.errors import ConfigError
from reliad.timeutil import utcnow


@command("probe", audit=False)
@click.argument("services", nargs=-1)
def probe_cmd(ctx: Context, services: tuple[str, ...]) -> int:
    """Run one round of every probe of the named services (default: all) at once and print what each
    saw. Nothing is recorded in the ledger. Exit 1 when any service is down."""
    from reliad.ledger.rounds import run_round

    config = ctx.config
    if not config.services:
        raise ConfigError(f"{config.path}: no [services.NAME] is configured; docs/RELIABILITY.md shows how")
    chosen = [config.service(s) for s in services] or list(config.services.values())
    with ThreadPoolExecutor(max_workers=32) as pool, ThreadPoolExecutor(max_workers=len(chosen)) as rounds:
        futures = [rounds.submit(run_round, svc, pool, utcnow()) for svc in chosen]
        results = [f.result() for f in futures]

    def text() -> str:
        lines = []
        for res in results:
            lines.append(f"{res.round.service}: {'up' if res.round.ok else 'DOWN'}")
            for p in res.results:
                said = p.detail if p.ok else p.error
                lines.append(f"  {'ok  ' if p.ok else 'FAIL'} {p.probe} ({p.duration_s:.2f} s): {said}")
        return "\n".join(lines)

    ctx.emit({"services": [r.as_dict() for r in results]}, text)
    return 0 if all(r.round.ok for r in results) else EXIT_FAILED
