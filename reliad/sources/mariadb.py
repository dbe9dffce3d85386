"""The `mariadb` and `mysql` sources: mariadb-dump (or mysqldump) per database.

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

import os
from collections.abc import Callable

from reliad.config import PolicyConfig, SourceConfig
from reliad.errors import ConfigError
from reliad.sources.base import SourceItem
from reliad.sources.dump import (
    DumpProcess,
    find_program,
    password_from,
    run_client,
    select_databases,
    virtual_dir,
    virtual_name,
    where,
    with_dirs,
)

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
