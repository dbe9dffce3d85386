"""Issue 16, point 9: one service per state directory. A second `reliad run`, on the same
configuration or on another one sharing the state directory, is refused with one sentence
naming the running pid; once the first is gone (even by kill -9) a new one starts."""

from __future__ import annotations

import signal
from pathlib import Path

from conftest import Reliad
from daemon_support import Daemon, config, rows, wait_for

SCHEDULE = 'full = "1h"\nincremental = "off"\ndifferential = "off"\nprune = "off"'


def test_second_service_on_the_same_state_directory_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("one\n")
    cfg = config(tmp_path, [src], SCHEDULE)
    other = tmp_path / "other.toml"  # another file, the same state directory
    other.write_text(cfg.read_text().replace('path = "repo"', 'path = "repo2"'))
    first = Daemon(tmp_path, cfg)
    try:
        wait_for("the service ready", lambda: first.notified("READY=1"), proc=first)
        for c in (cfg, other):
            proc = Reliad(c).run("run", expect=1, timeout=60)
            err = proc.stderr.strip()
            assert f"pid {first.proc.pid}" in err and "already running" in err, err
            assert len(err.splitlines()) == 1 and "Traceback" not in err
        assert first.proc.poll() is None  # the refused one did not disturb it
        first.signal(signal.SIGKILL)
        first.proc.wait()
    finally:
        first.close()
    second = Daemon(tmp_path, cfg)  # the kernel dropped the dead one's lock
    try:
        wait_for("the new service ready", lambda: second.notified("READY=1"), proc=second)
        assert second.stop() == 0
    finally:
        second.close()


def test_a_run_skipped_for_a_larger_one_that_fails_runs_after_all(tmp_path: Path) -> None:
    """Issue 16, point 7: the full and the incremental fall due together; the full fails (its
    `before` hook refuses the first run only), so the incremental may not claim to be covered
    by it."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("one\n")
    mark = tmp_path / "refused-once"
    hooks = f'[policies.shop.hooks]\nbefore = ["test -e {mark} || {{ touch {mark}; exit 1; }}"]\n'
    cfg = config(tmp_path, [src], 'full = "1h"\nincremental = "1h"\ndifferential = "off"\nprune = "off"', hooks)
    d = Daemon(tmp_path, cfg)
    try:
        done = wait_for("the incremental run after the failed full",
                        lambda: [r for r in rows(tmp_path) if r["requested_type"] == "incremental"
                                 and r["status"] == "ok"], proc=d)
        assert d.stop() == 0
    finally:
        d.close()
    by_type = {r["requested_type"]: r for r in rows(tmp_path) if r["status"] != "skipped"}
    assert by_type["full"]["status"] == "failed" and "before" in by_type["full"]["error"]
    assert done[0]["type"] == "full"  # nothing to build on yet, so it ran as a full
