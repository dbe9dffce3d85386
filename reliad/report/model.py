"""The report model: one JSON-able dict holding every figure any output format shows.

`build` gathers the month; `summarise` judges each clause from the gathered figures (the
ledger's clauses R1-R5 keep the verdicts `reliad stats` gave them). Reasons are kept as a key
and arguments so that each language words them itself; the JSON carries them as they are.
Nothing here reads a clock: `now` is passed in, so the same inputs give the same model.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from reliad.report import auditlog, backups, drillrows, ledgerview
from reliad.report.period import Month

PASS, FAIL, NOT_ENOUGH_DATA, NOT_VERIFIED = "PASS", "FAIL", "NOT_ENOUGH_DATA", "NOT_VERIFIED"
SEVERITY = {PASS: 0, NOT_ENOUGH_DATA: 1, NOT_VERIFIED: 2, FAIL: 3}
MODEL_VERSION = 1
MAX_GAP_DAYS = 8  # days with unmeasured time named on the first page; the rest are counted


def worst(verdicts: list[str]) -> str:
    """Any FAIL fails the whole, then NOT_VERIFIED, then NOT_ENOUGH_DATA; nothing at all is
    NOT_ENOUGH_DATA (the ledger's rule, so a clause reads the same in `stats` and here)."""
    return max(verdicts, key=SEVERITY.__getitem__) if verdicts else NOT_ENOUGH_DATA


def reason(key: str, **args: Any) -> dict[str, Any]:
    return {"key": key, "args": args}


def row(clause: str, topic: str, target: dict[str, Any], actual: dict[str, Any] | None, verdict: str,
        why: dict[str, Any]) -> dict[str, Any]:
    return {"clause": clause, "topic": topic, "target": target, "actual": actual, "verdict": verdict, "reason": why}


# -- R1-R5 from the ledger ------------------------------------------------------------------
def availability_row(figures: dict[str, Any]) -> dict[str, Any]:
    services = ledgerview.availability(figures)
    target = reason("target.availability")
    if not services:
        return row("R1", "availability", target, None, NOT_ENOUGH_DATA, reason("why.no_services"))
    verdict = worst([s.get("verdict", NOT_ENOUGH_DATA) for s in services.values()])
    measured = {n: s for n, s in services.items() if s.get("availability") is not None}
    lowest = min(measured, key=lambda n: measured[n]["availability"]) if measured else None
    actual = reason("actual.availability", service=lowest, value=measured[lowest]["availability"]) if lowest else None
    failing = sorted(n for n, s in services.items() if s.get("verdict") == FAIL)
    thin = sorted(n for n, s in services.items() if s.get("verdict") == NOT_ENOUGH_DATA)
    if failing:
        s = services[failing[0]]
        why = reason("why.availability_below", service=failing[0], value=s.get("availability"),
                     objective=s.get("objective"), down_minutes=round((s.get("down_s") or 0) / 60))
    elif thin:
        why = reason("why.coverage_low", service=thin[0], coverage=services[thin[0]].get("coverage") or 0.0)
    else:
        why = reason("why.availability_met", count=len(services))
    return row("R1", "availability", target, actual, verdict, why)


def utilisation_row(figures: dict[str, Any]) -> dict[str, Any]:
    u = ledgerview.utilisation(figures)
    target = reason("target.utilisation", average=u.get("average_limit", 70.0), peak=u.get("peak_limit", 95.0))
    cpu, memory = u.get("cpu") or {}, u.get("memory") or {}
    if not u or cpu.get("average") is None:
        return row("R1", "utilisation", target, None, NOT_ENOUGH_DATA, reason("why.no_utilisation"))
    actual = reason("actual.utilisation", cpu_avg=cpu.get("average"), cpu_peak=cpu.get("peak"),
                    mem_avg=memory.get("average"), mem_peak=memory.get("peak"))
    verdict = u.get("verdict", NOT_ENOUGH_DATA)
    if u.get("over_limit"):
        why = reason("why.utilisation_over", metrics=", ".join(u["over_limit"]))
    elif verdict == NOT_ENOUGH_DATA:
        why = reason("why.utilisation_coverage", coverage=u.get("coverage") or 0.0)
    else:
        why = reason("why.utilisation_ok")
    return row("R1", "utilisation", target, actual, verdict, why)


def mtbf_row(figures: dict[str, Any]) -> dict[str, Any]:
    m = ledgerview.mtbf(figures)
    target = reason("target.mtbf", hours=m.get("target_h", 8500.0))
    if not m:
        return row("R2", "mtbf", target, None, NOT_ENOUGH_DATA, reason("why.no_services"))
    actual = (reason("actual.mtbf", hours=m["mtbf_h"], lower=m.get("lower_h"), failures=m.get("failures"))
              if m.get("mtbf_h") is not None else reason("actual.mtbf_none", operating=m.get("operating_h") or 0.0))
    verdict = m.get("verdict", NOT_ENOUGH_DATA)
    if m.get("failures"):
        why = reason("why.mtbf_failures", failures=m["failures"], operating=m.get("operating_h") or 0.0)
    elif verdict == PASS:
        why = reason("why.mtbf_no_failures", operating=m.get("operating_h") or 0.0)
    else:
        why = reason("why.mtbf_short", operating=m.get("operating_h") or 0.0, target=m.get("target_h", 8500.0))
    return row("R2", "mtbf", target, actual, verdict, why)


def mtrs_row(figures: dict[str, Any], cls: str, clause: str) -> dict[str, Any]:
    m = ledgerview.mtrs(figures).get(cls) or {}
    target = reason("target.mtrs", hours=(m.get("target_s") or {"software": 4, "hardware": 12}[cls] * 3600) / 3600)
    if not m:
        return row(clause, f"mtrs_{cls}", target, None, NOT_ENOUGH_DATA, reason("why.no_services"))
    actual = (reason("actual.mtrs", seconds=m["mtrs_s"], restored=m.get("restored", 0))
              if m.get("mtrs_s") is not None else None)
    verdict = m.get("verdict", NOT_ENOUGH_DATA)
    late = [i for i in m.get("open") or [] if i.get("over_target")]
    if late:
        why = reason("why.mtrs_open", service=late[0].get("service"), seconds=late[0].get("age_s"))
    elif m.get("mtrs_s") is not None:
        why = reason("why.mtrs_mean", restored=m.get("restored", 0), cls=cls)
    elif m.get("open"):
        why = reason("why.mtrs_open_within", cls=cls, count=len(m["open"]),
                     seconds=max(i.get("age_s") or 0 for i in m["open"]))
    elif verdict == PASS:
        why = reason("why.mtrs_none", cls=cls)
    else:
        why = reason("why.mtrs_no_data", cls=cls)
    return row(clause, f"mtrs_{cls}", target, actual, verdict, why)


def failure_rate_row(figures: dict[str, Any]) -> dict[str, Any]:
    d = ledgerview.daily_failure_rate(figures)
    target = reason("target.daily_failure", limit=d.get("limit", 0.01))
    if not d or not d.get("checks"):
        return row("R5", "daily_failure_rate", target, None, NOT_ENOUGH_DATA, reason("why.no_checks"))
    worst_day = max((x for x in d.get("days") or [] if x.get("rate") is not None), key=lambda x: x["rate"],
                    default=None)
    actual = reason("actual.daily_failure", worst=worst_day["rate"] if worst_day else None,
                    day=worst_day["day"] if worst_day else None)
    verdict = d.get("verdict", NOT_ENOUGH_DATA)
    if d.get("days_over"):
        why = reason("why.days_over", count=len(d["days_over"]), first=d["days_over"][0])
    elif verdict == NOT_ENOUGH_DATA:
        why = reason("why.days_unmeasured", measured=sum(1 for x in d.get("days") or [] if x.get("checks")),
                     days=len(d.get("days") or []))
    else:
        why = reason("why.days_ok", checks=d["checks"])
    return row("R5", "daily_failure_rate", target, actual, verdict, why)


# -- R6-R8 and R10c from the catalog -------------------------------------------------------------
def backup_rows(b: dict[str, Any]) -> list[dict[str, Any]]:
    rows = b["rows"]
    ok_types = sorted({r["type"] for r in rows if r["succeeded"]})
    if b["attempts"] == 0:
        r6 = row("R6", "backup_types", reason("target.backup_types"), None, NOT_ENOUGH_DATA, reason("why.no_backups"))
    elif not ok_types:
        r6 = row("R6", "backup_types", reason("target.backup_types"), None, FAIL, reason("why.no_success"))
    else:
        r6 = row("R6", "backup_types", reason("target.backup_types"), reason("actual.types", types=", ".join(ok_types)),
                 PASS, reason("why.types_ok", succeeded=sum(r["succeeded"] for r in rows)))
    offsite = {o["target"] for r in rows for o in r["offsite"]}
    copied = sum(o["copied"] for r in rows for o in r["offsite"])
    if b["attempts"] == 0:
        r7 = row("R7", "locations", reason("target.locations"), None, NOT_ENOUGH_DATA, reason("why.no_backups"))
    elif not offsite:
        r7 = row("R7", "locations", reason("target.locations"), reason("actual.local_only"), FAIL,
                 reason("why.no_offsite_target"))
    elif not copied:
        r7 = row("R7", "locations", reason("target.locations"), reason("actual.local_only"), FAIL,
                 reason("why.nothing_offsite"))
    else:
        lag = max(o["worst_lag_s"] or 0 for r in rows for o in r["offsite"])
        r7 = row("R7", "locations", reason("target.locations"),
                 reason("actual.locations", targets=", ".join(sorted(offsite)), copied=copied), PASS,
                 reason("why.offsite_lag", seconds=lag))
    scheduled = [r for r in rows if r["scheduled"]]
    late = [r for r in scheduled if r["late"]]
    if b["attempts"] == 0:
        r8 = row("R8", "schedules", reason("target.schedules"), None, NOT_ENOUGH_DATA, reason("why.no_backups"))
    elif not scheduled:
        r8 = row("R8", "schedules", reason("target.schedules"), None, NOT_ENOUGH_DATA, reason("why.no_slots"))
    else:
        actual = reason("actual.schedules", late=sum(r["late"] for r in scheduled),
                        scheduled=sum(r["scheduled"] for r in scheduled))
        if late:
            first = max(late, key=lambda r: r["late"])
            r8 = row("R8", "schedules", reason("target.schedules"), actual, FAIL,
                     reason("why.late", policy=first["policy"], type=first["type"], late=first["late"],
                            age=first["worst_age_s"] or 0))
        else:
            r8 = row("R8", "schedules", reason("target.schedules"), actual, PASS, reason("why.on_time"))
    return [r6, r7, r8]


def verification_row(v: dict[str, Any]) -> dict[str, Any]:
    target = reason("target.verification")
    if not v["runs"]:
        return row("R10c", "verification", target, None, NOT_VERIFIED, reason("why.no_verification"))
    actual = reason("actual.verification", runs=v["runs"], backups=v["backups"],
                    modes=", ".join(m["mode"] for m in v["modes"]))
    if v["damaged_backups"]:
        return row("R10c", "verification", target, actual, FAIL, reason("why.damage", count=v["damaged_backups"]))
    return row("R10c", "verification", target, actual, PASS, reason("why.no_damage", bytes=v["bytes"]))


# -- R11-R13 from the drills ------------------------------------------------------------------
def drill_rows(drills: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not drills:
        why = reason("why.no_drills")
        return [row(c, t, reason(f"target.{t}"), None, NOT_VERIFIED, why)
                for c, t in (("R11", "failover"), ("R12", "recovery_time"), ("R13", "completeness"))]
    verdicts = [d["verdict"] or NOT_VERIFIED for d in drills]
    passed = sum(v == PASS for v in verdicts)
    r11_why = (reason("why.drills_failed", failed=sum(v == FAIL for v in verdicts), count=len(drills))
               if FAIL in verdicts else reason("why.drills_unverified") if NOT_VERIFIED in verdicts
               else reason("why.drills_passed", count=len(drills)))
    r11 = row("R11", "failover", reason("target.failover"), reason("actual.drills", passed=passed, count=len(drills)),
              worst(verdicts), r11_why)
    timed = [d for d in drills if d["rto_met"] is not None]
    slow = [d for d in timed if not d["rto_met"]]
    longest = max(timed, key=lambda d: d["recovery_time_s"], default=None)
    r12 = row("R12", "recovery_time", reason("target.recovery_time"),
              reason("actual.recovery_time", seconds=longest["recovery_time_s"], scenario=longest["scenario"])
              if longest else None,
              FAIL if slow else PASS if timed else NOT_VERIFIED,
              reason("why.rto_missed", scenario=slow[0]["scenario"], seconds=slow[0]["recovery_time_s"],
                     target=slow[0]["rto_target_s"]) if slow
              else reason("why.rto_met", count=len(timed)) if timed else reason("why.drills_untimed"))
    measured = [d for d in drills if d["completeness_met"] is not None]
    short = [d for d in measured if not d["completeness_met"]]
    least = min(measured, key=lambda d: d["completeness"], default=None)
    r13 = row("R13", "completeness", reason("target.completeness"),
              reason("actual.completeness", value=least["completeness"], scenario=least["scenario"]) if least else None,
              FAIL if short else PASS if measured else NOT_VERIFIED,
              reason("why.incomplete", scenario=short[0]["scenario"], value=short[0]["completeness"],
                     target=short[0]["completeness_target"]) if short
              else reason("why.complete", count=len(measured)) if measured else reason("why.drills_unmeasured"))
    return [r11, r12, r13]


def summarise(m: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per clause, in the standard's order."""
    figures = m["ledger"]
    return [availability_row(figures), utilisation_row(figures), mtbf_row(figures),
            mtrs_row(figures, "software", "R3"), mtrs_row(figures, "hardware", "R4"), failure_rate_row(figures),
            *backup_rows(m["backups"]), verification_row(m["backups"]["verification"]), *drill_rows(m["drills"])]


def gaps(m: dict[str, Any], summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the month's figures could not see, for the first page: unmeasured time and every
    clause that has no verdict for want of data or of a check."""
    out = []
    cov = ledgerview.coverage(m["ledger"])
    if cov is None or cov < 1.0:
        out.append(reason("gap.coverage", coverage=cov))
    days = [(d["date"], max((s.get("unmeasured_s") or 0) for s in d["services"].values()))
            for d in m["daily"] if d["services"]]
    unmeasured = [{"date": day, "seconds": secs} for day, secs in days if secs > 0]
    if unmeasured and cov is not None:
        out.append(reason("gap.days", days=unmeasured[:MAX_GAP_DAYS], more=max(0, len(unmeasured) - MAX_GAP_DAYS)))
    out += [{"clause": r["clause"], **r["reason"]} for r in summary if r["verdict"] in (NOT_ENOUGH_DATA, NOT_VERIFIED)]
    return out


def is_empty(m: dict[str, Any]) -> bool:
    """A month without a single measurement, backup, verification, drill or audit record."""
    figures = m["ledger"]
    measured = any((s.get("measured_s") or 0) > 0 for s in ledgerview.availability(figures).values())
    return not (measured or m["backups"]["attempts"] or m["backups"]["verification"]["runs"] or m["drills"]
                or m["audit"]["records"])


def assemble(*, host: str, month: Month, generated_until: str, ledger: dict[str, Any], daily: list[dict[str, Any]],
             trend: list[dict[str, Any]], backup_figures: dict[str, Any], drills: list[dict[str, Any]],
             audit: dict[str, Any], hosts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The model from gathered parts, with the clause summary and the coverage gaps."""
    m: dict[str, Any] = {
        "version": MODEL_VERSION, "host": host, "month": month.label, "timezone": month.tz_name,
        "period": {"start": month.start.isoformat(), "end": month.end.isoformat(), "until": generated_until},
        "ledger": ledger, "daily": daily, "trend": trend, "backups": backup_figures, "drills": drills,
        "audit": audit,
    }
    if hosts is not None:
        m["hosts"] = hosts
    m["summary"] = summarise(m)
    m["coverage"] = ledgerview.coverage(ledger)
    m["gaps"] = gaps(m, m["summary"])
    m["empty"] = is_empty(m)
    m["verdict"] = worst([r["verdict"] for r in m["summary"]])
    return m


def build(config: Any, month: Month, now: dt.datetime, *, compute: ledgerview.Compute | None = None,
          host: str | None = None) -> dict[str, Any]:
    """Gather the month from the ledger, the catalog, the drills and the audit log of this host."""
    import socket

    from reliad.catalog import Catalog
    from reliad.ledger.store import Ledger
    from reliad.timeutil import iso

    compute = compute or ledgerview.default_compute()
    state_dir = Path(config.state_dir)
    catalog, ledger = Catalog(state_dir), Ledger(state_dir)
    try:
        until = min(month.end, now)
        return assemble(
            host=host or socket.gethostname(), month=month, generated_until=iso(until),
            ledger=ledgerview.month_figures(compute, ledger, config, month, now),
            daily=ledgerview.daily_availability(compute, ledger, config, month, now),
            trend=ledgerview.trend(compute, ledger, config, month, now),
            backup_figures=backups.gather(config, catalog, month, now),
            drills=drillrows.gather(ledger, month, now), audit=auditlog.gather(state_dir, month, now))
    finally:
        catalog.close()
        ledger.close()
