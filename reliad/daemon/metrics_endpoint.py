"""Serving /metrics from `reliad run`: started with the service, moved when a reload changes
[metrics], stopped with it. The service attaches it (reliad/daemon/service.py, ATTACHMENTS);
the metrics package knows nothing of the daemon."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from reliad.config import Config, MetricsConfig
from reliad.config.schedule import BACKUP_TYPES
from reliad.daemon.protocol import ServiceHost
from reliad.errors import ReliadError
from reliad.metrics import build_registry
from reliad.metrics.server import MetricsServer

if TYPE_CHECKING:
    import datetime as dt

log = logging.getLogger(__name__)


class ServiceMetrics:
    def __init__(self, service: ServiceHost) -> None:
        self.service = service
        self.server: MetricsServer | None = None
        self.serving: MetricsConfig | None = None
        self.registry = build_registry(lambda: service.config, next_runs=self._next_runs, process=True)

    def _next_runs(self) -> dict[tuple[str, str], dt.datetime | None]:
        cfg = self.service.config
        return {(p, t): self.service.next_fire(p, t) for p in cfg.policies for t in BACKUP_TYPES}

    def start(self, m: MetricsConfig) -> None:
        """A listener that cannot start is logged, not fatal: backups matter more than their
        metrics, and the ReliadDown alert reports the missing endpoint."""
        self.serving = m
        if not m.enabled:
            log.info("event=metrics_disabled")
            return
        try:
            self.server = MetricsServer(m, self.registry)
        except ReliadError as e:
            log.error("event=metrics_failed error=%r", str(e))

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    def reload(self, new: Config) -> None:
        if new.metrics != self.serving:
            self.stop()
            self.start(new.metrics)


def attach(service: ServiceHost) -> None:
    metrics = ServiceMetrics(service)
    service.startup_hooks.append(lambda svc: metrics.start(svc.config.metrics))
    service.reload_hooks.append(metrics.reload)
    service.shutdown_hooks.append(lambda svc: metrics.stop())

