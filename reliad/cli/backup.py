"""`reliad backup POLICY`: back up now and print the new backup's id."""

from __future__ import annotations

import click

from reliad.cli.base import Context, command
from reliad.config.schedule import BACKUP_TYPES
from reliad.progress import human_bytes


@command("backup")
@click.argument("policy")
@click.option("--type", "btype", type=click.Choice(BACKUP_TYPES), default="incremental",
              show_default=True, help="full stores everything; incremental what changed since the last backup; "
              "differential what changed since the last full.")
@click.option("--lock-wait", type=float, default=0.0, show_default=True,
              help="Seconds to wait for another writer to release the repository.")
def backup_cmd(ctx: Context, policy: str, btype: str, lock_wait: float) -> int:
    """Back up POLICY now and print the new backup's id."""
    from reliad.jobs.backup import run_backup

    bar = ctx.progress()
    result = run_backup(ctx.config, policy, btype, lock_wait=lock_wait,
                        progress=lambda s: bar.show(lambda: f"{s.files} files, {human_bytes(s.bytes_read)} read, "
                                                            f"{human_bytes(s.bytes_new)} new"))
    bar.done()
    if not ctx.as_json:
        if result["note"]:
            click.echo(f"note: {result['note']}", err=True)
        for w in result["warnings"]:
            click.echo(f"warning: {w}", err=True)
    ctx.affect(result["id"])
    ctx.emit(result, result["id"])
    if not ctx.as_json:
        click.echo(f"{result['type']} backup of {result['policy']}: {result['files']} files, "
                   f"{human_bytes(result['bytes_read'])} read, {human_bytes(result['bytes_stored'])} stored "
                   f"in {result['duration_s']:.1f} s", err=True)
    return 1 if result["status"] == "partial" or result["hook_errors"] else 0
