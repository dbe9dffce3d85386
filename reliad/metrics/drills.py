"""Prometheus series of the drills, read from the ledger on every scrape (like the backup series
from the catalog, so they survive restarts). Labels: policy and scenario only."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

from reliad.config import Config
from reliad.config.drills import SCENARIOS
from reliad.drills import records
from reliad.drills.grading import VERDICTS
from reliad.drills.status import VERIFIED, policy_status
from reliad.timeutil import parse_iso, utcnow


def _ts(text: Any) -> float | None:
    return parse_iso(str(text)).timestamp() if text else None


def drill_metrics(config: Config) -> Iterator[Metric]:
    labels = ["policy", "scenario"]
    result = GaugeMetricFamily(
        "reliad_drill_last_result", "Verdict of the newest drill of this policy and scenario: 1 for its result label "
        "(PASS, FAIL, NOT_VERIFIED), 0 for the others.", labels=[*labels, "result"])
    finished = GaugeMetricFamily("reliad_drill_last_timestamp_seconds", "When the newest drill finished.",
                                 labels=labels)
    success = GaugeMetricFamily("reliad_drill_last_success_timestamp_seconds", "When the newest passing drill "
                                "finished.", labels=labels)
    recovery = GaugeMetricFamily("reliad_drill_recovery_seconds", "Recovery time (prepare through failover) of the "
                                 "newest drill that measured one.", labels=labels)
    objective = GaugeMetricFamily("reliad_drill_objective_seconds", "The configured recovery time objective.",
                                  labels=labels)
    complete = GaugeMetricFamily("reliad_drill_completeness_ratio", "Verified share of the backup (files and bytes, "
                                 "the smaller) in the newest drill that measured it.", labels=labels)
    target = GaugeMetricFamily("reliad_drill_completeness_target_ratio", "The configured completeness target.",
                               labels=labels)
    verified = GaugeMetricFamily("reliad_drill_verified", "1 while the policy is VERIFIED by a valid passing drill "
                                 "of its current configuration, else 0.", labels=["policy"])
    pass_age = GaugeMetricFamily("reliad_drill_last_pass_age_seconds", "Seconds since the newest passing drill of "
                                 "the policy (any scenario) finished; +Inf when it never passed.", labels=["policy"])
    validity = GaugeMetricFamily("reliad_drill_validity_seconds", "How long a passing drill keeps the policy "
                                 "VERIFIED.", labels=["policy"])
    drills = records.load(config.state_dir)
    now = utcnow()
    for name in sorted(config.policies):
        dc = config.drills[name]
        mine = [d for d in drills if d.get("policy") == name]
        for scenario in SCENARIOS:
            key = [name, scenario]
            objective.add_metric(key, dc.objectives[scenario])
            target.add_metric(key, dc.completeness[scenario])
            ran = [d for d in mine if d.get("scenario") == scenario]
            if ran:
                for v in VERDICTS:
                    result.add_metric([*key, v], 1.0 if ran[-1]["verdict"] == v else 0.0)
                finished.add_metric(key, _ts(ran[-1].get("finished_at")) or 0.0)
            passed = [d for d in ran if d["verdict"] == "PASS"]
            if passed:
                success.add_metric(key, _ts(passed[-1].get("finished_at")) or 0.0)
            timed = [d for d in ran if d.get("recovery_time_s") is not None]
            if timed:
                recovery.add_metric(key, float(timed[-1]["recovery_time_s"]))
            measured = [d for d in ran if d.get("completeness") is not None]
            if measured:
                complete.add_metric(key, float(measured[-1]["completeness"]))
        status = policy_status(config, name, mine, now)
        verified.add_metric([name], 1.0 if status["status"] == VERIFIED else 0.0)
        last_pass = max((_ts(d.get("finished_at")) or 0.0 for d in mine if d["verdict"] == "PASS"), default=None)
        pass_age.add_metric([name], max(0.0, time.time() - last_pass) if last_pass is not None else math.inf)
        validity.add_metric([name], dc.validity_s)
    yield from (result, finished, success, recovery, objective, complete, target, verified, pass_age, validity)
