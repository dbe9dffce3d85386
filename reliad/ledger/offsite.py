"""The ledger offsite: a consistent copy of `ledger.db` is stored in every local repository a
policy writes to (under `ledger/HOST/`, compressed, and sealed when the repository is
encrypted), replication carries it to the offsite targets with the backups, and
`reliad ledger restore --target T` brings the newest copy back after the host was lost: the
counterpart of `reliad catalog rebuild` (the ledger cannot be rebuilt from backups, so it is
copied instead).
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from reliad import sqlitecheck
from reliad.config import Config
from reliad.errors import ConfigError, ReliadError
from reliad.jobs.replicate import LEDGER_PREFIX
from reliad.ledger.store import LEDGER_FILE, Ledger
from reliad.repository import Repository
from reliad.statedir import ensure_state_dir
from reliad.targets import open_repository
from reliad.timeutil import utcnow

log = logging.getLogger(__name__)
KEEP = 3  # newest copies kept per host in each repository


def snapshot_bytes(ledger: Ledger) -> bytes:
    """A consistent copy of the live database (SQLite's online backup), as one file's bytes."""
    with tempfile.TemporaryDirectory(dir=ledger.path.parent, prefix=".ledger-copy-") as tmp:
        copy = Path(tmp) / LEDGER_FILE
        ledger.copy_to(copy)
        return copy.read_bytes()


def _local_targets(config: Config) -> list[Any]:
    seen: dict[str, Any] = {}
    for p in config.policies.values():
        t = config.primary_target(p)
        seen.setdefault(t.name, t)
    return list(seen.values())


def export(config: Config, ledger: Ledger) -> dict[str, str]:
    """Store the ledger in each local repository and drop this host's older copies there;
    {target: object name}. A repository that cannot take it is logged and skipped."""
    host = socket.gethostname()
    name = f"{LEDGER_PREFIX}{host}/{utcnow().strftime('%Y%m%dT%H%M%S%fZ')}.db"  # sorts by time
    data = snapshot_bytes(ledger)
    out = {}
    for t in _local_targets(config):
        try:
            repo = open_repository(config, t)
            if repo.storage.stat("config") is None:
                continue  # no repository yet: the first backup creates it
            repo.put_object(name, data)
            old = sorted(o.name for o in repo.storage.list(f"{LEDGER_PREFIX}{host}/"))[:-KEEP]
            for o in old:
                repo.storage.delete(o)
            out[t.name] = name
        except (ReliadError, OSError) as e:
            log.warning("event=ledger_export_failed target=%s error=%r", t.name, str(e))
    return out


def _newest(repo: Repository, host: str | None) -> str:
    names = [o.name for o in repo.storage.list(LEDGER_PREFIX) if o.name.endswith(".db")]
    if host:
        names = [n for n in names if n.split("/")[1] == host]
    if not names:
        raise ReliadError(f"{repo.storage.location}: holds no copy of the ledger"
                          + (f" of host {host!r}" if host else "") + "; 'reliad run' stores one there every hour")
    return max(names, key=lambda n: n.rsplit("/", 1)[1])


def restore(config: Config, target_name: str, host: str | None = None) -> dict[str, Any]:
    """Bring back the newest ledger copy of `target_name` (of `host`, default: any host) into the
    state directory. The copy is checked before it is put in place; a ledger already there is
    kept beside it as ledger.db.replaced-TIME, never overwritten."""
    if target_name not in config.targets:
        raise ConfigError(f"{config.path}: no target named {target_name!r}; "
                          f"defined: {', '.join(sorted(config.targets)) or 'none'}")
    repo = open_repository(config, config.targets[target_name])
    try:
        name = _newest(repo, host)
        data = repo.get_object(name)
    finally:
        repo.storage.close()
    state = config.state_dir
    ensure_state_dir(state)
    fd, tmp = tempfile.mkstemp(dir=state, prefix=".ledger-restore-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _check(Path(tmp), name)
        live = state / LEDGER_FILE
        kept = None
        if _has_history(live):
            kept = live.with_name(f"{LEDGER_FILE}.replaced-{utcnow().strftime('%Y%m%dT%H%M%SZ')}")
            os.replace(live, kept)
        for suffix in ("-wal", "-shm"):
            Path(f"{live}{suffix}").unlink(missing_ok=True)
        os.replace(tmp, live)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with Ledger(state) as led:
        counts = {"incidents": len(led.incidents()), "drills": len(led.drills()), "runs": len(led.runs())}
    return {"target": target_name, "object": name, "bytes": len(data), "replaced": str(kept) if kept else None,
            **counts}


def _check(path: Path, name: str) -> None:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            ok = db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError as e:
        raise ReliadError(f"{name}: the stored ledger copy is not a readable ledger ({e})") from None
    if not ok:
        raise ReliadError(f"{name}: the stored ledger copy fails SQLite's integrity check")


def _has_history(path: Path) -> bool:
    """Whether the ledger at `path` holds anything worth keeping; a damaged one always does
    (it is kept aside for whoever wants to dig in it, as catalog rebuild keeps its file)."""
    if not path.exists():
        return False
    if sqlitecheck.problem(path, "the ledger") is not None:
        return True
    with Ledger(path.parent) as led:
        return bool(led.runs() or led.incidents() or led.drills())
