"""Recovery drills inside the service (docs/DRILLS.md).

The schedules are slots like the backup types' (reliad/daemon/scheduling.py, DRILL_JOBS), so
the service fires them, catches a missed one up once after downtime, and hands them to the
worker of the policy's repository: a drill never runs while a backup of that repository does.
The worker runs each drill as a `reliad drill` process of its own at the lowest CPU and I/O
priority (its database loads and checks inherit that), and stops it with SIGINT when the
service stops: the drill then records itself interrupted and cleans up. At start, the drills
a kill -9 interrupted are recorded and their scratch databases dropped.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import tempfile
import threading
from typing import Any

import psutil

from reliad.config import Config
from reliad.daemon.protocol import JobCancelled, ServiceHost
from reliad.drills.engine import recover_interrupted
from reliad.errors import ReliadError

log = logging.getLogger(__name__)
CANCEL_WAIT_S = 60.0  # a stopped drill's cleanup: dropping scratch databases, emptying the standby
_POLL_S = 1.0


def attach(service: ServiceHost) -> None:
    service.startup_hooks.append(lambda _service: _recover(service.config))


def _recover(config: Config) -> None:
    try:
        for note in recover_interrupted(config):
            log.warning("event=drill_recovered note=%r", note)
    except (ReliadError, OSError) as e:  # a failure here must not keep backups from starting
        log.error("event=drill_recover_failed error=%r", str(e))


def _lower_priority(pid: int) -> None:
    """nice 19 and the idle I/O class: a drill must not slow the shop it protects."""
    try:
        p = psutil.Process(pid)
        p.nice(19)
        p.ionice(psutil.IOPRIO_CLASS_IDLE)
    except (psutil.Error, OSError) as e:
        log.warning("event=drill_priority_failed pid=%d error=%r", pid, str(e))


def run_drill_process(config: Config, policy: str, scenario: str, cancel: threading.Event) -> dict[str, Any]:
    """Run `reliad drill POLICY --scenario SCENARIO --json` and return its record; raise
    JobCancelled when `cancel` is set (after the drill stopped), ReliadError when it ended
    without a record."""
    argv = [sys.executable, "-m", "reliad", "drill", policy, "--scenario", scenario, "--json", "-c", str(config.path)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
        _lower_priority(proc.pid)
        log.info("event=drill_started policy=%s scenario=%s pid=%d", policy, scenario, proc.pid)
        while proc.poll() is None:
            if cancel.wait(_POLL_S):
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(CANCEL_WAIT_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                raise JobCancelled("the service stopped during the drill")
        out.seek(0)
        err.seek(0)
        text, problem = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace").strip()
    try:
        record = json.loads(text)
    except ValueError:
        record = None
    if not isinstance(record, dict) or "verdict" not in record:
        why = record.get("error") if isinstance(record, dict) else None
        last = problem.splitlines()[-1] if problem else "no output"
        raise ReliadError(f"the {scenario} drill of policy {policy!r} ended without a record (exit "
                          f"{proc.returncode}): {why or last}")
    return record
