"""`raid`: every Linux md array in /proc/mdstat (or the ones named in `arrays`) is active with
all its members up and not resyncing or recovering (R10e). `mdstat` names another file in the
same format (for tests). A degraded array is a hardware-class failure by default."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reliad.ledger.probes.base import ProbeFailed, ProbeType

MDSTAT = "/proc/mdstat"
_ARRAY = re.compile(r"^(md\w+)\s*:\s*(\S+)(.*)$")
_MEMBERS = re.compile(r"\[(\d+)/(\d+)\]\s*\[([U_]+)\]")
_SYNC = re.compile(r"\b(resync|recovery|reshape|check)\s*=\s*([\d.]+%)")


@dataclass
class Array:
    name: str
    state: str
    wanted: int = 0
    up: int = 0
    faulty: int = 0
    syncing: str | None = None

    def problem(self) -> str | None:
        if self.state != "active":
            return f"{self.name} is {self.state}"
        if self.faulty or self.up < self.wanted:
            return f"{self.name} is degraded ({self.up} of {self.wanted} members up, {self.faulty} faulty)"
        if self.syncing:
            return f"{self.name} is in {self.syncing}"
        return None


def parse_mdstat(text: str) -> list[Array]:
    """The arrays of a /proc/mdstat text: state, members wanted and up, faulty ones, resync."""
    arrays: list[Array] = []
    for line in text.splitlines():
        if m := _ARRAY.match(line):
            arrays.append(Array(m.group(1), m.group(2), faulty=m.group(3).count("(F)")))
        elif arrays and (m := _MEMBERS.search(line)):
            arrays[-1].wanted, arrays[-1].up = int(m.group(1)), int(m.group(2))
        elif arrays and (m := _SYNC.search(line)):
            arrays[-1].syncing = f"{m.group(1)} ({m.group(2)} done)"
    return arrays


def check(options: Mapping[str, Any], timeout: float) -> str:
    path = options.get("mdstat", MDSTAT)
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            arrays = parse_mdstat(fh.read())
    except OSError as e:
        raise ProbeFailed(f"cannot read {path}: {e.strerror}") from None
    named = options.get("arrays")
    if named:
        missing = sorted(set(named) - {a.name for a in arrays})
        if missing:
            raise ProbeFailed(f"{path}: no array {', '.join(missing)}")
        arrays = [a for a in arrays if a.name in named]
    if not arrays:
        raise ProbeFailed(f"{path}: no md arrays to check")
    problems = [p for a in arrays if (p := a.problem())]
    if problems:
        raise ProbeFailed(f"{path}: {'; '.join(problems)}")
    return ", ".join(f"{a.name} [{a.up}/{a.wanted}]" for a in arrays)


TYPE = ProbeType(name="raid", check=check)
