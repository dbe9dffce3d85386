"""The names of a repository's objects: the one place that knows the layout docs/FORMAT.md
describes, so that jobs ask for "the manifest of backup X" rather than spell a path.

    config                       the repository's config object
    keys/<slot-id>               wrapped data keys (encrypted repositories only)
    data/<backup-id>/<seq>.pack  packs written by that backup; a pack is named <backup-id>/<seq>
    manifests/<backup-id>        one per committed backup, written last
"""

from __future__ import annotations

import re
import secrets

from reliad.errors import RepositoryError

CONFIG = "config"
MANIFESTS = "manifests/"
DATA = "data/"
BACKUP_ID_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")
PACK_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*/[0-9]+$")


def check_backup_id(backup_id: str) -> str:
    """A backup id as the user typed it becomes an object name: refuse anything else."""
    if not BACKUP_ID_RE.match(backup_id):
        raise RepositoryError(f"{backup_id!r} is not a backup id; 'reliad list' shows the ids")
    return backup_id


def new_backup_id(now_compact: str) -> str:
    """Ids sort by time, so listings, tar globs and `list` are oldest first."""
    return f"{now_compact}-{secrets.token_hex(3)}"


def manifest_object(backup_id: str) -> str:
    return MANIFESTS + backup_id


def pack_name(backup_id: str, seq: int) -> str:
    """The name of a backup's `seq`th pack (from 1), as chunk records and headers give it."""
    return f"{backup_id}/{seq:06d}"


def pack_object(pack: str) -> str:
    return f"{DATA}{pack}.pack"


def data_prefix(backup_id: str) -> str:
    """The prefix of every object a backup's packs are stored under."""
    return f"{DATA}{backup_id}/"


def backup_of(name: str) -> str | None:
    """The backup a manifest or data object belongs to (None for other objects)."""
    parts = name.split("/")
    if name.startswith(MANIFESTS) and len(parts) == 2:
        return parts[1]
    if name.startswith(DATA) and len(parts) >= 3:
        return parts[1]
    return None
