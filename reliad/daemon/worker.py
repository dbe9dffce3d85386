"""One worker thread per repository: jobs on one repository run one at a time.

Scheduled jobs do not run where APScheduler fires them; they are handed to the worker of the
policy's primary target. The worker decides what actually runs:
- a request for a (policy, type) that is already waiting is not queued twice (a missed slot
  or a burst of fires becomes one run);
- when a larger backup of the same policy falls due together with a smaller one (within the
  `[daemon] coalesce` window), the larger runs and the smaller is recorded in the catalog as
  `skipped`, with the reason: a full covers a differential and an incremental, a
  differential covers an incremental (R8 schedules coincide every 12 h by design). Only a
  larger run that succeeds covers: if it fails, the smaller ones it was to cover run after all.
Stopping: `close()` drops waiting requests; `cancel()` asks the running backup to stop at its
next file, which it does by recording the run failed and removing what it wrote.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reliad.catalog import Catalog
from reliad.config.schedule import BACKUP_TYPES, VERIFY_TYPES
from reliad.daemon.protocol import JobCancelled, JobResult, Request, WorkerHost
from reliad.daemon.scheduling import DRILL_JOBS
from reliad.errors import ReliadError
from reliad.repository.names import new_backup_id
from reliad.sources.dump import stop_dumps
from reliad.timeutil import iso, utcnow

log = logging.getLogger(__name__)
SETTLE_S = 0.5  # jobs APScheduler fires in the same instant arrive within this


def pause_needed(done: int, elapsed: float, rate: float) -> float:
    """Seconds to pause so that `done` bytes read in `elapsed` seconds stay within `rate`
    bytes per second on average (0 when within it, or without a limit): the service's
    verification reads every stored byte, and must leave the disk or the link to backups."""
    if rate <= 0:
        return 0.0
    return max(0.0, done / rate - elapsed)


class RepoWorker:
    def __init__(self, key: str, service: WorkerHost) -> None:
        self.key = key
        self.service = service
        self.pending: dict[tuple[str, str], Request] = {}
        self.running: Request | None = None
        self.running_since: dt.datetime | None = None
        self.started: dict[tuple[str, str], dt.datetime] = {}
        self.outcome: dict[tuple[str, str], str] = {}  # status of the newest finished run of each type
        # smaller runs skipped for a larger one that had not run yet: run after all if it fails
        self.covered: dict[tuple[str, str], list[Request]] = {}
        self.cond = threading.Condition()
        self.accepting = True
        self.cancel_event = threading.Event()
        self.cancel_reason = ""
        self.thread = threading.Thread(target=self._loop, name=f"worker:{key}", daemon=True)
        self.thread.start()

    # -- called from other threads ------------------------------------------------
    def submit(self, req: Request) -> bool:
        with self.cond:
            if not self.accepting:
                return False
            k = (req.policy, req.type)
            if k in self.pending:
                log.info("event=job_coalesced policy=%s type=%s due=%s reason=already_waiting", req.policy,
                         req.type, iso(req.due))
                return False
            self.pending[k] = req
            self.cond.notify_all()
        log.info("event=job_due policy=%s type=%s due=%s trigger=%s", req.policy, req.type, iso(req.due), req.trigger)
        return True

    def busy_with(self, policy: str, jtype: str) -> bool:
        with self.cond:
            r = self.running
            return (policy, jtype) in self.pending or (r is not None and (r.policy, r.type) == (policy, jtype))

    def close(self) -> list[Request]:
        """Accept nothing more and forget what is waiting; the running job carries on."""
        with self.cond:
            self.accepting = False
            dropped = list(self.pending.values())
            self.pending.clear()
            self.cond.notify_all()
        return dropped

    def cancel(self, reason: str) -> None:
        """Ask the running job to stop: a backup stops at its next chunk, and one waiting for a
        dump program's output is woken by stopping that program."""
        self.cancel_reason = reason
        self.cancel_event.set()
        if self.thread.ident is not None:
            stop_dumps(self.thread.ident, reason)

    def join(self, timeout: float | None) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def snapshot(self) -> dict[str, Any]:
        with self.cond:
            r = self.running
            return {"running": {"policy": r.policy, "type": r.type, "since": iso(self.running_since)}
                    if r and self.running_since else None,
                    "pending": [{"policy": p.policy, "type": p.type, "due": iso(p.due)} for p in self.pending.values()]}

    # -- the worker thread -----------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self.cond:
                while not self.pending and self.accepting:
                    self.cond.wait()
                if not self.accepting:
                    return
            time.sleep(SETTLE_S)
            with self.cond:
                req = self._pick()
                if req is None:
                    continue
                self.running, self.running_since = req, utcnow()
            try:
                self._handle(req)
            except Exception:  # a bug must not kill the worker; it is logged with its traceback
                log.error("event=job_crashed policy=%s type=%s traceback=%r", req.policy, req.type,
                          traceback.format_exc())
            finally:
                with self.cond:
                    self.running = self.running_since = None
                self.service.changed()

    def _pick(self) -> Request | None:
        if not self.pending:
            return None
        window = dt.timedelta(seconds=self.service.config.daemon.coalesce)
        first = min(self.pending.values(), key=lambda r: r.due)
        together = [r for r in self.pending.values() if r.policy == first.policy and r.due - first.due <= window]
        req = min(together, key=lambda r: (JOB_KINDS[r.type].rank, r.due))
        del self.pending[(req.policy, req.type)]
        return req

    def _skip_reason(self, req: Request) -> str | None:
        """Why a smaller backup need not run: a larger one of the same policy falls due at the
        same time. Only a larger run that succeeded, or one still to come (which, if it then
        fails, hands the smaller one back: `_hand_back`), covers it; never one that failed."""
        # "Together" never spans half a period of the smaller type, or short schedules would
        # skip every run near a larger one.
        window = self.service.config.daemon.coalesce
        policy = self.service.config.policies.get(req.policy)
        period = policy.schedules[req.type].period(req.due) if policy else None
        if period:
            window = min(window, period / 2)
        for larger in JOB_KINDS[req.type].covered_by:
            with self.cond:
                waiting = self.pending.get((req.policy, larger))
            if waiting and abs((waiting.due - req.due).total_seconds()) <= window:
                self.covered.setdefault((req.policy, larger), []).append(req)
                return f"a {larger} backup of the same policy fell due at the same time and covers it"
            started = self.started.get((req.policy, larger))
            if started and abs((req.due - started).total_seconds()) <= window \
                    and self.outcome.get((req.policy, larger)) in ("ok", "partial"):
                return (f"the {larger} backup of the same policy that started at {iso(started)} fell due at the "
                        "same time and covers it")
            nxt = self.service.next_fire(req.policy, larger)
            if nxt and abs((nxt - req.due).total_seconds()) <= window:
                self.covered.setdefault((req.policy, larger), []).append(req)
                return f"a {larger} backup of the same policy is due at {iso(nxt)}, at the same time, and covers it"
        return None

    def _hand_back(self, res: JobResult) -> None:
        """The smaller runs skipped for this one: if it failed, they run after all."""
        skipped = self.covered.pop((res.policy, res.type), [])
        if res.status in ("ok", "partial"):
            return
        for req in skipped:
            log.warning("event=job_handed_back policy=%s type=%s reason=%r", req.policy, req.type,
                        f"the {res.type} backup that was to cover it ended {res.status}")
            self.submit(Request(req.policy, req.type, req.due, "catch-up"))

    def _handle(self, req: Request) -> None:
        config = self.service.config
        policy = config.policies.get(req.policy)
        if policy is None:
            log.info("event=job_dropped policy=%s type=%s reason=policy_no_longer_configured", req.policy, req.type)
            return
        target = config.primary_target(policy).name
        started = utcnow()
        t0 = time.monotonic()
        self.cancel_event.clear()
        res = JobResult(req.policy, req.type, target, req.trigger, "failed", iso(started), "", 0.0)
        if req.type in BACKUP_TYPES and (reason := self._skip_reason(req)):
            bid = new_backup_id(started.strftime("%Y%m%dT%H%M%S.%fZ"))
            catalog = Catalog(config.state_dir)
            try:
                catalog.record_skipped(id=bid, target=target, policy=req.policy, type=req.type, reason=reason,
                                       due=iso(req.due))
            finally:
                catalog.close()
            res.status, res.backup_id, res.error = "skipped", bid, reason
            log.info("event=job_skipped policy=%s type=%s reason=%r", req.policy, req.type, reason)
        else:
            if req.type in BACKUP_TYPES:
                self.started[(req.policy, req.type)] = started
            self.service.job_started(req)
            try:
                self._run(config, req, res)
            except JobCancelled:
                res.status, res.error = "cancelled", self.cancel_reason
                log.warning("event=job_cancelled policy=%s type=%s reason=%r", req.policy, req.type,
                            self.cancel_reason)
            except ReliadError as e:
                res.error = str(e)
                log.error("event=job_failed policy=%s type=%s error=%r", req.policy, req.type, str(e))
            except Exception as e:  # a bug or an unexpected OS error: record it, keep the service up
                res.error = f"{type(e).__name__}: {e}"
                log.error("event=job_failed policy=%s type=%s error=%r traceback=%r", req.policy, req.type,
                          res.error, traceback.format_exc())
            if req.type in BACKUP_TYPES and res.status in ("failed", "cancelled"):
                self._ensure_recorded(config, req, res, started)
            self.outcome[(req.policy, req.type)] = res.status
            self._hand_back(res)
        res.finished_at = iso(utcnow())
        res.duration_s = round(time.monotonic() - t0, 3)
        self.service.job_finished(res)

    def _progress(self, _stats: Any) -> None:
        if self.cancel_event.is_set():
            raise JobCancelled(self.cancel_reason)

    def _run(self, config: Any, req: Request, res: JobResult) -> None:
        JOB_KINDS[req.type].run(self, config, req, res)

    def _drill(self, config: Any, req: Request, res: JobResult) -> None:
        from reliad.daemon.drills import run_drill_process

        record = run_drill_process(config, req.policy, DRILL_JOBS[req.type], self.cancel_event)
        res.status = "ok" if record["verdict"] == "PASS" else "failed"
        res.backup_id, res.detail = record.get("backup_id"), record
        res.error = None if res.status == "ok" else f"{record['verdict']}: " + "; ".join(record["reasons"])

    def _prune(self, config: Any, req: Request, res: JobResult) -> None:
        from reliad.jobs.prune import run_prune

        report = run_prune(config, [req.policy], lock_wait=config.daemon.lock_wait)  # it records itself
        res.status = "ok" if report["ok"] else "failed"
        res.error = "; ".join(e for t in report["targets"] for e in t.get("errors", [])) or None
        res.detail = report

    def _backup(self, config: Any, req: Request, res: JobResult) -> None:
        from reliad.jobs.backup import run_backup

        result = run_backup(config, req.policy, req.type, lock_wait=config.daemon.lock_wait,
                            progress=self._progress)
        res.status, res.backup_id, res.detail = result["status"], result["id"], result
        res.error = "; ".join(result["warnings"]) or None

    def _verify(self, config: Any, req: Request, res: JobResult) -> None:
        """A scheduled verification of one policy's backups in all its targets, recorded as a
        job (ok, damage, or failed when it could not run) beside what verify records itself."""
        from reliad.jobs.verify import verify_backups

        catalog = Catalog(config.state_dir)
        rowid = catalog.job_start(req.type, req.policy, res.target)
        t0 = time.monotonic()
        status, error, detail = "failed", None, {}
        try:
            mode = VERIFY_TYPES[req.type]
            period = config.policies[req.policy].schedules[req.type].period(req.due) if mode == "crc" else None
            share = min(1.0, period / config.daemon.verify_within) if period else 1.0
            rate = config.daemon.verify_rate_mib_s * (1 << 20)
            started = time.monotonic()

            def paced(report: Any) -> None:
                self._progress(report)
                if wait := pause_needed(report.bytes_checked, time.monotonic() - started, rate):
                    self.cancel_event.wait(wait)  # a stop request ends the pause at once

            report = verify_backups(config, [], mode, policy=req.policy, progress=paced, share=share)
            damaged = sorted(report.damaged_backups())
            status = "damage" if report.damaged else "ok"
            error = "; ".join(f"{d['backup'] or d['path']}: {d['reason']}" for d in report.damaged[:5]) or None
            detail = {"backups": len(report.backups), "damaged_backups": damaged, "files": report.files,
                      "bytes_checked": report.bytes_checked}
        except ReliadError as e:
            error = str(e)
            raise
        finally:
            catalog.job_finish(rowid, status, time.monotonic() - t0, error, detail)
            catalog.close()
        res.status, res.error, res.detail = status, error, detail

    def _ensure_recorded(self, config: Any, req: Request, res: JobResult, started: dt.datetime) -> None:
        """A backup that failed before it got a catalog row (lock timeout, unreadable
        repository) still leaves a failed row, so that status and metrics see the failure."""
        floor = started.strftime("%Y%m%dT%H%M%S.%fZ")
        catalog = Catalog(config.state_dir)
        try:
            rows = [r for r in catalog.backups(req.policy) if r["id"] >= floor]
            if rows:
                res.backup_id = rows[-1]["id"]
                return
            bid = new_backup_id(floor)
            catalog.start(id=bid, target=res.target, policy=req.policy, type=req.type, requested_type=req.type,
                          base=None, started_at=iso(started), classes=[])
            catalog.finish(bid, res.target, status="failed", finished_at=iso(utcnow()), error=res.error)
            res.backup_id = bid
        finally:
            catalog.close()


@dataclass(frozen=True)
class JobKind:
    """How the worker runs one job type. When several of one policy are waiting, the lowest
    `rank` runs first; `covered_by` names the larger backup types whose run makes this one
    redundant (it is then recorded as skipped). A new kind of job is one line here."""

    run: Callable[[RepoWorker, Any, Request, JobResult], None]
    rank: int
    covered_by: tuple[str, ...] = ()


# A drill due with a backup waits for it: the drill then restores the newest backup; a
# verification comes after both.
JOB_KINDS: dict[str, JobKind] = {
    "full": JobKind(RepoWorker._backup, 0),
    "differential": JobKind(RepoWorker._backup, 1, ("full",)),
    "incremental": JobKind(RepoWorker._backup, 2, ("full", "differential")),
    "prune": JobKind(RepoWorker._prune, 3),
    "drill-general": JobKind(RepoWorker._drill, 4),
    "drill-severe": JobKind(RepoWorker._drill, 5),
    "verify_crc": JobKind(RepoWorker._verify, 6),
    "verify_fast": JobKind(RepoWorker._verify, 7),
}
