"""One round of a service: all its probes at once, each bounded by its timeout, so one hung
probe can neither hold up the others nor the round (a probe still running after its timeout
and a short grace is recorded as failed and left behind)."""

from __future__ import annotations

import time
from concurrent.futures import Executor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reliad.ledger.probes import TYPES, ProbeResult, run_check
from reliad.ledger.tracker import Round

GRACE_S = 2.0


@dataclass
class RoundResult:
    round: Round
    results: list[ProbeResult]

    def as_dict(self) -> dict[str, Any]:
        r = self.round
        return {"service": r.service, "at": r.at.strftime("%Y-%m-%dT%H:%M:%SZ"), "ok": r.ok,
                "duration_s": round(r.duration_s, 3), "maintenance": r.maintenance,
                "probes": [p.as_dict() for p in self.results]}


def run_round(service: Any, pool: Executor, at: datetime, maintenance: bool = False) -> RoundResult:
    """Run every probe of `service` (a ServiceConfig) on `pool`; down while any fails."""
    t0 = time.monotonic()
    futures = [(p, pool.submit(run_check, TYPES[p.type], p.name, p.options, p.timeout)) for p in service.probes]
    results: list[ProbeResult] = []
    for p, fut in futures:
        left = t0 + p.timeout + GRACE_S - time.monotonic()
        try:
            results.append(fut.result(timeout=max(left, 0.0)))
        except FutureTimeout:
            results.append(ProbeResult(p.name, p.type, False, time.monotonic() - t0,
                                       error=f"did not finish within {p.timeout + GRACE_S:g} s"))
    failed = next(((p, r) for p, r in zip(service.probes, results, strict=True) if not r.ok), None)
    rnd = Round(service=service.name, at=at, ok=failed is None, duration_s=time.monotonic() - t0,
                probe=failed[1].probe if failed else None, probe_type=failed[0].type if failed else None,
                error=failed[1].error if failed else None,
                cls=failed[0].cls if failed else "software", maintenance=maintenance)
    return RoundResult(rnd, results)
