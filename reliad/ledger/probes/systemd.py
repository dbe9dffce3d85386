"""`systemd`: a unit is active (`systemctl is-active`)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

from reliad.ledger.probes.base import ProbeFailed, ProbeType


def check(options: Mapping[str, Any], timeout: float) -> str:
    unit = options["unit"]
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        raise ProbeFailed(f"cannot check unit {unit}: systemctl is not installed")
    try:
        p = subprocess.run([systemctl, "is-active", "--", unit], capture_output=True, text=True, timeout=timeout,
                           check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ProbeFailed(f"systemctl is-active {unit} did not answer within {timeout:g} s") from None
    state = p.stdout.strip() or p.stderr.strip() or f"exit status {p.returncode}"
    if p.returncode != 0 or state != "active":
        raise ProbeFailed(f"unit {unit} is {state}")
    return "active"


TYPE = ProbeType(name="systemd", check=check)
