"""`reliad backup POLICY`: back up now and print the new backup's id."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from reliad.cli.base import Context, command
from reliad.config.schedule import BACKUP_TYPES
from reliad.progress import Progress, clip, human_bytes, transfer

if TYPE_CHECKING:
    from reliad.jobs.archiver import ArchiveStats


def progress_line(s: ArchiveStats, bar: Progress) -> str:
    """Files, bytes read, the read rate and bytes new; inside a file or dump of more than one
    chunk, how far into it (and, for a file, its size and when it will be done)."""
    done = s.bytes_read + s.current_done
    rate = bar.rate(done)
    line = f"{s.files} files, {human_bytes(done)} read ({human_bytes(rate)}/s), {human_bytes(s.bytes_new)} new"
    if s.current_done:
        from reliad.repository.manifest import display_path

        line += f"; {clip(display_path(s.current))}: {transfer(s.current_done, s.current_size, rate)}"
    return line


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
                        progress=lambda s: bar.show(lambda: progress_line(s, bar)))
    bar.done()
    if not ctx.as_json:
        if result["note"]:
            click.echo(f"note: {result['note']}", err=True)
        for w in result["warnings"]:
            click.echo(f"warning: {w}", err=True)
        if left := {k: n for k, n in result["left_out"]["counts"].items() if n}:
            click.echo("left out: " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in left.items()), err=True)
    ctx.affect(result["id"])
    ctx.emit(result, result["id"])
    if not ctx.as_json:
        click.echo(f"{result['type']} backup of {result['policy']}: {result['files']} files, "
                   f"{human_bytes(result['bytes_read'])} read, {human_bytes(result['bytes_stored'])} stored "
                   f"in {result['duration_s']:.1f} s", err=True)
    return 1 if result["status"] == "partial" or result["hook_errors"] else 0
