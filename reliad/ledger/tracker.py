"""When a service's rounds open and close incidents (issue 13, point 4).

An incident opens when `failures_to_open` rounds in a row failed, with the first failed
round's time as its start (that is when the outage was first seen) and the round that crossed
the threshold as detected_at. It closes when `successes_to_close` rounds in a row passed,
restored at the first of them. Rounds inside a maintenance window open nothing (planned work
is no incident) but can close one. The ledger's open incidents are picked up again after a
restart, so an outage across a restart stays one incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reliad.ledger.store import Ledger


@dataclass
class Round:
    """One service's round: ok, or the first failing probe with its error and class."""

    service: str
    at: datetime
    ok: bool
    duration_s: float
    probe: str | None = None
    probe_type: str | None = None
    error: str | None = None
    cls: str = "software"
    maintenance: bool = False


@dataclass
class ServiceState:
    failures_to_open: int
    successes_to_close: int
    fails: int = 0
    passes: int = 0
    first_failure: Round | None = None
    first_pass: datetime | None = None
    last_failure: Round | None = None
    incident: int | None = None


class Tracker:
    """Incident state of every watched service; `observe` is called once per round, in order."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.states: dict[str, ServiceState] = {}

    def configure(self, service: str, failures_to_open: int, successes_to_close: int) -> None:
        st = self.states.get(service)
        if st is None:
            st = self.states[service] = ServiceState(failures_to_open, successes_to_close)
            open_ = [i for i in self.ledger.incidents(service=service, open_only=True) if i["origin"] == "probe"]
            if open_:
                st.incident = open_[-1]["id"]
        st.failures_to_open, st.successes_to_close = failures_to_open, successes_to_close

    def observe(self, r: Round) -> str | None:
        """Feed one round; returns "opened" or "restored" when it changed an incident."""
        st = self.states[r.service]
        if r.ok:
            st.fails, st.first_failure = 0, None
            if st.incident is None:
                return None
            st.passes += 1
            if st.passes == 1:
                st.first_pass = r.at
            if st.passes < st.successes_to_close:
                return None
            last = st.last_failure
            fields = {"error": last.error, "probe": last.probe} if last else {}
            self.ledger.update_incident(st.incident, r.at, kind="restored", restored_at=st.first_pass, **fields)
            st.incident, st.passes, st.first_pass, st.last_failure = None, 0, None, None
            return "restored"
        st.passes, st.first_pass = 0, None
        st.last_failure = r
        if st.incident is not None:
            return None
        if r.maintenance:
            st.fails, st.first_failure = 0, None
            return None
        st.fails += 1
        if st.first_failure is None:
            st.first_failure = r
        if st.fails < st.failures_to_open:
            return None
        first = st.first_failure
        st.incident = self.ledger.open_incident(service=r.service, cls=first.cls, start=first.at, origin="probe",
                                                at=r.at, probe=first.probe, error=first.error, detected_at=r.at)
        st.fails, st.first_failure = 0, None
        return "opened"
