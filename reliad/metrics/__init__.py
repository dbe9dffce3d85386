"""Prometheus metrics: a collector that reads the catalog, the /metrics server of `reliad run`,
and the textfile writer for hosts that run reliad from cron (see docs/MONITORING.md).

Metrics read the catalog; nothing below them knows that metrics exist.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, write_to_textfile
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from reliad.config import Config
from reliad.metrics.collector import ReliadCollector


def build_registry(config: Callable[[], Config],
                   next_runs: Callable[[], dict[tuple[str, str], datetime | None]] | None = None,
                   process: bool = False) -> CollectorRegistry:
    """A registry holding reliad's series; `process` adds the standard process_* series, which
    only mean something for the long-running service."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReliadCollector(config, next_runs))
    if process:
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
    return registry


def render(config: Config) -> bytes:
    """The series in the Prometheus text format, as a one-shot `reliad metrics` prints them."""
    return generate_latest(build_registry(lambda: config))


def write_textfile(config: Config, path: Path) -> None:
    """Write the series for node_exporter's textfile collector. The file is written under a
    temporary name in the same directory and renamed, so node_exporter never reads half of it."""
    write_to_textfile(str(path), build_registry(lambda: config))
