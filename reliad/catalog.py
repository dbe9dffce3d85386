"""The catalog: what happened, in SQLite under the state directory.

Repositories are the truth about which backups exist; the catalog adds history that a
repository cannot hold (failed and interrupted runs, errors) and answers `list` quickly.
`reliad catalog rebuild` recreates the backup rows from a repository after the host is lost.

All SQL of the catalog is in this module: jobs, the daemon and the metrics call its methods.
The schema carries a version (SQLite's `user_version`); opening a catalog brings it up to
`SCHEMA_VERSION` by running the migrations it lacks, in one transaction each, so a catalog
written by an older release keeps all its history. A change to the schema is a new function
appended to `MIGRATIONS`, never an edit of an old one.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reliad import sqlitecheck
from reliad.config.schedule import VERIFY_TYPES
from reliad.errors import ReliadError
from reliad.statedir import ensure_state_dir
from reliad.timeutil import iso, utcnow

log = logging.getLogger(__name__)

# The schema of the releases before the catalog had a version (user_version 0): version 1.
SCHEMA_V1 = ("""
CREATE TABLE IF NOT EXISTS backups (
    id TEXT NOT NULL,
    target TEXT NOT NULL,
    policy TEXT NOT NULL,
    type TEXT NOT NULL,
    requested_type TEXT,
    base TEXT,
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    files INTEGER DEFAULT 0,
    bytes_read INTEGER DEFAULT 0,
    bytes_stored INTEGER DEFAULT 0,
    duration_s REAL,
    error TEXT,
    host TEXT,
    pid INTEGER,
    classes TEXT DEFAULT '[]',
    depends_on TEXT DEFAULT '[]',
    PRIMARY KEY (id, target)
)""", "CREATE INDEX IF NOT EXISTS backups_policy ON backups (policy, started_at)", """
CREATE TABLE IF NOT EXISTS verify_runs (
    seq INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    policy TEXT NOT NULL,
    mode TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    backups INTEGER NOT NULL,
    damaged_backups INTEGER NOT NULL,
    files INTEGER DEFAULT 0,
    bytes_checked INTEGER DEFAULT 0
)""", """
CREATE TABLE IF NOT EXISTS lock_waits (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    target TEXT NOT NULL,
    command TEXT NOT NULL,
    waited_s REAL NOT NULL,
    acquired INTEGER NOT NULL
)""", """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    policy TEXT,
    target TEXT,
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    duration_s REAL,
    error TEXT,
    detail TEXT DEFAULT '{}',
    host TEXT,
    pid INTEGER
)""", "CREATE INDEX IF NOT EXISTS jobs_kind ON jobs (kind, policy, started_at)", """
CREATE TABLE IF NOT EXISTS replication (
    backup_id TEXT NOT NULL,
    target TEXT NOT NULL,
    state TEXT NOT NULL,              -- pending | replicated
    attempts INTEGER DEFAULT 0,
    last_error TEXT,
    last_attempt_at TEXT,
    replicated_at TEXT,
    bytes INTEGER DEFAULT 0,
    PRIMARY KEY (backup_id, target)
)""")


def _v1(db: sqlite3.Connection) -> None:
    """The tables and indexes of the unversioned releases; a catalog they made has them
    already (except tables added later, such as replication), a new one gets them all."""
    for statement in SCHEMA_V1:
        db.execute(statement)


def _v2(db: sqlite3.Connection) -> None:
    """Damage found by verification, kept per backup until a clean verification as deep
    clears it (or prune removes the backup), so that it stays known between runs."""
    db.execute("""
CREATE TABLE IF NOT EXISTS damage (
    backup_id TEXT NOT NULL,
    target TEXT NOT NULL,
    policy TEXT NOT NULL,
    mode TEXT NOT NULL,               -- the verification mode that found it
    found_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (backup_id, target)
)""")


def _v3(db: sqlite3.Connection) -> None:
    """When each backup was last verified clean per mode: the coverage of verification, and
    which backups a scheduled verification reads next (those proven longest ago)."""
    db.execute("""
CREATE TABLE IF NOT EXISTS verified (
    backup_id TEXT NOT NULL,
    target TEXT NOT NULL,
    mode TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (backup_id, target, mode)
)""")


# MIGRATIONS[n] brings a catalog from version n to n + 1.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1, _v2, _v3)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection, path: Path) -> int:
    """Bring the catalog to SCHEMA_VERSION; each step and its new version number commit
    together, so a crash or a second process opening it at the same moment leaves a
    catalog at one version or the next, never between. Returns the version it had."""
    start = found = db.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise ReliadError(f"{path}: the catalog has schema version {found}, newer than this reliad knows "
                          f"({SCHEMA_VERSION}); upgrade reliad")
    while found < SCHEMA_VERSION:
        db.execute("BEGIN IMMEDIATE")
        try:
            found = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have been first
            if found < SCHEMA_VERSION:
                MIGRATIONS[found](db)
                found += 1
                db.execute(f"PRAGMA user_version = {found}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    if start < SCHEMA_VERSION:
        log.info("event=catalog_migrated path=%s from=%d to=%d", path, start, SCHEMA_VERSION)
    return start


FILE = "catalog.db"
# Which damage a clean verification in a mode clears: crc reads every stored byte, so it
# clears what fast found (a missing or short pack) too; byte compares with the live files,
# which says nothing of the stored CRCs of files changed since, and nothing else clears its
# findings (stored bytes that differ from an unchanged live file).
CLEARS = {"fast": ("fast",), "crc": ("fast", "crc"), "byte": ("byte",)}
REBUILD_HINT = ("run 'reliad catalog rebuild': it sets the damaged file aside (kept, beside it) and recreates the "
                "backup records from the repositories")

COLUMNS = ("id", "target", "policy", "type", "requested_type", "base", "status", "started_at",
           "finished_at", "files", "bytes_read", "bytes_stored", "duration_s", "error", "host", "pid",
           "classes", "depends_on")


def _process_gone(pid: int) -> bool:
    """True when no process `pid` runs (and it is not this one). psutil is imported here, where
    a run left 'running' is looked at, not with the module: every command opens the catalog,
    and importing psutil cost each of them 10-15 ms of start."""
    import psutil

    return pid != os.getpid() and not psutil.pid_exists(pid)


class Catalog:
    def __init__(self, state_dir: Path) -> None:
        ensure_state_dir(state_dir)
        self.path = state_dir / FILE
        self.db = sqlitecheck.connect(self.path, "the catalog", REBUILD_HINT, lambda db: migrate(db, self.path))
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        migrate(self.db, self.path)
        self._mark_interrupted()

    def close(self) -> None:
        self.db.close()

    def _mark_interrupted(self) -> None:
        """A run still 'running' whose process is gone was killed: record it as failed."""
        host = socket.gethostname()
        rows = self.db.execute("SELECT id, target, pid FROM backups WHERE status='running' AND host=?",
                               (host,)).fetchall()
        for r in rows:
            if _process_gone(r["pid"]):
                self.db.execute(
                    "UPDATE backups SET status='failed', finished_at=?, "
                    "error='interrupted: the process running this backup died' WHERE id=? AND target=?",
                    (iso(utcnow()), r["id"], r["target"]))
        for r in self.db.execute("SELECT seq, pid FROM jobs WHERE status='running' AND host=?", (host,)).fetchall():
            if _process_gone(r["pid"]):
                self.db.execute("UPDATE jobs SET status='failed', finished_at=?, "
                                "error='interrupted: the process running this job died' WHERE seq=?",
                                (iso(utcnow()), r["seq"]))

    def start(self, *, id: str, target: str, policy: str, type: str, requested_type: str,
              base: str | None, started_at: str, classes: list[str]) -> None:
        self.db.execute(
            "INSERT INTO backups (id, target, policy, type, requested_type, base, status, started_at, "
            "host, pid, classes) VALUES (?,?,?,?,?,?,'running',?,?,?,?)",
            (id, target, policy, type, requested_type, base, started_at, socket.gethostname(),
             os.getpid(), json.dumps(classes)))

    def finish(self, id: str, target: str, **fields: Any) -> None:
        for k in ("classes", "depends_on"):
            if k in fields:
                fields[k] = json.dumps(fields[k])
        sets = ", ".join(f"{k}=?" for k in fields)
        self.db.execute(f"UPDATE backups SET {sets} WHERE id=? AND target=?",
                        (*fields.values(), id, target))

    def record_skipped(self, *, id: str, target: str, policy: str, type: str, reason: str,
                       due: str | None = None) -> None:
        """A scheduled backup that did not run because a larger one covered it (R8). It starts
        at `due`, the slot it served, so that intervals keep counting from the schedule."""
        now = iso(utcnow())
        self.db.execute(
            "INSERT INTO backups (id, target, policy, type, requested_type, status, started_at, finished_at, "
            "duration_s, error, host, pid) VALUES (?,?,?,?,?,'skipped',?,?,0,?,?,?)",
            (id, target, policy, type, type, due or now, now, reason, socket.gethostname(), os.getpid()))

    def last_served(self, policy: str, btype: str) -> str | None:
        """Start time of the newest slot of `btype` that was served: a backup asked for as that
        type that succeeded, or one skipped because a larger backup covered it. Failed and
        interrupted runs do not count, so the slot is still owed after a restart."""
        row = self.db.execute(
            "SELECT max(started_at) FROM backups WHERE policy=? AND coalesce(requested_type, type)=? "
            "AND status IN ('ok','partial','skipped','pruned')", (policy, btype)).fetchone()
        return row[0]

    def last_backup_run(self, policy: str, btype: str) -> dict[str, Any] | None:
        """The newest run (any status) scheduled or asked for as `btype`."""
        row = self.db.execute(
            "SELECT * FROM backups WHERE policy=? AND coalesce(requested_type, type)=? "
            "ORDER BY started_at DESC, id DESC LIMIT 1", (policy, btype)).fetchone()
        return dict(row) if row else None

    def job_start(self, kind: str, policy: str | None, target: str | None) -> int:
        cur = self.db.execute("INSERT INTO jobs (kind, policy, target, status, started_at, host, pid) "
                              "VALUES (?,?,?,'running',?,?,?)",
                              (kind, policy, target, iso(utcnow()), socket.gethostname(), os.getpid()))
        return int(cur.lastrowid or 0)

    def job_finish(self, rowid: int, status: str, duration_s: float, error: str | None = None,
                   detail: dict[str, Any] | None = None) -> None:
        self.db.execute("UPDATE jobs SET status=?, finished_at=?, duration_s=?, error=?, detail=? WHERE seq=?",
                        (status, iso(utcnow()), round(duration_s, 3), error, json.dumps(detail or {}), rowid))

    def last_job(self, kind: str, policy: str | None, ok_only: bool = False,
                 statuses: tuple[str, ...] = ()) -> dict[str, Any] | None:
        """The newest job of a kind and policy (only those ending ok, or in `statuses`, when asked)."""
        wanted = ("ok",) if ok_only else statuses
        q = "SELECT * FROM jobs WHERE kind=? AND policy IS ?"
        if wanted:
            q += f" AND status IN ({','.join('?' * len(wanted))})"
        row = self.db.execute(q + " ORDER BY started_at DESC, seq DESC LIMIT 1", (kind, policy, *wanted)).fetchone()
        return dict(row) if row else None

    def upsert_from_header(self, target: str, h: dict[str, Any]) -> None:
        stats = h.get("stats", {})
        classes = sorted({c for s in h.get("sources", []) for c in s.get("classes", [])})
        self.db.execute(
            "INSERT OR REPLACE INTO backups (id, target, policy, type, requested_type, base, status, "
            "started_at, finished_at, files, bytes_read, bytes_stored, duration_s, host, classes, depends_on) "
            "VALUES (?,?,?,?,?,?,'ok',?,?,?,?,?,?,?,?,?)",
            (h["id"], target, h["policy"], h["type"], h.get("requested_type"), h.get("base"),
             h["started_at"], h.get("finished_at"), stats.get("files", 0), stats.get("bytes_read", 0),
             stats.get("bytes_stored", 0), stats.get("duration_s"), h.get("host"), json.dumps(classes),
             json.dumps(h.get("depends_on", []))))

    def reconcile(self, target: str, headers: list[dict[str, Any]]) -> None:
        """A manifest committed by a run killed before it could update its row (the kill
        landed between the two writes) is a complete backup: record it as one."""
        for h in headers:
            row = self.db.execute("SELECT status FROM backups WHERE id=? AND target=?", (h["id"], target)).fetchone()
            if row is None or row["status"] in ("running", "failed"):
                self.upsert_from_header(target, h)

    def replace_target(self, target: str, headers: list[dict[str, Any]]) -> None:
        """Make the ok rows of `target` exactly the given manifests; failed history stays."""
        self.db.execute("BEGIN")
        try:
            self.db.execute("DELETE FROM backups WHERE target=? AND status='ok'", (target,))
            for h in headers:
                self.upsert_from_header(target, h)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    # -- replication to offsite targets ---------------------------------------------
    def replication_pending(self, backup_id: str, target: str, error: str | None = None) -> None:
        """Record that a backup still has to reach `target` (with the last error, if any)."""
        now = iso(utcnow())
        self.db.execute(
            "INSERT INTO replication (backup_id, target, state, attempts, last_error, last_attempt_at) "
            "VALUES (?,?,'pending',?,?,?) ON CONFLICT (backup_id, target) DO UPDATE SET state='pending', "
            "attempts=attempts+excluded.attempts, last_error=excluded.last_error, "
            "last_attempt_at=COALESCE(excluded.last_attempt_at, last_attempt_at)",
            (backup_id, target, 1 if error else 0, error, now if error else None))

    def replication_done(self, backup_id: str, target: str, bytes_copied: int) -> None:
        now = iso(utcnow())
        self.db.execute(
            "INSERT INTO replication (backup_id, target, state, attempts, last_attempt_at, replicated_at, bytes) "
            "VALUES (?,?,'replicated',1,?,?,?) ON CONFLICT (backup_id, target) DO UPDATE SET state='replicated', "
            "attempts=attempts+1, last_error=NULL, last_attempt_at=excluded.last_attempt_at, "
            "replicated_at=COALESCE(replicated_at, excluded.replicated_at), bytes=bytes+excluded.bytes",
            (backup_id, target, now, now, bytes_copied))

    def replication(self, target: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        where, args = _filters(target=target, state=state)
        return [dict(r) for r in self.db.execute(f"SELECT * FROM replication{where} ORDER BY backup_id, target", args)]

    def replication_states(self) -> dict[str, dict[str, str]]:
        """{backup id: {offsite target: state}} for `list`."""
        out: dict[str, dict[str, str]] = {}
        for r in self.db.execute("SELECT backup_id, target, state FROM replication"):
            out.setdefault(r["backup_id"], {})[r["target"]] = r["state"]
        return out

    def backups(self, policy: str | None = None, target: str | None = None) -> list[dict[str, Any]]:
        where, args = _filters(policy=policy, target=target)
        return [self._checked_row(dict(r))
                for r in self.db.execute(f"SELECT * FROM backups{where} ORDER BY started_at, id", args)]

    def _checked_row(self, d: dict[str, Any]) -> dict[str, Any]:
        """A backups row with the types its readers rely on. SQLite stores whatever it is
        given, so a damaged or hand-edited row must fail here, as one sentence, not later
        as a traceback in some formatter."""
        try:
            for k in ("id", "target", "policy", "type", "status", "started_at"):
                if not isinstance(d[k], str):
                    raise ValueError(f"{k} is not text")
            for k in ("requested_type", "base", "finished_at", "error", "host"):
                if d[k] is not None and not isinstance(d[k], str):
                    raise ValueError(f"{k} is not text")
            for k in ("files", "bytes_read", "bytes_stored", "pid"):
                if d[k] is not None and type(d[k]) is not int:
                    raise ValueError(f"{k} is not an integer")
            if d["duration_s"] is not None and type(d["duration_s"]) not in (int, float):
                raise ValueError("duration_s is not a number")
            for k in ("classes", "depends_on"):
                v = json.loads(d[k] or "[]")
                if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                    raise ValueError(f"{k} is not a list of names")
                d[k] = v
        except (ValueError, TypeError) as e:
            raise ReliadError(f"{self.path}: the catalog row of backup {d.get('id')!r} is damaged ({e}); "
                              "'reliad catalog rebuild' recreates the rows from the repositories") from None
        return d

    def record_verify(self, *, target: str, policy: str, mode: str, started_at: str, finished_at: str,
                      backups: int, damaged_backups: int, files: int, bytes_checked: int) -> None:
        """One verification of one policy's backups in one target, kept so that monitoring can
        tell when each was last proven intact and whether damage was found."""
        self.db.execute(
            "INSERT INTO verify_runs (target, policy, mode, started_at, finished_at, backups, damaged_backups, "
            "files, bytes_checked) VALUES (?,?,?,?,?,?,?,?,?)",
            (target, policy, mode, started_at, finished_at, backups, damaged_backups, files, bytes_checked))

    def mark_pruned(self, backup_id: str, target: str) -> None:
        """Prune removed the backup from `target`: its row stays, as history, marked pruned
        (and its damage is no longer a concern)."""
        self.db.execute("UPDATE backups SET status='pruned' WHERE id=? AND target=?", (backup_id, target))
        self.db.execute("DELETE FROM damage WHERE backup_id=? AND target=?", (backup_id, target))

    # -- damage found by verification -------------------------------------------------
    def record_damage(self, target: str, policy: str, mode: str, damaged: dict[str, str], clean: list[str]) -> None:
        """After a verification in `mode`: the backups in `damaged` ({id: first reason}) are
        known damaged from now on (a backup already known keeps when and how it was first
        found); those in `clean` are cleared, but only of damage this mode can disprove
        (`CLEARS`): a `fast` pass says nothing about a CRC mismatch."""
        now = iso(utcnow())
        for bid, reason in damaged.items():
            self.db.execute(
                "INSERT INTO damage (backup_id, target, policy, mode, found_at, reason) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT (backup_id, target) DO NOTHING", (bid, target, policy, mode, now, reason))
        modes = CLEARS.get(mode, ())
        for bid in clean:
            self.db.execute("INSERT INTO verified (backup_id, target, mode, at) VALUES (?,?,?,?) "
                            "ON CONFLICT (backup_id, target, mode) DO UPDATE SET at=excluded.at", (bid, target, mode, now))
            self.db.execute(f"DELETE FROM damage WHERE backup_id=? AND target=? AND mode IN "
                            f"({','.join('?' * len(modes))})", (bid, target, *modes))

    def damage(self) -> dict[tuple[str, str], dict[str, Any]]:
        """{(backup id, target): its damage row} for every backup known damaged now."""
        return {(r["backup_id"], r["target"]): dict(r) for r in self.db.execute("SELECT * FROM damage")}

    def verification_ages(self, mode: str = "crc") -> list[dict[str, Any]]:
        """Each complete backup (ok or partial) with when it finished and when it was last
        verified clean in `mode` (None: never), for coverage and the oldest unverified age."""
        return [dict(r) for r in self.db.execute(
            "SELECT b.id, b.policy, b.target, b.finished_at, v.at AS verified_at FROM backups b LEFT JOIN verified v "
            "ON v.backup_id = b.id AND v.target = b.target AND v.mode = ? WHERE b.status IN ('ok', 'partial')",
            (mode,))]

    def damage_counts(self) -> dict[tuple[str, str, str], int]:
        """{(policy, target, mode that found it): backups known damaged}."""
        return {(r["policy"], r["target"], r["mode"]): r["n"] for r in self.db.execute(
            "SELECT policy, target, mode, COUNT(*) AS n FROM damage GROUP BY policy, target, mode")}

    # -- what monitoring reads ----------------------------------------------------
    def backup_history(self) -> list[dict[str, Any]]:
        """Every backup row's outcome and figures, oldest first (the metrics' counters and
        newest-per-key gauges are folded from it)."""
        return [dict(r) for r in self.db.execute(
            "SELECT policy, type, target, status, started_at, finished_at, duration_s, files, bytes_read, "
            "bytes_stored FROM backups ORDER BY started_at, id")]

    def newest_ok(self) -> dict[tuple[str, str], str]:
        """{(policy, type): when its newest successful backup finished}."""
        return {(r["policy"], r["type"]): r["f"] for r in self.db.execute(
            "SELECT policy, type, MAX(finished_at) AS f FROM backups WHERE status='ok' GROUP BY policy, type")
            if r["f"]}

    def verify_counts(self) -> list[dict[str, Any]]:
        """Per policy, target and mode: verification runs (`n`) and those that found damage (`bad`)."""
        return [dict(r) for r in self.db.execute(
            "SELECT policy, target, mode, SUM(damaged_backups > 0) AS bad, COUNT(*) AS n FROM verify_runs "
            "GROUP BY policy, target, mode")]

    def latest_verifies(self) -> list[dict[str, Any]]:
        """The newest verification per policy, target and mode."""
        return [dict(r) for r in self.db.execute(
            "SELECT v.policy, v.target, v.mode, v.finished_at, v.damaged_backups, v.backups FROM verify_runs v "
            "JOIN (SELECT policy, target, mode, MAX(seq) AS seq FROM verify_runs GROUP BY policy, target, mode) m "
            "ON v.seq = m.seq")]

    def lock_wait_totals(self) -> list[dict[str, Any]]:
        """Per target: lock waits (`n`), those that got the lock (`ok`) and seconds waited (`s`)."""
        return [dict(r) for r in self.db.execute(
            "SELECT target, SUM(acquired) AS ok, COUNT(*) AS n, SUM(waited_s) AS s FROM lock_waits GROUP BY target")]

    def replication_waiting(self) -> list[dict[str, Any]]:
        """Per policy and offsite target: the backups still pending there (`n`), their stored
        bytes and when the oldest of them finished."""
        return [dict(r) for r in self.db.execute(
            "SELECT b.policy, r.target, COUNT(*) AS n, SUM(b.bytes_stored) AS bytes, MIN(b.finished_at) AS oldest "
            "FROM replication r JOIN (SELECT id, policy, MAX(bytes_stored) AS bytes_stored, "
            "MIN(finished_at) AS finished_at FROM backups WHERE status IN ('ok', 'partial') GROUP BY id, policy) b "
            "ON b.id = r.backup_id "
            "WHERE r.state = 'pending' GROUP BY b.policy, r.target")]

    def verify_runs(self, since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
        """Recorded verification runs that finished in [since, until) (ISO UTC text), oldest first."""
        rows = self.db.execute("SELECT * FROM verify_runs WHERE finished_at >= ? AND finished_at < ? "
                               "ORDER BY finished_at, seq", (since or "", until or "~"))
        return [dict(r) for r in rows]

    def daily_checks(self, since: str, until: str) -> dict[str, tuple[int, int]]:
        """{UTC day: (jobs, failed jobs)} of reliad's own work started in [since, until), for the
        daily failure rate (R5): every backup run (skipped slots are no run; a partial one failed,
        a pruned one succeeded), every verification (failed when it found damage; a scheduled one
        that could not run at all failed too), every other job (prune), and every copy of a backup to an
        offsite target (failed while it is pending after an error)."""
        out: dict[str, tuple[int, int]] = {}
        queries = (
            "SELECT substr(started_at, 1, 10) AS day, count(*) AS n, sum(status NOT IN ('ok', 'pruned')) AS bad "
            "FROM backups WHERE status NOT IN ('skipped', 'running') AND started_at >= ? AND started_at < ? "
            "GROUP BY day",
            "SELECT substr(started_at, 1, 10) AS day, count(*) AS n, sum(damaged_backups > 0) AS bad "
            "FROM verify_runs WHERE started_at >= ? AND started_at < ? GROUP BY day",
            # a scheduled verification that ran is counted once, by its verify_runs rows above;
            # its job row counts only when it could not run at all (and so left no such row)
            "SELECT substr(started_at, 1, 10) AS day, count(*) AS n, sum(status != 'ok') AS bad "
            "FROM jobs WHERE status != 'running' AND started_at >= ? AND started_at < ? "
            f"AND NOT (kind IN ({', '.join(repr(k) for k in VERIFY_TYPES)}) AND status != 'failed') GROUP BY day",
            "SELECT substr(coalesce(replicated_at, last_attempt_at), 1, 10) AS day, count(*) AS n, "
            "sum(state = 'pending') AS bad FROM replication WHERE (state = 'replicated' OR last_error IS NOT NULL) "
            "AND coalesce(replicated_at, last_attempt_at) >= ? AND coalesce(replicated_at, last_attempt_at) < ? "
            "GROUP BY day",
        )
        for q in queries:
            for r in self.db.execute(q, (since, until)):
                n, bad = out.get(r["day"], (0, 0))
                out[r["day"]] = (n + r["n"], bad + (r["bad"] or 0))
        return out

    def record_lock_wait(self, target: str, command: str, waited_s: float, acquired: bool) -> None:
        """A writer that found the repository locked: how long it waited and whether it got in."""
        self.db.execute("INSERT INTO lock_waits (at, target, command, waited_s, acquired) VALUES (?,?,?,?,?)",
                        (iso(utcnow()), target, command, round(waited_s, 3), int(acquired)))


def open_for_rebuild(state_dir: Path) -> tuple[Catalog, Path | None]:
    """The catalog to rebuild into: the existing one when it is sound (its history of failed
    runs, verifications and jobs stays), else a new one, the damaged file set aside and kept
    under the returned path, whatever state it is in."""
    ensure_state_dir(state_dir)
    path = state_dir / FILE
    aside = sqlitecheck.set_aside(path) if sqlitecheck.problem(path) is not None else None
    return Catalog(state_dir), aside


def _filters(**columns: str | None) -> tuple[str, list[str]]:
    """A WHERE clause matching each column given a value (the names are ours, never input)."""
    used = {k: v for k, v in columns.items() if v}
    return (" WHERE " + " AND ".join(f"{k}=?" for k in used) if used else ""), list(used.values())
