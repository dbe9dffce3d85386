"""What the service did and will do, for `reliad status`: per policy and job type the last run
and its result, the next run (from the running service when there is one, else from the
schedule) and whether the schedule is active."""

from __future__ import annotations

import json
import socket
from typing import Any

import psutil

from reliad.catalog import Catalog
from reliad.config import Config
from reliad.config.schedule import VERIFY_TYPES
from reliad.daemon.protocol import STATE_FILE
from reliad.daemon.scheduling import DRILL_JOBS, plan
from reliad.drills import records
from reliad.drills.status import policy_status
from reliad.timeutil import iso, utcnow


def _service_state(state_dir: Any) -> dict[str, Any] | None:
    """The running service's own account (state_dir/daemon.json), if it is alive."""
    try:
        data = json.loads((state_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if data.get("host") != socket.gethostname() or not psutil.pid_exists(int(data.get("pid", 0))):
        return None
    return data


def status_report(cfg: Config) -> dict[str, Any]:
    """The status of every scheduled job of `cfg`, as `reliad status --json` prints it."""
    now = utcnow()
    service = _service_state(cfg.state_dir)
    catalog = Catalog(cfg.state_dir)
    drills = records.load(cfg.state_dir)
    try:
        slots = plan(cfg, catalog, now)
        rows = []
        for s in slots:
            if s.type in DRILL_JOBS:
                last_run = _last_drill(drills, s.policy, DRILL_JOBS[s.type])
            elif s.type == "prune" or s.type in VERIFY_TYPES:
                last = catalog.last_job(s.type, s.policy)
                last_run = {"status": last["status"], "started_at": last["started_at"],
                            "finished_at": last["finished_at"], "error": last["error"]} if last else None
            else:
                last = catalog.last_backup_run(s.policy, s.type)
                last_run = {"id": last["id"], "status": last["status"], "type": last["type"],
                            "started_at": last["started_at"], "finished_at": last["finished_at"],
                            "error": last["error"]} if last else None
            d = s.to_json()
            d["last_run"] = last_run
            if service is not None:
                d["next_run"] = service.get("next_runs", {}).get(s.policy, {}).get(s.type)
                d["next_run_from"] = "service"
                d["running_since"] = next((w["running"]["since"] for w in service.get("workers", {}).values()
                                           if w.get("running") and (w["running"]["policy"], w["running"]["type"])
                                           == (s.policy, s.type)), None)
            else:
                d["next_run"] = iso(now) if s.overdue else d["next_due"]
                d["next_run_from"] = "schedule"
            rows.append(d)
        damage = sorted(({"backup": bid, "target": t, **{k: r[k] for k in ("policy", "mode", "found_at", "reason")}}
                         for (bid, t), r in catalog.damage().items()), key=lambda d: (d["policy"], d["backup"]))
    finally:
        catalog.close()
    data = {"at": iso(now), "service": {"running": service is not None,
                                        **({k: service[k] for k in ("pid", "started_at", "config", "workers")}
                                           if service else {})},
            "jobs": rows, "drills": [policy_status(cfg, p, drills, now) for p in sorted(cfg.policies)],
            "damaged": damage}
    return data


def _last_drill(drills: list[dict[str, Any]], policy: str, scenario: str) -> dict[str, Any] | None:
    """The newest drill of a policy and scenario in the shape of a last run (status = verdict)."""
    mine = [d for d in drills if d.get("policy") == policy and d.get("scenario") == scenario]
    if not mine:
        return None
    d = mine[-1]
    return {"id": d.get("id"), "status": d.get("verdict"), "type": f"drill-{scenario}", "started_at": d.get("started_at"),
            "finished_at": d.get("finished_at"), "error": "; ".join(d.get("reasons") or []) or None}
