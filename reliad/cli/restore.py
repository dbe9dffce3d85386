"""`reliad restore`: files into DEST, or a database dump into a database."""

from __future__ import annotations

import os
from pathlib import Path

import click

from reliad.cli.base import Context, command
from reliad.progress import Progress, human_bytes, transfer


def progress_line(c: dict[str, int], bar: Progress) -> str:
    """Files and bytes written, the rate; inside a large file, how far into it and when it is done."""
    inside = c.get("inside_done", 0)
    done = c["bytes"] + inside
    rate = bar.rate(done)
    line = f"{c['files']} files, {human_bytes(done)} ({human_bytes(rate)}/s)"
    if inside:
        line += f"; this file {transfer(inside, c['inside_size'], rate)}"
    return line


@command("restore")
@click.argument("backup_id")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path), required=False)
@click.option("--path", "paths", multiple=True, help="Restore only this path (a directory restores its subtree); "
              "may be repeated.")
@click.option("--target", "target_name", default=None, help="Read the backup from this target.")
@click.option("--overwrite", is_flag=True, help="Replace files that already exist in DEST (without it they are "
              "kept, and counted in one line; -v lists them).")
@click.option("--strip-components", "strip", type=click.IntRange(min=0), default=0, metavar="N",
              help="Drop the first N components of every path, as tar does: a backup of /srv/shop restores "
              "/srv/shop/index.html as DEST/index.html with N=2.")
@click.option("--relative", is_flag=True, help="Restore the backup's one source directory (or the one --path) "
              "straight into DEST, and nothing outside it.")
@click.option("--source", "source", default=None, help="With --into: the database source to load.")
@click.option("--into", "into", default=None, help="Load the source's dump into this database instead of "
              "writing files: a PostgreSQL DSN, mysql://USER@HOST:PORT/DB, or an SQLite file; it must be new "
              "or empty.")
@click.option("--database", "database", default=None, help="With --into: which database of the source, when it "
              "holds several.")
@click.option("--password-file", "password_file", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="With --into: a file whose first line is the password of the DSN's user. Only the DSN's "
              "credentials are used, never the source's configured password.")
def restore_cmd(ctx: Context, backup_id: str, dest: Path | None, paths: tuple[str, ...], target_name: str | None,
                overwrite: bool, strip: int, relative: bool, source: str | None, into: str | None,
                database: str | None, password_file: Path | None) -> int:
    """Restore a backup, or some paths of it, into DEST; or load a database dump with --into.

    Paths keep their whole source path below DEST (/srv/shop/a.html becomes DEST/srv/shop/a.html)
    unless --strip-components or --relative says otherwise."""
    from reliad.errors import ConfigError
    from reliad.jobs.locate import find_backup
    from reliad.jobs.restore import run_restore

    if into is not None or source is not None or password_file is not None:
        if into is None or source is None or dest is not None or paths or strip or relative:
            raise ConfigError("load a database with 'reliad restore ID --source NAME --into DSN' "
                              "(no DEST, --path, --strip-components or --relative with it)")
        from reliad.jobs.dbrestore import run_db_restore

        _, repo = find_backup(ctx.config, backup_id, target_name)
        done = run_db_restore(repo, backup_id, source, into, database, password_file)
        ctx.emit(done, f"loaded database {done['database']!r} of source {source!r} "
                       f"({human_bytes(done['bytes'])} dump) into {into}")
        return 0
    if dest is None:
        raise ConfigError("missing DEST: 'reliad restore ID DEST' (or --source NAME --into DSN for a database)")
    if strip and relative:
        raise ConfigError("give --strip-components or --relative, not both")
    _, repo = find_backup(ctx.config, backup_id, target_name)
    bar = ctx.progress()
    result = run_restore(repo, backup_id, dest, list(paths), overwrite, strip=strip, relative=relative,
                         progress=lambda r: bar.show(lambda: progress_line(r, bar)))
    bar.done()
    kept = result["kept"]
    result.update(backup=backup_id, dest=str(dest), ok=not result["errors"] and not kept)
    if not ctx.as_json:
        for err in result["errors"]:
            click.echo(f"error: {err['path']}: {err['reason']}", err=True)
        if kept:
            click.echo(f"reliad: kept {len(kept)} {'entry' if len(kept) == 1 else 'entries'} that already existed in "
                       f"{dest} (not replaced; --overwrite replaces them" + ("" if ctx.verbose else ", -v lists them")
                       + ")", err=True)
            for path in kept if ctx.verbose else []:
                click.echo(f"kept: {os.path.join(dest, path.lstrip('/'))}", err=True)
    ctx.emit(result, f"restored {result['files']} files, {result['dirs']} directories, {result['links']} links "
                     f"({human_bytes(result['bytes'])}) into {dest}"
                     + (f"; {len(kept)} existing entries kept" if kept else "")
                     + (f"; {len(result['errors'])} entries failed" if result["errors"] else ""))
    return 1 if result["errors"] or kept else 0
