"""The ledger's figures as pure functions of intervals and counts (R1-R5).

Nothing here reads a clock, a file or the database: `stats.compute` gathers the inputs, these
functions turn them into figures with their target and verdict, and tests pin them against
hand-worked examples. Times are epoch seconds; an interval is (start, end) with start <= end.
The exact definitions are in docs/RELIABILITY.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Interval = tuple[float, float]

PASS, FAIL, NOT_ENOUGH_DATA, NOT_VERIFIED = "PASS", "FAIL", "NOT_ENOUGH_DATA", "NOT_VERIFIED"
MIN_COVERAGE = 0.9
MTBF_TARGET_H = 8500.0
MTRS_TARGETS_S = {"software": 4 * 3600.0, "hardware": 12 * 3600.0}
MTRS_REQUIREMENTS = {"software": "R3", "hardware": "R4"}
DAILY_FAILURE_LIMIT = 0.01
UTILISATION_AVERAGE_LIMIT = 70.0
UTILISATION_PEAK_LIMIT = 95.0
_SEVERITY = {PASS: 0, NOT_ENOUGH_DATA: 1, NOT_VERIFIED: 2, FAIL: 3}


def worst(verdicts: Iterable[str]) -> str:
    """The verdict of a whole made of parts: any FAIL fails it, then NOT_VERIFIED, then
    NOT_ENOUGH_DATA; an empty whole has not enough data."""
    vs = list(verdicts)
    return max(vs, key=_SEVERITY.__getitem__) if vs else NOT_ENOUGH_DATA


# -- interval arithmetic -----------------------------------------------------------------
def union(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint intervals covering exactly the same time; empty ones dropped."""
    out: list[Interval] = []
    for s, e in sorted(i for i in intervals if i[1] > i[0]):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def intersect(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    ua, ub = union(a), union(b)
    out: list[Interval] = []
    i = j = 0
    while i < len(ua) and j < len(ub):
        s, e = max(ua[i][0], ub[j][0]), min(ua[i][1], ub[j][1])
        if e > s:
            out.append((s, e))
        if ua[i][1] < ub[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    """The time of `a` outside `b`."""
    out: list[Interval] = []
    ub = union(b)
    for s, e in union(a):
        cur = s
        for bs, be in ub:
            if be <= cur or bs >= e:
                continue
            if bs > cur:
                out.append((cur, bs))
            cur = max(cur, be)
        if cur < e:
            out.append((cur, e))
    return out


def total(intervals: Iterable[Interval]) -> float:
    return sum(e - s for s, e in union(intervals))


# -- R1: availability ------------------------------------------------------------------------
def availability(*, period: Interval, measured: Sequence[Interval], down: Sequence[Interval],
                 maintenance: Sequence[Interval], objective: float) -> dict[str, Any]:
    """Availability of one service over `period`.

    measured: when the service was watched (probe coverage, plus outages an operator recorded);
    down: its incidents (start to restoration, or to the end of the period while open);
    maintenance: its planned windows. Down time counts only where measured and outside
    maintenance; availability = up / (measured - maintenance). The verdict needs 90 % of the
    period outside maintenance to be measured, else it is NOT_ENOUGH_DATA.
    """
    p = [period]
    maint = intersect(maintenance, p)
    measured_net = subtract(intersect(measured, p), maint)
    down_net = intersect(down, measured_net)
    measured_s, down_s = total(measured_net), total(down_net)
    wanted_s = total(subtract(p, maint))
    coverage = measured_s / wanted_s if wanted_s > 0 else None
    ratio = (measured_s - down_s) / measured_s if measured_s > 0 else None
    if ratio is None or coverage is None or coverage < MIN_COVERAGE:
        verdict = NOT_ENOUGH_DATA
    else:
        verdict = PASS if ratio >= objective else FAIL
    return {"availability": ratio, "objective": objective, "up_s": measured_s - down_s, "down_s": down_s,
            "down_minutes": round(down_s / 60, 2), "measured_s": measured_s, "maintenance_s": total(maint),
            "unmeasured_s": wanted_s - measured_s, "coverage": coverage, "verdict": verdict}


# -- R2: MTBF with its chi-square interval -----------------------------------------------------
def chi2_cdf_even(x: float, df: int) -> float:
    """P(X <= x) for a chi-square variable with an even number of degrees of freedom 2k, in
    closed form: 1 - e^(-x/2) * sum_{i<k} (x/2)^i / i! (the Poisson tail), in log space so that
    large k does not overflow. Even degrees are all that a time-terminated MTBF interval needs."""
    if df <= 0 or df % 2:
        raise ValueError(f"degrees of freedom must be even and positive, not {df}")
    if x <= 0:
        return 0.0
    half = x / 2
    terms = [math.exp(-half + i * math.log(half) - math.lgamma(i + 1)) for i in range(df // 2)]
    return max(0.0, 1.0 - math.fsum(terms))


def chi2_ppf_even(p: float, df: int) -> float:
    """The p-quantile of chi-square with even `df`, by bisection on the closed-form CDF."""
    lo, hi = 0.0, max(1.0, 2.0 * df)
    while chi2_cdf_even(hi, df) < p:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if chi2_cdf_even(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return (lo + hi) / 2


def mtbf(*, operating_s: float, failures: int, confidence: float = 0.9,
         target_h: float = MTBF_TARGET_H) -> dict[str, Any]:
    """MTBF = operating time / failures, with the two-sided chi-square interval of a
    time-terminated test: [2T / chi2((1+c)/2; 2r+2), 2T / chi2((1-c)/2; 2r)]; with no failure
    the upper bound is unbounded (null) and the lower one still says what the time proves."""
    t_h = operating_s / 3600
    a = (1 - confidence) / 2
    lower = 2 * t_h / chi2_ppf_even(1 - a, 2 * failures + 2) if t_h > 0 else 0.0
    upper = 2 * t_h / chi2_ppf_even(a, 2 * failures) if failures and t_h > 0 else None
    estimate = t_h / failures if failures else None
    if failures:
        verdict = PASS if estimate is not None and estimate >= target_h else FAIL
    else:
        verdict = PASS if t_h >= target_h else NOT_ENOUGH_DATA
    return {"mtbf_h": estimate, "lower_h": lower, "upper_h": upper, "confidence": confidence,
            "failures": failures, "operating_h": t_h, "target_h": target_h, "verdict": verdict}


# -- R3/R4: MTRS per class -------------------------------------------------------------------------
def mtrs(*, incidents: Sequence[Mapping[str, Any]], period: Interval, as_of: float, target_s: float,
         enough_data: bool) -> dict[str, Any]:
    """Mean time to restore service of one class's incidents.

    An incident counts in the period in which it was restored (restored_at in [start, end));
    its contribution is restored_at - start (its start is its first failed probe). Incidents
    started before the period's end and not restored by then are listed as open with their age
    at min(end, as_of); one open longer than the target fails the period whatever the mean. With
    no incident at all the verdict is PASS only when the period was measured well enough
    (`enough_data`)."""
    p_start, p_end = period
    cutoff = min(p_end, as_of)
    closed, open_ = [], []
    for inc in incidents:
        restored = inc.get("restored_at")
        if restored is not None and p_start <= restored < p_end:
            closed.append({**inc, "duration_s": restored - inc["start"]})
        elif inc["start"] < cutoff and (restored is None or restored >= cutoff):
            open_.append({**inc, "age_s": cutoff - inc["start"], "over_target": cutoff - inc["start"] > target_s})
    mean = sum(i["duration_s"] for i in closed) / len(closed) if closed else None
    if any(i["over_target"] for i in open_) or (mean is not None and mean >= target_s):
        verdict = FAIL
    elif mean is not None or enough_data:
        verdict = PASS
    else:
        verdict = NOT_ENOUGH_DATA
    return {"mtrs_s": mean, "target_s": target_s, "restored": len(closed), "incidents": closed, "open": open_,
            "verdict": verdict}


# -- R5: daily failure rate ---------------------------------------------------------------------------
def daily_failure_rate(days: Mapping[str, tuple[int, int]], all_days: Sequence[str],
                       limit: float = DAILY_FAILURE_LIMIT) -> dict[str, Any]:
    """Per UTC day, failed checks / all checks (`days` maps a day to (checks, failed)); a day at or
    over `limit` (R5 asks for less than 1 %) fails the period. The period passes only when 90 % of its days had checks; a day
    without any is NOT_ENOUGH_DATA."""
    rows = []
    for day in all_days:
        checks, failed = days.get(day, (0, 0))
        rate = failed / checks if checks else None
        verdict = NOT_ENOUGH_DATA if rate is None else (FAIL if rate >= limit else PASS)
        rows.append({"day": day, "checks": checks, "failed": failed, "rate": rate, "verdict": verdict})
    measured_days = sum(1 for r in rows if r["checks"])
    over = [r for r in rows if r["verdict"] == FAIL]
    if over:
        verdict = FAIL
    elif all_days and measured_days / len(all_days) >= MIN_COVERAGE:
        verdict = PASS
    else:
        verdict = NOT_ENOUGH_DATA
    checks = sum(r["checks"] for r in rows)
    failed = sum(r["failed"] for r in rows)
    return {"limit": limit, "checks": checks, "failed": failed, "rate": failed / checks if checks else None,
            "days": rows, "days_over": [r["day"] for r in over], "verdict": verdict}


# -- R1: utilisation --------------------------------------------------------------------------------
def utilisation(hours: Sequence[Mapping[str, float]], expected_samples: int,
                average_limit: float = UTILISATION_AVERAGE_LIMIT,
                peak_limit: float = UTILISATION_PEAK_LIMIT) -> dict[str, Any]:
    """Average (weighted by samples) and peak of each metric from hourly rows of sums and peaks.
    CPU, memory and disk are percent: an average over `average_limit` fails, and so does a memory
    or disk peak over `peak_limit` (a CPU peak is normal during a backup and is only reported);
    network is bytes per second and only reported. Less than 90 % of the expected minute samples
    is NOT_ENOUGH_DATA."""
    samples = sum(int(h["samples"]) for h in hours)
    out: dict[str, Any] = {"samples": samples, "coverage": samples / expected_samples if expected_samples else None,
                           "average_limit": average_limit, "peak_limit": peak_limit}
    over = []
    for m in ("cpu", "memory", "disk", "network"):
        avg = sum(float(h[f"{m}_sum"]) for h in hours) / samples if samples else None
        peak = max((float(h[f"{m}_max"]) for h in hours), default=None)
        out[m] = {"average": avg, "peak": peak}
        if m != "network" and avg is not None and peak is not None and (
                avg > average_limit or (m != "cpu" and peak > peak_limit)):
            over.append(m)
    out["over_limit"] = over
    if over:
        out["verdict"] = FAIL
    elif out["coverage"] is not None and out["coverage"] >= MIN_COVERAGE:
        out["verdict"] = PASS
    else:
        out["verdict"] = NOT_ENOUGH_DATA
    return out
