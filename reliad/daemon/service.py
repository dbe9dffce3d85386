"""`reliad run`: the long-running service.

Threads: the main thread waits for signals and keeps systemd informed (READY, STATUS,
WATCHDOG, RELOADING, STOPPING); APScheduler's background scheduler fires each policy's
schedules; one worker per repository runs the jobs (reliad/daemon/worker.py).

Start: every (policy, type) whose last served slot (from the catalog) is older than its
schedule allows is run once, however many slots were missed, and intervals count on from the
last served slot, so restarts neither lose nor double backups.
SIGHUP: re-read the configuration; an invalid one is refused (logged) and the old one runs on.
SIGTERM/SIGINT: fire nothing new, let the running job finish within `[daemon] stop_grace`,
else stop it (recorded failed, nothing half-written left visible), exit 0.

What else runs inside the service (the /metrics endpoint, for example) is listed in
ATTACHMENTS: each is called with the Service (as reliad/daemon/protocol.py's ServiceHost)
before it starts and may append to `startup_hooks` (called once the scheduler runs),
`after_job_hooks` (called with each JobResult), `reload_hooks` (with the new Config) and
`shutdown_hooks`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reliad import audit
from reliad.catalog import Catalog
from reliad.config import Config, load_config
from reliad.config.schedule import VERIFY_TYPES
from reliad.daemon import drills, ledger, metrics_endpoint, monthly_report
from reliad.daemon.notify import Notifier
from reliad.daemon.protocol import STATE_FILE, JobResult, Request
from reliad.daemon.scheduling import DRILL_JOBS, plan
from reliad.daemon.worker import RepoWorker
from reliad.errors import ReliadError
from reliad.statedir import hold_service_lock
from reliad.timeutil import iso, utcnow

log = logging.getLogger(__name__)
ATTACHMENTS: tuple[Callable[[Service], None], ...] = (metrics_endpoint.attach, drills.attach, ledger.attach,
                                                      monthly_report.attach)
CANCEL_WAIT_S = 30.0  # after the grace period, how long a cancelled job may take to clean up


def _job_name(jtype: str) -> str:
    """'full backup', 'general drill': how logs and systemd's status line name a job."""
    return f"{DRILL_JOBS[jtype]} drill" if jtype in DRILL_JOBS else f"{jtype} backup"


class Service:
    def __init__(self, config_path: str | Path | None, config: Config) -> None:
        self.config_path = config_path
        self.config = config
        self.notifier = Notifier.from_env()
        self.workers: dict[str, RepoWorker] = {}
        self.started_at = utcnow()
        # Self-pipe: signal handlers only set flags (signal.set_wakeup_fd writes here), worker
        # threads write a byte when something changed; the main loop sleeps in select() on it.
        self._rfd, self._wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._stop_signal: str | None = None
        self._reload = False
        self._lock = threading.RLock()
        self.scheduler: Any = None
        self.startup_hooks: list[Callable[[Service], None]] = []
        self.after_job_hooks: list[Callable[[JobResult], None]] = []
        self.reload_hooks: list[Callable[[Config], None]] = []
        self.shutdown_hooks: list[Callable[[Service], None]] = []
        self.last_results: dict[tuple[str, str], JobResult] = {}
        for attach in ATTACHMENTS:
            attach(self)

    # -- scheduling ---------------------------------------------------------------------
    def _worker_for(self, policy: str) -> RepoWorker:
        target = self.config.primary_target(self.config.policies[policy])
        key = str(target.path)
        with self._lock:
            w = self.workers.get(key)
            if w is None:
                w = self.workers[key] = RepoWorker(key, self)
            return w

    def _fire(self, policy: str, jtype: str, trigger: str = "schedule") -> None:
        if self._stop_signal or policy not in self.config.policies:
            return
        self._worker_for(policy).submit(Request(policy, jtype, utcnow(), trigger))

    def _schedule_all(self, config: Config, first_time: bool) -> None:
        """(Re)create every job from `config` and the catalog; queue overdue types once."""
        now = utcnow()
        catalog = Catalog(config.state_dir)
        try:
            slots = plan(config, catalog, now)
        finally:
            catalog.close()
        self.scheduler.remove_all_jobs()
        for s in slots:
            if s.state not in ("active", "not started"):
                log.info("event=schedule_inactive policy=%s type=%s state=%r schedule=%r", s.policy, s.type,
                         s.state, s.schedule.describe())
                continue
            sched = s.schedule
            if s.overdue:
                busy = not first_time and self._worker_for(s.policy).busy_with(s.policy, s.type)
                if not busy:
                    log.info("event=catch_up policy=%s type=%s last=%s missed_slots=%d", s.policy, s.type,
                             iso(s.last_served) if s.last_served else None, s.missed)
                    self._fire(s.policy, s.type, "catch-up")
            if sched.every is not None:
                first = s.next_due if s.next_due and s.next_due > now else now + dt.timedelta(seconds=sched.every)
                if sched.start and first < sched.start:
                    first = sched.start
            else:
                first = now
            trigger = sched.trigger(first)
            self.scheduler.add_job(self._fire, trigger, args=(s.policy, s.type), id=f"{s.policy}:{s.type}",
                                   name=f"{s.type} of {s.policy}", coalesce=True, max_instances=1,
                                   misfire_grace_time=None, replace_existing=True)
            log.info("event=scheduled policy=%s type=%s schedule=%r next=%s", s.policy, s.type, sched.describe(),
                     self._next_iso(s.policy, s.type))

    def next_fire(self, policy: str, jtype: str) -> dt.datetime | None:
        job = self.scheduler.get_job(f"{policy}:{jtype}") if self.scheduler else None
        return job.next_run_time if job else None

    def _next_iso(self, policy: str, jtype: str) -> str | None:
        t = self.next_fire(policy, jtype)
        return iso(t) if t else None

    # -- called by workers ------------------------------------------------------------------
    def job_started(self, req: Request) -> None:
        self.notifier.status(f"{_doing(req.type)} {req.policy}")
        self.changed()

    def job_finished(self, res: JobResult) -> None:
        self.last_results[(res.policy, res.type)] = res
        log.info("event=job_done policy=%s type=%s status=%s id=%s duration_s=%.3f trigger=%s", res.policy,
                 res.type, res.status, res.backup_id, res.duration_s, res.trigger)
        ids = [res.backup_id] if res.backup_id and res.status != "skipped" else []
        if res.type == "prune":
            ids += [i for t in res.detail.get("targets", []) for i in t.get("deleted_ids", [])]
        self._audit(f"daemon {res.type}", res.status, error=res.error, backups=ids, target=res.target,
                    args={"policy": res.policy, "trigger": res.trigger})
        for hook in self.after_job_hooks:
            try:
                hook(res)
            except Exception as e:  # a broken hook must not stop backups
                log.error("event=hook_failed hook=%s error=%r", getattr(hook, "__name__", hook), str(e))
        self.changed()

    def _audit(self, action: str, outcome: str, args: dict[str, Any] | None = None, **kw: Any) -> None:
        """The service's own actions go into the audit log like commands do; a failure to
        record must not stop the service, so it is logged instead."""
        codes = {"ok": 0, "skipped": 0, "partial": 1, "failed": 1, "refused": 2, "cancelled": 130}
        try:
            audit.record(self.config.state_dir, action, args=args, outcome=outcome,
                         exit_code=codes.get(outcome, 1), **kw)
        except (ReliadError, OSError) as e:
            log.error("event=audit_failed action=%r error=%r", action, str(e))

    def changed(self) -> None:
        # OSError: the pipe is full (the main loop wakes anyway) or closed (stopped)
        with contextlib.suppress(OSError):
            os.write(self._wfd, b"\0")

    # -- state for `reliad status` -----------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        jobs: dict[str, dict[str, str | None]] = {}
        for job in self.scheduler.get_jobs() if self.scheduler else []:
            policy, jtype = job.id.split(":", 1)
            jobs.setdefault(policy, {})[jtype] = iso(job.next_run_time) if job.next_run_time else None
        with self._lock:
            workers = {k: w.snapshot() for k, w in self.workers.items()}
        return {"pid": os.getpid(), "host": socket.gethostname(), "config": str(self.config.path),
                "started_at": iso(self.started_at), "updated_at": iso(utcnow()),
                "stopping": bool(self._stop_signal), "next_runs": jobs, "workers": workers}

    def _write_state(self) -> None:
        path = self.config.state_dir / STATE_FILE
        tmp = path.with_name(f".{STATE_FILE}.{os.getpid()}")
        try:
            tmp.write_text(json.dumps(self.snapshot(), indent=1))
            os.replace(tmp, path)
        except OSError as e:
            log.warning("event=state_write_failed path=%s error=%r", path, e.strerror)

    def status_line(self) -> str:
        running = []
        with self._lock:
            for w in self.workers.values():
                r = w.running
                if r:
                    running.append(f"{_doing(r.type)} {r.policy}")
        nxt = [(j.next_run_time, j.id) for j in self.scheduler.get_jobs() if j.next_run_time] if self.scheduler else []
        head = "running " + ", ".join(running) if running else "idle"
        if nxt:
            t, jid = min(nxt)
            policy, jtype = jid.split(":", 1)
            head += f"; next: {jtype} of {policy} at {iso(t)}"
        return head

    # -- signals and the main loop ------------------------------------------------------------
    def _on_signal(self, signum: int, _frame: Any) -> None:
        if signum == signal.SIGHUP:
            self._reload = True
        else:
            self._stop_signal = signal.Signals(signum).name

    def reload(self) -> None:
        self.notifier.send(RELOADING=1, STATUS="reloading configuration",
                           MONOTONIC_USEC=time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)
        try:
            new = load_config(self.config_path)
            # The state directory holds the catalog the schedules count from; moving it under a
            # running service would make it forget its history.
            if new.state_dir != self.config.state_dir:
                raise ReliadError(f"{new.path}: state_dir changed from {self.config.state_dir} to {new.state_dir}; "
                                  "that needs a restart (systemctl restart reliad)")
        except ReliadError as e:
            log.error("event=reload_refused error=%r", str(e))
            self._audit("daemon reload", "refused", error=str(e))
            self.notifier.send(READY=1, STATUS=f"configuration refused, still running the old one: {e}")
            return
        self.config = new
        self._schedule_all(new, first_time=False)
        for hook in self.reload_hooks:
            hook(new)
        log.info("event=reloaded config=%s policies=%s", new.path, ",".join(sorted(new.policies)))
        self._audit("daemon reload", "ok", args={"config": str(new.path)})
        self.notifier.send(READY=1, STATUS=self.status_line())

    def run(self) -> int:
        from apscheduler.schedulers.background import BackgroundScheduler

        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        signal.set_wakeup_fd(self._wfd, warn_on_full_buffer=False)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        self.config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.scheduler = BackgroundScheduler(timezone=dt.UTC)
        self.scheduler.start()
        self._schedule_all(self.config, first_time=True)
        for hook in self.startup_hooks:
            hook(self)
        log.info("event=started pid=%d config=%s policies=%s watchdog_s=%s", os.getpid(), self.config.path,
                 ",".join(sorted(self.config.policies)), self.notifier.watchdog_interval)
        self.notifier.ready(self.status_line())
        tick = min(self.notifier.watchdog_interval or 5.0, 5.0)
        last_status = ""
        while not self._stop_signal:
            self._sleep(tick)
            if self._reload:
                self._reload = False
                self.reload()
            if self._stop_signal:
                break
            if self._healthy():
                self.notifier.watchdog()
            line = self.status_line()
            if line != last_status:
                self.notifier.status(line)
                last_status = line
            self._write_state()
        return self.stop()

    def _sleep(self, timeout: float) -> None:
        ready, _, _ = select.select([self._rfd], [], [], timeout)
        if ready:
            with contextlib.suppress(BlockingIOError):
                while os.read(self._rfd, 4096):
                    pass

    def _healthy(self) -> bool:
        """Ping the watchdog only while the parts that do the work are alive."""
        with self._lock:
            workers_ok = all(w.thread.is_alive() for w in self.workers.values())
        return bool(self.scheduler and self.scheduler.running and workers_ok)

    def stop(self) -> int:
        grace = self.config.daemon.stop_grace
        log.info("event=stopping signal=%s grace_s=%.0f", self._stop_signal, grace)
        self.notifier.send(STOPPING=1, STATUS=f"stopping: waiting up to {grace:.0f}s for running jobs")
        self.scheduler.shutdown(wait=False)
        with self._lock:
            workers = list(self.workers.values())
        for w in workers:
            for r in w.close():
                log.info("event=job_dropped policy=%s type=%s reason=stopping", r.policy, r.type)
        deadline = time.monotonic() + grace
        for w in workers:
            w.join(max(0.0, deadline - time.monotonic()))
        late = [w for w in workers if w.thread.is_alive()]
        for w in late:
            w.cancel(f"interrupted: the service stopped ({self._stop_signal}) and the job did not finish "
                     f"within the {grace:.0f}s grace period")
        for w in late:
            if not w.join(CANCEL_WAIT_S):
                log.error("event=job_not_stopped worker=%s", w.key)
        for hook in self.shutdown_hooks:
            try:
                hook(self)
            except Exception as e:
                log.error("event=hook_failed hook=%s error=%r", getattr(hook, "__name__", hook), str(e))
        self._write_state()
        log.info("event=stopped")
        self.notifier.close()
        return 0


def _doing(jtype: str) -> str:
    """What a job of this type is doing, for the status line: "pruning", "verifying (crc)",
    "running full backup of"."""
    if jtype == "prune":
        return "pruning"
    if jtype in VERIFY_TYPES:
        return f"verifying ({VERIFY_TYPES[jtype]})"
    return f"running {_job_name(jtype)} of"


def run_service(config_path: str | None) -> int:
    config = load_config(config_path)
    for p in config.policies.values():  # fail at start, not at the first job
        config.primary_target(p)
    lock = hold_service_lock(config.state_dir)
    try:
        return Service(config_path, config).run()
    finally:
        os.close(lock)
