"""The drill's load phase: each database dump of the backup into a scratch database.

A scratch database is named for the drill (`reliad_drill_<token>_<policy>_<source>_<db>`),
never for a live one, and lives on the source's own server or on the standby server the
drill configuration names for that source. Before it is created, a bookkeeping file says it
may exist, so a drill killed with -9 has its scratch databases dropped at the next start.
The load itself is `restore --into` (reliad/jobs/dbrestore.py), which refuses a database
that is not empty: a drill can never load over data it did not create.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from reliad.config import Config, SourceConfig
from reliad.drills import bookkeeping
from reliad.errors import ReliadError
from reliad.jobs.dbrestore import run_db_restore
from reliad.repository import Repository
from reliad.repository.manifest import VIRTUAL_ROOT
from reliad.sources import SOURCE_TYPES, mariadb, postgres
from reliad.sources.dump import find_program, password_from, run_client

log = logging.getLogger(__name__)
KINDS = ("postgres", "mariadb", "mysql")
_NAME_MAX = 63  # PostgreSQL's identifier limit (MariaDB allows 64)


def scratch_name(token: str, policy: str, source: str, database: str) -> str:
    """A database name no live database has: lowercase letters, digits and '_' only."""
    raw = f"reliad_drill_{token}_{policy}_{source}_{database}".lower()
    return re.sub(r"[^a-z0-9_]", "_", raw)[:_NAME_MAX]


@dataclass
class Server:
    """A database server a drill loads into and queries: the source's kind and password, and
    its connection (a libpq conninfo, or a mysql:// URL without database)."""

    source: SourceConfig
    conn: str

    @property
    def kind(self) -> str:
        return self.source.type

    def shown(self) -> str:
        return self.conn

    def into(self, database: str) -> str:
        """The DSN that `restore --into` and the checks use for one database."""
        if self.kind == "postgres":
            return postgres.dsn_with_db(self.conn, database)
        return self.conn.rstrip("/") + "/" + quote(database, safe="")

    def _maria(self) -> tuple[str, dict[str, object], str | None]:
        ctx = f"database server {self.conn}"
        _, client = mariadb.programs(self.kind, ctx)
        u = urlsplit(self.conn)
        opts: dict[str, object] = {k: v for k, v in (("host", u.hostname), ("port", u.port),
                                                     ("user", unquote(u.username) if u.username else None)) if v}
        if parse_qs(u.query).get("socket"):
            opts["socket"] = parse_qs(u.query)["socket"][0]
        return client, opts, password_from(self.source, ctx)

    def rows(self, database: str | None, sql: str, context: str) -> list[list[str]]:
        """Run SQL (in `database`, or the server's default one); rows as lists of text fields."""
        if self.kind == "postgres":
            psql = find_program(["psql"], postgres.PACKAGE, context)
            dsn = self.into(database or "postgres")
            out = run_client([psql, "-X", "-A", "-t", "-w", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", dsn,
                              "-c", sql], postgres.client_env(self.source, context), context)
            return [ln.split("\t") for ln in out.split("\n") if ln]
        client, opts, password = self._maria()
        return mariadb.run_sql(client, opts, password, sql, context, database=database)

    def reachable(self) -> str | None:
        """None when the server answers a query, else why not (one sentence)."""
        try:
            self.rows(None, "SELECT 1", f"database server {self.shown()}")
        except ReliadError as e:
            return str(e)
        return None

    def drop(self, database: str) -> None:
        ctx = f"drop scratch database {database!r} on {self.shown()}"
        if self.kind == "postgres":
            self.rows(None, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)', ctx)
        else:
            self.rows(None, f"DROP DATABASE IF EXISTS `{database}`", ctx)


def _maria_url(o: dict[str, Any]) -> str:
    user = quote(str(o.get("user", "root")), safe="")
    host = o.get("host", "localhost")
    port = f":{o['port']}" if o.get("port") else ""
    sock = f"?socket={quote(str(o['socket']))}" if o.get("socket") else ""
    return f"mysql://{user}@{host}{port}{sock}"


def server_for(config: Config, policy: str, source: str) -> Server:
    """Where a source's dumps are loaded: the drill's standby server for it, else its own."""
    src = next(s for s in config.policy(policy).sources if s.name == source)
    standby = config.drills[policy].database_servers.get(source)
    if standby is not None:
        return Server(src, standby)
    if src.type == "postgres":
        return Server(src, postgres.base_dsn(src))
    return Server(src, _maria_url(src.options))


def dumps(repo: Repository, backup_id: str) -> list[tuple[str, str, str]]:
    """(source, database, type) of every database dump the backup holds, from its header and
    manifest (PostgreSQL's globals.sql is no database)."""
    kinds = {s["name"]: s["type"] for s in repo.header(backup_id).get("sources", []) if s.get("type") in KINDS}
    out = []
    for e in repo.entries(backup_id):
        parts = e.path.split(b"/")
        if e.type != "file" or len(parts) != 3 or parts[0] != VIRTUAL_ROOT:
            continue
        source = os.fsdecode(parts[1])
        kind = kinds.get(source)
        suffix = SOURCE_TYPES[kind].suffix if kind else b""
        if kind and suffix and parts[2].endswith(suffix):
            out.append((source, unquote(os.fsdecode(parts[2][:-len(suffix)])), kind))
    return out


def _scratch_file(state_dir: Path, name: str) -> Path:
    return bookkeeping.drills_dir(state_dir) / "scratch" / f"{name}.json"


def load(config: Config, repo: Repository, backup_id: str, server: Server, source: str, database: str,
         scratch: str, drill_id: str) -> dict[str, Any]:
    """Load one dump into a new scratch database; the bookkeeping file comes first."""
    mark = _scratch_file(config.state_dir, scratch)
    bookkeeping.write_json(mark, {"pid": os.getpid(), "drill": drill_id, "source": source, "kind": server.kind,
                                  "conn": server.conn, "name": scratch})
    # The scratch database is reached as the server's user, whose password (if any) is the source's.
    password = server.source.options.get("password_file")
    done = run_db_restore(repo, backup_id, source, server.into(scratch), database, Path(password) if password else None)
    return {"source": source, "database": database, "scratch": scratch, "server": server.shown(),
            "into": server.into(scratch), "bytes": done["bytes"]}


def drop(config: Config, scratch: str, server: Server) -> None:
    """Drop a scratch database and forget it."""
    server.drop(scratch)
    bookkeeping.remove(_scratch_file(config.state_dir, scratch))
    log.info("event=drill_scratch_dropped database=%s server=%r", scratch, server.shown())


def drop_leftovers(config: Config) -> list[str]:
    """Drop the scratch databases of drills that died (their process is gone); returns what
    could not be dropped, as sentences (the file stays for the next try)."""
    problems = []
    for path, d in bookkeeping.entries(config.state_dir, "scratch"):
        if bookkeeping.alive(d):
            continue
        src = next((s for p in config.policies.values() for s in p.sources if s.name == d.get("source")), None)
        server = Server(src or SourceConfig(type=str(d.get("kind")), name=str(d.get("source"))), str(d.get("conn")))
        try:
            server.drop(str(d["name"]))
        except (ReliadError, KeyError) as e:
            problems.append(f"scratch database {d.get('name')!r} of an interrupted drill could not be dropped: {e}")
            continue
        bookkeeping.remove(path)
        log.info("event=drill_scratch_dropped database=%s server=%r leftover=1", d.get("name"), server.shown())
    return problems
