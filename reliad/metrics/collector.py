"""The Prometheus collector: every series is computed from the catalog when it is scraped.

Reading the catalog on each scrape (instead of counting events in memory) is what makes the
values survive a restart of the service, and what lets `reliad metrics --textfile` from cron
publish exactly what the service would. Labels are limited to configured names (policy,
target), backup types, results and verify modes: never a path, an id or an error text, so the
number of series stays bounded however long reliad runs.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import logging
import math
import os
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from reliad import __version__
from reliad.catalog import Catalog
from reliad.config import Config, PolicyConfig
from reliad.config.schedule import BACKUP_TYPES, COVERED_BY, Schedule, cron_trigger
from reliad.metrics.drills import drill_metrics
from reliad.metrics.ledger import LedgerSeries
from reliad.timeutil import parse_iso

log = logging.getLogger(__name__)


RESULTS = ("ok", "partial", "failed")
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400)
REPO_SIZE_TTL_S = 60.0


@dataclass(frozen=True)
class ScheduleFacts:
    """What monitoring needs to know about one policy's schedule for one backup type."""

    interval_s: float
    active: bool = True


@functools.lru_cache(maxsize=256)
def cron_interval(expr: str, timezone: str | None) -> float:
    """The longest gap between two runs of a cron schedule over the coming five weeks (a
    weekday-only or monthly line has gaps longer than its usual one; alerts must allow for them)."""
    sched = Schedule("cron", cron=expr, timezone=timezone)
    trigger = cron_trigger(expr, sched.tz())
    now = dt.datetime.now(dt.UTC)
    horizon = now + dt.timedelta(days=35)
    prev = trigger.get_next_fire_time(None, now)
    longest = 0.0
    for _ in range(5000):  # a minutely line would otherwise take 50,000 steps
        if prev is None or prev >= horizon:
            break
        nxt = trigger.get_next_fire_time(prev, prev + dt.timedelta(seconds=1))
        if nxt is None:
            break
        longest = max(longest, (nxt - prev).total_seconds())
        prev = nxt
    return longest or 35 * 86400.0


def schedule_facts(policy: PolicyConfig, now: dt.datetime) -> dict[str, ScheduleFacts]:
    """The interval (plus jitter: the longest the schedule may leave between two runs) and the
    date window of each scheduled backup type of a policy; types switched off are left out."""
    out = {}
    for btype in BACKUP_TYPES:
        s = policy.schedules.get(btype)
        if s is None or not s.enabled:
            continue
        interval = s.every if s.every is not None else cron_interval(s.cron, s.timezone)
        out[btype] = ScheduleFacts(interval + s.jitter, s.state(now) == "active")
    return out


def _ts(text: str | None) -> float | None:
    return parse_iso(text).timestamp() if text else None


def _dir_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                continue
    return total


class ReliadCollector(Collector):
    """Reads the catalog and the configuration on every scrape.

    `config` is a callable so that the service can swap in a reloaded configuration;
    `next_runs` is given by the service's scheduler (absent for a one-shot `reliad metrics`)."""

    def __init__(self, config: Callable[[], Config],
                 next_runs: Callable[[], dict[tuple[str, str], dt.datetime | None]] | None = None) -> None:
        self._config = config
        self._next_runs = next_runs
        self._repo_sizes: dict[str, tuple[float, int]] = {}
        self._ledger = LedgerSeries()

    def describe(self) -> list[Metric]:
        # Series depend on the catalog's content; nothing to declare up front.
        return []

    def collect(self) -> Iterator[Metric]:
        config = self._config()
        try:
            catalog = Catalog(config.state_dir)
            try:
                families = [*self._info(config), *self._backups(config, catalog), *self._schedules(config, catalog),
                            *self._verification(config, catalog), *self._coverage(config, catalog),
                            *self._locks(config, catalog),
                            *self._replication(config, catalog)]
            finally:
                catalog.close()
            families += self._repositories(config)
            families += drill_metrics(config)
            families += self._ledger.collect(config)
        except Exception as e:
            # The scrape then fails (HTTP 500, `up` drops to 0 and ReliadDown fires); say why in one line.
            log.error("event=metrics_collect_failed error=%r", str(e) or type(e).__name__)
            raise
        yield from families

    # ------------------------------------------------------------------ facts
    def _info(self, config: Config) -> Iterator[Metric]:
        build = InfoMetricFamily("reliad_build", "reliad version and the Python it runs on.")
        build.add_metric([], {"version": __version__, "python_version": platform.python_version()})
        yield build
        targets = InfoMetricFamily("reliad_target", "Configured targets and their storage type.",
                                   labels=["target"])
        for t in config.targets.values():
            targets.add_metric([t.name], {"type": t.type})
        yield targets
        policies = InfoMetricFamily("reliad_policy", "Configured policies and the targets they write to "
                                    "(role primary: written first; offsite: replicated to).",
                                    labels=["policy", "target"])
        for p in config.policies.values():
            primary = next((n for n in p.targets if config.targets[n].type == "local"), None)
            for n in p.targets:
                policies.add_metric([p.name, n], {"role": "primary" if n == primary else "offsite"})
        yield policies

    # ------------------------------------------------------------------ backups
    def _backups(self, config: Config, catalog: Catalog) -> Iterator[Metric]:
        labels = ["policy", "type", "target"]
        last_success = GaugeMetricFamily(
            "reliad_backup_last_success_timestamp_seconds",
            "When the newest successful backup of this policy and type finished (Unix time).", labels=labels)
        last_attempt = GaugeMetricFamily(
            "reliad_backup_last_attempt_timestamp_seconds",
            "When the newest backup attempt of this policy and type started, whatever its result.", labels=labels)
        last_result = GaugeMetricFamily(
            "reliad_backup_last_result",
            "Result of the newest finished attempt: 1 for its result label (ok, partial: some files could not "
            "be read, failed), 0 for the others.", labels=[*labels, "result"])
        last_duration = GaugeMetricFamily(
            "reliad_backup_last_duration_seconds", "How long the newest successful backup took.", labels=labels)
        last_read = GaugeMetricFamily(
            "reliad_backup_last_read_bytes", "Bytes read from the sources by the newest successful backup.",
            labels=labels)
        last_stored = GaugeMetricFamily(
            "reliad_backup_last_stored_bytes", "Bytes the newest successful backup added to the repository.",
            labels=labels)
        last_files = GaugeMetricFamily(
            "reliad_backup_last_files", "Files in the newest successful backup.", labels=labels)
        running = GaugeMetricFamily(
            "reliad_backup_running", "1 while a backup of this policy and type is running.", labels=labels)
        runs = CounterMetricFamily(
            "reliad_backups", "Finished backup attempts recorded in the catalog, by result.",
            labels=[*labels, "result"])
        durations = HistogramMetricFamily(
            "reliad_backup_duration_seconds", "Duration of successful backups recorded in the catalog.",
            labels=labels)

        policies = set(config.policies)
        rows = [r for r in catalog.backup_history() if r["policy"] in policies]
        newest_ok: dict[tuple[str, str, str], Any] = {}
        newest_done: dict[tuple[str, str, str], Any] = {}
        newest_any: dict[tuple[str, str, str], Any] = {}
        counts: dict[tuple[str, str, str, str], int] = {}
        hist: dict[tuple[str, str, str], list[float]] = {}
        for r in rows:
            key = (r["policy"], r["type"], r["target"])
            if r["status"] == "skipped":  # a slot that a larger backup served: no attempt was made
                continue
            if r["status"] == "pruned":  # a success that retention has since removed: still counted
                counts[(*key, "ok")] = counts.get((*key, "ok"), 0) + 1
                if r["duration_s"] is not None:
                    hist.setdefault(key, []).append(float(r["duration_s"]))
                continue
            newest_any[key] = r
            if r["status"] == "running":
                continue
            newest_done[key] = r
            status = r["status"] if r["status"] in RESULTS else "failed"
            counts[(*key, status)] = counts.get((*key, status), 0) + 1
            if status == "ok":
                newest_ok[key] = r
            if status in ("ok", "partial") and r["duration_s"] is not None:
                hist.setdefault(key, []).append(float(r["duration_s"]))

        for key, r in newest_ok.items():
            last_success.add_metric(list(key), _ts(r["finished_at"]) or 0.0)
            last_duration.add_metric(list(key), float(r["duration_s"] or 0.0))
            last_read.add_metric(list(key), float(r["bytes_read"] or 0))
            last_stored.add_metric(list(key), float(r["bytes_stored"] or 0))
            last_files.add_metric(list(key), float(r["files"] or 0))
        for key, r in newest_any.items():
            last_attempt.add_metric(list(key), _ts(r["started_at"]) or 0.0)
            running.add_metric(list(key), 1.0 if r["status"] == "running" else 0.0)
        for key, r in newest_done.items():
            current = r["status"] if r["status"] in RESULTS else "failed"
            for result in RESULTS:
                last_result.add_metric([*key, result], 1.0 if result == current else 0.0)
        for key in sorted({k[:3] for k in counts}):
            for result in RESULTS:
                runs.add_metric([*key, result], float(counts.get((*key, result), 0)))
        for key, values in hist.items():
            values.sort()
            buckets = [(str(float(b)), float(bisect.bisect_right(values, b))) for b in DURATION_BUCKETS]
            buckets.append(("+Inf", float(len(values))))
            durations.add_metric(list(key), buckets, math.fsum(values))
        yield from (last_success, last_attempt, last_result, last_duration, last_read, last_stored, last_files,
                    running, runs, durations)

    def _schedules(self, config: Config, catalog: Catalog) -> Iterator[Metric]:
        labels = ["policy", "type"]
        interval = GaugeMetricFamily(
            "reliad_backup_interval_seconds", "Configured interval between backups of this policy and type; alerts "
            "compare reliad_backup_age_seconds with it.", labels=labels)
        age = GaugeMetricFamily(
            "reliad_backup_age_seconds",
            "Seconds since the newest successful backup that renews this type's recovery point finished (a full "
            "renews all types, a differential also the incremental one); +Inf when there is none.", labels=labels)
        active = GaugeMetricFamily(
            "reliad_schedule_active", "1 when this schedule is within its start and end dates.", labels=labels)
        next_run = GaugeMetricFamily(
            "reliad_scheduler_next_run_timestamp_seconds", "When the service will next start this backup.",
            labels=labels)
        newest = {key: _ts(f) or 0.0 for key, f in catalog.newest_ok().items()}
        now = time.time()
        for p in config.policies.values():
            for btype, facts in schedule_facts(p, dt.datetime.now(dt.UTC)).items():
                interval.add_metric([p.name, btype], facts.interval_s)
                active.add_metric([p.name, btype], 1.0 if facts.active else 0.0)
                done = [newest[(p.name, t)] for t in COVERED_BY[btype] if (p.name, t) in newest]
                age.add_metric([p.name, btype], max(0.0, now - max(done)) if done else math.inf)
        if self._next_runs is not None:
            for (policy, btype), when in sorted(self._next_runs().items()):
                if when is not None and policy in config.policies:
                    next_run.add_metric([policy, btype], when.timestamp())
        yield from (interval, age, active, next_run)

    # ------------------------------------------------------------------ verification
    def _verification(self, config: Config, catalog: Catalog) -> Iterator[Metric]:
        labels = ["policy", "target", "mode"]
        runs = CounterMetricFamily(
            "reliad_verify_runs", "Verification runs recorded in the catalog; result damage when any backup "
            "failed its checks.", labels=[*labels, "result"])
        last_run = GaugeMetricFamily(
            "reliad_verify_last_run_timestamp_seconds", "When the newest verification in this mode finished.",
            labels=labels)
        damaged = GaugeMetricFamily(
            "reliad_verify_damaged_backups", "Backups known damaged: found damaged by a verification in this mode "
            "and neither verified clean since nor pruned.", labels=labels)
        checked = GaugeMetricFamily(
            "reliad_verify_last_checked_backups", "Backups checked by the newest verification in this mode.",
            labels=labels)
        for r in catalog.verify_counts():
            key = [r["policy"], r["target"], r["mode"]]
            runs.add_metric([*key, "ok"], float(r["n"] - r["bad"]))
            runs.add_metric([*key, "damage"], float(r["bad"]))
        known = catalog.damage_counts()
        for r in catalog.latest_verifies():
            key = [r["policy"], r["target"], r["mode"]]
            last_run.add_metric(key, _ts(r["finished_at"]) or 0.0)
            damaged.add_metric(key, float(known.get((r["policy"], r["target"], r["mode"]), 0)))
            checked.add_metric(key, float(r["backups"]))
        yield from (runs, last_run, damaged, checked)

    def _coverage(self, config: Config, catalog: Catalog) -> Iterator[Metric]:
        """How much of what is stored was read back recently: per policy and target, the
        share of complete backups verified clean by `crc` within `[daemon] verify_within`,
        and how long the least recently proven one has gone unproven (since its last clean
        `crc` verification, or since it was written when never)."""
        ratio = GaugeMetricFamily(
            "reliad_verify_coverage_ratio", "Share of complete backups verified clean (crc) within "
            "[daemon] verify_within; 1 when there are none.", labels=["policy", "target"])
        oldest = GaugeMetricFamily(
            "reliad_verify_oldest_unverified_seconds", "Seconds since the least recently proven complete backup was "
            "last verified clean (crc), or since it was written when never.", labels=["policy", "target"])
        window = GaugeMetricFamily(
            "reliad_verify_within_seconds", "[daemon] verify_within: how often every backup is to be read back.")
        window.add_metric([], config.daemon.verify_within)
        now = time.time()
        groups: dict[tuple[str, str], list[tuple[float, bool]]] = {}  # (seconds unproven, verified in window)
        for r in catalog.verification_ages():
            proven = _ts(r["verified_at"])
            age = max(0.0, now - (proven or _ts(r["finished_at"]) or now))
            groups.setdefault((r["policy"], r["target"]), []).append(
                (age, proven is not None and age <= config.daemon.verify_within))
        for p in config.policies.values():
            for t in p.targets:
                rows = groups.get((p.name, t), [])
                ratio.add_metric([p.name, t], sum(ok for _, ok in rows) / len(rows) if rows else 1.0)
                oldest.add_metric([p.name, t], max((a for a, _ in rows), default=0.0))
        yield from (ratio, oldest, window)

    # ------------------------------------------------------------------ locks
    def _locks(self, config: Config, catalog: Catalog) -> Iterator[Metric]:
        waits = CounterMetricFamily(
            "reliad_lock_waits", "Times a writer found a repository locked by another; outcome timeout when it "
            "gave up.", labels=["target", "outcome"])
        seconds = CounterMetricFamily(
            "reliad_lock_wait_seconds", "Seconds writers spent waiting for a repository lock.", labels=["target"])
        for r in catalog.lock_wait_totals():
            waits.add_metric([r["target"], "acquired"], float(r["ok"]))
            waits.add_metric([r["target"], "timeout"], float(r["n"] - r["ok"]))
            seconds.add_metric([r["target"]], float(r["s"]))
        yield from (waits, seconds)

    # ------------------------------------------------------------------ offsite
    def _replication(self, config: Config, catalog: Catalog) -> Iterator[Metric]:
        """From the replication records of the offsite job: which backups of a policy still have to
        reach each offsite target of that policy, and since when."""
        labels = ["policy", "target"]
        pending = GaugeMetricFamily(
            "reliad_replication_pending_backups", "Backups of this policy written locally but not yet complete on "
            "this offsite target.", labels=labels)
        pending_bytes = GaugeMetricFamily(
            "reliad_replication_pending_bytes", "Stored bytes of those backups (what replication still has to copy "
            "at most).", labels=labels)
        lag = GaugeMetricFamily(
            "reliad_replication_lag_seconds", "Age of the oldest backup of this policy not yet complete on this "
            "offsite target; 0 when it is up to date.", labels=labels)
        waiting = {(r["policy"], r["target"]): (r["n"], r["bytes"] or 0, _ts(r["oldest"]) or time.time())
                   for r in catalog.replication_waiting()}
        now = time.time()
        for p in config.policies.values():
            for name in p.targets:
                if config.targets[name].type == "local":
                    continue
                n, size, oldest = waiting.get((p.name, name), (0, 0, now))
                pending.add_metric([p.name, name], float(n))
                pending_bytes.add_metric([p.name, name], float(size))
                lag.add_metric([p.name, name], max(0.0, now - oldest))
        yield from (pending, pending_bytes, lag)

    # ------------------------------------------------------------------ repositories
    def _repositories(self, config: Config) -> Iterator[Metric]:
        size = GaugeMetricFamily("reliad_repository_size_bytes", "Bytes the repository of a local target occupies.",
                                 labels=["target"])
        now = time.monotonic()
        for t in config.targets.values():
            if t.type != "local" or t.path is None or not t.path.is_dir():
                continue
            cached = self._repo_sizes.get(t.name)
            if cached is None or now - cached[0] > REPO_SIZE_TTL_S:
                cached = (now, _dir_size(t.path))
                self._repo_sizes[t.name] = cached
            size.add_metric([t.name], float(cached[1]))
        yield size
