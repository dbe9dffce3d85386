"""A known month (November 2026, UTC) for the report's tests: a catalog history generated run by
run, with every figure the report must show worked out by hand in the comments and in EXPECTED.

Policy `shop`: full every 12 h (00:00 and 12:00, 10 min each), incremental every 2 h (the 00:00
and 12:00 slots are skipped, covered by the full), differential off; one offsite target.
- Nov 10: the incrementals of 04:00-10:00 never ran: 02:00 -> 12:00 is a 10 h gap (late 1); the
  newest restorable backup was 02:05 -> 12:10 = 10 h 5 min old at worst (36,300 s).
- Nov 15: the 12:00 full failed and was retried at 14:00: 00:00 -> 14:00 is 14 h > 12 h + 1.2 h
  grace (late 1); full age 00:10 -> 14:10 = 14 h (50,400 s).
- Nov 20: the 06:00 incremental failed, retried 06:10 (04:00 -> 06:10 = 2 h 10 min < 2 h 12 min
  grace: not late).
- Offsite: every backup copied 30 min after it finished, except the Nov 10 02:00 incremental
  (5 h: 18,000 s) and the Nov 30 12:00 full (still pending at the month's end: 12:10 -> Dec 1
  00:00 = 42,600 s).
- Verification: crc Oct 31 (outside), crc Nov 5 (10 backups, 5,000 bytes), byte Nov 12
  (2 backups, 300 bytes), crc Nov 28 (4 backups, 800 bytes, 1 damaged).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from reliad.catalog import Catalog
from reliad.timeutil import iso

UTC = dt.UTC
START = dt.datetime(2026, 11, 1, tzinfo=UTC)

CONFIG = """
state_dir = "state"

[targets.local]
type = "local"
path = "repo"

[targets.offsite]
type = "s3"
bucket = "shop-backups"

[policies.shop]
sources = [{ type = "files", paths = ["/srv/shop"], classes = ["pages"] }]
targets = ["local", "offsite"]

[policies.shop.schedule]
full = "12h"
incremental = "2h"
differential = "off"
"""

EXPECTED = {
    "full": {"scheduled": 60, "succeeded": 60, "covered": 0, "failed": 1, "late": 1, "worst_age_s": 50400,
             "bytes_stored": 60 * 1000, "offsite": [{"target": "offsite", "copied": 59, "pending": 1,
                                                     "worst_lag_s": 42600}]},
    "incremental": {"scheduled": 360, "succeeded": 296, "covered": 60, "failed": 1, "late": 1, "worst_age_s": 36300,
                    "bytes_stored": 296 * 10, "offsite": [{"target": "offsite", "copied": 296, "pending": 0,
                                                           "worst_lag_s": 18000}]},
    "differential": {"scheduled": 0, "succeeded": 0, "covered": 0, "failed": 0, "late": 0, "worst_age_s": 50400,
                     "bytes_stored": 0, "offsite": [{"target": "offsite", "copied": 0, "pending": 0,
                                                     "worst_lag_s": None}]},
}


def write_config(tmp: Path) -> Path:
    path = tmp / "reliad.toml"
    path.write_text(CONFIG)
    return path


def _run(cat: Catalog, n: int, btype: str, start: dt.datetime, *, ok: bool = True, size: int = 0,
         lag: dt.timedelta | None = dt.timedelta(minutes=30)) -> None:
    bid = f"{start:%Y%m%dT%H%M}-{btype[0]}{n}"
    took = dt.timedelta(minutes=10 if btype == "full" else 5)
    cat.start(id=bid, target="local", policy="shop", type=btype, requested_type=btype, base=None,
              started_at=iso(start), classes=["pages"])
    cat.finish(bid, "local", status="ok" if ok else "failed", finished_at=iso(start + took), bytes_stored=size,
               duration_s=took.total_seconds(), error=None if ok else "disk full")
    if not ok:
        return
    cat.replication_pending(bid, "offsite")
    if lag is not None:
        cat.replication_done(bid, "offsite", size)
        cat.db.execute("UPDATE replication SET replicated_at=? WHERE backup_id=?", (iso(start + took + lag), bid))


def _skip(cat: Catalog, n: int, due: dt.datetime) -> None:
    cat.record_skipped(id=f"{due:%Y%m%dT%H%M}-s{n}", target="local", policy="shop", type="incremental",
                       reason="covered by the full", due=iso(due))


def populate(state_dir: Path) -> None:
    """The month's catalog, from Oct 31 12:00 (so the month starts with history) to Nov 30."""
    cat = Catalog(state_dir)
    n = 0
    t = dt.datetime(2026, 10, 31, 12, tzinfo=UTC)
    end = dt.datetime(2026, 12, 1, tzinfo=UTC)
    while t < end:
        n += 1
        if t.hour in (0, 12):
            if t == dt.datetime(2026, 11, 15, 12, tzinfo=UTC):
                _run(cat, n, "full", t, ok=False)
                _run(cat, n, "full", t + dt.timedelta(hours=2), size=1000)
            elif t == dt.datetime(2026, 11, 30, 12, tzinfo=UTC):
                _run(cat, n, "full", t, size=1000, lag=None)
            else:
                _run(cat, n, "full", t, size=1000)
            _skip(cat, n, t)
        elif t.date() == dt.date(2026, 11, 10) and 4 <= t.hour <= 10:
            pass
        elif t == dt.datetime(2026, 11, 20, 6, tzinfo=UTC):
            _run(cat, n, "incremental", t, ok=False)
            _run(cat, n, "incremental", t + dt.timedelta(minutes=10), size=10)
        elif t == dt.datetime(2026, 11, 10, 2, tzinfo=UTC):
            _run(cat, n, "incremental", t, size=10, lag=dt.timedelta(hours=5))
        else:
            _run(cat, n, "incremental", t, size=10)
        t += dt.timedelta(hours=2)
    for at, mode, backups, size, damaged in (
            (dt.datetime(2026, 10, 31, 3, tzinfo=UTC), "crc", 7, 999, 0),
            (dt.datetime(2026, 11, 5, 3, tzinfo=UTC), "crc", 10, 5000, 0),
            (dt.datetime(2026, 11, 12, 3, tzinfo=UTC), "byte", 2, 300, 0),
            (dt.datetime(2026, 11, 28, 3, tzinfo=UTC), "crc", 4, 800, 1)):
        cat.record_verify(target="local", policy="shop", mode=mode, started_at=iso(at - dt.timedelta(minutes=5)),
                          finished_at=iso(at), backups=backups, damaged_backups=damaged, files=backups * 3,
                          bytes_checked=size)
    cat.close()


DRILLS = [
    # general, Nov 3: 38 min, complete: passes both targets
    {"id": "drill-1", "policy": "shop", "scenario": "general", "backup_id": "b1", "started_at": "2026-11-03T01:00:00Z",
     "finished_at": "2026-11-03T01:40:00Z", "verdict": "PASS", "recovery_time_s": 2280.0, "objective_s": 3600.0,
     "completeness": 1.0, "phases": [], "reasons": []},
    # severe, Nov 17: 14 h and 97.3 %: misses both (12 h, 98 %)
    {"id": "drill-2", "policy": "shop", "scenario": "severe", "backup_id": "b2", "started_at": "2026-11-17T01:00:00Z",
     "finished_at": "2026-11-17T15:00:00Z", "verdict": "FAIL", "recovery_time_s": 50400.0, "objective_s": 43200.0,
     "completeness": 0.973, "phases": [], "reasons": ["recovery took 14 h, over the 12 h objective"]},
    # Oct 30: outside the month
    {"id": "drill-0", "policy": "shop", "scenario": "general", "backup_id": "b0", "started_at": "2026-10-30T01:00:00Z",
     "finished_at": "2026-10-30T01:20:00Z", "verdict": "PASS", "recovery_time_s": 1200.0, "objective_s": 3600.0,
     "completeness": 1.0, "phases": [], "reasons": []},
]


def _service(name: str, av: float | None, down: float, maint: float, unmeasured: float, verdict: str) -> dict:
    measured = 30 * 86400 - maint - unmeasured
    return {"service": name, "availability": av, "objective": 0.999, "up_s": measured - down, "down_s": down,
            "down_minutes": round(down / 60, 2), "measured_s": measured, "maintenance_s": maint,
            "unmeasured_s": unmeasured, "coverage": measured / (30 * 86400 - maint), "verdict": verdict}


# The ledger's figures of the month in the shape `reliad.ledger.stats.compute` returns them
# (until the ledger wing lands, the report's tests take them as given: the report only shows them).
LEDGER = {
    "version": 1, "generated_at": "2026-12-01T00:00:00Z",
    "period": {"start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z", "seconds": 30 * 86400},
    "availability": {"requirement": "R1", "verdict": "FAIL", "services": [
        _service("postgres", 0.99995, 130.0, 0.0, 129600.0, "PASS"),
        _service("shop-web", 0.998256, 4500.0, 7200.0, 129240.0, "FAIL")]},
    "mtbf": {"requirement": "R2", "verdict": "FAIL", "services": [], "platform": {
        "mtbf_h": 2100.0, "lower_h": 1230.5, "upper_h": 4010.2, "confidence": 0.9, "failures": 4,
                          "operating_h": 8400.0, "target_h": 8500.0, "verdict": "FAIL"}},
    "mtrs": {"software": {"mtrs_s": 2700.0, "target_s": 14400.0, "restored": 2, "verdict": "PASS", "open": [],
                          "incidents": [{"service": "shop-web", "start": "2026-10-31T23:20:00Z",
                                         "restored_at": "2026-11-01T00:00:00Z", "duration_s": 2400.0,
                                         "cause": "deploy broke checkout"},
                                        {"service": "shop-web", "start": "2026-11-12T02:00:00Z",
                                         "restored_at": "2026-11-12T02:50:00Z", "duration_s": 3000.0, "cause": None,
                                         "error": "HTTP 502"}]},
             "hardware": {"mtrs_s": None, "target_s": 43200.0, "restored": 0, "verdict": "FAIL", "incidents": [],
                          "open": [{"service": "postgres", "start": "2026-11-30T10:00:00Z", "age_s": 50400.0,
                                    "over_target": True, "cause": "disk controller"}]}},
    "daily_failure_rate": {
        "limit": 0.01, "checks": 129600, "failed": 162, "rate": 162 / 129600, "days_over": ["2026-11-12"],
        "verdict": "FAIL",
        "days": [{"day": f"2026-11-{d:02d}", "checks": 4320, "failed": 75 if d == 12 else 3,
                  "rate": (75 if d == 12 else 3) / 4320, "verdict": "FAIL" if d == 12 else "PASS"} for d in range(1, 31)]},
    "utilisation": {"samples": 41000, "coverage": 0.95, "average_limit": 70.0, "peak_limit": 95.0,
                    "cpu": {"average": 23.4, "peak": 97.0}, "memory": {"average": 61.2, "peak": 88.0},
                    "disk": {"average": 48.0, "peak": 52.1}, "network": {"average": 120000.0, "peak": 9800000.0},
                    "over_limit": [], "verdict": "PASS"},
}


def daily(month) -> list[dict]:
    """Per day and service: shop-web down 75 min on the 12th and in maintenance 2 h on the 20th; the
    ledger unmeasured on the 7th and 8th (the daemon was stopped)."""
    out = []
    for day, _, _ in month.days():
        d = day.day
        gap = 43200.0 if d in (7, 8) else 0.0
        out.append({"date": day.isoformat(), "services": {
            "postgres": {"up_s": 86400.0 - gap, "down_s": 0.0, "maintenance_s": 0.0, "unmeasured_s": gap},
            "shop-web": {"up_s": 86400.0 - gap - (4500.0 if d == 12 else 0) - (7200.0 if d == 20 else 0),
                         "down_s": 4500.0 if d == 12 else 0.0, "maintenance_s": 7200.0 if d == 20 else 0.0,
                         "unmeasured_s": gap}}})
    return out


def trend(month) -> list[dict]:
    return [{"month": m.label, "mtbf_h": 2100.0 if i >= 8 else None, "lower_h": 400.0 + 100 * i,
             "upper_h": 4010.2 if i >= 8 else None, "failures": 4 if i >= 8 else 0, "operating_h": 700.0 * (i + 1),
             "mtrs_s": {"software": 2700.0, "hardware": None}} for i, m in enumerate(month.trailing(12))]

# -- the ledger of the month ------------------------------------------------------------------
# Two probed services, web and db, measured by the daemon in two runs with a day's gap:
#   run 1  Oct 31 18:00 -> Nov 7 12:00      run 2  Nov 8 12:00 -> Dec 1 00:00
# so each service was measured 6.5 d + 22.5 d = 2,505,600 s of the month's 2,592,000.
# Incidents: web software Oct 31 23:00 -> Nov 1 01:00 (across the month's start: 1 h down in it,
# 2 h to restore), web software Nov 12 10:00 -> 10:30, db hardware Nov 30 20:00 -> Dec 1 06:00
# (across the end: open at the month's end, 4 h old). Maintenance: web Nov 20 02:00-04:00.
#   web: measured 2,505,600 - 7,200 = 2,498,400; down 3,600 + 1,800 = 5,400
#        availability 2,493,000 / 2,498,400; coverage 2,498,400 / 2,584,800
#   db:  measured 2,505,600; down 14,400; availability 2,491,200 / 2,505,600; coverage 2,505,600 / 2,592,000
#   MTRS software (7,200 + 1,800) / 2 = 4,500 s; hardware: none restored, one open 14,400 s
#   MTBF: 3 failures in the measured time of the 12 months (2,527,200 s from Oct 31 18:00) less the
#        time any service was down (7,200 + 1,800 + 14,400): 2,503,800 s = 695.5 h; 231.83 h each
LEDGER_EXPECTED = {
    "web": {"availability": 2493000 / 2498400, "down_s": 5400.0, "maintenance_s": 7200.0,
            "coverage": 2498400 / 2584800, "verdict": "FAIL"},
    "db": {"availability": 2491200 / 2505600, "down_s": 14400.0, "maintenance_s": 0.0,
           "coverage": 2505600 / 2592000, "verdict": "FAIL"},
}
RUNS = [(dt.datetime(2026, 10, 31, 18, tzinfo=UTC), dt.datetime(2026, 11, 7, 12, tzinfo=UTC)),
        (dt.datetime(2026, 11, 8, 12, tzinfo=UTC), dt.datetime(2026, 12, 1, tzinfo=UTC))]
INCIDENTS = [("web", "software", dt.datetime(2026, 10, 31, 23, tzinfo=UTC), dt.datetime(2026, 11, 1, 1, tzinfo=UTC),
              "deploy broke checkout"),
             ("web", "software", dt.datetime(2026, 11, 12, 10, tzinfo=UTC),
              dt.datetime(2026, 11, 12, 10, 30, tzinfo=UTC), None),
             ("db", "hardware", dt.datetime(2026, 11, 30, 20, tzinfo=UTC), dt.datetime(2026, 12, 1, 6, tzinfo=UTC),
              "disk controller")]


def _down(service: str, at: dt.datetime) -> bool:
    return any(s == service and start <= at < end for s, _, start, end, _ in INCIDENTS)


def populate_ledger(state_dir: Path) -> None:
    """The month's ledger: probe rounds every 6 hours (and at each incident's start) in each run,
    the incidents with their times, the maintenance window, and the drills."""
    from reliad.ledger.store import Ledger

    with Ledger(state_dir) as ledger:
        for start, end in RUNS:
            run = ledger.run_started("shop-1", 4242, start)
            times = {start, end, *(s for _, _, s, _, _ in INCIDENTS if start <= s <= end)}
            t = start
            while t < end:
                times.add(t)
                t += dt.timedelta(hours=6)
            for at in sorted(times):
                for service in ("db", "web"):
                    ledger.record_round(run_id=run, service=service, at=at, ok=not _down(service, at),
                                        duration_s=0.05, probe="http" if service == "web" else "postgres")
            ledger.run_stopped(run, end)
        for service, cls, start, restored, cause in INCIDENTS:
            iid = ledger.open_incident(service=service, cls=cls, start=start, origin="probe", at=start,
                                       probe="http" if service == "web" else "postgres", error="probe failed")
            ledger.update_incident(iid, restored, kind="restored", restored_at=restored, cause=cause)
        ledger.add_maintenance(service="web", start=dt.datetime(2026, 11, 20, 2, tzinfo=UTC),
                               end=dt.datetime(2026, 11, 20, 4, tzinfo=UTC), reason="kernel update", at=START)
        for record in DRILLS:
            ledger.add_drill(record)
