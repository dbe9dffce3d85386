"""Where each policy's schedules stand: last served slot, next slot, overdue or not.

Both the service (to decide what to catch up on at start and where intervals count from) and
`reliad status` (when the service is not running) read the same answer from the catalog, so
what status predicts is what the service does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from reliad.catalog import Catalog
from reliad.config import Config
from reliad.config.schedule import JOB_TYPES, VERIFY_TYPES, Schedule
from reliad.drills import records
from reliad.timeutil import iso, parse_iso

# The service's drill jobs and their scenarios (docs/DRILLS.md): jobs of the policy's
# repository worker like backups, so never at the same time as one.
DRILL_JOBS = {"drill-general": "general", "drill-severe": "severe"}


@dataclass
class Slot:
    policy: str
    type: str
    schedule: Schedule
    last_served: dt.datetime | None
    next_due: dt.datetime | None
    state: str
    missed: int

    @property
    def overdue(self) -> bool:
        return self.state == "active" and self.missed > 0

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "type": self.type, "schedule": self.schedule.describe(),
                "state": self.state, "active": self.state == "active",
                "last_served": iso(self.last_served) if self.last_served else None,
                "next_due": iso(self.next_due) if self.next_due else None, "overdue": self.overdue}


def last_served(catalog: Catalog, policy: str, jtype: str) -> dt.datetime | None:
    if jtype == "prune":
        row = catalog.last_job("prune", policy, ok_only=True)
        text = row["started_at"] if row else None
    elif jtype in VERIFY_TYPES:  # a verification that found damage still ran: its slot is served
        row = catalog.last_job(jtype, policy, statuses=("ok", "damage"))
        text = row["started_at"] if row else None
    else:
        text = catalog.last_served(policy, jtype)
    return parse_iso(text) if text else None


def plan(config: Config, catalog: Catalog, now: dt.datetime) -> list[Slot]:
    out = []
    for name, policy in config.policies.items():
        for jtype in JOB_TYPES:
            sched = policy.schedules[jtype]
            last = last_served(catalog, name, jtype)
            state = sched.state(now)
            nxt = sched.next_after(last, now) if state in ("active", "not started") else None
            missed = sched.missed_slots(last, now) if state == "active" else 0
            out.append(Slot(name, jtype, sched, last, nxt, state, missed))
    return out + drill_slots(config, now)


def drill_slots(config: Config, now: dt.datetime) -> list[Slot]:
    """Where each policy's drill schedules stand, from the ledger. The last served slot is the
    start of the newest drill that ran to its end (one killed midway is caught up); a policy
    never drilled is not overdue: its first drill comes at its first slot."""
    drills = [d for d in records.load(config.state_dir) if not d.get("interrupted")]
    out = []
    for name in config.policies:
        for jtype, scenario in DRILL_JOBS.items():
            sched = config.drills[name].schedules[scenario]
            done = [d for d in drills if d.get("policy") == name and d.get("scenario") == scenario]
            last = parse_iso(done[-1]["started_at"]) if done else None
            state = sched.state(now)
            nxt = sched.next_after(last or now, now) if state in ("active", "not started") else None
            missed = sched.missed_slots(last, now) if state == "active" and last is not None else 0
            out.append(Slot(name, jtype, sched, last, nxt, state, missed))
    return out
