"""The `mariadb` and `mysql` sources: mariadb-dump (or mysqldump) per database, and the
client program loading one of those dumps into a new or empty database (`restore --into`).

`--single-transaction` makes the dump of InnoDB tables one consistent snapshot while the
shop keeps writing; routines, triggers and events are included; `--skip-dump-date` keeps
the output of an unchanged database byte-identical, so an incremental stores nothing new
for it. Databases are dumped without `--databases`, so the dump carries no CREATE
DATABASE / USE and loads into a database of any name.

The password from `password_file` reaches the client programs as a defaults file read
through a pipe (`--defaults-extra-file=/dev/fd/N`): it is never on a command line and
never written to disk.

Items: `_reliad/<source>/<db>.sql`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from urllib.parse import parse_qs, unquote, urlsplit

from reliad.config import PolicyConfig, SourceConfig
from reliad.errors import ConfigError, ReliadError
from reliad.sources.base import SourceItem, SourceType
from reliad.sources.dump import (
    DumpProcess,
    feed_program,
    find_program,
    password_from,
    run_client,
    select_databases,
    virtual_dir,
    virtual_name,
    where,
    with_dirs,
)

log = logging.getLogger(__name__)
PACKAGE = "mariadb-client"
SYSTEM_DATABASES = {"information_schema", "performance_schema", "mysql", "sys"}
DUMP_OPTIONS = ["--single-transaction", "--routines", "--triggers", "--events", "--hex-blob",
                "--skip-dump-date", "--default-character-set=utf8mb4"]


def programs(kind: str, context: str) -> tuple[str, str]:
    """(dump program, client program), preferring the names of the configured flavour."""
    if kind == "mysql":
        return (find_program(["mysqldump", "mariadb-dump"], PACKAGE, context),
                find_program(["mysql", "mariadb"], PACKAGE, context))
    return (find_program(["mariadb-dump", "mysqldump"], PACKAGE, context),
            find_program(["mariadb", "mysql"], PACKAGE, context))


def connection_args(options: dict[str, object]) -> list[str]:
    args = []
    if options.get("socket"):
        args.append(f"--socket={options['socket']}")
    if options.get("host"):
        args.append(f"--host={options['host']}")
    if options.get("port"):
        args.append(f"--port={options['port']}")
    if options.get("user"):
        args.append(f"--user={options['user']}")
    return args


def password_pipe(password: str | None) -> Callable[[], list[int]]:
    """A fresh pipe holding `[client] password=...` for each program run; the child gets its
    read end. Small enough for the pipe buffer, so writing never blocks."""

    def prepare() -> list[int]:
        if password is None:
            return []
        r, w = os.pipe()
        value = password.replace("\\", "\\\\").replace('"', '\\"')
        os.write(w, f'[client]\npassword="{value}"\n'.encode())
        os.close(w)
        return [r]

    return prepare


def with_password(argv0: str, fds: list[int]) -> list[str]:
    """Argument list head: the program, then the defaults file (which must come first)."""
    return [argv0, *(f"--defaults-extra-file=/dev/fd/{fd}" for fd in fds)]


def run_sql(client: str, options: dict[str, object], password: str | None, sql: str, context: str,
            database: str | None = None) -> list[list[str]]:
    """Run SQL with the client program; rows as lists of tab-separated fields."""
    fds = password_pipe(password)()
    try:
        argv = [*with_password(client, fds), *connection_args(options), "--batch", "--skip-column-names",
                "-e", sql]
        if database:
            argv.append(database)
        out = run_client(argv, None, context, pass_fds=fds)
    finally:
        for fd in fds:
            os.close(fd)
    return [ln.split("\t") for ln in out.split("\n") if ln]


class _Dump(DumpProcess):
    """A dump whose password pipe is made just before the program starts."""

    def __init__(self, what: str, program: str, tail: list[str], password: str | None) -> None:
        super().__init__(what, [], None, prepare=self._prepare)
        self._program, self._tail, self._make = program, tail, password_pipe(password)

    def _prepare(self) -> list[int]:
        fds = self._make()
        self.argv = [*with_password(self._program, fds), *self._tail]
        return fds


def open_mariadb(policy: PolicyConfig, src: SourceConfig, skip_dirs: list[object]) -> list[SourceItem]:
    ctx = where(policy, src)
    dump, client = programs(src.type, ctx)
    password = password_from(src, ctx)
    wanted = list(src.options.get("databases") or [])
    if not wanted:
        raise ConfigError(f"{ctx}: say which databases to back up: databases = [\"shop\"] or [\"all\"]")
    present = [r[0] for r in run_sql(client, src.options, password, "SHOW DATABASES",
                                      f"{ctx}: cannot connect to {src.type}")]
    names = select_databases(ctx, wanted, present, sorted(d for d in present if d not in SYSTEM_DATABASES))
    vdir = virtual_dir(src.name)
    files = []
    for db in names:
        tail = [*connection_args(src.options), *DUMP_OPTIONS, "--", db]
        d = _Dump(f"{ctx}: {os.path.basename(dump)} of database {db!r}", dump, tail, password)
        files.append(d.item(vdir + b"/" + os.fsencode(virtual_name(db)) + b".sql", src.name))
    return with_dirs(src.name, files)


def _target(into: str, ctx: str) -> tuple[dict[str, object], str, str | None]:
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


def load_mariadb(content: Iterable[bytes], mode: int, into: str, src: SourceConfig, what: str) -> None:
    """Load a dump with the client program into the database of the URL `into`, which is
    created when it does not exist and must hold nothing when it does."""
    ctx = f"restore into {into!r}"
    _, client = programs(src.type or "mariadb", ctx)
    opts, db, password = _target(into, ctx)
    if password is None:
        password = password_from(src, ctx)
    lit = "'" + db.replace("\\", "\\\\").replace("'", "\\'") + "'"
    rows = run_sql(client, opts, password,
                   f"SELECT (SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = {lit}), "
                   f"(SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = {lit}) + "
                   f"(SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = {lit})", ctx)
    exists, objects = int(rows[0][0]), int(rows[0][1])
    if not exists:
        run_sql(client, opts, password, "CREATE DATABASE `" + db.replace("`", "``") + "`",
                f"{ctx}: cannot create database {db!r}")
        log.info("event=database_created database=%r", db)
    elif objects:
        raise ReliadError(f"{ctx}: database {db!r} is not empty ({objects} tables, views or routines); "
                          "restore into a new or empty database")
    fds = tuple(password_pipe(password)())
    argv = [*with_password(client, list(fds)), *connection_args(opts), "--batch", "--", db]
    feed_program(content, argv, None, f"loading {what} into {db!r}", pass_fds=fds)


SOURCE = SourceType(open_mariadb, load_mariadb, b".sql")
