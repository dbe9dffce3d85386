"""Manifests: the complete, path-sorted listing of one backup.

A manifest object is a run of zstd frames. The first frame holds one JSON line, the header;
the following frames hold one JSON line per entry, sorted by `sort_key`. Full, incremental
and differential backups all list the whole tree, so any backup restores from its own
manifest alone; they differ only in which packs their chunks point into.

The object ends with a zstd *skippable* frame (ignored by every zstd decoder) holding the
CRC32C and length of all bytes before it. zstd frames are written without their own
checksum, so without this trailer a flipped byte in a manifest could decode into a
plausible but wrong entry; with it, `verify --mode crc` finds any flipped byte and
`--mode fast` any truncation.

In an encrypted repository each of those zstd frames is sealed in an envelope instead
(see reliad/repository/crypto.py), and an empty end record takes the trailer's place.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import operator
import os
import re
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import starmap
from pathlib import Path
from typing import Any, BinaryIO

import crc32c
import orjson
import zstandard

from reliad.errors import DamageError
from reliad.repository import codec
from reliad.repository.crypto import Cipher
from reliad.repository.names import PACK_RE

MANIFEST_FORMAT = "reliad-manifest"
MANIFEST_VERSION = 1
# The top directory of database dumps in a backup (`_reliad/<source>/<file>`, made by
# reliad/sources/dump.py): they have no place in the filesystem, so they get this one.
VIRTUAL_ROOT = b"_reliad"
_FRAME_RAW = 1 << 20
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode  # for what orjson cannot write (integers over 64 bits)
# Trailer: skippable frame magic 0x184D2A5E, frame size 12, CRC32C (u32 LE), length (u64 LE).
TRAILER = struct.Struct("<IIIQ")
TRAILER_MAGIC = 0x184D2A5E
_PLAIN = re.compile(rb"[\x20-\x5b\x5d-\x7e]*\Z")  # printable ASCII but backslash: shown as is

ENTRY_TYPES = ("file", "dir", "symlink", "hardlink", "fifo", "chardev", "blockdev")


@dataclass(slots=True)
class Chunk:
    """Where one piece of a file's content is stored and how to check it: in a manifest, the
    JSON array of its fields in this order (docs/FORMAT.md, "Chunk records").

    The stored frame lies at `frame_offset` in `pack`, `frame_length` bytes whose CRC32C is
    `frame_crc32c`; the piece is `raw_length` bytes at `raw_offset` of the decompressed
    frame, with CRC32C `raw_crc32c`; `hash` (BLAKE3, 128 bits, hex) lets a later backup
    recognise content it already has. A record being written starts with an empty `pack`
    and is filled in by the pack writer, `pack` last: a record with a pack is complete.
    Slotted and positional, because restore and verify read millions of them: making one
    costs little more than the list it replaced, and reading a field costs less."""

    pack: str
    frame_offset: int
    frame_length: int
    frame_crc32c: int
    raw_offset: int
    raw_length: int
    raw_crc32c: int | None
    hash: str | None


_ROW = operator.attrgetter(*Chunk.__slots__)  # a chunk as the tuple its JSON array is made from


def sort_key(path: bytes) -> bytes:
    """Depth-first order with siblings sorted bytewise: the order in which the walker
    yields entries and in which a merge join with an older manifest must compare them."""
    return path.replace(b"/", b"\x00")


def _put_bytes(d: dict[str, Any], key: str, value: bytes) -> None:
    try:
        d[key] = value.decode("utf-8")
    except UnicodeDecodeError:
        d[key + "_b64"] = base64.b64encode(value).decode("ascii")


def _get_bytes(d: dict[str, Any], key: str) -> bytes | None:
    if key in d:
        return d[key].encode("utf-8", "surrogatepass")
    if key + "_b64" in d:
        return base64.b64decode(d[key + "_b64"])
    return None


@dataclass(slots=True)
class Entry:
    """One filesystem object as it was at backup time."""

    path: bytes
    type: str  # file, dir, symlink, hardlink, fifo, chardev, blockdev
    mode: int = 0
    uid: int = 0
    gid: int = 0
    mtime_ns: int = 0
    ctime_ns: int = 0
    ino: int = 0
    size: int = 0
    chunks: list[Chunk] = field(default_factory=list)
    target: bytes | None = None
    rdev: int = 0
    flags: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        _put_bytes(d, "path", self.path)
        d.update(type=self.type, mode=self.mode, uid=self.uid, gid=self.gid, mtime_ns=self.mtime_ns)
        if self.ctime_ns:
            d["ctime_ns"] = self.ctime_ns
        if self.ino:
            d["ino"] = self.ino
        if self.type in ("file", "hardlink"):
            d["size"] = self.size
            d["chunks"] = list(map(_ROW, self.chunks))
        if self.target is not None:
            _put_bytes(d, "target", self.target)
        if self.rdev:
            d["rdev"] = self.rdev
        if self.flags:
            d["flags"] = self.flags
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Entry:
        get = d.get  # a bound method and positional fields: this runs once per entry of every manifest read
        path = _get_bytes(d, "path")
        kind = get("type")
        if path is None or not isinstance(kind, str):
            raise ValueError("entry without path or type")
        if kind not in ENTRY_TYPES:
            raise ValueError(f"entry {path!r} has unknown type {kind!r}")
        target = _get_bytes(d, "target")
        if target is None and kind in ("symlink", "hardlink"):
            raise ValueError(f"{kind} entry {path!r} has no target")
        rows = get("chunks", [])
        if not isinstance(rows, list) or not all(map(_valid_chunk, rows)):
            raise ValueError(f"entry {path!r} has a malformed chunk list")
        return cls(path, kind, int(get("mode", 0)), int(get("uid", 0)), int(get("gid", 0)),
                   int(get("mtime_ns", 0)), int(get("ctime_ns", 0)), int(get("ino", 0)), int(get("size", 0)),
                   list(starmap(Chunk, rows)), target, int(get("rdev", 0)), list(get("flags", ())))


_SIX_INTS = (int,) * 6


@functools.lru_cache(maxsize=4096)
def _valid_pack(name: str) -> bool:
    """Pack names repeat across a manifest's chunks: each is matched once."""
    return PACK_RE.match(name) is not None


def _valid_chunk(c: Any) -> bool:
    """A chunk record of the right shape, naming a pack inside data/ (a forged or damaged
    manifest must not make a reader open some other file)."""
    if not (isinstance(c, list) and len(c) == 8 and isinstance(c[0], str) and _valid_pack(c[0])):
        return False
    numbers = c[1:7]
    return (tuple(map(type, numbers)) == _SIX_INTS and min(numbers) >= 0
            and (c[7] is None or isinstance(c[7], str)))


def _load_line(line: bytes) -> Any:
    """One manifest line's JSON value, in a third of json.loads's time (orjson: a restore,
    verify or incremental parses every line; 20,000 lines took 0.13-0.19 s with json.loads
    and 0.05-0.06 s with orjson). What orjson refuses (NaN, lone surrogates) goes to
    json.loads, which accepts or refuses it as before. One difference remains, in lines no
    backup writes: orjson reads an integer of more than 64 bits as a float, so a forged chunk
    record holding one is refused as malformed (json.loads' big integer failed later)."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


def _dump_line(value: dict[str, Any]) -> bytes:
    """One entry as a JSON line, compact. orjson, for the speed (a full backup writes a line
    per file from the thread that reads the files), writes non-ASCII characters as UTF-8
    rather than \\u escapes: both are the same JSON to every reader."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:  # an integer over 64 bits, from a forged reference manifest
        return _ENCODE(value).encode()


class ManifestWriter:
    """Collects entries into compressed frames in a local temporary file.

    The header (which needs totals known only at the end) is put in front when the
    manifest is committed, so readers can read it without decompressing the entries.
    With a cipher, each frame is sealed as record 1, 2, ... of the object `name` as soon as
    it is full (so no plaintext path reaches the disk), the header becomes record 0 and an
    empty end record closes the object.
    """

    def __init__(self, tmp_dir: Path | None = None, cipher: Cipher | None = None, name: str = "") -> None:
        self._tmp = tempfile.TemporaryFile(dir=tmp_dir)  # noqa: SIM115 - closed in commit()
        self._buf = io.BytesIO()
        self._cipher = cipher
        self._name = name
        self._index = 1
        self.count = 0

    def _frame(self, raw: bytes, index: int) -> bytes:
        comp = codec.compress(raw, 3)
        return self._cipher.seal_record(self._name, index, comp) if self._cipher else comp

    def add(self, entry: Entry) -> None:
        self._buf.write(_dump_line(entry.to_json()))
        self._buf.write(b"\n")
        self.count += 1
        if self._buf.tell() >= _FRAME_RAW:
            self._flush()

    def _flush(self) -> None:
        if self._buf.tell():
            self._tmp.write(self._frame(self._buf.getvalue(), self._index))
            self._index += 1
            self._buf = io.BytesIO()

    def write_to(self, out: BinaryIO, header: dict[str, Any]) -> None:
        """Write header frame, entry frames and the checksum trailer to `out` (an atomic
        storage writer)."""
        self._flush()
        first = self._frame(json.dumps(header, separators=(",", ":")).encode() + b"\n", 0)
        out.write(first)
        crc, length = crc32c.crc32c(first), len(first)
        self._tmp.seek(0)
        while block := self._tmp.read(1 << 20):
            out.write(block)
            crc = crc32c.crc32c(block, value=crc)
            length += len(block)
        self._tmp.close()
        if self._cipher:  # the envelopes carry their own CRCs; the end record marks completeness
            out.write(self._cipher.seal_record(self._name, self._index, b""))
        else:
            out.write(TRAILER.pack(TRAILER_MAGIC, TRAILER.size - 8, crc, length))

    def discard(self) -> None:
        self._tmp.close()


def read_header(first_bytes: bytes, where: str) -> dict[str, Any]:
    """Parse the header frame from the first bytes of a manifest object."""
    try:
        obj = zstandard.ZstdDecompressor().decompressobj()
        raw = obj.decompress(first_bytes)
    except zstandard.ZstdError as e:
        raise DamageError(f"{where}: manifest header does not decompress ({e})") from None
    if not obj.eof:
        raise EOFError
    return parse_header(raw, where)


def parse_header(raw: bytes, where: str) -> dict[str, Any]:
    try:
        header = json.loads(raw)
    except ValueError:
        raise DamageError(f"{where}: manifest header is not JSON") from None
    if not isinstance(header, dict) or header.get("format") != MANIFEST_FORMAT:
        raise DamageError(f"{where}: not a reliad manifest")
    if header.get("version", 0) > MANIFEST_VERSION:
        raise DamageError(f"{where}: manifest version {header.get('version')} is newer than this reliad")
    return header


def parse_trailer(tail: bytes, size: int, where: str) -> int:
    """Check the trailer (the last TRAILER.size bytes of an object of `size` bytes) and
    return the CRC32C it records for the bytes before it."""
    if len(tail) != TRAILER.size:
        raise DamageError(f"{where}: manifest is truncated ({size} bytes)")
    magic, fsize, crc, length = TRAILER.unpack(tail)
    if magic != TRAILER_MAGIC or fsize != TRAILER.size - 8:
        raise DamageError(f"{where}: manifest is truncated or damaged (no checksum trailer at its end)")
    if length != size - TRAILER.size:
        raise DamageError(f"{where}: manifest has {size - TRAILER.size} bytes before its trailer, "
                          f"the trailer says {length}")
    return crc


def parse_entry(line: bytes, where: str) -> Entry:
    """One manifest line as an entry; `where` names the manifest when the line is damaged."""
    try:
        return Entry.from_json(_load_line(line))
    except (ValueError, TypeError, AttributeError, OverflowError) as e:  # OverflowError: int(1e999)
        raise DamageError(f"{where}: damaged manifest entry ({e})") from None


def iter_lines(stream: BinaryIO, where: str) -> Iterator[bytes]:
    """The entry lines of a manifest, unparsed (the header frame is skipped)."""
    reader = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)
    text = io.BufferedReader(reader, buffer_size=1 << 20)
    try:
        first = True
        for line in text:
            if first:
                first = False
                continue
            yield line
    except zstandard.ZstdError as e:
        raise DamageError(f"{where}: manifest does not decompress ({e})") from None


def iter_sealed_lines(cipher: Cipher, stream: BinaryIO, name: str) -> Iterator[bytes]:
    """The entry lines of an encrypted manifest, unparsed: every record is opened, the header's too."""
    for i, record in enumerate(cipher.iter_records(stream, name)):
        raw = codec.decompress(record, f"{name} record {i}")
        if i:
            yield from raw.splitlines()


def entry_depends(entry: Entry) -> set[str]:
    """Backup ids whose packs the entry's chunks point into."""
    return {c.pack.split("/", 1)[0] for c in entry.chunks}


def display_path(path: bytes) -> str:
    """A path as people and JSON see it: '/'-rooted, printable, unambiguous. Bytes that are
    not UTF-8 become \\xHH, control characters (a newline in a name) their escape, and a
    backslash is doubled, as `ls -b` does; exact bytes stay in the manifest."""
    if _PLAIN.match(path):
        return "/" + path.decode("ascii")
    out = ["/"]
    for ch in path.decode("utf-8", "surrogateescape"):
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:
            out.append(f"\\x{o - 0xDC00:02x}")
        elif ch == "\\":
            out.append("\\\\")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def safe_relpath(path: bytes) -> bytes:
    """Reject paths that could leave the restore target; a manifest may have been forged."""
    if not path or path.startswith(b"/") or b"\x00" in path:
        raise DamageError(f"unsafe path in manifest: {os.fsdecode(path)!r}")
    for part in path.split(b"/"):
        if part in (b"", b".", b".."):
            raise DamageError(f"unsafe path in manifest: {os.fsdecode(path)!r}")
    return path
