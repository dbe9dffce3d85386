"""What the audit log (R18) recorded in the month: commands by outcome, and whether its chain
of hashes is intact, so the report can say its own sources were not tampered with."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from reliad import audit
from reliad.report.period import Month
from reliad.timeutil import iso


def gather(state_dir: Path, month: Month, now: dt.datetime) -> dict[str, Any]:
    start, end = iso(month.start), iso(min(month.end, now))
    records = [r for r in audit.read_records(state_dir) if start <= str(r.get("time", "")) < end]
    outcomes: dict[str, int] = {}
    for r in records:
        key = str(r.get("outcome", "unknown"))
        outcomes[key] = outcomes.get(key, 0) + 1
    chain = audit.verify_log(state_dir)
    return {"records": len(records), "outcomes": dict(sorted(outcomes.items())),
            "chain_intact": not chain.problems, "problems": chain.problems[:5]}
