"""Opening the SQLite files under the state directory (the catalog, the ledger) so that a
damaged file or a full disk is one sentence saying what to do, never a traceback and never
an empty listing presented as the truth.

`connect(path, what, fix, init)` checks the file on its first open in a process (its header, then
SQLite's own `PRAGMA quick_check`, which reads every page: a truncated or garbled file fails
here, not half way through a listing) and returns a connection whose statements turn SQLite's
errors into `StateFileError` (exit 1) naming the file. `set_aside(path)` moves a damaged file
(and its WAL and shared-memory files) out of the way, keeping it, for a rebuild.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from reliad.errors import ReliadError
from reliad.timeutil import utcnow

HEADER = b"SQLite format 3\x00"
LOW_SPACE = 1 << 20  # below this, an I/O error writing a state file is taken for a full disk
# (path, device, inode, size, mtime) of files already checked in this process: a file is checked
# again only once it changed (a checkpoint of the daemon's writes, a truncation)
_checked: set[tuple[str, int, int, int, int]] = set()


class StateFileError(ReliadError):
    """A state file (catalog, ledger) is damaged, unreadable, or its disk is full (exit 1)."""


def explain(path: Path, what: str, fix: str, e: sqlite3.Error) -> StateFileError:
    """One sentence for an SQLite error on `path`: what happened and what to do."""
    name = getattr(e, "sqlite_errorname", "")
    if name.startswith(("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN")) and _free_bytes(path) < LOW_SPACE:
        return StateFileError(f"the disk holding {what} {path} is full ({_free(path)} free); free space under "
                              f"{path.parent} and run the command again")
    if name.startswith(("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM")):
        return StateFileError(f"cannot use {what} {path}: {e} ({_free(path)} free); check the disk and the "
                              f"permissions of {path.parent}")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StateFileError(f"{what} {path} is locked by another process ({e}); try again")
    return StateFileError(f"{what} {path} is damaged ({e}); {fix}")


def _damaged(e: sqlite3.Error) -> bool:
    return getattr(e, "sqlite_errorname", "").startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))


def _free_bytes(path: Path) -> int:
    try:
        return shutil.disk_usage(path.parent).free
    except OSError:
        return 1 << 62


def _free(path: Path) -> str:
    free = _free_bytes(path)
    if free == 1 << 62:
        return "unknown space"
    return f"{free // 1024} KiB" if free < 10 << 20 else f"{free >> 20} MiB"


class CheckedConnection(sqlite3.Connection):
    """A connection whose statements fail as `StateFileError` naming the file."""

    where: tuple[Path, str, str] = (Path(), "", "")

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.Error as e:
            raise explain(*self.where, e) from None

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        try:
            return super().executemany(sql, parameters)
        except sqlite3.Error as e:
            raise explain(*self.where, e) from None

    def executescript(self, sql_script: str, /) -> sqlite3.Cursor:
        try:
            return super().executescript(sql_script)
        except sqlite3.Error as e:
            raise explain(*self.where, e) from None


def problem(path: Path, what: str = "the database") -> str | None:
    """Why the SQLite file at `path` is damaged, or None when it is sound (or absent). A
    disk or permission problem is no damage: it fails as a `StateFileError` saying so."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise StateFileError(f"cannot read {what} {path}: {e.strerror}; check the disk and the permissions of "
                             f"{path.parent}") from None
    if not head:
        return "it is empty (cut off): reliad creates its databases whole, never empty"
    if not head.startswith(HEADER) or len(head) < 100:
        return "it is not an SQLite database (its header is garbled or cut off)"
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            rows = [r[0] for r in con.execute("PRAGMA quick_check").fetchmany(3)]
        finally:
            con.close()
    except sqlite3.Error as e:
        if _damaged(e):
            return str(e)
        raise explain(path, what, "", e) from None
    return None if rows == ["ok"] else "; ".join(str(r) for r in rows)


def _create(path: Path, what: str, init: Callable[[sqlite3.Connection], None]) -> None:
    """Create the database whole: written under a temporary name by `init` and linked
    into place, so that a file of zero bytes is always damage, never a database being born
    (another process racing to create it simply finds the winner's file)."""
    tmp = path.with_name(f".{path.name}.new-{os.getpid()}")
    try:
        con = sqlite3.connect(tmp, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            init(con)
        finally:
            con.close()
        os.link(tmp, path)
    except FileExistsError:
        pass
    except sqlite3.Error as e:
        raise explain(path, what, "", e) from None
    except OSError as e:
        raise StateFileError(f"cannot create {what} {path}: {e.strerror} (free {_free(path)})") from None
    finally:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{tmp}{suffix}")


def connect(path: Path, what: str, fix: str, init: Callable[[sqlite3.Connection], None],
            timeout: float = 30, check_same_thread: bool = True) -> CheckedConnection:
    """Open `path`, checked once per process, in autocommit mode (isolation_level=None).
    When absent it is created whole, `init` (its schema, its version) run on it first.
    `check_same_thread=False` for a connection its owner guards with a lock of its own."""
    if not os.path.lexists(path):
        _create(path, what, init)
    try:
        st = os.stat(path)
        key = (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError as e:
        raise StateFileError(f"cannot read {what} {path}: {e.strerror}; check the permissions of {path.parent}") \
            from None
    if key not in _checked:
        trouble = problem(path, what)
        if trouble is not None:
            raise StateFileError(f"{what} {path} is damaged ({trouble}); {fix}")
        _checked.add(key)
    try:
        con = sqlite3.connect(path, timeout=timeout, isolation_level=None, factory=CheckedConnection,
                              check_same_thread=check_same_thread)
    except sqlite3.Error as e:
        raise explain(path, what, fix, e) from None
    con.where = (path, what, fix)
    return con


def set_aside(path: Path) -> Path | None:
    """Move a damaged database and its -wal/-shm files to `<name>.damaged-<UTC time>` beside
    it (kept, for whoever wants to dig in it); returns the new path of the main file."""
    if not path.exists():
        return None
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    dest = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        src = path.with_name(path.name + suffix)
        if src.exists():
            os.replace(src, dest.with_name(dest.name + suffix))
    _checked.difference_update({k for k in _checked if k[0] == str(path)})
    return dest
