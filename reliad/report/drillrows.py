"""The month's recovery drills from the ledger (R11-R13), graded against the standard's targets.

The drill wing grades each drill against its policy's objective; the report also sets each one
against the standard's own figures (general disaster: back within 1 h with 100 % of the data;
severe: within 12 h with more than 98 %), so a policy objective looser than the standard
cannot turn the month's clause green.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from reliad.report.period import Month
from reliad.timeutil import iso

RTO_S = {"general": 3600.0, "severe": 12 * 3600.0}
COMPLETENESS = {"general": 1.0, "severe": 0.98}


def drill_row(record: dict[str, Any]) -> dict[str, Any]:
    """One drill as the report shows it, with its standing against the standard."""
    scenario = record.get("scenario", "")
    rto, need = RTO_S.get(scenario), COMPLETENESS.get(scenario)
    took, complete = record.get("recovery_time_s"), record.get("completeness")
    return {
        "id": record.get("id"), "policy": record.get("policy"), "scenario": scenario,
        "backup_id": record.get("backup_id"), "started_at": record.get("started_at"),
        "recovery_time_s": took, "objective_s": record.get("objective_s"), "rto_target_s": rto,
        "rto_met": None if took is None or rto is None else took <= rto,
        "completeness": complete, "completeness_target": need,
        "completeness_met": None if complete is None or need is None else complete >= need,
        "verdict": record.get("verdict"), "reasons": list(record.get("reasons") or []),
    }


def gather(ledger: Any, month: Month, now: dt.datetime) -> list[dict[str, Any]]:
    """Drills that started in the month, oldest first (`ledger` is a reliad.ledger.store.Ledger)."""
    end = min(month.end, now)
    return [drill_row(r) for r in ledger.drills(since=iso(month.start), until=iso(end))]
