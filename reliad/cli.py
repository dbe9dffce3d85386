"""The command line. Every command takes -c/--config and --json, and exits
0 ok, 1 failed, 2 usage or configuration error, 3 damage found."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from reliad import __version__
from reliad.config import CONTENT_CLASSES, Config, class_coverage, default_config_path, load_config
from reliad.errors import ReliadError
from reliad.logsetup import setup_logging
from reliad.progress import Progress, human_bytes
from reliad.redact import redact


class Context:
    def __init__(self, config_path: str | None, as_json: bool, verbose: int) -> None:
        self.config_path = config_path
        self.as_json = as_json
        self.verbose = verbose
        self.affected: list[str] = []  # backup ids the command read or changed, for the audit log
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def progress(self) -> Progress:
        return Progress(enabled=None if not self.as_json else False)

    def affect(self, *backup_ids: str) -> None:
        """Name backups this command reads or changes; the audit record lists them."""
        self.affected.extend(backup_ids)

    def emit(self, data: Any, text: str | Callable[[], str]) -> None:
        if self.as_json:
            click.echo(redact(json.dumps(data, indent=None, default=str)))
        else:
            click.echo(redact(text() if callable(text) else text))


def _command_path() -> str:
    """'backup', 'key add': the words after 'reliad', however reliad was started."""
    c: click.Context | None = click.get_current_context()
    names = []
    while c is not None and c.parent is not None:
        names.append(c.info_name or "")
        c = c.parent
    return " ".join(reversed(names))


def _audit(ctx: Context, state_dir: Path | None, what: str, kw: dict[str, Any], code: int,
           error: str | None) -> None:
    if state_dir is None:
        return
    from reliad import audit

    ids = [*ctx.affected]
    for key in ("backup_id", "backup_ids"):
        value = kw.get(key)
        ids += [value] if isinstance(value, str) else list(value or [])
    args = {"config": str(ctx.config.path), **kw}
    try:
        audit.record(state_dir, what, args=args, outcome=audit.OUTCOMES.get(code, "error"), exit_code=code,
                     error=error, backups=ids, target=kw.get("target_name"))
    except (ReliadError, OSError) as e:
        click.echo(f"reliad: warning: this command could not be recorded in the audit log: {e}", err=True)


def command(group: click.Group, name: str | None = None, audit: bool = True, **kwargs: Any) -> Callable[..., Any]:
    """A subcommand with the options every reliad command shares, the error handling that
    turns expected failures into one sentence and the right exit code, and the audit record
    every command leaves (who, what, on which backups, how it ended). `audit=False` only for
    commands that touch no backup and may run before reliad is set up (check-config)."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @group.command(name, **kwargs)
        @click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), default=None,
                      help=f"Configuration file (default: $RELIAD_CONFIG, else {default_config_path()}).")
        @click.option("--json", "as_json", is_flag=True, help="Print one JSON document for scripts.")
        @click.option("-v", "--verbose", count=True, help="Log progress events to stderr (-vv for debug).")
        @functools.wraps(fn)
        def run(config_path: str | None, as_json: bool, verbose: int, **kw: Any) -> None:
            setup_logging(verbose)
            ctx = Context(config_path, as_json, verbose)
            what = _command_path()
            state_dir: Path | None = None
            code, error = 0, None
            try:
                if audit:
                    state_dir = _audit_state_dir(ctx)
                code = fn(ctx, **kw) or 0
            except ReliadError as e:
                code, error = e.exit_code, redact(str(e))
                if as_json:
                    click.echo(json.dumps({"ok": False, "error": error}))
                click.echo(f"reliad: error: {error}", err=True)
            except KeyboardInterrupt:
                code, error = 130, "interrupted"
                click.echo("reliad: interrupted", err=True)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            except click.ClickException as e:  # usage errors a command raises itself
                _audit(ctx, state_dir, what, kw, e.exit_code, e.format_message())
                raise
            except BaseException as e:  # a bug: record that the command broke, keep the traceback
                _audit(ctx, state_dir, what, kw, 1, f"internal error: {type(e).__name__}")
                raise
            _audit(ctx, state_dir, what, kw, code, error)
            sys.exit(code)

        return run

    return wrap


def _audit_state_dir(ctx: Context) -> Path | None:
    """The state directory whose audit log will get this command's record, after checking
    that it can be written (a command that could not be recorded does not run). None when
    the configuration does not load: the command then fails with that error itself."""
    from reliad import audit

    try:
        state_dir = ctx.config.state_dir
    except ReliadError:
        return None
    audit.check_writable(state_dir)
    return state_dir


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="reliad")
def main() -> None:
    """reliad: backups you can prove you can restore.

    Backs up files and databases into checksummed repositories (local and offsite),
    verifies them, and records every run. Start with `reliad backup POLICY`;
    policies/ in the source tree has example configurations.
    """


# ---------------------------------------------------------------------------- backup
@command(main, "backup")
@click.argument("policy")
@click.option("--type", "btype", type=click.Choice(["full", "incremental", "differential"]), default="incremental",
              show_default=True, help="full stores everything; incremental what changed since the last backup; "
              "differential what changed since the last full.")
@click.option("--lock-wait", type=float, default=0.0, show_default=True,
              help="Seconds to wait for another writer to release the repository.")
def backup_cmd(ctx: Context, policy: str, btype: str, lock_wait: float) -> int:
    """Back up POLICY now and print the new backup's id."""
    from reliad.jobs.backup import run_backup

    bar = ctx.progress()
    result = run_backup(ctx.config, policy, btype, lock_wait=lock_wait,
                        progress=lambda s: bar.show(lambda: f"{s.files} files, {human_bytes(s.bytes_read)} read, "
                                                            f"{human_bytes(s.bytes_new)} new"))
    bar.done()
    if not ctx.as_json:
        if result["note"]:
            click.echo(f"note: {result['note']}", err=True)
        for w in result["warnings"]:
            click.echo(f"warning: {w}", err=True)
    ctx.affect(result["id"])
    ctx.emit(result, result["id"])
    if not ctx.as_json:
        click.echo(f"{result['type']} backup of {result['policy']}: {result['files']} files, "
                   f"{human_bytes(result['bytes_read'])} read, {human_bytes(result['bytes_stored'])} stored "
                   f"in {result['duration_s']:.1f} s", err=True)
    return 1 if result["status"] == "partial" or result["hook_errors"] else 0


# ---------------------------------------------------------------------------- init
@command(main, "init")
@click.option("--target", "target_name", required=True, help="The target whose repository to create.")
@click.option("--no-encryption", is_flag=True,
              help="Create a plain repository: readable by anyone who can read its files, restorable with "
              "zstd and tar alone (the same as encryption = false on the target).")
@click.option("--create-bucket", is_flag=True, help="For an S3 target: create the bucket when it does not exist.")
def init_cmd(ctx: Context, target_name: str, no_encryption: bool, create_bucket: bool) -> int:
    """Create the repository of a target (a first backup also does this); encrypted unless told otherwise.

    An offsite target (s3, offline) receives a copy of the local repository that feeds it (same
    id and keys), so that replication can fill it."""
    from reliad.config import OFFSITE_TYPES
    from reliad.errors import RepositoryError
    from reliad.targets import create_repository, storage_for

    target = ctx.config.target(target_name)
    notes: list[str] = []
    if target.type in OFFSITE_TYPES:
        from reliad.jobs.replicate import init_offsite

        repo = init_offsite(ctx.config, target, create_bucket, encrypt=False if no_encryption else None)
    else:
        storage = storage_for(target)
        if storage.stat("config") is not None:
            raise RepositoryError(f"target {target_name!r}: a repository already exists at {storage.location}")
        repo, notes = create_repository(ctx.config, target, storage, encrypt=False if no_encryption else None)
    if not ctx.as_json:
        for n in notes:
            click.echo(f"warning: {n}", err=True)
    ctx.emit({"target": target_name, "id": repo.config.id, "location": repo.storage.location,
              "encrypted": repo.encrypted, "notes": notes},
             f"created {'encrypted' if repo.encrypted else 'plain (unencrypted)'} repository {repo.config.id} "
             f"at {repo.storage.location}")
    return 0


# ---------------------------------------------------------------------------- list
@command(main, "list")
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


# ---------------------------------------------------------------------------- ls
@command(main, "ls")
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


# ---------------------------------------------------------------------------- restore
@command(main, "restore")
@click.argument("backup_id")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path), required=False)
@click.option("--path", "paths", multiple=True, help="Restore only this path (a directory restores its subtree); "
              "may be repeated.")
@click.option("--target", "target_name", default=None, help="Read the backup from this target.")
@click.option("--overwrite", is_flag=True, help="Replace files that already exist in DEST.")
@click.option("--source", "source", default=None, help="With --into: the database source to load.")
@click.option("--into", "into", default=None, help="Load the source's dump into this database instead of "
              "writing files: a PostgreSQL DSN, mysql://USER@HOST:PORT/DB, or an SQLite file; it must be new "
              "or empty.")
@click.option("--database", "database", default=None, help="With --into: which database of the source, when it "
              "holds several.")
def restore_cmd(ctx: Context, backup_id: str, dest: Path | None, paths: tuple[str, ...], target_name: str | None,
                overwrite: bool, source: str | None, into: str | None, database: str | None) -> int:
    """Restore a backup, or some paths of it, into DEST; or load a database dump with --into."""
    from reliad.errors import ConfigError
    from reliad.jobs.locate import find_backup
    from reliad.jobs.restore import run_restore

    if into is not None or source is not None:
        if into is None or source is None or dest is not None or paths:
            raise ConfigError("load a database with 'reliad restore ID --source NAME --into DSN' "
                              "(no DEST or --path with it)")
        from reliad.jobs.dbrestore import run_db_restore

        _, repo = find_backup(ctx.config, backup_id, target_name)
        done = run_db_restore(ctx.config, repo, backup_id, source, into, database)
        ctx.emit(done, f"loaded database {done['database']!r} of source {source!r} "
                       f"({human_bytes(done['bytes'])} dump) into {into}")
        return 0
    if dest is None:
        raise ConfigError("missing DEST: 'reliad restore ID DEST' (or --source NAME --into DSN for a database)")
    _, repo = find_backup(ctx.config, backup_id, target_name)
    bar = ctx.progress()
    result = run_restore(repo, backup_id, dest, list(paths), overwrite,
                         progress=lambda c: bar.show(lambda: f"{c['files']} files, {human_bytes(c['bytes'])}"))
    bar.done()
    result.update(backup=backup_id, dest=str(dest), ok=not result["errors"])
    for err in result["errors"] if not ctx.as_json else []:
        click.echo(f"error: {err['path']}: {err['reason']}", err=True)
    ctx.emit(result, f"restored {result['files']} files, {result['dirs']} directories, {result['links']} links "
                     f"({human_bytes(result['bytes'])}) into {dest}"
                     + (f"; {len(result['errors'])} entries failed" if result["errors"] else ""))
    return 1 if result["errors"] else 0


# ---------------------------------------------------------------------------- verify
@command(main, "verify")
@click.argument("backup_ids", nargs=-1)
@click.option("--mode", type=click.Choice(["fast", "crc", "byte"]), default="crc", show_default=True,
              help="fast: objects exist with the right sizes; crc: read and check every stored byte; "
              "byte: compare with the live source.")
@click.option("--target", "target_name", default=None, help="Verify the backups in this target.")
def verify_cmd(ctx: Context, backup_ids: tuple[str, ...], mode: str, target_name: str | None) -> int:
    """Verify backups (all of them when none is named); exit 3 when damage is found."""
    from reliad.catalog import Catalog
    from reliad.jobs.locate import find_backup, repositories
    from reliad.jobs.verify import Report, verify_and_record

    if backup_ids:
        work: dict[str, tuple[Any, list[str]]] = {}
        for bid in backup_ids:
            t, repo = find_backup(ctx.config, bid, target_name)
            work.setdefault(t.name, (repo, []))[1].append(bid)
    else:
        work = {t.name: (repo, repo.backup_ids()) for t, repo in repositories(ctx.config, target_name)}
    bar = ctx.progress()
    total = Report(mode)
    catalog = Catalog(ctx.config.state_dir)
    try:
        for tname, (repo, ids) in work.items():
            for r in verify_and_record(catalog, tname, repo, ids, mode,
                                       progress=lambda r: bar.show(lambda: f"{r.files} files checked")):
                total.backups += r.backups
                total.damaged += r.damaged
                total.changed += r.changed
                total.files += r.files
                total.bytes_checked += r.bytes_checked
                total.decrypted = total.decrypted and r.decrypted
    finally:
        catalog.close()
    bar.done()
    ctx.affect(*total.backups)
    data = total.to_json()

    def text() -> str:
        lines = [f"damaged: backup {d['backup']} {d['path'] or '(manifest)'}: {d['reason']}" for d in total.damaged]
        lines += [f"changed: backup {c['backup']} {c['path']}: {c['reason']}" for c in total.changed]
        verdict = "OK" if not total.damaged else f"DAMAGE FOUND in {len({d['backup'] for d in total.damaged})} backup(s)"
        lines.append(f"{verdict}: {len(total.backups)} backups, {total.files} files, "
                     f"{human_bytes(total.bytes_checked)} checked ({mode})")
        if not total.decrypted:
            lines.append("note: no key for an encrypted repository, so only the stored CRC32Cs were checked; "
                         "configure its key to check decryption, GCM tags and content CRCs too")
        return "\n".join(lines)

    ctx.emit(data, text)
    return 3 if total.damaged else 0


# ---------------------------------------------------------------------------- catalog
@main.group("catalog")
def catalog_group() -> None:
    """Maintain the catalog (the history kept under state_dir)."""


@command(catalog_group, "rebuild")
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


# ---------------------------------------------------------------------------- check-config
@command(main, "check-config", audit=False)
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--no-paths", is_flag=True, help="Do not check that source paths exist (for a file meant for "
              "another host).")
def check_config_cmd(ctx: Context, file: str | None, no_paths: bool) -> int:
    """Validate a configuration file: keys, types, schedules, retention, and that every source
    path exists. Each problem is one line naming the file and the key; exit 2 when any."""
    cfg = load_config(file or ctx.config_path)
    problems = []
    warnings = []
    for p in cfg.policies.values():
        for i, s in enumerate(p.sources):
            where = f"policies.{p.name}.sources[{i}]"
            for path in s.paths if not no_paths else []:
                if os.path.lexists(path):
                    continue
                if s.type in ("sqlite", "image"):  # their single `path` key
                    problems.append(f"{cfg.path}: {where}.path: {path} does not exist; give an existing "
                                    f"{'database file' if s.type == 'sqlite' else 'device or image file'}")
                else:
                    problems.append(f"{cfg.path}: {where}.paths: {path} does not exist; list existing files or "
                                    "directories (or pass --no-paths to check a file meant for another host)")
            pf = s.options.get("password_file")
            if pf and os.path.exists(pf) and os.stat(pf).st_mode & 0o077:
                warnings.append(f"policy {p.name!r}, source {s.name!r}: password_file {pf} can be read by other "
                                "users; chmod 600 it")
    coverage = class_coverage(cfg)
    uncovered = [c for c, holders in coverage.items() if not holders]
    if uncovered:
        warnings.append(f"no source carries the content class{'es' if len(uncovered) > 1 else ''} "
                        f"{', '.join(uncovered)} (R9 asks for all of {', '.join(CONTENT_CLASSES)}); "
                        "add them to the classes of the sources that hold that content")
    schedules = {p.name: {t: sch.describe() for t, sch in p.schedules.items()} for p in cfg.policies.values()}
    retention = {p.name: p.retention.rules for p in cfg.policies.values()}

    if problems and not ctx.as_json:
        for line in problems:
            click.echo(f"reliad: error: {line}", err=True)
        return 2

    def text() -> str:
        lines = [f"warning: {w}" for w in warnings] + [f"{cfg.path}: OK ({len(cfg.policies)} policies)"]
        for name, sch in schedules.items():
            lines.append(f"  {name}: " + "; ".join(f"{t} {d}" for t, d in sch.items())
                         + "; retention " + (", ".join(f"{k} = {v}" for k, v in retention[name].items())
                                             or "keeps everything"))
        return "\n".join(lines)

    ctx.emit({"ok": not problems, "file": str(cfg.path), "policies": sorted(cfg.policies), "problems": problems,
              "warnings": warnings, "classes": coverage, "uncovered_classes": uncovered,
              "schedules": schedules, "retention": retention}, text)
    return 2 if problems else 0


def _load_command_modules() -> None:
    """Each module in reliad/commands/ adds its own subcommands to `main` on import."""
    import importlib
    import pkgutil

    import reliad.commands

    for mod in pkgutil.iter_modules(reliad.commands.__path__):
        importlib.import_module(f"reliad.commands.{mod.name}")


_load_command_modules()
