"""`reliad list`: every backup, oldest first, with failed and interrupted runs."""

from __future__ import annotations

import click

from reliad.cli.base import Context, command
from reliad.progress import human_bytes


@command("list")
@click.argument("policy", required=False)
@click.option("--target", "target_name", default=None, help="Only backups in this target.")
def list_cmd(ctx: Context, policy: str | None, target_name: str | None) -> int:
    """List backups, oldest first (with failed and interrupted runs)."""
    from reliad.catalog import Catalog

    if policy:
        ctx.config.policy(policy)
    if target_name:
        ctx.config.target(target_name)
    catalog = Catalog(ctx.config.state_dir)
    try:
        rows = catalog.backups(policy, target_name)
        replication = catalog.replication_states()
    finally:
        catalog.close()
    keys = ("id", "policy", "type", "base", "status", "target", "started_at", "finished_at", "files",
            "bytes_read", "bytes_stored", "duration_s", "classes", "depends_on", "error")
    data = [{**{k: r[k] for k in keys}, "replication": replication.get(r["id"], {})} for r in rows]

    def text() -> str:
        if not data:
            return "no backups yet"
        lines = [f"{'ID':<30} {'POLICY':<12} {'TYPE':<12} {'STATUS':<8} {'STARTED':<20} {'FILES':>8} "
                 f"{'STORED':>10}"]
        for d in data:
            lines.append(f"{d['id']:<30} {d['policy']:<12} {d['type']:<12} {d['status']:<8} {d['started_at']:<20} "
                         f"{d['files'] or 0:>8} {human_bytes(d['bytes_stored'] or 0):>10}")
        return "\n".join(lines)

    ctx.emit(data, text)
    return 0
