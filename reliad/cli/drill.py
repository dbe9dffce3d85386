"""`reliad drill POLICY --scenario general|severe` and `reliad drills [POLICY]`."""

from __future__ import annotations

import click

from reliad.cli.base import Context, command


@command("drill")
@click.argument("policy")
@click.option("--scenario", type=click.Choice(["general", "severe"]), required=True,
              help="general: restore the newest backup from the primary target (objective 1 h, 100 %); severe: "
              "the host is lost, so start from an empty state directory and restore from the offsite target with "
              "the drill's recovery key only (objective 12 h, 98 %).")
@click.option("--backup", "backup_id", default=None, help="Drill with this backup instead of the newest one.")
def drill_cmd(ctx: Context, policy: str, scenario: str, backup_id: str | None) -> int:
    """Run a recovery drill of POLICY: restore into its standby location, verify every file,
    load its databases into scratch databases, run its checks and failover command, and grade
    the recovery time and completeness against the objectives.

    Exit 0 PASS, 1 FAIL or NOT_VERIFIED, 3 damage found. See docs/DRILLS.md."""
    from reliad.drills.engine import run_drill
    from reliad.drills.summary import render

    record = run_drill(ctx.config, policy, scenario, backup_id)
    if record.get("backup_id"):
        ctx.affect(record["backup_id"])
    ctx.emit(record, lambda: render(record))
    return int(record["exit_code"])


@command("drills")
@click.argument("policy", required=False)
def drills_cmd(ctx: Context, policy: str | None) -> int:
    """Every drill (oldest first) and each policy's current status: VERIFIED from a passing
    drill until its validity ends or the policy's configuration changes, else NOT_VERIFIED."""
    from reliad.drills.listing import drills_report, render_report

    report = drills_report(ctx.config, policy)
    ctx.emit(report, lambda: render_report(report))
    return 0
