"""What the service and its workers tell each other, and nothing more.

A worker needs the current configuration, when the scheduler will next fire a job (to skip a
smaller backup a larger one will cover) and a way to report a job's start and end; the
service implements `WorkerHost`. Things that hook into the service (the metrics endpoint,
probes, drills) see it through `ServiceHost`. Neither side imports the other's module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from reliad.config import Config

# In the state directory: what the running service last wrote about itself (its pid, workers,
# next runs), which `reliad status` reads without importing the service.
STATE_FILE = "daemon.json"


class JobCancelled(BaseException):
    """Raised inside a running backup (from its progress callback) to stop it. A
    BaseException, like KeyboardInterrupt, so that no `except Exception` swallows it."""


@dataclass
class Request:
    policy: str
    type: str
    due: dt.datetime
    trigger: str  # "schedule" or "catch-up"


@dataclass
class JobResult:
    """What one job did; handed to every after-job hook (metrics, for example)."""

    policy: str
    type: str
    target: str
    trigger: str
    status: str  # ok, partial, failed, skipped, cancelled
    started_at: str
    finished_at: str
    duration_s: float
    backup_id: str | None = None
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class WorkerHost(Protocol):
    """The service as a repository worker sees it."""

    config: Config

    def next_fire(self, policy: str, jtype: str) -> dt.datetime | None: ...

    def job_started(self, req: Request) -> None: ...

    def job_finished(self, res: JobResult) -> None: ...

    def changed(self) -> None: ...


class ServiceHost(Protocol):
    """The service as something attached to it sees it: the configuration, the schedule, and
    the hook lists it calls at start, after each job, on reload and at stop."""

    config: Config
    startup_hooks: list[Callable[[Any], None]]
    after_job_hooks: list[Callable[[JobResult], None]]
    reload_hooks: list[Callable[[Config], None]]
    shutdown_hooks: list[Callable[[Any], None]]

    def next_fire(self, policy: str, jtype: str) -> dt.datetime | None: ...
