"""Chunk records are a named type in the code and the 8-value JSON array of docs/FORMAT.md
in a manifest: a record survives the trip through a manifest line unchanged, field by field."""

from __future__ import annotations

import json
from dataclasses import fields

from hypothesis import given
from hypothesis import strategies as st

from reliad.repository.manifest import _ENCODE, Chunk, Entry, parse_entry

FORMAT_ORDER = ["pack", "frame_offset", "frame_length", "frame_crc32c", "raw_offset", "raw_length", "raw_crc32c",
                "hash"]
U32 = st.integers(0, 2**32 - 1)
U63 = st.integers(0, 2**63 - 1)
CHUNK = st.builds(Chunk, pack=st.from_regex(r"\A[A-Za-z0-9_-][A-Za-z0-9._-]{0,20}/[0-9]{6}\Z"),
                  frame_offset=U63, frame_length=U63, frame_crc32c=U32, raw_offset=U63, raw_length=U63,
                  raw_crc32c=U32, hash=st.none() | st.from_regex(r"\A[0-9a-f]{32}\Z"))


def test_the_fields_are_the_arrays_values_in_the_documented_order() -> None:
    assert [f.name for f in fields(Chunk)] == FORMAT_ORDER


@given(chunks=st.lists(CHUNK, max_size=5))
def test_a_chunk_record_round_trips_through_a_manifest_line(chunks: list[Chunk]) -> None:
    entry = Entry(path=b"srv/a", type="file", size=sum(c.raw_length for c in chunks), chunks=chunks)
    line = _ENCODE(entry.to_json()).encode()
    assert json.loads(line)["chunks"] == [[getattr(c, n) for n in FORMAT_ORDER] for c in chunks]
    assert parse_entry(line, "m").chunks == chunks
