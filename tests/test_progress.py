"""Progress at a terminal moves inside large files and dumps: bytes, rate, and, where the size
is known, the total and the time left. Silent when stderr is not a terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT, Reliad, write_config

from reliad.config import load_config
from reliad.jobs.archiver import ArchiveStats
from reliad.jobs.backup import run_backup
from reliad.jobs.locate import find_backup
from reliad.jobs.restore import run_restore
from reliad.progress import clip, transfer

BIG = 12 << 20  # several content-defined chunks of about 1 MiB


def _big_tree(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.img").write_bytes(os.urandom(BIG))
    (src / "small.txt").write_text("small\n")
    return src


def test_transfer_phrase_has_total_and_time_left_when_the_size_is_known() -> None:
    assert transfer(3 << 30, 4 << 30, 100 << 20) == "3.0 GiB of 4.0 GiB, ETA 10s"
    assert transfer(1 << 30, 4 << 30, 10 << 20) == "1.0 GiB of 4.0 GiB, ETA 5m07s"
    assert transfer(5 << 20, None, 1 << 20) == "5.0 MiB"  # a dump: no size until it ends
    assert transfer(1 << 20, 2 << 20, 0.0) == "1.0 MiB of 2.0 MiB"  # no rate yet, no guess
    assert clip("/srv/" + "x" * 100) .endswith("x" * 39) and len(clip("/srv/" + "x" * 100)) == 40


def test_backup_progress_moves_inside_a_large_file(tmp_path: Path) -> None:
    src = _big_tree(tmp_path)
    config = load_config(write_config(tmp_path / "reliad.toml", [str(src)]))
    seen: list[tuple[bytes, int | None, int, int]] = []

    def progress(s: ArchiveStats) -> None:
        seen.append((s.current, s.current_size, s.current_done, s.bytes_read))

    run_backup(config, "shop", "full", progress=progress)
    inside = [(size, done) for path, size, done, _ in seen if path.endswith(b"big.img") and done]
    assert len(inside) >= 3, seen  # one call per chunk, not one per file
    assert all(size == BIG for size, _ in inside)
    dones = [done for _, done in inside]
    assert dones == sorted(dones) and dones[0] < BIG and dones[-1] == BIG
    assert seen[-1][3] == BIG + len("small\n")  # read bytes are not counted twice once the file is done


def test_backup_progress_moves_inside_a_dump(tmp_path: Path) -> None:
    """A database dump has no size until it ends: progress counts its bytes as they stream."""
    from dbutil import pg_connect, pg_database

    with pg_database() as db:
        con = pg_connect(db)
        con.execute("CREATE TABLE pages (id serial PRIMARY KEY, body text)")
        con.execute("INSERT INTO pages (body) SELECT string_agg(md5(random()::text), '') "
                    "FROM generate_series(1, 12000) AS r, generate_series(1, 60) AS c GROUP BY r")  # ~12 MiB dumped
        con.close()
        cfg = tmp_path / "reliad.toml"
        cfg.write_text('state_dir = "state"\n[targets.local]\ntype = "local"\npath = "repo"\n[policies.shop]\n'
                       'targets = ["local"]\nsources = [{ type = "postgres", name = "db", host = "127.0.0.1", '
                       f'user = "postgres", databases = ["{db}"] }}]\n')
        seen: list[tuple[bytes, int | None, int]] = []
        run_backup(load_config(cfg), "shop", "full",
                   progress=lambda s: seen.append((s.current, s.current_size, s.current_done)))
    inside = [done for path, size, done in seen if path.endswith(b".dump") and size is None and done]
    assert len(inside) >= 3 and inside == sorted(inside), seen


def test_restore_progress_moves_inside_a_large_file(tmp_path: Path) -> None:
    src = _big_tree(tmp_path)
    cfg = write_config(tmp_path / "reliad.toml", [str(src)])
    bid = Reliad(cfg).json("backup", "shop", "--type", "full")["id"]
    config = load_config(cfg)
    _, repo = find_backup(config, bid, None)
    seen: list[dict[str, int]] = []
    result = run_restore(repo, bid, tmp_path / "dest", [], progress=lambda c: seen.append(dict(c)))
    inside = [c["inside_done"] for c in seen if c.get("inside_done")]
    assert len(inside) >= 3 and inside == sorted(inside) and inside[0] < BIG
    assert all(c["inside_size"] == BIG for c in seen if c.get("inside_done"))
    assert "inside_done" not in result and result["bytes"] == BIG + len("small\n")


def _run_at_a_terminal(args: list[str]) -> str:
    """reliad with stderr on a pseudo-terminal, as a person runs it; what the terminal got."""
    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "reliad", *args], stdout=subprocess.PIPE, stderr=follower, env=env)
    os.close(follower)
    out = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO once the process closed its end
            break
        if not chunk:
            break
        out += chunk
    proc.wait(60)
    os.close(leader)
    return out.decode(errors="replace")


def test_a_terminal_sees_the_progress_line_and_a_pipe_does_not(tmp_path: Path) -> None:
    src = _big_tree(tmp_path)
    cfg = write_config(tmp_path / "reliad.toml", [str(src)])
    shown = _run_at_a_terminal(["backup", "shop", "--type", "full", "-c", str(cfg)])
    assert "files, " in shown and "B/s)" in shown and "\r\x1b[K" in shown, shown
    piped = Reliad(cfg).run("backup", "shop", "--type", "full")
    assert "B/s)" not in piped.stderr and "\r" not in piped.stderr
