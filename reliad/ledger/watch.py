"""The ledger's part of `reliad run`: probe rounds on each service's interval, a utilisation
sample every minute, the daemon's own running time, and retention once an hour.

It runs in threads of its own (a dispatcher, a pool for rounds and one for probes), so a hung
service never delays another or the backup schedule; the daemon only starts, reconfigures
and stops it (reliad/daemon/ledger.py). A ledger write that fails (a full disk) is kept in
memory, retried every second and logged; nothing is half-written (see store.Ledger._tx).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from reliad.ledger.rounds import RoundResult, run_round
from reliad.ledger.store import Ledger, LedgerWriteError
from reliad.ledger.tracker import Tracker
from reliad.ledger.utilisation import Sampler
from reliad.timeutil import utcnow

log = logging.getLogger(__name__)
UTILISATION_EVERY_S = 60.0
RETENTION_EVERY_S = 3600.0
EXPORT_EVERY_S = 3600.0
FIRST_EXPORT_S = 60.0
PENDING_LIMIT = 100_000  # writes held while the disk is full (about a day of 60 services at 1/min)


def in_maintenance(ledger: Ledger, service: Any, at: datetime) -> bool:
    """Whether `at` falls in a planned window of the service (recorded or recurring)."""
    if ledger.maintenance(service.name, since=at, until=at + timedelta(seconds=1)):
        return True
    for w in service.maintenance:
        for start in w.starts(at - timedelta(seconds=w.duration), at + timedelta(seconds=1)):
            if start <= at < start + timedelta(seconds=w.duration):
                return True
    return False


class Watcher:
    def __init__(self, state_dir: Path, services: Mapping[str, Any], clock: Callable[[], datetime] = utcnow,
                 export: Callable[[Ledger], object] | None = None) -> None:
        """`export` stores a copy of the ledger offsite (reliad/ledger/offsite.py); called a minute
        after the start and then every hour."""
        self.state_dir = state_dir
        self.export = export
        self.services = dict(services)
        self.clock = clock
        self.ledger = Ledger(state_dir)
        self.tracker = Tracker(self.ledger)
        self.last: dict[str, RoundResult] = {}
        self.write_failures = 0
        self._pending: deque[Callable[[], None]] = deque()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._due: dict[str, float] = {}
        self._busy: set[str] = set()
        self._rounds = ThreadPoolExecutor(max_workers=16, thread_name_prefix="ledger-round")
        self._probes = ThreadPoolExecutor(max_workers=32, thread_name_prefix="ledger-probe")
        self._sampler = Sampler()
        self._thread = threading.Thread(target=self._loop, name="ledger", daemon=True)
        self.run_id = 0

    # -- life cycle (called by the daemon) ---------------------------------------------------
    def start(self) -> None:
        self.run_id = self.ledger.run_started(socket.gethostname(), os.getpid(), self.clock())
        self.update(self.services)
        self._thread.start()
        log.info("event=ledger_started run=%d services=%s", self.run_id, ",".join(sorted(self.services)) or "-")

    def update(self, services: Mapping[str, Any]) -> None:
        with self._lock:
            self.services = dict(services)
            now = time.monotonic()
            for name, svc in self.services.items():
                self.tracker.configure(name, svc.failures_to_open, svc.successes_to_close)
                self._due.setdefault(name, now)
            for name in set(self._due) - set(self.services):
                del self._due[name]
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)
        self._rounds.shutdown(wait=False, cancel_futures=True)
        self._probes.shutdown(wait=False, cancel_futures=True)
        self._write(lambda: self.ledger.run_stopped(self.run_id, self.clock()))
        self._flush()
        if self._pending:
            log.error("event=ledger_writes_lost count=%d path=%s", len(self._pending), self.ledger.path)
        log.info("event=ledger_stopped run=%d", self.run_id)

    # -- the dispatcher -------------------------------------------------------------------------
    def _loop(self) -> None:
        next_util = time.monotonic() + UTILISATION_EVERY_S
        next_retention = time.monotonic()
        next_export = time.monotonic() + FIRST_EXPORT_S
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                for name, due in list(self._due.items()):
                    if due <= now and name not in self._busy:
                        svc = self.services[name]
                        self._busy.add(name)
                        self._due[name] = max(due + svc.interval, now)
                        self._rounds.submit(self._round, svc)
                wait = min([*self._due.values(), next_util, next_retention, next_export]) - now
            if now >= next_util:
                next_util = now + UTILISATION_EVERY_S
                self._rounds.submit(self._sample)
            if now >= next_export:
                next_export = now + EXPORT_EVERY_S
                if self.export is not None:
                    self._rounds.submit(self._export)
            if now >= next_retention:
                next_retention = now + RETENTION_EVERY_S
                self._write(lambda: self.ledger.apply_retention(self.clock()))
            self._flush()
            self._wake.wait(timeout=max(0.05, min(wait, 1.0 if self._pending else wait)))
            self._wake.clear()

    def _round(self, svc: Any) -> None:
        try:
            at = self.clock()
            res = run_round(svc, self._probes, at, maintenance=in_maintenance(self.ledger, svc, at))
            r = res.round
            self.last[svc.name] = res
            self._write(lambda: self.ledger.record_round(run_id=self.run_id, service=r.service, at=r.at, ok=r.ok,
                                                        duration_s=r.duration_s, probe=r.probe, error=r.error,
                                                        maintenance=r.maintenance, probe_type=r.probe_type))
            try:
                change = self.tracker.observe(r)
            except LedgerWriteError as e:  # the tracker keeps its state and tries again next round
                self._failed(e)
                change = None
            if change:
                log.warning("event=incident_%s service=%s probe=%r error=%r", change, r.service, r.probe, r.error)
        except Exception:
            log.exception("event=ledger_round_failed service=%s", svc.name)
        finally:
            with self._lock:
                self._busy.discard(svc.name)
            self._wake.set()

    def _export(self) -> None:
        try:
            assert self.export is not None
            self.export(self.ledger)
        except Exception:  # a copy that failed is tried again in an hour; probing goes on
            log.exception("event=ledger_export_failed")

    def _sample(self) -> None:
        at = self.clock()
        sample = self._sampler.sample()
        self._write(lambda: self.ledger.record_utilisation(at, sample))
        self._write(lambda: self.ledger.run_seen(self.run_id, at))

    # -- writes that survive a full disk --------------------------------------------------------
    def _write(self, fn: Callable[[], object]) -> None:
        with self._lock:
            if self._pending:  # keep the order: older writes first
                self._pending.append(fn)
                return
        try:
            fn()
        except LedgerWriteError as e:
            self._failed(e)
            with self._lock:
                self._pending.append(fn)

    def _failed(self, e: Exception) -> None:
        self.write_failures += 1
        log.error("event=ledger_write_failed error=%r pending=%d", str(e), len(self._pending))

    def _flush(self) -> None:
        with self._lock:
            while self._pending:
                try:
                    self._pending[0]()
                except LedgerWriteError:
                    while len(self._pending) > PENDING_LIMIT:
                        self._pending.popleft()
                        log.error("event=ledger_write_dropped reason=pending_limit")
                    return
                self._pending.popleft()
                if not self._pending:
                    log.info("event=ledger_write_recovered")
