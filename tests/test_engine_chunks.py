"""Issue 2, point 2: a large file changes in parts. Appending to a database dump or inserting
rows in its middle makes the next incremental store a few MiB, not the whole file again."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from conftest import Reliad, write_config
from engine_kit import repo_bytes, restored

MiB = 1 << 20


def _rows(rng: random.Random, first: int, count: int) -> bytes:
    """SQL-like text that compresses about as badly as a real dump (hex digests, numbers)."""
    out = []
    for i in range(first, first + count):
        digest = rng.getrandbits(128).to_bytes(16, "big").hex()
        out.append(f"INSERT INTO orders VALUES ({i}, 'customer-{rng.randrange(10**6)}', '{digest}', "
                   f"{rng.randrange(10**5)}.{rng.randrange(100):02d}, '2026-11-{1 + i % 28:02d}');\n")
    return "".join(out).encode()


def _until(rng: random.Random, first: int, size: int) -> tuple[bytes, int]:
    parts, n, i = [], 0, first
    while n < size:
        block = _rows(rng, i, 2000)
        parts.append(block)
        n += len(block)
        i += 2000
    return b"".join(parts), i


def test_append_and_insert_in_the_middle_store_only_new_chunks(tmp_path):
    rng = random.Random(2)
    tree = tmp_path / "tree"
    tree.mkdir()
    dump = tree / "shop.sql"
    head, nxt = _until(rng, 0, 20 * MiB)
    tail, nxt = _until(rng, nxt, 20 * MiB)
    dump.write_bytes(head + tail)
    r = Reliad(write_config(tmp_path / "reliad.toml", [str(tree)]))
    repo = tmp_path / "repo"

    full = r.json("backup", "shop", "--type", "full")
    full_size = repo_bytes(repo)
    assert full_size > 10 * MiB  # the dump really is stored, compressed about 3:1

    appended, nxt = _until(rng, nxt, MiB)
    with open(dump, "ab") as fh:
        fh.write(appended)
    before = repo_bytes(repo)
    inc = r.json("backup", "shop", "--type", "incremental")
    grown = repo_bytes(repo) - before
    # new: the appended MiB plus the re-cut last chunk (chunks average 1 MiB, at most 4 MiB)
    assert inc["bytes_new"] <= 6 * MiB, inc
    assert grown <= 4 * MiB, grown

    inserted, nxt = _until(rng, nxt, 256 << 10)
    dump.write_bytes(head + inserted + tail + appended)
    before = repo_bytes(repo)
    inc2 = r.json("backup", "shop", "--type", "incremental")
    grown2 = repo_bytes(repo) - before
    assert inc2["bytes_new"] <= 9 * MiB, inc2
    assert grown2 <= 5 * MiB, grown2

    # the same change as a differential on top of the full: only chunks new since the full
    diff = r.json("backup", "shop", "--type", "differential")
    assert diff["base"] == full["id"] and diff["bytes_new"] <= 12 * MiB, diff

    for bid, content in ((inc["id"], head + tail + appended), (inc2["id"], head + inserted + tail + appended),
                         (diff["id"], head + inserted + tail + appended)):
        dest = tmp_path / f"r-{bid}"
        r.run("restore", bid, str(dest))
        got = (restored(dest, tree) / "shop.sql").read_bytes()
        assert hashlib.sha256(got).digest() == hashlib.sha256(content).digest()
    assert r.run("verify", "--mode", "crc").returncode == 0


def test_large_file_is_cut_into_content_defined_chunks(tmp_path: Path):
    tree = tmp_path / "tree"
    tree.mkdir()
    data, _ = _until(random.Random(5), 0, 8 * MiB)
    (tree / "dump.sql").write_bytes(data)
    r = Reliad(write_config(tmp_path / "reliad.toml", [str(tree)]))
    bid = r.json("backup", "shop", "--type", "full")["id"]
    from engine_kit import open_repo

    repo = open_repo(tmp_path / "reliad.toml")
    entry = next(e for e in repo.entries(bid) if e.path.endswith(b"dump.sql"))
    sizes = [c.raw_length for c in entry.chunks]
    assert len(sizes) >= 3 and sum(sizes) == len(data)
    assert all(256 << 10 <= s <= 4 * MiB for s in sizes[:-1]), sizes
