"""Drill records in the reliability ledger (state_dir/ledger.db, owned by reliad/ledger), so
that the monthly report and `reliad drills` read the same history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reliad.ledger.store import Ledger


def save(state_dir: Path, record: dict[str, Any]) -> None:
    with Ledger(state_dir) as ledger:
        ledger.add_drill(record)


def load(state_dir: Path, policy: str | None = None, since: str | None = None) -> list[dict[str, Any]]:
    """Every drill (of one policy), oldest first."""
    with Ledger(state_dir) as ledger:
        return ledger.drills(policy=policy, since=since)
