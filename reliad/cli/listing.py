"""`reliad list`: every backup, oldest first, with failed and interrupted runs."""

from __future__ import annotations

from typing import Any

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
        damage = catalog.damage()
    finally:
        catalog.close()
    keys = ("id", "policy", "type", "base", "status", "target", "started_at", "finished_at", "files",
            "bytes_read", "bytes_stored", "duration_s", "classes", "depends_on", "error")
    copies = _copies(rows, replication)
    data = [{**{k: r[k] for k in keys}, "replication": replication.get(r["id"], {}), "targets": copies[r["id"]],
             "damaged": _damage_view(damage.get((r["id"], r["target"])))} for r in rows]
    ctx.emit(data, lambda: _table(data))
    return 0


def _copies(rows: list[dict[str, Any]], replication: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    """For each backup id, every target that holds a copy: the catalog's rows (one per target
    once a catalog was rebuilt from an offsite target) and the finished replications."""
    out: dict[str, list[str]] = {}
    for r in rows:
        have = out.setdefault(r["id"], [])
        if r["target"] not in have:
            have.append(r["target"])
    for bid, states in replication.items():
        if bid in out:
            out[bid] += [t for t, state in states.items() if state == "replicated" and t not in out[bid]]
    return out


def _table(data: list[dict[str, Any]]) -> str:
    """One line per backup; a TARGETS column only when some backup has copies in several targets."""
    if not data:
        return "no backups yet"
    many = any(len(d["targets"]) > 1 for d in data) or len({d["target"] for d in data}) > 1
    head = f"{'ID':<30} {'POLICY':<12} {'TYPE':<12} {'STATUS':<8} {'STARTED':<20} {'FILES':>8} {'STORED':>10}"
    lines = [head + ("  TARGETS" if many else "")]
    seen: set[str] = set()
    for d in data:
        if d["id"] in seen and d["status"] == "ok":
            continue  # the same backup's row of another target: its copies are on the first line
        seen.add(d["id"])
        status = "DAMAGED" if d["damaged"] else d["status"]
        line = (f"{d['id']:<30} {d['policy']:<12} {d['type']:<12} {status:<8} {d['started_at']:<20} "
                f"{d['files'] or 0:>8} {human_bytes(d['bytes_stored'] or 0):>10}")
        lines.append(line + (f"  {','.join(d['targets'])}" if many else ""))
    lines += [f"damaged: {d['id']} in target {d['target']} (found by verify --mode {d['damaged']['mode']} at "
              f"{d['damaged']['found_at']}: {d['damaged']['reason']}); 'reliad verify {d['id']}' after a repair, "
              "or a new full backup" for d in data if d["damaged"]]
    return "\n".join(lines)


def _damage_view(row: dict[str, Any] | None) -> dict[str, str] | None:
    """A backup's known damage as `list --json` shows it (null when none is known)."""
    return {k: row[k] for k in ("mode", "found_at", "reason")} if row else None
