"""Serving /metrics from `reliad run`: started with the service, moved when a reload changes
[metrics], stopped with it. Importing this module adds it to the service's extension list
(`reliad run` does), so the daemon itself knows nothing of metrics."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from reliad.config import Config, MetricsConfig
from reliad.daemon.service import EXTENSIONS
from reliad.errors import ReliadError
from reliad.metrics import build_registry
from reliad.metrics.collector import BACKUP_TYPES
from reliad.metrics.server import MetricsServer

if TYPE_CHECKING:
    import datetime as dt

    from reliad.daemon.service import Service

log = logging.getLogger(__name__)


class ServiceMetrics:
    def __init__(self, service: Service) -> None:
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


def attach(service: Service) -> None:
    metrics = ServiceMetrics(service)
    service.startup_hooks.append(lambda svc: metrics.start(svc.config.metrics))
    service.reload_hooks.append(metrics.reload)
    service.shutdown_hooks.append(lambda svc: metrics.stop())


EXTENSIONS.append(attach)
