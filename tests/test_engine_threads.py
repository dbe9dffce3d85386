"""Issue 18: which thread of a full backup does what, and that the records say the same either way.

The blake3 package gives up the interpreter lock for every input of 2 KiB or more. Hashed in a
compression thread, each small file made that thread take the lock back from the archiver's
thread, a sleep and a wake-up for both (docs/PERFORMANCE.md, "Fifth round"). So small chunks
are hashed by the archiver as it reads them, and large ones (a frame each) in the compression
threads. Counted by thread, not timed; and every record's CRC32C and BLAKE3 must still be
those of its own bytes, or a later incremental would reuse the wrong content.

The compression threads run at a lower CPU priority than the archiver's thread, which feeds
them (see `packer._yield_to_the_feeder`): read from the kernel, per thread.

A shared frame reaches its compression thread as pieces, which that thread joins: growing one
buffer in the archiver's thread copied each byte several times there (`Archiver._append`).
Each piece must own its bytes, or the small tail chunk of a large file would keep that file's
whole read buffer alive until its frame is written."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import crc32c
import pytest
from conftest import write_config
from engine_kit import assert_same, open_repo, restored, snapshot
from pyfastcdc import FastCDC

from reliad.config import load_config
from reliad.jobs import archiver
from reliad.jobs.backup import run_backup
from reliad.jobs.restore import run_restore
from reliad.repository import codec, packer
from reliad.repository.repo import CHUNKER


def _tree(root: Path) -> dict[bytes, bytes]:
    """Small files of 2-40 KiB (above the size at which BLAKE3 gives up the lock), and one
    file cut into several chunks, most of them large enough for frames of their own;
    returns content by manifest path."""
    root.mkdir()
    files = {f"page{i:03d}.html": os.urandom(1024) * (2 + i % 39) for i in range(120)}
    files["dump.sql"] = os.urandom(3 << 20)
    for name, data in files.items():
        (root / name).write_bytes(data)
    prefix = os.fsencode(root).lstrip(b"/") + b"/"
    return {prefix + os.fsencode(name): data for name, data in files.items()}


def test_small_chunks_are_hashed_as_read_large_ones_in_the_workers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content = _tree(tmp_path / "src")
    hashed_in: dict[str, list[int]] = {}  # thread name -> sizes hashed there
    real_hash = packer.chunk_hash

    def counting_hash(data: bytes | memoryview) -> str:
        hashed_in.setdefault(threading.current_thread().name, []).append(len(data))
        return real_hash(data)

    monkeypatch.setattr(packer, "chunk_hash", counting_hash)
    monkeypatch.setattr(archiver, "chunk_hash", counting_hash)
    config = load_config(write_config(tmp_path / "reliad.toml", [str(tmp_path / "src")]))
    bid = run_backup(config, "shop", "full")["id"]

    entries = {e.path: e for e in open_repo(tmp_path / "reliad.toml").entries(bid) if e.type == "file"}
    assert entries.keys() == content.keys()
    sizes = [c.raw_length for e in entries.values() for c in e.chunks]
    assert sorted(hashed_in.pop(threading.main_thread().name)) == sorted(n for n in sizes if n < archiver.DIRECT)
    assert all(name.startswith("reliad-compress") for name in hashed_in), hashed_in
    assert sorted(n for part in hashed_in.values() for n in part) == sorted(n for n in sizes if n >= archiver.DIRECT)
    assert len(sizes) > len(content)  # the dump was cut into several chunks, some of them large
    for path, data in content.items():
        pos = 0
        for c in entries[path].chunks:  # a file's chunks are its bytes in order
            piece = data[pos:pos + c.raw_length]
            pos += c.raw_length
            assert c.raw_crc32c == crc32c.crc32c(piece), path
            assert c.hash == real_hash(piece), path
        assert pos == len(data)


def test_compression_threads_run_at_a_lower_priority_than_their_feeder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content = _tree(tmp_path / "src")
    nice: dict[str, int] = {}  # thread name -> its nice value while it compressed
    real_compress = codec.compress

    def watched_compress(raw: bytes | memoryview, level: int) -> bytes:
        nice[threading.current_thread().name] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        return real_compress(raw, level)

    monkeypatch.setattr(codec, "compress", watched_compress)
    config = load_config(write_config(tmp_path / "reliad.toml", [str(tmp_path / "src")]))
    feeder = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    if feeder >= 19:
        pytest.skip("the tests run at the lowest priority already (nice 19): nothing lower to give")
    result = run_backup(config, "shop", "full")

    assert result["files"] == len(content)
    workers = {name: n for name, n in nice.items() if name.startswith("reliad-compress")}
    assert workers, nice
    assert all(n > feeder for n in workers.values()), (feeder, workers)
    assert set(workers.values()) == {min(19, feeder + packer.COMPRESS_NICE)}, (feeder, workers)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == feeder  # the caller's own is untouched


def test_a_backup_runs_where_the_priority_cannot_be_lowered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sandbox that refuses setpriority (a seccomp filter returning EPERM) costs speed, not
    the backup: the compression threads then run at their feeder's priority."""
    content = _tree(tmp_path / "src")

    def refused(*args: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "setpriority", refused)
    config = load_config(write_config(tmp_path / "reliad.toml", [str(tmp_path / "src")]))
    result = run_backup(config, "shop", "full")
    assert result["status"] == "ok" and result["files"] == len(content)
    entries = {e.path: e for e in open_repo(tmp_path / "reliad.toml").entries(result["id"]) if e.type == "file"}
    assert {p: e.size for p, e in entries.items()} == {p: len(d) for p, d in content.items()}


def _large_file_with_a_small_tail() -> bytes:
    """Content that the backup cuts into one chunk of a frame of its own and a tail of 5,000
    bytes, which goes into a shared frame. The first cut depends only on the bytes before it,
    so it is found on a longer sample, and the file ends 5,000 bytes after it."""
    sample = os.urandom(3 << 20)
    cdc = FastCDC(avg_size=CHUNKER["avg"], min_size=CHUNKER["min"], max_size=CHUNKER["max"], seed=CHUNKER["seed"])
    first = len(next(iter(cdc.cut_buf(sample))).data)
    return sample[:first + 5000]


def test_the_shared_frame_is_joined_in_a_worker_from_pieces_that_own_their_bytes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content = _tree(tmp_path / "src")
    (tmp_path / "src" / "upload.bin").write_bytes(_large_file_with_a_small_tail())
    joined: list[tuple[str, set[type]]] = []  # per shared frame: the thread, the types of its pieces
    real_encode = packer._encode

    def watched_encode(frame: packer.Frame, *args: object) -> tuple[bytes, int]:
        if isinstance(frame, list):
            joined.append((threading.current_thread().name, {type(p) for p in frame}))
        return real_encode(frame, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(packer, "_encode", watched_encode)
    config = load_config(write_config(tmp_path / "reliad.toml", [str(tmp_path / "src")]))
    result = run_backup(config, "shop", "full")
    assert result["status"] == "ok" and result["files"] == len(content) + 1

    upload = next(e for e in open_repo(tmp_path / "reliad.toml").entries(result["id"])
                  if e.path.endswith(b"/upload.bin"))
    assert [c.raw_length >= archiver.DIRECT for c in upload.chunks] == [True, False]  # the tail is shared
    assert joined, "no shared frame reached a compression thread as pieces"
    assert all(name.startswith("reliad-compress") for name, _ in joined), joined
    assert set().union(*(types for _, types in joined)) == {bytes}, joined
    dest = tmp_path / "out"
    run_restore(open_repo(tmp_path / "reliad.toml"), result["id"], dest, [])
    assert_same(snapshot(tmp_path / "src"), snapshot(restored(dest, tmp_path / "src")))
