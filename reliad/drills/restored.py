"""The drill's verify phase: every restored entry against the backup's manifest.

Completeness is measured here, not assumed from a restore that reported no error: each
regular file is read back from the standby tree and every chunk's CRC32C compared with the
raw-byte CRC32C the manifest recorded at backup time; directories, links and fifos must be
there with the right type (and link target). What the restore did not create, or created
differently, is not counted and is named.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import crc32c

from reliad.errors import DamageError
from reliad.repository import Repository
from reliad.repository.manifest import Entry, display_path, safe_relpath

_CONTENT = ("file", "hardlink")
_KINDS = {"dir": stat.S_ISDIR, "symlink": stat.S_ISLNK, "fifo": stat.S_ISFIFO, "chardev": stat.S_ISCHR,
          "blockdev": stat.S_ISBLK}
_SHOWN = 50  # problems kept by name; the counts cover every entry


@dataclass
class Tally:
    """What the backup holds and how much of it was found intact in the standby tree."""

    files_expected: int = 0
    files_verified: int = 0
    bytes_expected: int = 0
    bytes_verified: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)  # the first _SHOWN {"path", "reason"}
    problem_count: int = 0

    def problem(self, entry: Entry, reason: str) -> None:
        self.problem_count += 1
        if len(self.problems) < _SHOWN:
            self.problems.append({"path": display_path(entry.path), "reason": reason})


def _content_problem(fd: int, entry: Entry) -> str | None:
    """Why the file behind fd is not the entry's content, or None when every chunk matches."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    if st.st_size != entry.size:
        return f"has {st.st_size} bytes, the backup has {entry.size}"
    pos = 0
    for c in entry.chunks:
        length, want = c.raw_length, c.raw_crc32c
        data = os.pread(fd, length, pos)
        if len(data) != length or crc32c.crc32c(data) != want:
            return f"content differs from the backup at byte {pos} (CRC32C)"
        pos += length
    if pos != entry.size:
        return f"the backup's chunks cover {pos} of its {entry.size} bytes"
    return None


def _check(root: Path, entry: Entry) -> str | None:
    path = root / os.fsdecode(safe_relpath(entry.path))
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "missing"
    except OSError as e:
        return f"cannot be read: {e.strerror}"
    if entry.type in _CONTENT:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as e:
            return f"cannot be read: {e.strerror}"
        try:
            return _content_problem(fd, entry)
        finally:
            os.close(fd)
    if not _KINDS[entry.type](st.st_mode):
        return f"is not a {entry.type}"
    if entry.type == "symlink" and os.fsencode(os.readlink(path)) != entry.target:
        return "points somewhere else than in the backup"
    return None


def verify_tree(repo: Repository, backup_id: str, root: Path,
                progress: Callable[[Tally], None] | None = None) -> Tally:
    """Compare the tree under `root` with the manifest of `backup_id`. Devices count only
    when running as root (only root can restore them)."""
    tally = Tally()
    as_root = os.geteuid() == 0
    for entry in repo.entries(backup_id):
        if entry.type in ("chardev", "blockdev") and not as_root:
            continue
        tally.files_expected += 1
        size = entry.size if entry.type in _CONTENT else 0
        tally.bytes_expected += size
        try:
            problem = _check(root, entry)
        except DamageError as e:  # a forged path: nothing of it was restored
            problem = str(e)
        if problem is None:
            tally.files_verified += 1
            tally.bytes_verified += size
        else:
            tally.problem(entry, problem)
        if progress:
            progress(tally)
    return tally
