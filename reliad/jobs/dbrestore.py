"""Loading a database dump from a backup straight into a database (`restore --into`).

The dump streams from the repository into the client program's stdin (pg_restore, the
mariadb client) without a temporary copy. The target must be new (it is created) or empty:
loading over existing tables would mix two states, so a target that holds tables is
refused before anything is written.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from reliad.config import Config, SourceConfig
from reliad.errors import ConfigError, ReliadError
from reliad.repository import Repository
from reliad.repository.manifest import Entry
from reliad.sources import mariadb, postgres
from reliad.sources.dump import find_program, first_error, password_from, virtual_dir

log = logging.getLogger(__name__)
SUFFIX = {"postgres": b".dump", "mariadb": b".sql", "mysql": b".sql", "sqlite": b""}

_PG_OBJECTS = (
    "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg\\_%') + "
    "(SELECT count(*) FROM pg_namespace WHERE nspname NOT IN ('public', 'information_schema') "
    "AND nspname NOT LIKE 'pg\\_%')"
)


def _configured(config: Config | None, name: str) -> SourceConfig:
    """The source's current configuration (for its password), or an empty stand-in."""
    for p in (config.policies.values() if config else []):
        for s in p.sources:
            if s.name == name:
                return s
    return SourceConfig(type="", name=name)


def _pick(dumps: dict[str, Entry], database: str | None, source: str, backup_id: str) -> tuple[str, Entry]:
    if not dumps:
        raise ReliadError(f"backup {backup_id} holds no database dump of source {source!r}")
    if database is not None:
        if database not in dumps:
            raise ReliadError(f"backup {backup_id}, source {source!r} has no dump of database {database!r} "
                              f"(it has: {', '.join(sorted(dumps))})")
        return database, dumps[database]
    if len(dumps) > 1:
        raise ConfigError(f"backup {backup_id}, source {source!r} holds several databases "
                          f"({', '.join(sorted(dumps))}): choose one with --database")
    return next(iter(dumps.items()))


def _feed(repo: Repository, entry: Entry, argv: list[str], env: dict[str, str] | None, what: str,
          pass_fds: tuple[int, ...] = ()) -> None:
    """Stream the entry's content into a program's stdin; fail with its own error message."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err, env=env,
                                pass_fds=pass_fds)
        for fd in pass_fds:
            os.close(fd)
        assert proc.stdin is not None
        try:
            for c in entry.chunks:
                proc.stdin.write(repo.chunk_data(c))
            proc.stdin.close()
        except BrokenPipeError:
            pass  # the program stopped reading: its exit status and message say why
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        rc = proc.wait()
        err.seek(0)
        message = err.read().decode("utf-8", "replace")
    if rc != 0:
        raise ReliadError(f"{what} failed: {first_error(message)}")


def _load_postgres(repo: Repository, entry: Entry, into: str, src: SourceConfig, what: str) -> None:
    ctx = f"restore into {into!r}"
    psql = find_program(["psql"], postgres.PACKAGE, ctx)
    pg_restore = find_program(["pg_restore"], postgres.PACKAGE, ctx)
    env = postgres.client_env(src, ctx)
    target = postgres.dsn_dbname(into)
    if target is None:
        raise ConfigError(f"{ctx}: the DSN names no database (add dbname=NAME, or /NAME to a URI)")
    base = [psql, "-X", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1"]
    check = subprocess.run([*base, "-d", into, "-c", _PG_OBJECTS], capture_output=True, env=env,
                           stdin=subprocess.DEVNULL, check=False)
    if check.returncode != 0:
        message = first_error(check.stderr.decode("utf-8", "replace"))
        if f'database "{target}" does not exist' not in message:
            raise ReliadError(f"{ctx}: {message}")
        ident = '"' + target.replace('"', '""') + '"'
        postgres.run_client([*base, "-d", postgres.dsn_with_db(into, "postgres"), "-c", f"CREATE DATABASE {ident}"],
                            env, f"{ctx}: cannot create database {target!r}")
        log.info("event=database_created database=%r", target)
    elif int(check.stdout.strip() or 0) > 0:
        raise ReliadError(f"{ctx}: database {target!r} is not empty ({int(check.stdout)} tables, sequences, views "
                          "or schemas); restore into a new or empty database")
    _feed(repo, entry, [pg_restore, "--exit-on-error", "--single-transaction", "--no-password", "-d", into], env,
          f"pg_restore of {what} into {target!r}")


def _mariadb_target(into: str, ctx: str) -> tuple[dict[str, object], str, str | None]:
    u = urlsplit(into)
    if u.scheme not in ("mysql", "mariadb") or not u.path.strip("/"):
        raise ConfigError(f"{ctx}: give the target as mysql://USER@HOST:PORT/DATABASE (or mariadb://...)")
    opts: dict[str, object] = {}
    if u.hostname:
        opts["host"] = u.hostname
    if u.port:
        opts["port"] = u.port
    if u.username:
        opts["user"] = unquote(u.username)
    sock = parse_qs(u.query).get("socket")
    if sock:
        opts["socket"] = sock[0]
    return opts, unquote(u.path.strip("/")), unquote(u.password) if u.password is not None else None


def _load_mariadb(repo: Repository, entry: Entry, into: str, src: SourceConfig, what: str) -> None:
    ctx = f"restore into {into!r}"
    _, client = mariadb.programs(src.type or "mariadb", ctx)
    opts, db, password = _mariadb_target(into, ctx)
    if password is None:
        password = password_from(src, ctx)
    lit = "'" + db.replace("\\", "\\\\").replace("'", "\\'") + "'"
    rows = mariadb.run_sql(client, opts, password,
                           f"SELECT (SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = {lit}), "
                           f"(SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = {lit}) + "
                           f"(SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = {lit})", ctx)
    exists, objects = int(rows[0][0]), int(rows[0][1])
    if not exists:
        mariadb.run_sql(client, opts, password, "CREATE DATABASE `" + db.replace("`", "``") + "`",
                        f"{ctx}: cannot create database {db!r}")
        log.info("event=database_created database=%r", db)
    elif objects:
        raise ReliadError(f"{ctx}: database {db!r} is not empty ({objects} tables, views or routines); "
                          "restore into a new or empty database")
    fds = tuple(mariadb.password_pipe(password)())
    argv = [*mariadb.with_password(client, list(fds)), *mariadb.connection_args(opts), "--batch", "--", db]
    _feed(repo, entry, argv, None, f"loading {what} into {db!r}", pass_fds=fds)


def _load_sqlite(repo: Repository, entry: Entry, into: str, what: str) -> None:
    dest = Path(into)
    if dest.exists() and dest.stat().st_size > 0:
        raise ReliadError(f"restore into {into!r}: {dest} exists and is not empty; restore into a new file")
    fd, tmp = tempfile.mkstemp(prefix=".reliad-", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for c in entry.chunks:
                out.write(repo.chunk_data(c))
            out.flush()
            os.fsync(out.fileno())
        con = sqlite3.connect(tmp)
        try:
            result = con.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            con.close()
        if result != "ok":
            raise ReliadError(f"{what}: the restored database fails SQLite's integrity check: {result}")
        os.chmod(tmp, entry.mode)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def run_db_restore(config: Config | None, repo: Repository, backup_id: str, source: str, into: str,
                   database: str | None = None) -> dict[str, Any]:
    header = repo.header(backup_id)
    sources = {s["name"]: s for s in header.get("sources", [])}
    if source not in sources:
        raise ReliadError(f"backup {backup_id} has no source {source!r} (it has: {', '.join(sorted(sources))})")
    stype = sources[source]["type"]
    if stype not in SUFFIX:
        raise ReliadError(f"source {source!r} is of type {stype!r}, which holds no database to load; "
                          f"use 'reliad restore {backup_id} DEST'")
    prefix = virtual_dir(source) + b"/"
    suffix = SUFFIX[stype]
    dumps = {unquote(os.fsdecode(e.path[len(prefix):len(e.path) - len(suffix)])): e
             for e in repo.entries(backup_id)
             if e.type == "file" and e.path.startswith(prefix) and e.path.endswith(suffix)}
    name, entry = _pick(dumps, database, source, backup_id)
    what = f"backup {backup_id}, source {source!r}, database {name!r}"
    src = _configured(config, source)
    log.info("event=db_restore_start backup=%s source=%s database=%r", backup_id, source, name)
    if stype == "postgres":
        _load_postgres(repo, entry, into, src, what)
    elif stype == "sqlite":
        _load_sqlite(repo, entry, into, what)
    else:
        _load_mariadb(repo, entry, into, src, what)
    log.info("event=db_restore_done backup=%s source=%s database=%r", backup_id, source, name)
    return {"backup": backup_id, "source": source, "database": name, "into": into, "bytes": entry.size,
            "ok": True}
