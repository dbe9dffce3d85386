"""Loading a database dump from a backup straight into a database (`restore --into`).

This job finds the dump in the backup; the source module of its type loads it (see
`SourceType.load`): the dump streams from the repository into the client program's stdin
(pg_restore, the mariadb client) without a temporary copy. The target must be new (it is
created) or empty: loading over existing tables would mix two states, so a target that
holds tables is refused before anything is written.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from reliad.config import SourceConfig
from reliad.errors import ConfigError, ReliadError
from reliad.repository import Repository
from reliad.repository.manifest import Entry
from reliad.sources import SOURCE_TYPES
from reliad.sources.dump import virtual_dir

log = logging.getLogger(__name__)


def _credentials(stype: str, source: str, password_file: Path | None) -> SourceConfig:
    """What the client programs connect to the target with: the DSN's own user (and its
    password, when it carries one) or the password file given for the target. Never the
    source's configured password: that belongs to the user the dump was taken as, and the
    target is another database, often another user, whom it must not be sent to."""
    return SourceConfig(type=stype, name=source, options={"password_file": str(password_file)} if password_file else {})


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


def run_db_restore(repo: Repository, backup_id: str, source: str, into: str, database: str | None = None,
                   password_file: Path | None = None) -> dict[str, Any]:
    header = repo.header(backup_id)
    sources = {s["name"]: s for s in header.get("sources", [])}
    if source not in sources:
        raise ReliadError(f"backup {backup_id} has no source {source!r} (it has: {', '.join(sorted(sources))})")
    stype = sources[source]["type"]
    kind = SOURCE_TYPES.get(stype)
    if kind is None or kind.load is None:
        raise ReliadError(f"source {source!r} is of type {stype!r}, which holds no database to load; "
                          f"use 'reliad restore {backup_id} DEST'")
    prefix = virtual_dir(source) + b"/"
    suffix = kind.suffix
    dumps = {unquote(os.fsdecode(e.path[len(prefix):len(e.path) - len(suffix)])): e
             for e in repo.entries(backup_id)
             if e.type == "file" and e.path.startswith(prefix) and e.path.endswith(suffix)}
    name, entry = _pick(dumps, database, source, backup_id)
    what = f"backup {backup_id}, source {source!r}, database {name!r}"
    src = _credentials(stype, source, password_file)
    log.info("event=db_restore_start backup=%s source=%s database=%r", backup_id, source, name)
    kind.load((repo.chunk_data(c) for c in entry.chunks), entry.mode, into, src, what)
    log.info("event=db_restore_done backup=%s source=%s database=%r", backup_id, source, name)
    return {"backup": backup_id, "source": source, "database": name, "into": into, "bytes": entry.size,
            "ok": True}
