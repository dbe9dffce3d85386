"""`command`: a program exits 0 within the timeout (a shop's own health script, say).
`command` is a list of arguments, or a string split as a shell would (no shell runs it)."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
from collections.abc import Mapping
from typing import Any

from reliad.ledger.probes.base import ProbeFailed, ProbeType


def argv(options: Mapping[str, Any]) -> list[str]:
    cmd = options["command"]
    return shlex.split(cmd) if isinstance(cmd, str) else [str(a) for a in cmd]


def check(options: Mapping[str, Any], timeout: float) -> str:
    args = argv(options)
    try:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
    except OSError as e:
        raise ProbeFailed(f"cannot run {args[0]}: {e.strerror}") from None
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # its whole session: a shell script's children too
        proc.wait()
        raise ProbeFailed(f"{args[0]} did not finish within {timeout:g} s") from None
    if proc.returncode != 0:
        lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
        said = f": {lines[-1].strip()[:200]}" if lines else ""
        raise ProbeFailed(f"{args[0]} exited with status {proc.returncode}{said}")
    return "exit 0"


TYPE = ProbeType(name="command", check=check)
