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
    from reliad.jobs.rebuild import rebuild_catalog

    found = rebuild_catalog(ctx.config, target_name)
    ctx.emit({"targets": found}, "\n".join(f"{n}: {c} backups" for n, c in found.items()) or "no repositories found")
    return 0
