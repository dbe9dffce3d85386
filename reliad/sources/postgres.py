"""The `postgres` source: pg_dump per database plus pg_dumpall --globals-only, and
pg_restore of one of those dumps into a new or empty database (`restore --into`).

Each database is dumped in pg_dump's custom format (so pg_restore can pick single tables)
without pg_dump's own compression (-Z0): reliad compresses with zstd anyway, and an
uncompressed dump lets content-defined chunking find the unchanged parts of a table that
changed, so an incremental stores little. pg_dump runs in one repeatable-read transaction,
so each database's dump is a consistent snapshot while the shop keeps writing.

The password comes from `password_file` (given to the programs as PGPASSWORD in their
environment, which other users cannot read) or from the usual libpq environment and
~/.pgpass; it is never put on a command line, and a DSN that contains one is refused.

Items: `_reliad/<source>/globals.sql` (roles, tablespaces) and `_reliad/<source>/<db>.dump`.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Iterable
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from reliad.config import PolicyConfig, SourceConfig
from reliad.errors import ConfigError, ReliadError
from reliad.sources.base import SourceItem, SourceType
from reliad.sources.dump import (
    DumpProcess,
    feed_program,
    find_program,
    first_error,
    password_from,
    run_client,
    select_databases,
    virtual_dir,
    virtual_name,
    where,
    with_dirs,
)

log = logging.getLogger(__name__)
PACKAGE = "postgresql-client"
# A table locked exclusively (a migration, say) fails the dump after this, instead of hanging the backup.
LOCK_WAIT = "5min"
HEADER = 4096  # covers the custom format's header, whose creation time changes in every dump
_KV_DBNAME = re.compile(r"(?:^|\s)dbname\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")
_LIST = ("SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname")
_OBJECTS = (
    "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg\\_%') + "
    "(SELECT count(*) FROM pg_namespace WHERE nspname NOT IN ('public', 'information_schema') "
    "AND nspname NOT LIKE 'pg\\_%')"
)


def _is_uri(dsn: str) -> bool:
    return dsn.startswith(("postgresql://", "postgres://"))


def _kv_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def dsn_password(dsn: str) -> bool:
    """Whether a DSN carries a password (which would then be visible in `ps`)."""
    if _is_uri(dsn):
        return urlsplit(dsn).password is not None or "password=" in urlsplit(dsn).query
    return re.search(r"(?:^|\s)password\s*=", dsn) is not None


def dsn_dbname(dsn: str) -> str | None:
    if _is_uri(dsn):
        name = unquote(urlsplit(dsn).path.lstrip("/"))
        return name or None
    m = _KV_DBNAME.search(dsn)
    if not m:
        return None
    v = m.group(1)
    return re.sub(r"\\(.)", r"\1", v[1:-1]) if v.startswith("'") else v


def dsn_with_db(dsn: str, dbname: str) -> str:
    """The same connection, to another database (libpq: the last dbname wins)."""
    if _is_uri(dsn):
        parts = urlsplit(dsn)
        return urlunsplit(parts._replace(path="/" + quote(dbname, safe="")))
    return f"{dsn} dbname={_kv_quote(dbname)}".strip()


def base_dsn(src: SourceConfig) -> str:
    """The configured connection as a libpq conninfo string (DSN, or host/port/user)."""
    o = src.options
    if "dsn" in o:
        return str(o["dsn"])
    parts = [f"{k}={_kv_quote(str(o[k]))}" for k in ("host", "port", "user") if k in o]
    return " ".join(parts)


def client_env(src: SourceConfig, context: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PGCONNECT_TIMEOUT", "15")
    env["PGAPPNAME"] = "reliad"
    password = password_from(src, context)
    if password is not None:
        env["PGPASSWORD"] = password
    return env


def list_databases(psql: str, dsn: str, env: dict[str, str], context: str) -> list[str]:
    out = run_client([psql, "-X", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", _LIST],
                     env, context)
    return [ln for ln in out.split("\n") if ln]


def open_postgres(policy: PolicyConfig, src: SourceConfig, skip_dirs: list[object]) -> list[SourceItem]:
    ctx = where(policy, src)
    pg_dump = find_program(["pg_dump"], PACKAGE, ctx)
    psql = find_program(["psql"], PACKAGE, ctx)
    want_globals = src.options.get("globals", True)
    pg_dumpall = find_program(["pg_dumpall"], PACKAGE, ctx) if want_globals else ""
    env = client_env(src, ctx)
    dsn = base_dsn(src)
    wanted = list(src.options.get("databases") or [])
    if not wanted:
        own = dsn_dbname(dsn)
        if own is None:
            raise ConfigError(f"{ctx}: say which databases to back up: databases = [\"shop\"] or [\"all\"]")
        wanted = [own]
    maintenance = "postgres" if wanted == ["all"] else wanted[0]
    # Connecting first checks the server, the credentials and the names before any work.
    present = list_databases(psql, dsn_with_db(dsn, maintenance), env, f"{ctx}: cannot connect to PostgreSQL")
    names = select_databases(ctx, wanted, present, present)
    vdir = virtual_dir(src.name)
    files = []
    for db in names:
        cmd = [pg_dump, "--format=custom", "--compress=0", "--no-password", f"--lock-wait-timeout={LOCK_WAIT}",
               "-d", dsn_with_db(dsn, db)]
        dump = DumpProcess(f"{ctx}: pg_dump of database {db!r}", cmd, env)
        files.append(dump.item(vdir + b"/" + os.fsencode(virtual_name(db)) + b".dump", src.name, head=HEADER))
    if want_globals:
        cmd = [pg_dumpall, "--globals-only", "--no-password", "-d", dsn_with_db(dsn, maintenance)]
        files.append(DumpProcess(f"{ctx}: pg_dumpall --globals-only", cmd, env)
                     .item(vdir + b"/globals.sql", src.name))
    return with_dirs(src.name, files)


def load_postgres(content: Iterable[bytes], mode: int, into: str, src: SourceConfig, what: str) -> None:
    """pg_restore a dump into the database `into` names, which is created when it does not
    exist and must hold nothing when it does (loading over tables would mix two states)."""
    ctx = f"restore into {into!r}"
    psql = find_program(["psql"], PACKAGE, ctx)
    pg_restore = find_program(["pg_restore"], PACKAGE, ctx)
    env = client_env(src, ctx)
    target = dsn_dbname(into)
    if target is None:
        raise ConfigError(f"{ctx}: the DSN names no database (add dbname=NAME, or /NAME to a URI)")
    base = [psql, "-X", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1"]
    check = subprocess.run([*base, "-d", into, "-c", _OBJECTS], capture_output=True, env=env,
                           stdin=subprocess.DEVNULL, check=False)
    if check.returncode != 0:
        message = first_error(check.stderr.decode("utf-8", "replace"))
        if f'database "{target}" does not exist' not in message:
            raise ReliadError(f"{ctx}: {message}")
        ident = '"' + target.replace('"', '""') + '"'
        run_client([*base, "-d", dsn_with_db(into, "postgres"), "-c", f"CREATE DATABASE {ident}"],
                   env, f"{ctx}: cannot create database {target!r}")
        log.info("event=database_created database=%r", target)
    elif int(check.stdout.strip() or 0) > 0:
        raise ReliadError(f"{ctx}: database {target!r} is not empty ({int(check.stdout)} tables, sequences, views "
                          "or schemas); restore into a new or empty database")
    feed_program(content, [pg_restore, "--exit-on-error", "--single-transaction", "--no-password", "-d", into], env,
                 f"pg_restore of {what} into {target!r}")


SOURCE = SourceType(open_postgres, load_postgres, b".dump")
