"""Helpers shared by the engine tests: tree snapshots, repository sizes, forged manifests."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from pathlib import Path

from reliad.config import load_config
from reliad.repository import Repository
from reliad.repository.manifest import Entry, ManifestWriter
from reliad.storage import LocalStorage
from reliad.targets import open_repository


def open_repo(config: Path, target: str = "local") -> Repository:
    """A test's repository opened as the commands open it: unlocked with its configured key."""
    cfg = load_config(config)
    return open_repository(cfg, cfg.targets[target])


def snapshot(root: Path) -> dict[bytes, tuple]:
    """Everything restore must reproduce, per relative path: type, mode, owner, mtime (ns),
    content digest or link target, and which entries share an inode (hard links)."""
    out: dict[bytes, tuple] = {}
    inodes: dict[tuple[int, int], bytes] = {}
    base = os.fsencode(root)

    def visit(dir_fd: int, rel: bytes) -> None:
        for name in sorted(os.listdir(dir_fd)):
            name = os.fsencode(name)
            path = rel + b"/" + name if rel else name
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            common = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns)
            if stat.S_ISDIR(st.st_mode):
                out[path] = ("dir", *common)
                fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
                try:
                    visit(fd, path)
                finally:
                    os.close(fd)
            elif stat.S_ISLNK(st.st_mode):
                out[path] = ("symlink", *common, os.readlink(name, dir_fd=dir_fd))
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.blake2b()
                fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
                with os.fdopen(fd, "rb") as fh:
                    while block := fh.read(1 << 20):
                        h.update(block)
                link = inodes.setdefault((st.st_dev, st.st_ino), path) if st.st_nlink > 1 else None
                out[path] = ("file", *common, st.st_size, h.hexdigest(), link)
            else:
                out[path] = ("other", *common, stat.S_IFMT(st.st_mode))

    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        visit(fd, b"")
    finally:
        os.close(fd)
    return out


def restored(dest: Path, src: Path) -> Path:
    """Where a restore into DEST puts the source directory SRC (its absolute path under DEST)."""
    return dest / str(src).lstrip("/")


def assert_same(expected: dict[bytes, tuple], actual: dict[bytes, tuple]) -> None:
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    differ = [(p, expected[p], actual[p]) for p in sorted(set(expected) & set(actual)) if expected[p] != actual[p]]
    assert not missing and not extra and not differ, (
        f"missing={missing[:5]} extra={extra[:5]} differ={differ[:5]}")


def repo_bytes(repo: Path) -> int:
    """Bytes in packs and manifests (what a repository costs on disk)."""
    total = 0
    for sub in ("data", "manifests"):
        for dirpath, _dirs, files in os.walk(repo / sub):
            total += sum(os.path.getsize(os.path.join(dirpath, f)) for f in files)
    return total


def forge_manifest(repo: Path, backup_id: str, entries: list[Entry], base: dict | None = None) -> None:
    """Write a manifest with the project's own writer, as an attacker with write access to
    the repository could."""
    header = {"format": "reliad-manifest", "version": 1, "id": backup_id, "policy": "shop", "type": "full",
              "requested_type": "full", "base": None, "started_at": "2026-01-01T00:00:00Z",
              "finished_at": "2026-01-01T00:00:01Z", "host": "forged", "sources": [], "depends_on": [],
              "packs": [], "pack_sums": {}, "stats": {}, **(base or {})}
    w = ManifestWriter()
    for e in entries:
        w.add(e)
    out = LocalStorage(repo).open_write(f"manifests/{backup_id}")
    w.write_to(out, header)
    out.close()


def dump(obj: object) -> str:
    return json.dumps(obj, default=lambda b: b.decode("utf-8", "replace"))


PY = sys.executable
