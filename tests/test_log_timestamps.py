"""The service's log lines carry their time, except when stderr is the journal (which stamps
every line itself): a sysadmin reading `reliad run 2>>reliad.log` knows when each event happened."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from daemon_support import config, wait_for

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} (INFO|WARNING|ERROR) ")


def _service_log(tmp_path: Path, journal: bool) -> list[str]:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("a")
    cfg = config(tmp_path, [tmp_path / "src"], 'full = "1h"\nincremental = "off"\ndifferential = "off"\n'
                                                 'prune = "off"')
    log = tmp_path / "service.log"
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "NOTIFY_SOCKET", "WATCHDOG_USEC")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    with open(log, "wb") as out:
        if journal:  # what systemd sets when it connects stderr to the journal: that stream's device and inode
            st = os.fstat(out.fileno())
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        proc = subprocess.Popen([sys.executable, "-m", "reliad", "run", "-c", str(cfg)], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
        try:
            wait_for("the first backup's event", lambda: "event=job_done" in log.read_text())
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(90)
    return [line for line in log.read_text().splitlines() if "event=" in line]


def test_service_lines_carry_timestamps_outside_the_journal(tmp_path: Path) -> None:
    lines = _service_log(tmp_path, journal=False)
    assert lines and all(STAMP.match(line) for line in lines), lines


def test_service_lines_under_journald_leave_the_time_to_the_journal(tmp_path: Path) -> None:
    lines = _service_log(tmp_path, journal=True)
    assert lines and all(line.startswith(("INFO ", "WARNING ", "ERROR ")) for line in lines), lines


def test_an_inherited_journal_stream_elsewhere_still_gets_timestamps(monkeypatch: pytest.MonkeyPatch) -> None:
    """JOURNAL_STREAM naming some other stream (a shell started from a unit, output redirected) is not the journal."""
    from reliad.logsetup import under_journald

    monkeypatch.setenv("JOURNAL_STREAM", "1:1")
    assert not under_journald()
