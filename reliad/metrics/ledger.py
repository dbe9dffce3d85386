"""Prometheus series of the reliability ledger (issue 13), read from `state_dir/ledger.db` on each
scrape like the backup series are read from the catalog: a restart loses nothing and a one-shot
`reliad metrics` prints the same. Labels are configured service names, incident classes and
probe types only. The trailing-window figures come from reliad.ledger.stats.compute, the same
function `reliad stats` prints, cached for 30 s because a scrape every few seconds would
otherwise recompute a year of MTBF each time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from reliad.config import Config
from reliad.ledger import figures
from reliad.ledger.stats import CLASSES, compute
from reliad.ledger.store import LEDGER_FILE, Ledger
from reliad.timeutil import parse_iso, utcnow

FIGURES_TTL_S = 30.0
STALE_ROUNDS = 3  # a last round older than this many intervals says nothing about now


class LedgerSeries:
    def __init__(self) -> None:
        self._cache: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def collect(self, config: Config) -> Iterator[Metric]:
        if not (config.state_dir / LEDGER_FILE).exists():
            return
        with Ledger(config.state_dir) as led:
            yield from self._rounds(config, led)
            yield from self._incidents(config, led)
            yield from self._figures(config, led)
        targets = GaugeMetricFamily("reliad_mtrs_target_seconds", "The standard's MTRS target per class (R3, R4).",
                                    labels=["class"])
        for cls, target in figures.MTRS_TARGETS_S.items():
            targets.add_metric([cls], target)
        yield targets

    def _rounds(self, config: Config, led: Ledger) -> Iterator[Metric]:
        up = GaugeMetricFamily("reliad_service_up", "1 when the last probe round of the service passed, 0 when any "
                               "probe failed; absent when the last round is stale.", labels=["service"])
        duration = GaugeMetricFamily("reliad_probe_duration_seconds", "How long the last probe round took.",
                                     labels=["service"])
        failing = GaugeMetricFamily("reliad_service_failing_probe", "1 for the probe type that failed the last "
                                    "round of a service that is down.", labels=["service", "type"])
        now = utcnow()
        for r in led.last_rounds():
            svc = config.services.get(r["service"])
            if svc is None or (now - parse_iso(r["end"])).total_seconds() > STALE_ROUNDS * svc.interval + 60:
                continue
            up.add_metric([r["service"]], r["last_ok"])
            duration.add_metric([r["service"]], r["last_duration_s"])
            if not r["last_ok"] and r["last_probe_type"]:
                failing.add_metric([r["service"], r["last_probe_type"]], 1)
        yield from (up, duration, failing)

    def _incidents(self, config: Config, led: Ledger) -> Iterator[Metric]:
        total = CounterMetricFamily("reliad_incidents", "Incidents recorded, by service and class.",
                                    labels=["service", "class"])
        open_ = GaugeMetricFamily("reliad_incidents_open", "Incidents not yet restored.", labels=["service", "class"])
        oldest = GaugeMetricFamily("reliad_incident_open_seconds", "Age of the oldest open incident.",
                                   labels=["service", "class"])
        # every configured service and class has its series from the start, so a first incident is an increase
        counts: dict[tuple[str, str], list[Any]] = {(s, c): [0, 0, 0.0] for s in config.services for c in CLASSES}
        now = utcnow()
        for i in led.incidents():
            c = counts.setdefault((i["service"], i["class"]), [0, 0, 0.0])
            c[0] += 1
            if i["restored_at"] is None:
                c[1] += 1
                c[2] = max(c[2], (now - parse_iso(i["start"])).total_seconds())
        for (service, cls), (n, n_open, age) in sorted(counts.items()):
            total.add_metric([service, cls], n)
            open_.add_metric([service, cls], n_open)
            if n_open:
                oldest.add_metric([service, cls], age)
        yield from (total, open_, oldest)

    def _stats(self, config: Config, led: Ledger) -> dict[str, Any]:
        with self._lock:
            if self._cache is not None and time.monotonic() - self._cache[0] < FIGURES_TTL_S:
                return self._cache[1]
            now = utcnow()
            day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
            out = {"30d": compute(led, config, now - timedelta(days=30), now, now=now),
                   "1h": compute(led, config, now - timedelta(hours=1), now, now=now),
                   "today": compute(led, config, day_start, now, now=now) if now > day_start else None}
            self._cache = (time.monotonic(), out)
            return out

    def _figures(self, config: Config, led: Ledger) -> Iterator[Metric]:
        s = self._stats(config, led)
        avail = GaugeMetricFamily("reliad_availability_ratio", "Up time / measured time outside maintenance over "
                                  "the trailing window.", labels=["service", "window"])
        coverage = GaugeMetricFamily("reliad_ledger_coverage_ratio", "Share of the trailing window (outside "
                                     "maintenance) that was measured.", labels=["service", "window"])
        for window in ("30d", "1h"):
            for a in s[window]["availability"]["services"]:
                if a["availability"] is not None:
                    avail.add_metric([a["service"], window], a["availability"])
                if a["coverage"] is not None:
                    coverage.add_metric([a["service"], window], a["coverage"])
        mtbf = GaugeMetricFamily("reliad_mtbf_seconds", "MTBF over the trailing 365 days (service \"\" is the "
                                 "platform); absent without failures.", labels=["service"])
        operating = GaugeMetricFamily("reliad_operating_seconds", "Operating time over the trailing 365 days.",
                                      labels=["service"])
        m = s["30d"]["mtbf"]
        for name, row in [("", m["platform"]), *((r["service"], r) for r in m["services"])]:
            if row["mtbf_h"] is not None:
                mtbf.add_metric([name], row["mtbf_h"] * 3600)
            operating.add_metric([name], row["operating_h"] * 3600)
        mtrs = GaugeMetricFamily("reliad_mtrs_seconds", "MTRS of the incidents restored in the trailing 30 days.",
                                 labels=["class"])
        for cls, r in s["30d"]["mtrs"].items():
            if r["mtrs_s"] is not None:
                mtrs.add_metric([cls], r["mtrs_s"])
        daily = GaugeMetricFamily("reliad_daily_failure_ratio", "Failed checks / all checks of the current UTC day "
                                  "(probe rounds and reliad's own jobs).")
        today = s["today"]
        if today is not None and today["daily_failure_rate"]["rate"] is not None:
            daily.add_metric([], today["daily_failure_rate"]["rate"])
        yield from (avail, coverage, mtbf, operating, mtrs, daily)
