"""`reliad ls BACKUP_ID [PATH]`: the entries of a backup."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from reliad.cli.base import Context, command


@command("ls")
@click.argument("backup_id")
@click.argument("path", required=False)
@click.option("--target", "target_name", default=None, help="Read the backup from this target.")
def ls_cmd(ctx: Context, backup_id: str, path: str | None, target_name: str | None) -> int:
    """List the entries of a backup (under PATH when given)."""
    import stat as st

    from reliad.jobs.locate import find_backup
    from reliad.repository.manifest import display_path

    _, repo = find_backup(ctx.config, backup_id, target_name)
    prefix = os.fsencode(path).strip(b"/") if path else b""
    out: list[dict[str, Any]] = []
    for e in repo.entries(backup_id):
        if prefix and not (e.path == prefix or e.path.startswith(prefix + b"/")):
            continue
        shown = display_path(e.path)
        if ctx.as_json:
            d = e.to_json()
            d.pop("chunks", None)
            d["path"] = shown
            out.append(d)
        else:
            kind = {"dir": "d", "symlink": "l", "hardlink": "h", "fifo": "p", "chardev": "c",
                    "blockdev": "b"}.get(e.type, "-")
            line = f"{kind}{st.filemode(e.mode)[1:]} {e.uid:>5} {e.gid:>5} {e.size:>12} {shown}"
            if e.target is not None:
                line += f" -> {display_path(e.target) if e.type == 'hardlink' else display_path(e.target)[1:]}"
            click.echo(line)
    if ctx.as_json:
        click.echo(json.dumps(out))
    return 0
