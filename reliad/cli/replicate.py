"""`reliad replicate`: copy backups to the offsite targets (S3 buckets, offline media)."""

from __future__ import annotations

import click

from reliad.cli.base import Context, command
from reliad.progress import human_bytes


@command("replicate")
@click.option("--target", "target_name", default=None, help="Only this offsite target (default: all of them).")
@click.option("--create-bucket", is_flag=True, help="Create the S3 bucket when it does not exist (with Object Lock "
              "when the target asks for it).")
@click.option("--status", "status_only", is_flag=True, help="Only show what is replicated and what is pending.")
@click.option("--lock-wait", type=float, default=0.0, show_default=True,
              help="Seconds to wait for another replication to the same target to finish.")
def replicate_cmd(ctx: Context, target_name: str | None, create_bucket: bool, status_only: bool,
                  lock_wait: float) -> int:
    """Copy every backup an offsite target is missing (packs first, manifest last).

    Safe to run at any time and to repeat: after an outage it copies exactly what did not
    arrive. Exits 1 when a target could not be brought up to date.
    """
    from reliad.jobs.replicate import replicate, replication_status

    if status_only:
        status = replication_status(ctx.config, target_name)

        def text() -> str:
            lines = []
            for s in status:
                lines.append(f"{s['target']}: {s['replicated']} replicated, {len(s['pending'])} pending")
                lines += [f"  pending {p['id']}: {p['last_error'] or 'not tried yet'}" for p in s["pending"]]
            return "\n".join(lines) or "no offsite targets configured"

        ctx.emit({"ok": True, "targets": status}, text)
        return 0
    bar = ctx.progress()
    results = replicate(ctx.config, target_name, create_bucket=create_bucket, lock_wait=lock_wait,
                        progress=bar.show)
    bar.done()
    failed = [r for r in results if r["error"]]
    if not ctx.as_json:
        for r in failed:
            click.echo(f"reliad: error: {r['error']}", err=True)

    def text() -> str:
        lines = []
        for r in results:
            line = (f"{r['target']}: {len(r['replicated'])} backups copied ({human_bytes(r['bytes_copied'])}), "
                    f"{r['already']} already there, {len(r['pending'])} pending"
                    + ("; NOT up to date (see the error)" if r["error"] else ""))
            if r.get("verified"):
                line += f"; verified ({r['verified']['mode']}): {'OK' if r['verified']['ok'] else 'FAILED'}"
            lines.append(line)
        return "\n".join(lines) or "no offsite targets configured (add an s3 or offline target to a policy)"

    ctx.emit({"ok": not failed, "targets": results,
              "replication_pending": sum(len(r["pending"]) for r in results)}, text)
    return 1 if failed else 0
