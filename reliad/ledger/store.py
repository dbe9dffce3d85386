"""The ledger database, `state_dir/ledger.db`: every SQL statement of the reliability wing.

Separate from the backup catalog because it has another life: the catalog can be rebuilt from
the repositories, the ledger cannot (it is the only record of past outages), so it is kept
append-only, in WAL mode with synchronous=FULL (a kill -9 loses at most the write in flight,
never a committed row), every write in one transaction (a full disk rolls the transaction back
and raises `LedgerWriteError`: the caller keeps the record and tries again), and it is copied
offsite with the repositories.

Times are stored as ISO 8601 UTC text (reliad.timeutil.iso), so the file reads well in the
sqlite3 shell; the figures work in epoch seconds.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from reliad import sqlitecheck
from reliad.errors import ReliadError
from reliad.statedir import ensure_state_dir
from reliad.timeutil import iso

SCHEMA_VERSION = 1
LEDGER_FILE = "ledger.db"
DRILL_KEYS = ("id", "policy", "scenario", "backup_id", "started_at", "finished_at", "verdict",
              "recovery_time_s", "objective_s", "completeness", "phases", "reasons")
DRILL_VERDICTS = ("PASS", "FAIL", "NOT_VERIFIED")
RESTORE_HINT = ("set it aside and bring back the offsite copy with 'reliad ledger restore' "
                "(docs/RELIABILITY.md)")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- the drills of issue 14, one row per finished drill; `record` is the whole JSON record
CREATE TABLE IF NOT EXISTS drills (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    policy TEXT NOT NULL,
    scenario TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    verdict TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS drills_policy ON drills (policy, started_at);
-- the daemon's own running time: seen_at moves on with every round, so a kill -9 ends the run
-- at its last sign of life and the time after it is unmeasured
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    stopped_at TEXT
);
-- per service and daemon run: from its first probe round to its last, the measured time, and
-- how the last round went (for the service-up metric)
CREATE TABLE IF NOT EXISTS coverage (
    run_id INTEGER NOT NULL,
    service TEXT NOT NULL,
    start TEXT NOT NULL,
    end TEXT NOT NULL,
    last_ok INTEGER NOT NULL,
    last_duration_s REAL NOT NULL,
    last_probe TEXT,
    last_probe_type TEXT,
    PRIMARY KEY (run_id, service)
);
-- probe rounds counted per minute (kept 40 days) and per hour (kept 25 months); a check is one
-- round of one service, failed when any of its probes failed; rounds inside a maintenance window
-- are counted apart and are no check
CREATE TABLE IF NOT EXISTS probe_minutes (
    service TEXT NOT NULL,
    minute TEXT NOT NULL,
    checks INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    maintenance INTEGER NOT NULL,
    duration_max REAL NOT NULL,
    probe TEXT,
    error TEXT,
    PRIMARY KEY (service, minute)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS probe_hours (
    service TEXT NOT NULL,
    hour TEXT NOT NULL,
    checks INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    maintenance INTEGER NOT NULL,
    duration_max REAL NOT NULL,
    PRIMARY KEY (service, hour)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY,
    service TEXT NOT NULL,
    class TEXT NOT NULL,
    origin TEXT NOT NULL,            -- probe | operator
    probe TEXT,
    error TEXT,
    start TEXT NOT NULL,
    detected_at TEXT,
    repaired_at TEXT,
    restored_at TEXT,
    cause TEXT,
    notes TEXT
);
CREATE INDEX IF NOT EXISTS incidents_service ON incidents (service, start);
-- every change of an incident, in order: its timeline
CREATE TABLE IF NOT EXISTS incident_events (
    seq INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS maintenance (
    id INTEGER PRIMARY KEY,
    service TEXT NOT NULL,
    start TEXT NOT NULL,
    end TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL
);
-- host utilisation per hour: sums (for the average) and peaks of the minute samples
CREATE TABLE IF NOT EXISTS utilisation (
    hour TEXT PRIMARY KEY,
    samples INTEGER NOT NULL,
    cpu_sum REAL NOT NULL, cpu_max REAL NOT NULL,
    memory_sum REAL NOT NULL, memory_max REAL NOT NULL,
    disk_sum REAL NOT NULL, disk_max REAL NOT NULL,
    network_sum REAL NOT NULL, network_max REAL NOT NULL
) WITHOUT ROWID;
"""
MINUTES_KEPT_DAYS = 40
HOURS_KEPT_DAYS = 762  # 25 months
INCIDENT_FIELDS = ("class", "probe", "error", "start", "detected_at", "repaired_at", "restored_at", "cause", "notes")
UTIL_METRICS = ("cpu", "memory", "disk", "network")

T = TypeVar("T")


class LedgerWriteError(ReliadError):
    """A write to the ledger did not happen (full disk, I/O error): nothing of it was kept."""


def _when(value: datetime | str | None) -> str | None:
    """A bound given as a datetime or as ISO text, in the stored text form."""
    if value is None or isinstance(value, str):
        return value
    return iso(value)


class Ledger:
    """One open ledger database. Safe to share between threads (one connection, one lock)."""

    def __init__(self, state_dir: Path) -> None:
        ensure_state_dir(state_dir)
        self.path = state_dir / LEDGER_FILE
        self._lock = threading.RLock()
        # checked on open (a truncated or garbled file is one sentence, never a traceback half
        # way through a listing), created whole, errors named: as the catalog is
        self.db = sqlitecheck.connect(self.path, "the ledger", RESTORE_HINT, lambda db: db.executescript(SCHEMA),
                                      check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self._migrate()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        """Create the tables, or refuse a ledger written by a newer reliad (it may hold rows
        this version would misread)."""
        self.db.executescript(SCHEMA)
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self.db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) > SCHEMA_VERSION:
            raise ReliadError(f"{self.path} has ledger schema version {row[0]}, newer than this reliad "
                              f"understands ({SCHEMA_VERSION}); upgrade reliad")

    def copy_to(self, path: Path) -> None:
        """A consistent copy of the whole database in `path` (SQLite's online backup, taken
        between two writes), as one self-contained file for the offsite copy."""
        dst = sqlite3.connect(path)
        try:
            with self._lock:
                self.db.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction: all of it is kept or none. A failed write (SQLITE_FULL, I/O error)
        is rolled back and raised as LedgerWriteError naming the file."""
        with self._lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    yield self.db
                    self.db.execute("COMMIT")
                except BaseException:
                    if self.db.in_transaction:
                        self.db.execute("ROLLBACK")
                    raise
            except (sqlite3.OperationalError, sqlitecheck.StateFileError) as e:
                raise LedgerWriteError(f"{self.path}: a ledger write failed and was not kept ({e}); "
                                       "free space on its file system") from None

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            return fn(self.db)

    # -- drills (issue 14) ---------------------------------------------------------
    def add_drill(self, record: dict[str, Any]) -> None:
        """Store one finished drill. Adding a drill whose id is already stored keeps the first
        (so a retried write after a failure cannot duplicate it)."""
        missing = [k for k in DRILL_KEYS if k not in record]
        if missing:
            raise ValueError(f"drill record lacks {', '.join(missing)}")
        if record["verdict"] not in DRILL_VERDICTS:
            raise ValueError(f"drill verdict {record['verdict']!r} is not one of {', '.join(DRILL_VERDICTS)}")
        text = json.dumps(record, sort_keys=True)
        with self._tx() as db:
            db.execute("INSERT INTO drills (id, policy, scenario, started_at, finished_at, verdict, record) "
                       "VALUES (?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING",
                       (record["id"], record["policy"], record["scenario"], _when(record["started_at"]),
                        _when(record["finished_at"]), record["verdict"], text))

    def drills(self, policy: str | None = None, since: datetime | str | None = None,
               until: datetime | str | None = None) -> list[dict[str, Any]]:
        """Finished drills, oldest first; `since` <= started_at < `until`."""
        where, args = _where(("policy = ?", policy), ("started_at >= ?", _when(since)),
                             ("started_at < ?", _when(until)))
        return [json.loads(r["record"]) for r in self._rows(f"SELECT record FROM drills{where} ORDER BY started_at, seq",
                                                             args)]

    # -- the daemon's running time and the measured time per service -----------------
    def run_started(self, host: str, pid: int, at: datetime) -> int:
        with self._tx() as db:
            cur = db.execute("INSERT INTO runs (host, pid, started_at, seen_at) VALUES (?,?,?,?)",
                             (host, pid, iso(at), iso(at)))
            return int(cur.lastrowid or 0)

    def run_seen(self, run_id: int, at: datetime) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET seen_at=? WHERE run_id=?", (iso(at), run_id))

    def run_stopped(self, run_id: int, at: datetime) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET seen_at=?, stopped_at=? WHERE run_id=?", (iso(at), iso(at), run_id))

    def runs(self, since: datetime | str | None = None, until: datetime | str | None = None) -> list[dict[str, Any]]:
        """The daemon's runs that overlap [since, until), oldest first."""
        where, args = _where(("seen_at >= ?", _when(since)), ("started_at < ?", _when(until)))
        return self._rows(f"SELECT * FROM runs{where} ORDER BY started_at, run_id", args)

    def coverage(self, service: str | None = None, since: datetime | str | None = None,
                 until: datetime | str | None = None) -> list[dict[str, Any]]:
        """Measured spans (service, start, end) overlapping [since, until), oldest first."""
        where, args = _where(("service = ?", service), ("end >= ?", _when(since)), ("start < ?", _when(until)))
        return self._rows(f"SELECT service, start, end FROM coverage{where} ORDER BY start, service", args)

    def last_rounds(self) -> list[dict[str, Any]]:
        """Per service, its newest measured span with how its last round went."""
        return self._rows("SELECT c.* FROM coverage c JOIN (SELECT service, max(end) AS end FROM coverage "
                          "GROUP BY service) m USING (service, end) ORDER BY service", ())

    def service_names(self) -> set[str]:
        """Every service the ledger has measured or recorded an incident of."""
        rows = self._rows("SELECT service FROM coverage UNION SELECT service FROM incidents", ())
        return {r["service"] for r in rows}

    # -- probe rounds ----------------------------------------------------------------
    def record_round(self, *, run_id: int, service: str, at: datetime, ok: bool, duration_s: float,
                     probe: str | None = None, error: str | None = None, maintenance: bool = False,
                     probe_type: str | None = None) -> None:
        """One round of one service's probes: counted in its minute and hour, extending the
        service's measured span in this run and the run's own running time, all in one write."""
        t = iso(at)
        checks, failures, maint = (0, 0, 1) if maintenance else (1, int(not ok), 0)
        with self._tx() as db:
            db.execute("INSERT INTO probe_minutes VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (service, minute) DO UPDATE SET "
                       "checks=checks+excluded.checks, failures=failures+excluded.failures, "
                       "maintenance=maintenance+excluded.maintenance, "
                       "duration_max=max(duration_max, excluded.duration_max), "
                       "probe=coalesce(excluded.probe, probe), error=coalesce(excluded.error, error)",
                       (service, t[:16], checks, failures, maint, duration_s, probe, error))
            db.execute("INSERT INTO probe_hours VALUES (?,?,?,?,?,?) ON CONFLICT (service, hour) DO UPDATE SET "
                       "checks=checks+excluded.checks, failures=failures+excluded.failures, "
                       "maintenance=maintenance+excluded.maintenance, duration_max=max(duration_max, excluded.duration_max)",
                       (service, t[:13], checks, failures, maint, duration_s))
            db.execute("INSERT INTO coverage VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (run_id, service) DO UPDATE SET "
                       "end=excluded.end, last_ok=excluded.last_ok, last_duration_s=excluded.last_duration_s, "
                       "last_probe=excluded.last_probe, last_probe_type=excluded.last_probe_type",
                       (run_id, service, t, t, int(ok), duration_s, probe, probe_type))
            db.execute("UPDATE runs SET seen_at=max(seen_at, ?) WHERE run_id=?", (t, run_id))

    def probe_minutes(self, service: str | None = None, since: datetime | str | None = None) -> list[dict[str, Any]]:
        where, args = _where(("service = ?", service), ("minute >= ?", _when(since) and _when(since)[:16]))
        return self._rows(f"SELECT * FROM probe_minutes{where} ORDER BY minute, service", args)

    def daily_checks(self, since: datetime | str, until: datetime | str,
                     service: str | None = None) -> dict[str, tuple[int, int]]:
        """{UTC day: (checks, failed checks)} of probe rounds in the hours that overlap [since, until),
        from the hourly rows (the hour holding `until` counts, the one starting at it does not)."""
        where, args = _where(("service = ?", service), ("hour >= ?", str(_when(since))[:13]),
                             ("hour || ':00:00Z' < ?", str(_when(until))))
        rows = self._rows("SELECT substr(hour, 1, 10) AS day, sum(checks) AS checks, sum(failures) AS failures "
                          f"FROM probe_hours{where} GROUP BY day ORDER BY day", args)
        return {r["day"]: (r["checks"], r["failures"]) for r in rows}

    # -- incidents -----------------------------------------------------------------------
    def open_incident(self, *, service: str, cls: str, start: datetime | str, origin: str, at: datetime,
                      probe: str | None = None, error: str | None = None, **fields: Any) -> int:
        """A new incident; `fields` may set detected_at, repaired_at, restored_at, cause, notes."""
        values = {"class": cls, "probe": probe, "error": error, "start": _when(start),
                  **{k: _when(v) if k.endswith("_at") else v for k, v in fields.items()}}
        _check_fields(values)
        cols = ", ".join(values)
        with self._tx() as db:
            cur = db.execute(f"INSERT INTO incidents (service, origin, {cols}) VALUES (?,?{',?' * len(values)})",
                             (service, origin, *values.values()))
            iid = int(cur.lastrowid or 0)
            self._event(db, iid, at, "opened", {"service": service, "origin": origin, **values})
            return iid

    def update_incident(self, iid: int, at: datetime, kind: str = "updated", **fields: Any) -> dict[str, Any]:
        """Set some fields of an incident (`kind` names the change in its timeline: updated, restored)."""
        values = {k: _when(v) if k.endswith("_at") or k == "start" else v for k, v in fields.items()}
        _check_fields(values)
        with self._tx() as db:
            if db.execute("SELECT 1 FROM incidents WHERE id=?", (iid,)).fetchone() is None:
                raise KeyError(iid)
            if values:
                sets = ", ".join(f"{k}=?" for k in values)
                db.execute(f"UPDATE incidents SET {sets} WHERE id=?", (*values.values(), iid))
            self._event(db, iid, at, kind, values)
        return self.incident(iid)  # type: ignore[return-value]

    @staticmethod
    def _event(db: sqlite3.Connection, iid: int, at: datetime, kind: str, detail: dict[str, Any]) -> None:
        db.execute("INSERT INTO incident_events (incident_id, at, kind, detail) VALUES (?,?,?,?)",
                   (iid, iso(at), kind, json.dumps(detail, sort_keys=True)))

    def incident(self, iid: int) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM incidents WHERE id=?", (iid,))
        if not rows:
            return None
        rows[0]["timeline"] = [{**e, "detail": json.loads(e["detail"])} for e in self._rows(
            "SELECT at, kind, detail FROM incident_events WHERE incident_id=? ORDER BY seq", (iid,))]
        return rows[0]

    def incidents(self, service: str | None = None, since: datetime | str | None = None,
                  until: datetime | str | None = None, open_only: bool = False) -> list[dict[str, Any]]:
        """Incidents that overlap [since, until) (open ones overlap everything after their start),
        oldest first."""
        where, args = _where(("service = ?", service), ("(restored_at IS NULL OR restored_at >= ?)", _when(since)),
                             ("start < ?", _when(until)), ("restored_at IS NULL AND ?", open_only or None))
        return self._rows(f"SELECT * FROM incidents{where} ORDER BY start, id", args)

    # -- maintenance windows ---------------------------------------------------------------
    def add_maintenance(self, *, service: str, start: datetime | str, end: datetime | str, reason: str,
                        at: datetime) -> int:
        with self._tx() as db:
            cur = db.execute("INSERT INTO maintenance (service, start, end, reason, created_at) VALUES (?,?,?,?,?)",
                             (service, _when(start), _when(end), reason, iso(at)))
            return int(cur.lastrowid or 0)

    def maintenance(self, service: str | None = None, since: datetime | str | None = None,
                    until: datetime | str | None = None) -> list[dict[str, Any]]:
        """Windows overlapping [since, until), oldest first; service '*' means every service."""
        where, args = _where(("service IN (?, '*')", service), ("end > ?", _when(since)), ("start < ?", _when(until)))
        return self._rows(f"SELECT * FROM maintenance{where} ORDER BY start, id", args)

    # -- utilisation -------------------------------------------------------------------------
    def record_utilisation(self, at: datetime, sample: dict[str, float]) -> None:
        """One minute's sample (cpu, memory and disk in percent, network in bytes per second),
        folded into its hour's sum and peak."""
        vals = [sample[m] for m in UTIL_METRICS]
        with self._tx() as db:
            db.execute("INSERT INTO utilisation VALUES (?,1,?,?,?,?,?,?,?,?) ON CONFLICT (hour) DO UPDATE SET "
                       "samples=samples+1, " + ", ".join(f"{m}_sum={m}_sum+excluded.{m}_sum, "
                                                          f"{m}_max=max({m}_max, excluded.{m}_max)" for m in UTIL_METRICS),
                       (iso(at)[:13], *[v for v in vals for _ in (0, 1)]))

    def utilisation(self, since: datetime | str, until: datetime | str) -> list[dict[str, Any]]:
        """Hourly rows of the hours that overlap [since, until)."""
        return self._rows("SELECT * FROM utilisation WHERE hour >= ? AND hour || ':00:00Z' < ? ORDER BY hour",
                          (str(_when(since))[:13], str(_when(until))))

    # -- retention -----------------------------------------------------------------------------
    def apply_retention(self, now: datetime) -> dict[str, int]:
        """Drop per-minute counts after 40 days and hourly ones (probe rounds, utilisation) after
        25 months; the hourly rows were written beside the minutes, so nothing is lost but detail.
        Incidents, maintenance, runs and drills are kept: they are few and they are the history."""
        minute_cut = iso(now - timedelta(days=MINUTES_KEPT_DAYS))[:16]
        hour_cut = iso(now - timedelta(days=HOURS_KEPT_DAYS))[:13]
        with self._tx() as db:
            return {"probe_minutes": db.execute("DELETE FROM probe_minutes WHERE minute < ?", (minute_cut,)).rowcount,
                    "probe_hours": db.execute("DELETE FROM probe_hours WHERE hour < ?", (hour_cut,)).rowcount,
                    "utilisation": db.execute("DELETE FROM utilisation WHERE hour < ?", (hour_cut,)).rowcount}

    def _rows(self, query: str, args: tuple[Any, ...] | list[Any]) -> list[dict[str, Any]]:
        return self._read(lambda db: [dict(r) for r in db.execute(query, args).fetchall()])


def _where(*conditions: tuple[str, Any]) -> tuple[str, list[Any]]:
    """A WHERE clause of the conditions whose value is given (each has one `?`; the clauses are
    ours, never input)."""
    used = [(c, v) for c, v in conditions if v is not None]
    return (" WHERE " + " AND ".join(c for c, _ in used) if used else ""), [v for _, v in used]


def _check_fields(values: dict[str, Any]) -> None:
    unknown = set(values) - set(INCIDENT_FIELDS)
    if unknown:
        raise ValueError(f"unknown incident fields: {', '.join(sorted(unknown))}")
