"""The sqlite source (online backup API under load) and the image source (sparse images)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from conftest import need_program
from dbutil import TransferWriter, check_bank, db_config, make_bank

from reliad.jobs.archiver import _read_sparse


def _sqlite_writer(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=60)
    con.execute("PRAGMA busy_timeout = 60000")
    return con


def test_sqlite_backup_is_consistent_while_the_app_writes(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode = WAL")
    make_bank(con.cursor(), "?")
    con.execute("CREATE TABLE pages (id INTEGER PRIMARY KEY, body TEXT)")
    con.executemany("INSERT INTO pages (body) VALUES (?)", ((os.urandom(500).hex(),) for _ in range(4000)))
    con.commit()
    con.close()
    reliad = db_config(tmp_path, ['{ type = "sqlite", name = "lite", path = "shop.db", classes = ["pages"] }'])
    writer = TransferWriter(lambda: _sqlite_writer(db), placeholder="?")
    writer.start()
    writer.wait_for(20)
    before = writer.committed
    full = reliad.json("backup", "shop", "--type", "full")
    after = writer.finish()
    assert after > before

    reliad.run("restore", full["id"], "--source", "lite", "--into", str(tmp_path / "restored.db"))
    restored = sqlite3.connect(tmp_path / "restored.db")
    check_bank(restored.cursor(), before, after)
    assert restored.execute("SELECT count(*) FROM pages").fetchone() == (4000,)
    restored.close()
    proc = reliad.run("restore", full["id"], "--source", "lite", "--into", str(tmp_path / "restored.db"), expect=1)
    assert "exists and is not empty" in proc.stderr

    # The plain restore gives back the database file itself.
    reliad.run("restore", full["id"], str(tmp_path / "out"))
    copy = sqlite3.connect(tmp_path / "out" / "_reliad" / "lite" / "shop.db")
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    copy.close()


def _sparse_image(path: Path, size: int, blocks: dict[int, bytes]) -> None:
    with open(path, "wb") as f:
        f.truncate(size)
        for off, data in blocks.items():
            f.seek(off)
            f.write(data)


def test_image_keeps_holes_and_stores_only_changed_chunks(tmp_path: Path) -> None:
    img = tmp_path / "disk.img"
    mib = 1 << 20
    _sparse_image(img, 96 * mib, {0: os.urandom(mib), 40 * mib: os.urandom(3 * mib), 95 * mib: os.urandom(4096)})
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("<h1>shop</h1>")
    reliad = db_config(tmp_path, ['{ type = "image", name = "vm", path = "disk.img", classes = ["business"] }',
                                  '{ type = "files", name = "www", paths = ["www"], classes = ["pages"] }'])
    # the zstd | tar check at the end is a property of plain (unencrypted) repositories
    reliad.config.write_text(reliad.config.read_text().replace('path = "repo"\n', 'path = "repo"\nencryption = false\n'))
    full = reliad.json("backup", "shop", "--type", "full")
    assert full["bytes_read"] == 96 * mib + 13
    assert full["bytes_stored"] < 6 * mib  # holes cost next to nothing

    with open(img, "r+b") as f:
        f.seek(70 * mib)
        f.write(os.urandom(64 << 10))
    inc = reliad.json("backup", "shop", "--type", "incremental")
    # Only chunks around the change are new; zeros among them compress to nearly nothing.
    assert inc["bytes_new"] <= 12 * mib and inc["bytes_stored"] < mib, inc

    out = tmp_path / "out"
    reliad.run("restore", inc["id"], str(out))
    restored = out / "_reliad" / "vm" / "disk.img"
    assert restored.read_bytes() == img.read_bytes()
    assert (out / str(tmp_path).lstrip("/") / "www" / "index.html").read_text() == "<h1>shop</h1>"
    assert restored.stat().st_blocks * 512 < 8 * mib  # still sparse

    # An unencrypted full's image comes out of plain zstd + tar as one sized member.
    zstd, tar = need_program("zstd"), need_program("tar")
    packs = sorted((tmp_path / "repo" / "data" / full["id"]).glob("*.pack"))
    plain = tmp_path / "plain"
    plain.mkdir()
    cat = subprocess.Popen([zstd, "-dc", *map(str, packs)], stdout=subprocess.PIPE)
    subprocess.run([tar, "-x", "-C", str(plain)], stdin=cat.stdout, check=True)
    assert cat.wait() == 0
    assert (plain / "_reliad" / "vm" / "disk.img").stat().st_size == 96 * mib


def test_sparse_read_gives_the_same_bytes_as_a_plain_read(tmp_path: Path) -> None:
    f = tmp_path / "sparse"
    _sparse_image(f, 10 << 20, {3 << 20: b"x" * 5000, (10 << 20) - 10: b"y" * 10})
    fd = os.open(f, os.O_RDONLY)
    try:
        got = b"".join(iter(lambda: _read_sparse(fd, 1 << 20), b""))
    finally:
        os.close(fd)
    assert got == f.read_bytes()


def test_block_device_is_read_in_full_every_time(tmp_path: Path) -> None:
    losetup = need_program("losetup")
    backing = tmp_path / "backing.img"
    backing.write_bytes(os.urandom(3 << 20) + bytes(5 << 20))
    attach = subprocess.run([losetup, "-f", "--show", str(backing)], capture_output=True, text=True, check=False)
    if attach.returncode != 0:
        import pytest

        pytest.skip(f"cannot attach a loop device here: {attach.stderr.strip()}")
    dev = attach.stdout.strip()
    try:
        reliad = db_config(tmp_path, [f'{{ type = "image", name = "disk", path = "{dev}", classes = ["business"] }}'])
        full = reliad.json("backup", "shop", "--type", "full")
        assert full["bytes_read"] == 8 << 20  # the device's capacity, though its st_size is 0
        fd = os.open(dev, os.O_WRONLY)
        try:
            os.pwrite(fd, b"changed!" * 512, 6 << 20)
            os.fsync(fd)
        finally:
            os.close(fd)
        inc = reliad.json("backup", "shop", "--type", "incremental")  # the device node's times did not change
        out = tmp_path / "out"
        reliad.run("restore", inc["id"], str(out))
        with open(dev, "rb") as live:
            assert (out / "_reliad" / "disk" / os.path.basename(dev)).read_bytes() == live.read()
    finally:
        subprocess.run([losetup, "-d", dev], check=False)
