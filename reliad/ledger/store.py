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
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from reliad.errors import ReliadError
from reliad.statedir import ensure_state_dir
from reliad.timeutil import iso

SCHEMA_VERSION = 1
LEDGER_FILE = "ledger.db"
DRILL_KEYS = ("id", "policy", "scenario", "backup_id", "started_at", "finished_at", "verdict",
              "recovery_time_s", "objective_s", "completeness", "phases", "reasons")
DRILL_VERDICTS = ("PASS", "FAIL", "NOT_VERIFIED")

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
"""

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
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except sqlite3.DatabaseError as e:
            raise ReliadError(f"{self.path}: cannot open the ledger ({e}); if it is damaged, "
                              "'reliad ledger restore' brings back the offsite copy") from None

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
            except sqlite3.OperationalError as e:
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
        clauses, args = [], []
        for clause, value in (("policy = ?", policy), ("started_at >= ?", _when(since)),
                              ("started_at < ?", _when(until))):
            if value is not None:
                clauses.append(clause)
                args.append(value)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        rows = self._read(lambda db: db.execute(f"SELECT record FROM drills{where} ORDER BY started_at, seq",
                                                args).fetchall())
        return [json.loads(r[0]) for r in rows]
