"""The shipped systemd unit: systemd's own checker accepts it and it keeps its hardening."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT, need_program

UNIT = REPO_ROOT / "systemd" / "reliad.service"


def _installed_copy(tmp_path: Path) -> Path:
    """The unit as installed here: ExecStart pointing at this machine's reliad."""
    exe = shutil.which("reliad")
    start = f"{exe} run" if exe else f"{sys.executable} -m reliad run"
    text = re.sub(r"^ExecStart=\S+ run", f"ExecStart={start}", UNIT.read_text(), flags=re.M)
    out = tmp_path / "reliad.service"
    out.write_text(text)
    return out


def _settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            k, v = line.split("=", 1)
            out.setdefault(k, []).append(v)
    return out


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = need_program("systemd-analyze")
    unit = _installed_copy(tmp_path)
    proc = subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    sec = subprocess.run([analyze, "security", "--offline=yes", str(unit)], capture_output=True, text=True,
                         timeout=60)
    score = re.search(r"Overall exposure level for \S+: ([\d.]+)", sec.stdout)
    assert score and float(score.group(1)) <= 2.0, sec.stdout[-2000:]


def test_unit_is_notify_type_and_hardened() -> None:
    s = _settings()
    assert s["Type"] == ["notify"] and s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert "WatchdogSec" in s and s["User"] == ["reliad"]
    assert s["ProtectSystem"] == ["strict"] and s["ProtectHome"] == ["read-only"]
    assert s["NoNewPrivileges"] == ["yes"] and s["PrivateTmp"] == ["yes"]
    assert s["CapabilityBoundingSet"] == ["CAP_DAC_READ_SEARCH"]
    assert s["StateDirectory"] == ["reliad"] and s["ReadWritePaths"]
    assert not any("OnCalendar" in k for k in s)  # the service schedules itself
