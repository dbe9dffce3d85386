"""The repository worker runs jobs from one table keyed by job type: every type a schedule can
fire has its entry, and the order and cover rules of the standard (R8) hold."""

from __future__ import annotations

from reliad.config.schedule import BACKUP_TYPES, JOB_TYPES
from reliad.daemon.scheduling import DRILL_JOBS
from reliad.daemon.worker import JOB_KINDS


def test_every_schedulable_type_has_a_kind() -> None:
    assert set(JOB_KINDS) == set(JOB_TYPES) | set(DRILL_JOBS)


def test_backups_run_first_and_a_larger_backup_covers_a_smaller_one() -> None:
    ranks = sorted(JOB_KINDS, key=lambda t: JOB_KINDS[t].rank)
    assert ranks[:3] == ["full", "differential", "incremental"]
    assert JOB_KINDS["incremental"].covered_by == ("full", "differential")
    assert JOB_KINDS["differential"].covered_by == ("full",)
    assert all(not k.covered_by for t, k in JOB_KINDS.items() if t not in BACKUP_TYPES or t == "full")
    assert len({k.rank for k in JOB_KINDS.values()}) == len(JOB_KINDS)
