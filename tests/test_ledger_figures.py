"""The ledger's figures against hand-worked examples (docs/RELIABILITY.md has the definitions):
zero, one and many failures, incidents crossing the period's edges, overlapping maintenance,
gaps in coverage."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reliad.ledger import figures as f

P = (0.0, 1000.0)


def avail(measured, down=(), maintenance=(), objective=0.999):
    return f.availability(period=P, measured=list(measured), down=list(down), maintenance=list(maintenance),
                          objective=objective)


def test_availability_with_no_failure_is_one_and_passes() -> None:
    a = avail([P])
    assert (a["availability"], a["down_s"], a["coverage"], a["verdict"]) == (1.0, 0, 1.0, "PASS")


def test_availability_one_outage_counts_its_down_minutes() -> None:
    a = avail([P], down=[(100, 220)])
    assert a["availability"] == pytest.approx(0.88)
    assert (a["down_s"], a["down_minutes"], a["measured_s"], a["verdict"]) == (120, 2.0, 1000, "FAIL")
    assert avail([P], down=[(100, 220)], objective=0.85)["verdict"] == "PASS"


def test_incidents_crossing_the_period_edges_count_only_inside_it() -> None:
    a = avail([(-500, 1500)], down=[(-50, 30), (990, 1200)])
    assert (a["down_s"], a["measured_s"]) == (40, 1000)
    assert a["availability"] == pytest.approx(0.96)


def test_overlapping_maintenance_is_counted_once_and_excluded_from_down_time() -> None:
    # windows 100-300 and 200-400 are 300 s together; the outage 350-450 is down only for 400-450
    a = avail([P], down=[(350, 450)], maintenance=[(100, 300), (200, 400)])
    assert (a["maintenance_s"], a["measured_s"], a["down_s"], a["coverage"]) == (300, 700, 50, 1.0)
    assert a["availability"] == pytest.approx(650 / 700)


def test_a_coverage_gap_is_neither_up_nor_down_and_under_90_percent_is_not_enough_data() -> None:
    # unmeasured 400-600: the outage 300-700 counts only where it was seen
    a = avail([(0, 400), (600, 1000)], down=[(300, 700)])
    assert (a["measured_s"], a["down_s"], a["unmeasured_s"], a["coverage"]) == (800, 200, 200, 0.8)
    assert a["availability"] == pytest.approx(0.75)
    assert a["verdict"] == "NOT_ENOUGH_DATA"


def test_maintenance_inside_a_gap_does_not_lower_coverage() -> None:
    a = avail([(0, 400), (600, 1000)], maintenance=[(350, 650)])
    assert (a["measured_s"], a["maintenance_s"], a["coverage"], a["verdict"]) == (700, 300, 1.0, "PASS")


def test_nothing_measured_has_no_availability() -> None:
    a = avail([])
    assert (a["availability"], a["coverage"], a["verdict"]) == (None, 0.0, "NOT_ENOUGH_DATA")
    whole = avail([P], maintenance=[P])
    assert (whole["availability"], whole["coverage"], whole["verdict"]) == (None, None, "NOT_ENOUGH_DATA")


# chi-square quantiles from the printed tables (NIST/SEMATECH e-Handbook, 1.3.6.7.4)
@pytest.mark.parametrize(("p", "df", "value"), [(0.95, 2, 5.991), (0.05, 2, 0.103), (0.95, 4, 9.488),
                                                 (0.95, 10, 18.307), (0.05, 8, 2.733), (0.95, 100, 124.342)])
def test_chi_square_quantiles_match_the_tables(p: float, df: int, value: float) -> None:
    assert f.chi2_ppf_even(p, df) == pytest.approx(value, abs=0.001)


@given(st.floats(0.001, 0.999), st.integers(1, 400))
def test_chi_square_cdf_inverts_its_quantile(p: float, k: int) -> None:
    assert f.chi2_cdf_even(f.chi2_ppf_even(p, 2 * k), 2 * k) == pytest.approx(p, abs=1e-9)


def test_mtbf_with_no_failure_passes_only_on_operating_time_alone() -> None:
    m = f.mtbf(operating_s=10_000 * 3600, failures=0)
    assert (m["mtbf_h"], m["upper_h"], m["verdict"]) == (None, None, "PASS")
    assert m["lower_h"] == pytest.approx(20_000 / 5.9915, rel=1e-4)  # 3338 h proven at 95 % one-sided
    assert f.mtbf(operating_s=100 * 3600, failures=0)["verdict"] == "NOT_ENOUGH_DATA"


def test_mtbf_with_one_failure() -> None:
    m = f.mtbf(operating_s=10_000 * 3600, failures=1)
    assert (m["mtbf_h"], m["failures"], m["operating_h"], m["verdict"]) == (10_000, 1, 10_000, "PASS")
    assert m["lower_h"] == pytest.approx(20_000 / 9.4877, rel=1e-4)   # 2108 h
    assert m["upper_h"] == pytest.approx(20_000 / 0.10259, rel=1e-4)  # 194,950 h


def test_mtbf_with_many_failures_fails_under_8500_hours() -> None:
    m = f.mtbf(operating_s=20_000 * 3600, failures=4)
    assert (m["mtbf_h"], m["verdict"]) == (5000, "FAIL")
    assert m["lower_h"] == pytest.approx(40_000 / 18.307, rel=1e-4)  # 2185 h
    assert m["upper_h"] == pytest.approx(40_000 / 2.7326, rel=1e-4)  # 14,638 h
    assert m["lower_h"] < m["mtbf_h"] < m["upper_h"]


PERIOD = (0.0, 100_000.0)


def mtrs(incidents, as_of=200_000.0, enough=True):
    return f.mtrs(incidents=incidents, period=PERIOD, as_of=as_of, target_s=4 * 3600, enough_data=enough)


def test_mtrs_is_the_mean_of_each_restored_incident() -> None:
    m = mtrs([{"id": 1, "start": 1000, "restored_at": 4600}, {"id": 2, "start": 10_000, "restored_at": 17_200}])
    assert (m["mtrs_s"], m["restored"], m["verdict"]) == (5400, 2, "PASS")
    assert [i["duration_s"] for i in m["incidents"]] == [3600, 7200]


def test_mtrs_counts_an_incident_in_the_period_it_was_restored_in() -> None:
    # started before the period, restored in it: counts with its whole duration; restored after the
    # period's end: open at the end, not in the mean
    m = mtrs([{"id": 1, "start": -5000, "restored_at": 1000}, {"id": 2, "start": 99_000, "restored_at": 101_000}])
    assert (m["mtrs_s"], [i["id"] for i in m["incidents"]]) == (6000, [1])
    assert [(i["id"], i["age_s"], i["over_target"]) for i in m["open"]] == [(2, 1000, False)]
    assert m["verdict"] == "PASS"


def test_one_open_incident_over_its_target_fails_the_period() -> None:
    m = mtrs([{"id": 1, "start": 1000, "restored_at": 2000}, {"id": 2, "start": 50_000, "restored_at": None}])
    assert m["mtrs_s"] == 1000
    assert [(i["id"], i["age_s"], i["over_target"]) for i in m["open"]] == [(2, 50_000, True)]
    assert m["verdict"] == "FAIL"
    # still young when measured during the period
    assert mtrs([{"id": 2, "start": 50_000, "restored_at": None}], as_of=51_000)["verdict"] == "PASS"


def test_mtrs_at_or_over_target_fails_and_no_incident_needs_coverage() -> None:
    assert mtrs([{"id": 1, "start": 0, "restored_at": 4 * 3600}])["verdict"] == "FAIL"
    assert (mtrs([])["mtrs_s"], mtrs([])["verdict"]) == (None, "PASS")
    assert mtrs([], enough=False)["verdict"] == "NOT_ENOUGH_DATA"


def test_daily_failure_rate_lists_every_day_at_or_over_one_percent() -> None:
    days = ["2026-03-01", "2026-03-02", "2026-03-03"]
    d = f.daily_failure_rate({"2026-03-01": (1000, 5), "2026-03-02": (1000, 20), "2026-03-03": (1000, 10)}, days)
    assert [(r["day"], r["rate"], r["verdict"]) for r in d["days"]] == [
        ("2026-03-01", 0.005, "PASS"), ("2026-03-02", 0.02, "FAIL"), ("2026-03-03", 0.01, "FAIL")]
    assert (d["days_over"], d["checks"], d["failed"], d["verdict"]) == (["2026-03-02", "2026-03-03"], 3000, 35, "FAIL")


def test_daily_failure_rate_without_checks_on_most_days_is_not_enough_data() -> None:
    days = [f"2026-03-{n:02d}" for n in range(1, 11)]
    assert f.daily_failure_rate({d: (100, 0) for d in days[:9]}, days)["verdict"] == "PASS"
    d = f.daily_failure_rate({d: (100, 0) for d in days[:8]}, days)
    assert (d["verdict"], d["days"][9]["verdict"], d["days"][9]["rate"]) == ("NOT_ENOUGH_DATA", "NOT_ENOUGH_DATA", None)


def hour(samples, cpu, cpu_max, mem, mem_max, disk=30.0, disk_max=31.0):
    return {"samples": samples, "cpu_sum": cpu * samples, "cpu_max": cpu_max, "memory_sum": mem * samples,
            "memory_max": mem_max, "disk_sum": disk * samples, "disk_max": disk_max, "network_sum": 1000.0 * samples,
            "network_max": 5000.0}


def test_utilisation_averages_by_sample_and_keeps_the_peak() -> None:
    u = f.utilisation([hour(60, 50, 100, 40, 60), hour(30, 20, 99, 70, 80)], expected_samples=90)
    assert u["cpu"] == {"average": 40.0, "peak": 100.0}  # a CPU peak alone fails nothing
    assert u["memory"] == {"average": 50.0, "peak": 80.0}
    assert (u["network"]["average"], u["coverage"], u["verdict"]) == (1000.0, 1.0, "PASS")
    over = f.utilisation([hour(60, 50, 100, 40, 97)], expected_samples=60)
    assert (over["over_limit"], over["verdict"]) == (["memory"], "FAIL")
    assert f.utilisation([hour(10, 5, 6, 5, 6)], expected_samples=60)["verdict"] == "NOT_ENOUGH_DATA"


intervals = st.lists(st.tuples(st.integers(0, 100), st.integers(0, 100)).map(lambda t: (min(t), max(t))), max_size=6)


@given(intervals, intervals)
def test_interval_arithmetic_splits_time_exactly(a, b) -> None:
    assert f.total(a) == f.total(f.intersect(a, b)) + f.total(f.subtract(a, b))
    assert f.total(f.union(a + b)) == f.total(a) + f.total(b) - f.total(f.intersect(a, b))


@given(intervals, intervals, intervals)
def test_availability_stays_within_its_bounds(measured, down, maint) -> None:
    a = f.availability(period=(10, 90), measured=measured, down=down, maintenance=maint, objective=0.9)
    assert 0 <= a["down_s"] <= a["measured_s"] <= 80
    assert a["availability"] is None or 0 <= a["availability"] <= 1
    assert a["coverage"] is None or 0 <= a["coverage"] <= 1


def test_worst_verdict_order() -> None:
    assert f.worst(["PASS", "NOT_ENOUGH_DATA", "FAIL"]) == "FAIL"
    assert f.worst(["PASS", "NOT_ENOUGH_DATA"]) == "NOT_ENOUGH_DATA"
    assert f.worst(["PASS"]) == "PASS"
    assert f.worst([]) == "NOT_ENOUGH_DATA"
