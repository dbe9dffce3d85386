"""Issue 16, point 3: a backup that fails for lack of space removes its own packs (finished and
temporary) before it exits, so the next backup does not fail on the debris; a stop by SIGTERM
leaves no partial data either, and lands within the grace period even in the middle of a
huge device, where no file boundary comes to stop at."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import Reliad, write_config
from daemon_support import Daemon, config, rows, wait_for
from dbutil import pg_connect, pg_database
from faultkit import huge_device, small_disk


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _reading(pid: int, dev: Path) -> bool:
    fds = Path(f"/proc/{pid}/fd")
    return any(os.path.realpath(fd) == str(dev) for fd in fds.iterdir())


def _children(pid: int) -> list[str]:
    """Command names of a process's children."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                out.append(Path(f"/proc/{child}/comm").read_text().strip())
            except OSError:
                continue
    return out


def _stopped_cleanly(tmp_path: Path, d: Daemon) -> None:
    (row,) = rows(tmp_path)
    assert row["status"] == "failed" and "grace period" in row["error"], row
    assert "job_not_stopped" not in d.log()
    assert not (tmp_path / "repo" / "data" / row["id"]).exists()
    assert not list((tmp_path / "repo").glob("manifests/*"))


def test_full_repository_disk_leaves_no_packs_and_the_next_backup_works(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(6 << 20))  # incompressible, more than the disk holds
    with small_disk(tmp_path / "disk") as disk:
        cfg = write_config(tmp_path / "reliad.toml", [str(src)])
        cfg.write_text(cfg.read_text().replace('path = "repo"', f'path = "{disk}/repo"\npack_size_mib = 1'))
        r = Reliad(cfg)
        proc = r.run("backup", "shop", "--type", "full", expect=1)
        lines = proc.stderr.strip().splitlines()
        assert lines[-1].startswith("reliad: error: ") and "no space left on the disk holding" in lines[-1], lines
        assert str(disk / "repo") in lines[-1] and "Traceback" not in proc.stderr
        assert not _files(disk / "repo" / "data"), _files(disk / "repo" / "data")  # no packs, no .tmp-
        (src / "big.bin").write_bytes(os.urandom(1 << 20))
        assert r.json("backup", "shop", "--type", "full")["status"] == "ok"
        assert r.json("verify")["ok"]


def test_sigterm_in_the_middle_of_a_huge_device_stops_within_the_grace(tmp_path: Path) -> None:
    with huge_device(tmp_path) as dev:
        cfg = config(tmp_path, [], 'full = "1h"\nincremental = "off"\ndifferential = "off"\nprune = "off"',
                     '[daemon]\nstop_grace = "1s"\n')
        cfg.write_text(cfg.read_text().replace('sources = [{ type = "files", paths = [] }]',
                                               f'sources = [{{ type = "image", name = "disk", path = "{dev}" }}]'))
        d = Daemon(tmp_path, cfg)
        try:
            wait_for("backup running", lambda: [r for r in rows(tmp_path) if r["status"] == "running"], proc=d)
            wait_for("the device being read", lambda: _reading(d.proc.pid, dev), proc=d)
            assert d.stop() == 0
        finally:
            d.close()
        _stopped_cleanly(tmp_path, d)


def test_sigterm_while_a_dump_waits_for_a_lock_stops_within_the_grace(tmp_path: Path) -> None:
    """pg_dump waits for a table another session holds locked: the backup sits in a read from
    the dump's pipe, where no chunk comes to stop at; stopping the dump program wakes it."""
    with pg_database() as db:
        holder = pg_connect(db, autocommit=False)
        try:
            holder.execute("CREATE TABLE orders (id int)")
            holder.commit()
            holder.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
            cfg = config(tmp_path, [], 'full = "1h"\nincremental = "off"\ndifferential = "off"\nprune = "off"',
                         '[daemon]\nstop_grace = "1s"\n')
            cfg.write_text(cfg.read_text().replace(
                'sources = [{ type = "files", paths = [] }]',
                f'sources = [{{ type = "postgres", name = "pg", host = "127.0.0.1", user = "postgres", '
                f'databases = ["{db}"] }}]'))
            d = Daemon(tmp_path, cfg)
            try:
                wait_for("pg_dump waiting for the lock", lambda: "pg_dump" in _children(d.proc.pid), proc=d)
                assert d.stop() == 0
            finally:
                d.close()
        finally:
            holder.close()
    _stopped_cleanly(tmp_path, d)
