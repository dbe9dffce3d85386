"""`reliad ledger export|restore`: the reliability ledger's copies in the repositories (the
counterpart of `reliad catalog rebuild` for the history that backups cannot give back)."""

from __future__ import annotations

import click

from reliad.cli.base import EXIT_FAILED, Context, command


@click.group("ledger")
def ledger_group() -> None:
    """Copy the reliability ledger into the repositories, or bring it back from one."""


@command("export", group=ledger_group)
def ledger_export_cmd(ctx: Context) -> int:
    """Store a copy of the ledger in every local repository now (`reliad run` does it every hour;
    `reliad replicate` then takes it offsite). Exit 1 when no repository took it."""
    from reliad.ledger.offsite import export
    from reliad.ledger.store import Ledger

    with Ledger(ctx.config.state_dir) as led:
        stored = export(ctx.config, led)
    ctx.emit({"stored": stored}, "\n".join(f"{t}: {n}" for t, n in stored.items()) or "no repository took the copy")
    return 0 if stored else EXIT_FAILED


@command("restore", group=ledger_group)
@click.option("--target", "target_name", required=True, help="The target (local or offsite) to restore from.")
@click.option("--host", default=None, help="Take the copy of this host (default: the newest of any host).")
def ledger_restore_cmd(ctx: Context, target_name: str, host: str | None) -> int:
    """Bring back the newest copy of the ledger from a target into the state directory, after the
    host was lost. Stop `reliad run` first. A ledger already there is kept as ledger.db.replaced-TIME."""
    from reliad.ledger.offsite import restore

    res = restore(ctx.config, target_name, host)
    kept = f"; the previous ledger is kept as {res['replaced']}" if res["replaced"] else ""
    ctx.emit(res, f"restored {res['object']} from {target_name}: {res['incidents']} incidents, {res['drills']} drills, "
                  f"{res['runs']} daemon runs{kept}")
    return 0
