"""A repository on some storage: its config object, its backups and its frames.

Layout (see docs/FORMAT.md):
    config                       JSON: format, version, id, pack size, chunker, compression
    data/<backup-id>/<seq>.pack  packs written by that backup: concatenated frames
    manifests/<backup-id>        one per committed backup, written last
    locks/                       writer lock (local repositories)
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import crc32c

from reliad.errors import DamageError, RepositoryError
from reliad.repository import codec
from reliad.repository.manifest import TRAILER, Entry, iter_entries, parse_trailer, read_header
from reliad.storage.base import Storage

FORMAT_NAME = "reliad"
FORMAT_VERSION = 1
DEFAULT_PACK_SIZE = 64 << 20
CHUNKER = {"algorithm": "fastcdc2020", "min": 256 << 10, "avg": 1 << 20, "max": 4 << 20, "seed": 0}


BACKUP_ID_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")


def check_backup_id(backup_id: str) -> str:
    """A backup id as the user typed it becomes an object name: refuse anything else."""
    if not BACKUP_ID_RE.match(backup_id):
        raise RepositoryError(f"{backup_id!r} is not a backup id; 'reliad list' shows the ids")
    return backup_id


def pack_object(pack: str) -> str:
    return f"data/{pack}.pack"


def new_backup_id(now_compact: str) -> str:
    """Ids sort by time, so listings, tar globs and `list` are oldest first."""
    return f"{now_compact}-{secrets.token_hex(3)}"


@dataclass
class RepoConfig:
    id: str
    pack_size: int
    chunker: dict[str, int | str]
    encryption: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "id": self.id,
                "pack_size": self.pack_size, "chunker": self.chunker, "encryption": self.encryption}


class Repository:
    def __init__(self, storage: Storage, config: RepoConfig) -> None:
        self.storage = storage
        self.config = config
        self._frames: OrderedDict[tuple[str, int], bytes] = OrderedDict()

    @classmethod
    def init(cls, storage: Storage, pack_size: int = DEFAULT_PACK_SIZE) -> Repository:
        if storage.stat("config") is not None:
            raise RepositoryError(f"{storage.location}: a repository already exists here")
        cfg = RepoConfig(id=str(uuid.uuid4()), pack_size=pack_size, chunker=dict(CHUNKER))
        storage.put("config", json.dumps(cfg.to_json(), indent=2).encode() + b"\n")
        return cls(storage, cfg)

    @classmethod
    def open(cls, storage: Storage) -> Repository:
        try:
            raw = storage.get("config")
        except FileNotFoundError:
            raise RepositoryError(
                f"{storage.location}: no repository here (run 'reliad init' or a first backup)"
            ) from None
        try:
            d = json.loads(raw)
            if d.get("format") != FORMAT_NAME:
                raise ValueError("not a reliad repository")
            if int(d["version"]) > FORMAT_VERSION:
                raise RepositoryError(
                    f"{storage.location}: repository format {d['version']} is newer than this reliad "
                    f"({FORMAT_VERSION}); upgrade reliad"
                )
            cfg = RepoConfig(id=d["id"], pack_size=int(d["pack_size"]), chunker=d["chunker"],
                             encryption=d.get("encryption"))
        except (ValueError, KeyError, TypeError) as e:
            raise RepositoryError(f"{storage.location}/config: not a valid reliad repository config ({e})") \
                from None
        return cls(storage, cfg)

    # -- backups -----------------------------------------------------------------
    def backup_ids(self) -> list[str]:
        return [o.name.split("/", 1)[1] for o in self.storage.list("manifests/")]

    def header(self, backup_id: str) -> dict[str, Any]:
        name = f"manifests/{check_backup_id(backup_id)}"
        size = 64 << 10
        while True:
            try:
                data = self.storage.get_range(name, 0, size)
            except FileNotFoundError:
                raise RepositoryError(f"{self.storage.location}: no backup {backup_id!r}") from None
            try:
                return read_header(data, name)
            except EOFError:
                if len(data) < size:
                    raise DamageError(f"{name}: manifest header is truncated") from None
                size *= 4

    def headers(self) -> list[dict[str, Any]]:
        return [self.header(b) for b in self.backup_ids()]

    def entries(self, backup_id: str) -> Iterator[Entry]:
        name = f"manifests/{check_backup_id(backup_id)}"
        try:
            stream = self.storage.open_read(name)
        except FileNotFoundError:
            raise RepositoryError(f"{self.storage.location}: no backup {backup_id!r}") from None
        with stream:
            yield from iter_entries(stream, name)

    def manifest_trailer(self, backup_id: str) -> tuple[int, int]:
        """Size of the manifest object and the CRC32C its trailer records; reads only the
        end of it, so `verify --mode fast` finds a truncated manifest without reading it."""
        name = f"manifests/{check_backup_id(backup_id)}"
        info = self.storage.stat(name)
        if info is None:
            raise RepositoryError(f"{self.storage.location}: no backup {backup_id!r}")
        tail = self.storage.get_range(name, max(0, info.size - TRAILER.size), TRAILER.size)
        return info.size, parse_trailer(tail, info.size, name)

    def check_manifest(self, backup_id: str) -> None:
        """Read the whole manifest object and compare its CRC32C with its trailer."""
        size, want = self.manifest_trailer(backup_id)
        name = f"manifests/{backup_id}"
        crc, left = 0, size - TRAILER.size
        with self.storage.open_read(name) as fh:
            while left > 0:
                block = fh.read(min(left, 1 << 20))
                if not block:
                    raise DamageError(f"{name}: manifest is shorter than its trailer says")
                crc = crc32c.crc32c(block, value=crc)
                left -= len(block)
        if crc != want:
            raise DamageError(f"{name}: CRC32C mismatch, the manifest is damaged")

    def check_pack(self, pack: str, size: int, want: int) -> None:
        """Read a whole pack and compare its length and CRC32C with what its backup recorded."""
        name = pack_object(pack)
        crc, got = 0, 0
        try:
            fh = self.storage.open_read(name)
        except FileNotFoundError:
            raise DamageError(f"{name}: pack is missing") from None
        with fh:
            while block := fh.read(1 << 20):
                crc = crc32c.crc32c(block, value=crc)
                got += len(block)
        if got != size:
            raise DamageError(f"{name}: pack has {got} bytes, its backup recorded {size}")
        if crc != want:
            raise DamageError(f"{name}: CRC32C mismatch over the whole pack")

    # -- frames ------------------------------------------------------------------
    def read_stored(self, pack: str, offset: int, length: int) -> bytes:
        name = pack_object(pack)
        try:
            data = self.storage.get_range(name, offset, length)
        except FileNotFoundError:
            raise DamageError(f"{name}: pack is missing") from None
        if len(data) != length:
            raise DamageError(f"{name}: pack is truncated (frame at {offset} needs {length} bytes)")
        return data

    def frame(self, chunk: list[Any]) -> bytes:
        """The raw bytes of the frame a chunk lives in, checked against its stored CRC.

        A small cache keeps the last frames, because neighbouring small files share one.
        """
        pack, off, length, crc = chunk[0], chunk[1], chunk[2], chunk[3]
        key = (pack, off)
        raw = self._frames.get(key)
        if raw is not None:
            self._frames.move_to_end(key)
            return raw
        stored = self.read_stored(pack, off, length)
        where = f"{pack_object(pack)}@{off}"
        if crc32c.crc32c(stored) != crc:
            raise DamageError(f"{where}: CRC32C mismatch in stored frame")
        raw = codec.decompress(stored, where)
        self._frames[key] = raw
        if len(self._frames) > 8:
            self._frames.popitem(last=False)
        return raw

    def chunk_data(self, chunk: list[Any]) -> bytes:
        """The content bytes of one chunk, checked end to end against the raw CRC."""
        raw = self.frame(chunk)
        roff, rlen, rcrc = chunk[4], chunk[5], chunk[6]
        data = raw[roff:roff + rlen]
        if len(data) != rlen or crc32c.crc32c(data) != rcrc:
            raise DamageError(f"{pack_object(chunk[0])}@{chunk[1]}: content CRC32C mismatch")
        return data
