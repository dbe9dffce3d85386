"""Grading rules of a drill, worked by hand: recovery time, completeness, verdict, exit code,
and the status a policy gets from its drills."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from reliad.drills.checks import compare
from reliad.drills.grading import FAIL, NOT_VERIFIED, PASS, Measures, Phase, completeness, exit_code, grade, recovery_time
from reliad.drills.status import NOT_VERIFIED as STATUS_NV
from reliad.drills.status import VERIFIED, judge


def phases(**durations_and_outcomes: tuple[float, str]) -> list[Phase]:
    return [Phase(name, outcome, duration) for name, (duration, outcome) in durations_and_outcomes.items()]


def clean(**kw) -> Measures:
    """A general drill of 10 files / 1000 bytes, everything verified, 600 s of phases."""
    base = dict(scenario="general", objective_s=3600.0, completeness_target=1.0,
                phases=phases(prepare=(1, "ok"), fetch=(0, "skipped"), restore=(500, "ok"), verify=(99, "ok"),
                              load=(0, "skipped"), checks=(0, "skipped"), failover=(0, "skipped"),
                              cleanup=(30, "ok")),
                files_expected=10, files_verified=10, bytes_expected=1000, bytes_verified=1000, measured=True)
    base.update(kw)
    return Measures(**base)


def test_recovery_time_is_prepare_through_failover_without_cleanup() -> None:
    assert recovery_time(clean().phases) == 600  # 1 + 500 + 99; the 30 s of cleanup do not count


def test_completeness_is_the_smaller_of_files_and_bytes() -> None:
    assert completeness(9, 10, 1000, 1000) == 0.9
    assert completeness(10, 10, 500, 1000) == 0.5
    assert completeness(0, 0, 0, 0) == 1.0  # an empty backup restored empty


def test_clean_drill_passes() -> None:
    assert grade(clean()) == (PASS, [])
    assert exit_code(PASS, damage=False) == 0


def test_objective_missed_fails_and_names_both_times() -> None:
    verdict, reasons = grade(clean(objective_s=1.0))
    assert verdict == FAIL
    assert reasons == ["recovery took 10.0 min, over the general objective of 1.0 s"]


def test_one_missing_file_fails_a_general_but_passes_a_severe_drill() -> None:
    # 49 of 50 files and 980 of 1000 bytes: 98 %, exactly the severe target, below the general one.
    m = dict(files_expected=50, files_verified=49, bytes_expected=1000, bytes_verified=980)
    verdict, reasons = grade(clean(**m))
    assert verdict == FAIL and "completeness 98 %" in reasons[0] and "target of 100 %" in reasons[0]
    assert grade(clean(scenario="severe", objective_s=43200.0, completeness_target=0.98, **m)) == (PASS, [])
    verdict, _ = grade(clean(scenario="severe", objective_s=43200.0, completeness_target=0.98,
                             files_expected=50, files_verified=48, bytes_expected=1000, bytes_verified=960))
    assert verdict == FAIL


def test_damage_fails_and_exits_3() -> None:
    verdict, reasons = grade(clean(damage=[{"path": "/srv/a", "reason": "CRC32C mismatch"}]))
    assert verdict == FAIL and reasons[0].startswith("damage found in 1 place(s): /srv/a: CRC32C mismatch")
    assert exit_code(verdict, damage=True) == 3


def test_a_check_that_did_not_run_is_never_a_pass() -> None:
    checks = [{"name": "orders", "outcome": NOT_VERIFIED, "detail": "server down"},
              {"name": "site", "outcome": PASS, "detail": ""}]
    verdict, reasons = grade(clean(checks=checks))
    assert verdict == NOT_VERIFIED
    assert reasons == ["check 'orders' did not run: server down"]
    assert exit_code(verdict, damage=False) == 1


def test_failure_outranks_not_verified_and_every_reason_is_kept() -> None:
    checks = [{"name": "orders", "outcome": NOT_VERIFIED, "detail": "server down"},
              {"name": "rows", "outcome": FAIL, "detail": "got 0, expected > 0"}]
    verdict, reasons = grade(clean(checks=checks))
    assert verdict == FAIL
    assert reasons == ["check 'rows' failed: got 0, expected > 0", "check 'orders' did not run: server down"]


def test_interrupted_or_unmeasured_drills_are_not_verified() -> None:
    ps = clean().phases
    ps[2] = Phase("restore", "interrupted", 10, detail="stopped")
    verdict, reasons = grade(clean(phases=ps, measured=False))
    assert verdict == NOT_VERIFIED
    assert reasons == ["phase restore was interrupted: stopped",
                       "completeness was not measured (the restored files were not verified)"]


def test_missing_failover_command_is_not_verified_a_failing_one_fails() -> None:
    ps = clean().phases
    ps[6] = Phase("failover", "not_run", 0, detail="exit 127")
    assert grade(clean(phases=ps))[0] == NOT_VERIFIED
    ps[6] = Phase("failover", "failed", 0, detail="exit 1")
    assert grade(clean(phases=ps))[0] == FAIL


@given(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(1, 10**6), st.integers(1, 10**6))
def test_completeness_never_above_one_and_pass_needs_everything(fv: int, bv: int, fe: int, be: int) -> None:
    fv, bv = min(fv, fe), min(bv, be)
    c = completeness(fv, fe, bv, be)
    assert 0 <= c <= 1
    verdict, _ = grade(clean(files_expected=fe, files_verified=fv, bytes_expected=be, bytes_verified=bv))
    assert (verdict == PASS) == (fv == fe and bv == be)


def test_expect_comparisons() -> None:
    assert compare("42", "> 0") == (True, "got 42, expected > 0")
    assert compare("0", "> 0")[0] is False
    assert compare("3", "= 3.0")[0] is True
    assert compare("10", "<= 9")[0] is False
    assert compare("open", "open") == (True, "got open, expected = open")
    assert compare("open", "!= closed")[0] is True
    assert compare("abc", "> 1") == (False, "got 'abc', which cannot be compared with > 1 (not a number)")
    assert compare(None, "> 0") == (False, "the query returned no rows, expected > 0")


NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
DAY = 86400.0


def drill(verdict: str, finished: str, h: str = "h1", scenario: str = "general") -> dict:
    return {"id": f"d-{finished}", "verdict": verdict, "finished_at": finished, "config_hash": h,
            "scenario": scenario, "reasons": [] if verdict == PASS else ["recovery took too long"]}


def test_status_verified_until_validity_ends() -> None:
    s = judge([drill(PASS, "2026-11-01T12:00:00Z")], "h1", 35 * DAY, NOW)
    assert s["status"] == VERIFIED and s["valid_until"] == "2026-12-06T12:00:00Z"
    s = judge([drill(PASS, "2026-10-29T12:00:00Z")], "h1", 35 * DAY, NOW)
    assert s["status"] == STATUS_NV and s["reason"] == "the last passing drill expired at 2026-12-03T12:00:00Z"


def test_status_lost_on_config_change_or_a_later_failure() -> None:
    s = judge([drill(PASS, "2026-12-01T12:00:00Z", h="old")], "new", 35 * DAY, NOW)
    assert s["status"] == STATUS_NV and "configuration changed" in s["reason"]
    s = judge([drill(PASS, "2026-12-01T12:00:00Z"), drill(FAIL, "2026-12-02T12:00:00Z")], "h1", 35 * DAY, NOW)
    assert s["status"] == STATUS_NV and s["reason"] == "the last drill ended FAIL: recovery took too long"
    assert judge([], "h1", 35 * DAY, NOW)["status"] == STATUS_NV
