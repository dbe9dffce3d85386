"""Grading a drill: pure functions from what was measured to PASS, FAIL or NOT_VERIFIED.

The rules (issue 14, R12-R13):
- recovery time = the durations of every phase from prepare through failover (cleanup is
  not part of a recovery), against the scenario's objective;
- completeness = the verified share of the backup's files and of its bytes (the smaller of
  the two), against the scenario's target;
- FAIL when an objective is missed, damage was found, a check failed or a phase that ran
  went wrong; NOT_VERIFIED when something that should have run could not (a check whose
  database was unreachable, a missing failover command, a phase interrupted). A check that
  did not run is never a pass: it makes the drill NOT_VERIFIED at best, and the reasons say
  which one and why. When both kinds of reason exist the verdict is FAIL (a known failure
  says more), and every reason is listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

PASS, FAIL, NOT_VERIFIED = "PASS", "FAIL", "NOT_VERIFIED"
VERDICTS = (PASS, FAIL, NOT_VERIFIED)
PHASES = ("prepare", "fetch", "restore", "verify", "load", "checks", "failover", "cleanup")
# Phase outcomes: ok; skipped (nothing to do in this drill: fetch in a general drill, load
# without databases, failover not configured); failed (it ran and went wrong); not_run (it
# should have run and could not); interrupted (it started and was stopped).
OK, SKIPPED, FAILED, NOT_RUN, INTERRUPTED = "ok", "skipped", "failed", "not_run", "interrupted"
EXIT_PASS, EXIT_FAIL, EXIT_DAMAGE = 0, 1, 3


@dataclass
class Phase:
    """One timed step of a drill: what it moved (bytes) and how it ended."""

    name: str
    outcome: str = NOT_RUN
    duration_s: float = 0.0
    bytes: int = 0
    started_at: str | None = None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "outcome": self.outcome, "duration_s": round(self.duration_s, 3),
                "bytes": self.bytes, "started_at": self.started_at, "detail": self.detail}


@dataclass
class Measures:
    """Everything the grade depends on, gathered by the engine."""

    scenario: str
    objective_s: float
    completeness_target: float
    phases: list[Phase] = field(default_factory=list)
    files_expected: int = 0
    files_verified: int = 0
    bytes_expected: int = 0
    bytes_verified: int = 0
    measured: bool = False  # the verify phase walked the whole manifest
    damage: list[dict[str, str]] = field(default_factory=list)  # {"path", "reason"}
    checks: list[dict[str, Any]] = field(default_factory=list)  # {"name", "outcome" (a verdict), "detail"}


def recovery_time(phases: Iterable[Phase]) -> float:
    """Seconds from the start of prepare to the end of failover: every phase but cleanup."""
    return sum(p.duration_s for p in phases if p.name != "cleanup")


def completeness(files_verified: int, files_expected: int, bytes_verified: int, bytes_expected: int) -> float:
    """The verified share of the backup: the smaller of the file and the byte ratio (a backup
    with nothing in it is complete when nothing was expected)."""
    ratios = [v / e if e else 1.0 for v, e in ((files_verified, files_expected), (bytes_verified, bytes_expected))]
    return min(1.0, *ratios)


def _pct(x: float) -> str:
    return f"{x * 100:.2f} %".replace(".00 %", " %")


def _duration(s: float) -> str:
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.2f} h"


def _phase_reasons(phases: Sequence[Phase]) -> tuple[list[str], list[str]]:
    fails, unverified = [], []
    for p in phases:
        why = f": {p.detail}" if p.detail else ""
        if p.outcome == FAILED:
            fails.append(f"phase {p.name} failed{why}")
        elif p.outcome == NOT_RUN:
            unverified.append(f"phase {p.name} did not run{why}")
        elif p.outcome == INTERRUPTED:
            unverified.append(f"phase {p.name} was interrupted{why}")
    return fails, unverified


def grade(m: Measures) -> tuple[str, list[str]]:
    """The verdict and every reason for it, in the order a reader should fix them."""
    fails, unverified = _phase_reasons(m.phases)
    if m.damage:
        shown = "; ".join(f"{d['path']}: {d['reason']}" for d in m.damage[:3])
        more = f" (and {len(m.damage) - 3} more)" if len(m.damage) > 3 else ""
        fails.insert(0, f"damage found in {len(m.damage)} place(s): {shown}{more}; run 'reliad verify' on the "
                        "backup and restore from another copy")
    rt = recovery_time(m.phases)
    if rt > m.objective_s:
        fails.append(f"recovery took {_duration(rt)}, over the {m.scenario} objective of {_duration(m.objective_s)}")
    if m.measured:
        c = completeness(m.files_verified, m.files_expected, m.bytes_verified, m.bytes_expected)
        if c < m.completeness_target:
            fails.append(f"completeness {_pct(c)} ({m.files_verified} of {m.files_expected} files, "
                         f"{m.bytes_verified} of {m.bytes_expected} bytes verified) is below the {m.scenario} "
                         f"target of {_pct(m.completeness_target)}")
    else:
        unverified.append("completeness was not measured (the restored files were not verified)")
    for c in m.checks:
        why = f": {c['detail']}" if c.get("detail") else ""
        if c["outcome"] == FAIL:
            fails.append(f"check {c['name']!r} failed{why}")
        elif c["outcome"] != PASS:
            unverified.append(f"check {c['name']!r} did not run{why}")
    if fails:
        return FAIL, fails + unverified
    if unverified:
        return NOT_VERIFIED, unverified
    return PASS, []


def exit_code(verdict: str, damage: bool) -> int:
    """0 PASS, 3 when damage was found, else 1 (FAIL and NOT_VERIFIED alike)."""
    if damage:
        return EXIT_DAMAGE
    return EXIT_PASS if verdict == PASS else EXIT_FAIL
