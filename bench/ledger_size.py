"""The ledger's size after a year: a generator that writes what `reliad run` would leave in
`state_dir/ledger.db` after `--days` of watching `--services` services with 1-minute rounds.

It goes through the ledger's own write functions (reliad.ledger.store.Ledger), with a clock of
its own, so the rows and indexes are exactly the daemon's. What retention keeps after a year is
40 days of per-minute counts and the per-hour counts of the whole year, so the generator writes
a round per minute for the last 40 days and one per hour before that (the hourly rows are the
same either way), then applies retention. Every service has an incident and a maintenance window
a month, the host a utilisation row per hour, and the daemon a restart a week.

    python -m bench.ledger_size --services 20 --days 365 [--out DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reliad.ledger.store import MINUTES_KEPT_DAYS, Ledger


def generate(state_dir: Path, services: int, days: int, seed: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    names = [f"service-{i:02d}" for i in range(services)]
    end = datetime(2027, 1, 1, tzinfo=UTC)
    start = end - timedelta(days=days)
    minutes_from = end - timedelta(days=min(MINUTES_KEPT_DAYS, days))
    led = Ledger(state_dir)
    led.db.execute("PRAGMA synchronous=OFF")  # speed only: the file's contents are the same
    t0 = time.monotonic()
    run = led.run_started("bench", 1, start)
    t, rounds = start, 0
    while t < end:
        if t.weekday() == 0 and t.hour == 3 and t.minute == 0:  # a weekly restart: a new run
            led.run_stopped(run, t)
            run = led.run_started("bench", 1, t + timedelta(minutes=1))
        step = timedelta(minutes=1) if t >= minutes_from else timedelta(hours=1)
        for n in names:
            ok = rng.random() > 0.001
            led.record_round(run_id=run, service=n, at=t, ok=ok, duration_s=rng.uniform(0.01, 0.5),
                             probe=None if ok else f"http {n}", error=None if ok else "connection refused")
            rounds += 1
        if t.minute == 0:
            led.record_utilisation(t, {"cpu": rng.uniform(0, 100), "memory": rng.uniform(20, 80),
                                       "disk": rng.uniform(40, 60), "network": rng.uniform(0, 1e7)})
        t += step
    for month in range(days // 30):
        for n in names:
            s = start + timedelta(days=30 * month + rng.uniform(0, 29))
            iid = led.open_incident(service=n, cls=rng.choice(("software", "hardware")), start=s, origin="probe",
                                    at=s + timedelta(minutes=3), probe=f"http {n}", error="connection refused",
                                    detected_at=s + timedelta(minutes=3))
            led.update_incident(iid, s + timedelta(hours=1), kind="restored", restored_at=s + timedelta(minutes=40))
            led.add_maintenance(service=n, start=s + timedelta(days=1), end=s + timedelta(days=1, hours=1),
                                reason="monthly updates", at=s)
    led.apply_retention(end)
    led.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = led.path.stat().st_size
    counts = {t: led.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("probe_minutes", "probe_hours", "utilisation", "incidents", "incident_events", "maintenance",
                        "runs", "coverage")}
    led.db.execute("VACUUM")
    vacuumed = led.path.stat().st_size
    led.close()
    return {"services": services, "days": days, "rounds_written": rounds, "bytes": size, "bytes_after_vacuum": vacuumed,
            "mib": round(size / 2**20, 1), "rows": counts, "seconds": round(time.monotonic() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--services", type=int, default=20)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--out", type=Path, help="state directory to write into (default: a temporary one)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        res = generate(args.out or Path(tmp), args.services, args.days)
    if args.json:
        print(json.dumps(res, indent=1))
    else:
        print(f"{res['services']} services, {res['days']} days: ledger.db {res['mib']} MiB "
              f"({res['bytes']} bytes; {res['bytes_after_vacuum']} after VACUUM), rows {res['rows']}, "
              f"written in {res['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
