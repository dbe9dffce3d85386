"""`reliad prune`: apply retention and remove what no kept backup needs."""

from __future__ import annotations

import click

from reliad.cli.base import Context, command


@command("prune")
@click.argument("policies", nargs=-1)
@click.option("--dry-run", is_flag=True, help="Show what would be removed; remove nothing.")
@click.option("--target", "target_name", default=None, help="Prune only this target.")
@click.option("--lock-wait", type=float, default=0.0, show_default=True,
              help="Seconds to wait for a running backup to release the repository.")
def prune_cmd(ctx: Context, policies: tuple[str, ...], dry_run: bool, target_name: str | None,
              lock_wait: float) -> int:
    """Remove backups their policy's retention no longer keeps, then data no kept backup
    needs (including packs left by interrupted runs). Never removes a backup that a kept
    one depends on. All policies when none is named."""
    from reliad.jobs.prune import run_prune
    from reliad.progress import human_bytes

    report = run_prune(ctx.config, list(policies) or None, dry_run=dry_run, target_name=target_name,
                       lock_wait=lock_wait)
    for t in report["targets"]:
        ctx.affect(*t.pop("deleted_ids", None) or [])

    def text() -> str:
        verb = "would remove" if dry_run else "removed"
        lines = []
        for t in report["targets"]:
            if "skipped" in t:
                lines.append(f"{t['target']}: skipped ({t['skipped']})")
                continue
            for e in t.get("expired", []):
                lines.append(f"{t['target']}: {verb} {e['type']} backup {e['id']} of {e['policy']} "
                             f"(started {e['started_at']})")
            if t.get("orphans"):
                lines.append(f"{t['target']}: {verb} data of {len(t['orphans'])} interrupted run(s): "
                             + ", ".join(t["orphans"]))
            for name in t.get("locked", []):
                lines.append(f"{t['target']}: kept {name}: the store refuses to delete it yet (object lock)")
            for e in t.get("errors", []):
                lines.append(f"{t['target']}: error: {e}")
            if "kept" in t:
                lines.append(f"{t['target']}: {len(t['kept'])} backups kept, {len(t['expired'])} expired, "
                             f"{t['packs_deleted']} packs and {t['temporaries_deleted']} temporary files {verb}, "
                             f"{human_bytes(t['bytes_freed'])} freed" + (" (dry run)" if dry_run else ""))
        return "\n".join(lines) or "nothing to prune"

    ctx.emit(report, text)
    return 0 if report["ok"] else 1
