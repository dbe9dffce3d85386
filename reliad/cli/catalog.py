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
    from reliad.catalog import Catalog
    from reliad.jobs.locate import repositories

    catalog = Catalog(ctx.config.state_dir)
    found: dict[str, int] = {}
    try:
        for t, repo in repositories(ctx.config, target_name):
            headers = repo.headers()
            catalog.replace_target(t.name, headers)
            found[t.name] = len(headers)
    finally:
        catalog.close()
    ctx.emit({"targets": found}, "\n".join(f"{n}: {c} backups" for n, c in found.items()) or "no repositories found")
    return 0
