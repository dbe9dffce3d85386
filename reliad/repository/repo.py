"""A repository on some storage: its config object, its backups and its frames.

Layout (see docs/FORMAT.md):
    config                       JSON: format, version, id, pack size, chunker, encryption
    keys/<slot-id>               wrapped data keys (encrypted repositories only)
    data/<backup-id>/<seq>.pack  packs written by that backup: concatenated frames
    manifests/<backup-id>        one per committed backup, written last
    locks/                       writer lock (local repositories)
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import shutil
import tempfile
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import crc32c

from reliad.errors import ConfigError, DamageError, NoRepositoryError, ReliadError, RepositoryError
from reliad.repository import codec
from reliad.repository.crypto import CIPHER_NAME, HEAD, NONCE, OVERHEAD, TAG, Cipher, check_envelopes, parse_head, unwrap
from reliad.repository.keys import Secret, make_slot, unlock, write_slot
from reliad.repository.manifest import (
    TRAILER,
    Chunk,
    Entry,
    iter_lines,
    iter_sealed_lines,
    parse_entry,
    parse_header,
    parse_trailer,
    read_header,
)
from reliad.repository.names import CONFIG, DATA, MANIFESTS, backup_of, check_backup_id, manifest_object, pack_object
from reliad.repository.writer import BackupWriter
from reliad.storage.base import ObjectInfo, Storage

FORMAT_NAME = "reliad"
FORMAT_VERSION = 1
DEFAULT_PACK_SIZE = 64 << 20
CHUNKER = {"algorithm": "fastcdc2020", "min": 256 << 10, "avg": 1 << 20, "max": 4 << 20, "seed": 0}


_ZEROS = bytes(1 << 20)


def crc32c_combine(crc_a: int, crc_b: int, length_b: int) -> int:
    """CRC32C(A + B) from CRC32C(A), CRC32C(B) and len(B), without the bytes of A or B.

    Continuing a CRC over data is affine in the start value: crc32c(B, value=v) equals
    crc32c(B) xor S(v), where S shifts v through len(B) bytes. Over zero bytes the data adds
    nothing, so S(v) = ~crc32c(zeros, value=~v): one pass over a buffer of zeros (fast, in
    the CPU's CRC instruction) instead of reading B again."""
    v = crc_a ^ 0xFFFFFFFF
    zeros = memoryview(_ZEROS)
    while length_b > 0:
        n = min(length_b, len(zeros))
        v = crc32c.crc32c(zeros[:n], value=v)
        length_b -= n
    return crc_b ^ v ^ 0xFFFFFFFF


@dataclass
class RepoConfig:
    id: str
    pack_size: int
    chunker: dict[str, int | str]
    encryption: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "id": self.id,
                "pack_size": self.pack_size, "chunker": self.chunker, "encryption": self.encryption}

    def canonical(self) -> bytes:
        """The config as the key check covers it: everything but the check itself."""
        d = self.to_json()
        if isinstance(self.encryption, dict):
            d["encryption"] = {k: v for k, v in self.encryption.items() if k != "check"}
        return json.dumps(d, sort_keys=True, separators=(",", ":")).encode()


class Repository:
    def __init__(self, storage: Storage, config: RepoConfig) -> None:
        self.storage = storage
        self.config = config
        self.cipher: Cipher | None = None
        self.data_key: bytes | None = None  # kept only to wrap it for a new key slot
        self.slot: str | None = None  # the key slot that unlocked the repository
        self._frames: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._fetched: dict[str, Path] = {}  # backup id -> its manifest copied to this machine

    @classmethod
    def init(cls, storage: Storage, pack_size: int = DEFAULT_PACK_SIZE, secret: Secret | None = None,
             repo_id: str | None = None, label: str = "") -> Repository:
        """A new repository; encrypted under a new random data key when `secret` is given,
        which becomes its first key slot."""
        if storage.stat(CONFIG) is not None:
            raise RepositoryError(f"{storage.location}: a repository already exists here")
        cfg = RepoConfig(id=repo_id or str(uuid.uuid4()), pack_size=pack_size, chunker=dict(CHUNKER))
        repo = cls(storage, cfg)
        if secret is not None:
            data_key = os.urandom(32)
            cfg.encryption = {"cipher": CIPHER_NAME, "version": 1}
            repo.cipher, repo.data_key = Cipher(data_key, cfg.id), data_key
            nonce = os.urandom(12)
            tag = repo.cipher.config_tag(cfg.canonical(), nonce)
            cfg.encryption["check"] = {"nonce": base64.b64encode(nonce).decode(),
                                       "tag": base64.b64encode(tag).decode()}
            slot = make_slot(data_key, cfg.id, secret, label)
            write_slot(storage, slot)
            repo.slot = slot["id"]
        storage.put(CONFIG, json.dumps(cfg.to_json(), indent=2).encode() + b"\n")
        return repo

    @classmethod
    def open(cls, storage: Storage) -> Repository:
        try:
            raw = storage.get(CONFIG)
        except FileNotFoundError:
            raise NoRepositoryError(
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
            cfg = RepoConfig(id=str(d["id"]), pack_size=int(d["pack_size"]), chunker=dict(d["chunker"]),
                             encryption=d.get("encryption"))
            if cfg.encryption is not None and (not isinstance(cfg.encryption, dict)
                                               or cfg.encryption.get("cipher") != CIPHER_NAME):
                raise ValueError(f"unknown encryption {cfg.encryption!r}")
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise RepositoryError(f"{storage.location}/config: not a valid reliad repository config ({e})") \
                from None
        return cls(storage, cfg)

    # -- keys --------------------------------------------------------------------
    @property
    def encrypted(self) -> bool:
        return self.config.encryption is not None

    def unlock(self, secret: Secret) -> None:
        """Open the data key with a user's secret; a wrong one is a configuration error (exit 2)."""
        assert isinstance(self.config.encryption, dict)
        key, slot = unlock(self.storage, self.config.id, secret)
        cipher = Cipher(key, self.config.id)
        check = self.config.encryption.get("check") or {}
        try:
            ok = cipher.check_config(self.config.canonical(), base64.b64decode(check["nonce"]),
                                     base64.b64decode(check["tag"]))
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            if secret.kind == "datakey":
                raise ConfigError(f"{secret.source} does not open the repository at {self.storage.location} "
                                  "(wrong recovery key, or the repository config was altered)")
            raise DamageError(f"{self.storage.location}/config: the repository config was altered "
                              "(its key check fails although the key opened)")
        self.cipher, self.slot, self.data_key = cipher, slot, key

    def need_cipher(self) -> Cipher:
        if self.cipher is None:
            raise ConfigError(f"the repository at {self.storage.location} is encrypted and no key was given; "
                              "set key_file, passphrase_file, passphrase_env or passphrase_credential on its "
                              "target (see docs/SECURITY.md)")
        return self.cipher

    # -- backups -----------------------------------------------------------------
    def backup_ids(self) -> list[str]:
        return [o.name.split("/", 1)[1] for o in self.storage.list(MANIFESTS)]

    def has_backup(self, backup_id: str) -> bool:
        """Whether the backup's manifest is here (it is committed: its packs were written first)."""
        return self.storage.stat(manifest_object(check_backup_id(backup_id))) is not None

    def data_objects(self) -> dict[str, list[ObjectInfo]]:
        """{backup id: the objects stored under its data prefix}, for every backup that has any."""
        out: dict[str, list[ObjectInfo]] = {}
        for o in self.storage.list(DATA):
            bid = backup_of(o.name)
            if bid is not None:
                out.setdefault(bid, []).append(o)
        return out

    def header(self, backup_id: str) -> dict[str, Any]:
        name = manifest_object(check_backup_id(backup_id))
        header = self._sealed_header(name, backup_id) if self.encrypted else self._plain_header(name, backup_id)
        if header.get("id") != backup_id:
            raise DamageError(f"{name}: the manifest belongs to backup {header.get('id')!r}")
        return header

    def _plain_header(self, name: str, backup_id: str) -> dict[str, Any]:
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

    def _sealed_header(self, name: str, backup_id: str) -> dict[str, Any]:
        cipher = self.need_cipher()
        try:
            head = self.storage.get_range(name, 0, HEAD.size)
        except FileNotFoundError:
            raise RepositoryError(f"{self.storage.location}: no backup {backup_id!r}") from None
        length, _ = parse_head(head, name)
        stored = self.storage.get_range(name, 0, HEAD.size + length)
        record = cipher.open_record(name, 0, unwrap(stored, name), name)
        return parse_header(codec.decompress(record, f"{name} header"), name)

    def headers(self) -> list[dict[str, Any]]:
        return [self.header(b) for b in self.backup_ids()]

    def entries(self, backup_id: str) -> Iterator[Entry]:
        name = manifest_object(check_backup_id(backup_id))
        for line in self.entry_lines(backup_id):
            yield parse_entry(line, name)

    def entry_lines(self, backup_id: str) -> Iterator[bytes]:
        """The manifest's entry lines before parsing (`parse_entry` makes each an Entry):
        verify skips the parse of a line it has already seen verify clean."""
        name = manifest_object(check_backup_id(backup_id))
        copy = self._fetched.get(backup_id)
        try:
            stream = copy.open("rb") if copy else self.storage.open_read(name)
        except FileNotFoundError:
            raise RepositoryError(f"{self.storage.location}: no backup {backup_id!r}") from None
        with stream:
            if self.encrypted:
                yield from iter_sealed_lines(self.need_cipher(), stream, name)
            else:
                yield from iter_lines(stream, name)

    @contextlib.contextmanager
    def manifest_fetched(self, backup_id: str) -> Iterator[None]:
        """Within it, every pass over the backup's manifest reads one copy on this machine.
        A restore passes over it twice (its directories first, then every entry), a drill up
        to four times (the restore, the check of the standby tree, its databases, and a
        verification when something is wrong), and from S3 each pass was a download of the
        whole object: tens of MB for a large tree. Each pass opens the copy anew, so passes
        may overlap. A local store's object is such a copy already."""
        name = manifest_object(check_backup_id(backup_id))
        if backup_id in self._fetched or self.storage.local_path(name) is not None:
            yield
            return
        try:
            source = self.storage.open_read(name)
        except FileNotFoundError:
            raise RepositoryError(f"{self.storage.location}: no backup {backup_id!r}") from None
        tmp: tempfile.TemporaryDirectory[str] | None = None
        try:
            with source:  # closed once copied: S3's download is spooled, partly in memory
                tmp = tempfile.TemporaryDirectory(prefix="reliad-manifest-")
                copy = Path(tmp.name) / "manifest"
                with copy.open("wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
        except OSError as e:
            if tmp is not None:
                tmp.cleanup()
            raise ReliadError(f"cannot keep a copy of the manifest of backup {backup_id} in "
                              f"{tempfile.gettempdir()}: {e.strerror}; set TMPDIR to a directory with room "
                              "for it") from None
        self._fetched[backup_id] = copy
        try:
            yield
        finally:
            del self._fetched[backup_id]
            tmp.cleanup()

    def start_backup(self, backup_id: str, tmp_dir: Path | None, level: int) -> BackupWriter:
        """A writer for a new backup: frames go into its packs as they come, the manifest is
        written last by `commit` (see reliad/repository/writer.py)."""
        return BackupWriter(self.storage, backup_id, self.config.pack_size,
                            self.need_cipher() if self.encrypted else None, tmp_dir, level)

    # -- other objects (audit copies, catalog exports) ---------------------------
    def put_object(self, name: str, data: bytes) -> None:
        """Store a small object, compressed, and sealed when the repository is encrypted."""
        comp = codec.compress(data, 3)
        if self.encrypted:
            comp = self.need_cipher().seal_object(name, [comp])
        self.storage.put(name, comp)

    def get_object(self, name: str) -> bytes:
        stored = self.storage.get(name)
        if not self.encrypted:
            return codec.decompress(stored, name)
        records = list(self.need_cipher().iter_records(io.BytesIO(stored), name))
        return b"".join(codec.decompress(r, name) for r in records)

    def manifest_trailer(self, backup_id: str) -> tuple[int, int]:
        """Size of the manifest object and the CRC32C its trailer records; reads only the
        end of it, so `verify --mode fast` finds a truncated manifest without reading it."""
        name = manifest_object(check_backup_id(backup_id))
        info = self.storage.stat(name)
        if info is None:
            raise RepositoryError(f"{self.storage.location}: no backup {backup_id!r}")
        if self.encrypted:
            # No trailer: the object must end with its end record (an envelope of nonce and tag).
            tail = self.storage.get_range(name, max(0, info.size - OVERHEAD), OVERHEAD)
            if len(tail) != OVERHEAD or parse_head(tail[:HEAD.size], name)[0] != NONCE + TAG:
                raise DamageError(f"{name}: manifest is truncated (its end record is missing)")
            unwrap(tail, f"{name} end record")
            return info.size, 0
        tail = self.storage.get_range(name, max(0, info.size - TRAILER.size), TRAILER.size)
        return info.size, parse_trailer(tail, info.size, name)

    def check_manifest(self, backup_id: str) -> None:
        """Read the whole manifest object and compare its CRC32C with its trailer (or, when
        encrypted, each envelope with its own CRC32C; no key needed either way)."""
        size, want = self.manifest_trailer(backup_id)
        name = manifest_object(backup_id)
        if self.encrypted:
            with self.storage.open_read(name) as fh:
                check_envelopes(fh, name, sealed_object=True)
            return
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

    def check_pack(self, pack: str, size: int, want: int, known: dict[int, tuple[int, int]] | None = None) -> None:
        """Compare a whole pack's length and CRC32C with what its backup recorded.

        `known` maps the offset of frames already read and checked against their CRC32C to
        (length, crc32c): their CRCs are combined instead of reading those bytes again, so
        only the rest (tar headers, padding, frames nothing led to) is read."""
        name = pack_object(pack)
        info = self.storage.stat(name)
        if info is None:
            raise DamageError(f"{name}: pack is missing")
        if info.size != size:
            raise DamageError(f"{name}: pack has {info.size} bytes, its backup recorded {size}")
        crc = pos = 0
        for offset, (length, frame_crc) in sorted((known or {}).items()):
            if offset < pos or offset + length > size:
                continue  # records that overlap or overrun: those bytes are read instead
            crc = crc32c_combine(self._crc_range(name, pos, offset, crc), frame_crc, length)
            pos = offset + length
        if self._crc_range(name, pos, size, crc) != want:
            raise DamageError(f"{name}: CRC32C mismatch over the whole pack")

    def _crc_range(self, name: str, start: int, end: int, crc: int) -> int:
        """`crc` continued over bytes start..end of an object, read up to 8 MiB at a time (few
        requests to an object store when a whole pack must be read, bounded memory)."""
        while start < end:
            block = self.storage.get_range(name, start, min(end - start, 8 << 20))
            if not block:
                raise DamageError(f"{name}: pack is truncated (it ends at {start} bytes)")
            crc = crc32c.crc32c(block, value=crc)
            start += len(block)
        return crc

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

    def load_frame(self, pack: str, offset: int, length: int, crc: int) -> bytes:
        """Read one frame, check it against its stored CRC32C and decompress it. Safe to
        call from several threads at once (restore and verify decode ahead in a pool)."""
        stored = self.read_stored(pack, offset, length)
        where = f"{pack_object(pack)}@{offset}"
        if crc32c.crc32c(stored) != crc:
            raise DamageError(f"{where}: CRC32C mismatch in stored frame")
        if self.encrypted:
            stored = self.need_cipher().open_frame(pack, offset, stored, where)
        return codec.decompress(stored, where)

    def frame(self, chunk: Chunk) -> bytes:
        """The raw bytes of the frame a chunk lives in, checked against its stored CRC.

        A small cache keeps the last frames, because neighbouring small files share one.
        """
        pack, off, length, crc = chunk.pack, chunk.frame_offset, chunk.frame_length, chunk.frame_crc32c
        key = (pack, off)
        raw = self._frames.get(key)
        if raw is not None:
            self._frames.move_to_end(key)
            return raw
        raw = self.load_frame(pack, off, length, crc)
        self._frames[key] = raw
        if len(self._frames) > 8:
            self._frames.popitem(last=False)
        return raw

    def chunk_data(self, chunk: Chunk) -> bytes:
        """The content bytes of one chunk, checked end to end against the raw CRC."""
        raw = self.frame(chunk)
        roff, rlen, rcrc = chunk.raw_offset, chunk.raw_length, chunk.raw_crc32c
        data = raw[roff:roff + rlen]
        if len(data) != rlen or crc32c.crc32c(data) != rcrc:
            raise DamageError(f"{pack_object(chunk.pack)}@{chunk.frame_offset}: content CRC32C mismatch")
        return data
