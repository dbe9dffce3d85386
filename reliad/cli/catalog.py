"""`reliad catalog rebuild`: recreate the catalog from the repositories."""

from __future__ import annotations

import click

from reliad.cli.base import Context, command


@click.group("catalog")
def catalog_group() -> None:
    """Maintain the catalog (the history kept under state_dir)."""


@command("rebuild", group=catalog_group)
@click.option("--target", "target_name", default=None, help="Rebuild from this target only.")
def catalog_rebuild_cmd(ctx: Context, target_name: str | None) -> int:
    """Recreate the catalog's backup records from the repositories alone."""
    from reliad.jobs.rebuild import rebuild

    done = rebuild(ctx.config, target_name)
    lines = [f"{n}: {c} backups" for n, c in done.found.items()] or ["no repositories found"]
    if done.set_aside:
        lines.insert(0, f"the damaged catalog was set aside as {done.set_aside} (kept; its history of failed runs "
                        "and verifications is not in the new one)")
    ctx.emit({"targets": done.found, "set_aside": str(done.set_aside) if done.set_aside else None}, "\n".join(lines))
    return 0
