"""The fast paths of the readers (one-call zstd decompression, the manifest line parser, the
chunk record check) accept exactly what the plain paths accept and fail where they fail."""

from __future__ import annotations

import json
import re
from typing import Any

import crc32c
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from reliad.errors import DamageError
from reliad.jobs.verify import _pack_sums
from reliad.repository import codec
from reliad.repository.manifest import _load_line, _valid_chunk, parse_entry
from reliad.repository.repo import crc32c_combine

PACK = "20261129T003048.964367Z-2eab24/000001"


def _stream(stored: bytes) -> bytes:
    """The streaming decompression every frame took before the one-call path."""
    obj = zstandard.ZstdDecompressor().decompressobj()
    raw = obj.decompress(stored)
    if not obj.eof or obj.unused_data:
        raise DamageError("damaged")
    return raw


def _outcome(fn: Any, arg: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(arg)
    except (DamageError, zstandard.ZstdError):
        return "damage", None


@pytest.mark.parametrize("raw", [b"", b"x", b"hello world " * 5000])
def test_damaged_frames_are_damage_on_the_one_call_path_too(raw):
    frame = codec.compress(raw, 3)
    assert codec.decompress(frame, "f") == raw
    with pytest.raises(DamageError, match="truncated"):
        codec.decompress(frame[:-1], "f")
    with pytest.raises(DamageError, match="trailing bytes"):
        codec.decompress(frame + b"\0", "f")
    with pytest.raises(DamageError):
        codec.decompress(frame + codec.compress(b"more", 3), "f")  # two frames are not one
    no_size = zstandard.ZstdCompressor(write_content_size=False).compress(raw)
    assert codec.decompress(no_size, "f") == raw


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=3000), at=st.floats(0, 1, exclude_max=True), mask=st.integers(1, 255),
       cut=st.integers(0, 40), extra=st.binary(max_size=8))
def test_one_call_path_agrees_with_the_streaming_path(raw, at, mask, cut, extra):
    frame = bytearray(codec.compress(raw * 3, 3))
    frame[int(at * len(frame))] ^= mask
    damaged = bytes(frame[:max(0, len(frame) - cut)]) + extra
    got = _outcome(lambda b: codec.decompress(b, "f"), damaged)
    want = _outcome(_stream, damaged)
    assert got == want


_PLAIN_CHUNK = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*/[0-9]+$")


def _old_valid_chunk(c: Any) -> bool:
    return (isinstance(c, list) and len(c) == 8 and isinstance(c[0], str) and _PLAIN_CHUNK.match(c[0]) is not None
            and all(type(v) is int and v >= 0 for v in c[1:7]) and (c[7] is None or isinstance(c[7], str)))


_values = st.one_of(st.integers(-3, 2**70), st.booleans(), st.none(), st.floats(allow_nan=False),
                    st.sampled_from([PACK, "../x/1", "a/b", "", "ab/12\n"]), st.text(max_size=5), st.just([]))


@settings(max_examples=400, deadline=None)
@given(c=st.one_of(st.lists(_values, min_size=7, max_size=9),
                   st.tuples(st.just(PACK), *[st.integers(-1, 9)] * 6, st.none()).map(list),
                   _values))
def test_chunk_record_check_is_unchanged(c):
    assert _valid_chunk(c) == _old_valid_chunk(c)


def _old_load(line: bytes) -> tuple[str, Any]:
    try:
        return "ok", json.loads(line)
    except ValueError:
        return "error", None


def _new_load(line: bytes) -> tuple[str, Any]:
    try:
        return "ok", _load_line(line)
    except ValueError:
        return "error", None


GOOD = json.dumps({"path": "srv/a", "type": "file", "size": 3, "chunks": [[PACK, 0, 9, 1, 0, 3, 2, None]]},
                  separators=(",", ":")).encode()


@pytest.mark.parametrize("line", [GOOD, GOOD + b"\n", b" " + GOOD, GOOD + b" \n", GOOD + b"\n\n", GOOD + b"x",
                                  b"", b"\n", b"1", b"1\x00", b"\x00{}", b"[1,2]", b'"\\ud800"', b"NaN",
                                  b'{"a":1,"a":2}', "{\"p\":\"\u00e9\"}".encode(), b'{"p":"\xff"}',
                                  "{\"p\":\"\u00e9\"}".encode("utf-16"), b"{\"a\":\r1}"])
def test_manifest_line_parser_matches_json_loads(line):
    assert _new_load(line) == _old_load(line)


@settings(max_examples=300, deadline=None)
@given(at=st.integers(0, len(GOOD)), blob=st.binary(max_size=4))
def test_damaged_manifest_lines_parse_as_json_loads_parses_them(at, blob):
    line = GOOD[:at] + blob + GOOD[at + len(blob):]
    assert _new_load(line) == _old_load(line)


def test_an_entry_with_an_infinite_number_is_damage():
    with pytest.raises(DamageError, match="damaged manifest entry"):
        parse_entry(b'{"path":"a","type":"file","mtime_ns":1e999}', "m")


BID = PACK.split("/")[0]


@pytest.mark.parametrize("sums", [[1], {PACK: {"size": 1}}, {PACK: {"size": 1, "crc32c": "x"}}, {PACK: 3},
                                  {"../../etc/1": {"size": 1, "crc32c": 2}}, {"other/000001": {"size": 1, "crc32c": 2}}])
def test_a_damaged_pack_sums_header_is_damage(sums):
    """`--mode fast` reads the header without the manifest's checksum."""
    with pytest.raises(DamageError, match="pack_sums"):
        _pack_sums({"pack_sums": sums}, BID)
    assert _pack_sums({"pack_sums": {PACK: {"size": 1, "crc32c": 2}}}, BID) == {PACK: {"size": 1, "crc32c": 2}}


@settings(max_examples=200, deadline=None)
@given(a=st.binary(max_size=300), b=st.binary(max_size=300), zeros=st.sampled_from([0, 1, (1 << 20) - 1, 3 << 20]))
def test_crc32c_combine_is_the_crc_of_the_concatenation(a, b, zeros):
    b += bytes(zeros)  # lengths past the zero buffer too
    assert crc32c_combine(crc32c.crc32c(a), crc32c.crc32c(b), len(b)) == crc32c.crc32c(a + b)
