"""The `sqlite` source: a live SQLite database through SQLite's online backup API.

`Connection.backup` copies every page inside one read transaction, so the copy is the
database as of one moment even while the application writes (in WAL mode writers go on;
in rollback-journal mode they wait for the copy). The backup API writes a database, not a
stream, so this source is the one that needs a temporary copy: it is made in the temporary
directory (`tmp_dir`, else $TMPDIR), unlinked as soon as it is open, and read from there.

Item: `_reliad/<source>/<file name of the database>`. `restore --into FILE` writes the copy
to a new file and moves it into place once it passes SQLite's integrity check.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterable
from pathlib import Path

from reliad.config import PolicyConfig, SourceConfig
from reliad.errors import ReliadError
from reliad.sources.base import SourceItem, SourceType
from reliad.sources.dump import made_up_stat, virtual_dir, virtual_name, where, with_dirs


def backup_copy(db: Path, tmp_dir: str | None, context: str) -> int:
    """A consistent copy of `db`, as an open fd of an already unlinked file."""
    fd, tmp = tempfile.mkstemp(prefix="reliad-sqlite-", suffix=".db", dir=tmp_dir)
    os.close(fd)
    try:
        try:
            src = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60)
            try:
                dst = sqlite3.connect(tmp)
                try:
                    src.backup(dst)
                finally:
                    dst.close()
            finally:
                src.close()
        except sqlite3.Error as e:
            raise ReliadError(f"{context}: SQLite backup of {db} failed: {e}") from None
        return os.open(tmp, os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.unlink(tmp)


def open_sqlite(policy: PolicyConfig, src: SourceConfig, skip_dirs: list[object]) -> list[SourceItem]:
    ctx = where(policy, src)
    db = src.paths[0]
    if not db.is_file():
        raise ReliadError(f"{ctx}: SQLite database {db} does not exist")
    tmp_dir = src.options.get("tmp_dir")
    path = virtual_dir(src.name) + b"/" + os.fsencode(virtual_name(db.name))
    item = SourceItem(path=path, type="file", st=made_up_stat(db.stat().st_mode & 0o7777), source=src.name,
                      stream=True, open=lambda: backup_copy(db, tmp_dir, ctx))
    return with_dirs(src.name, [item])


def load_sqlite(content: Iterable[bytes], mode: int, into: str, src: SourceConfig, what: str) -> None:
    """Write the database to the new file `into` (an existing file must be empty)."""
    dest = Path(into)
    if dest.exists() and dest.stat().st_size > 0:
        raise ReliadError(f"restore into {into!r}: {dest} exists and is not empty; restore into a new file")
    fd, tmp = tempfile.mkstemp(prefix=".reliad-", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for block in content:
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        con = sqlite3.connect(tmp)
        try:
            result = con.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            con.close()
        if result != "ok":
            raise ReliadError(f"{what}: the restored database fails SQLite's integrity check: {result}")
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


SOURCE = SourceType(open_sqlite, load_sqlite, b"")
