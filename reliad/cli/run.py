"""`reliad run` (the service) and `reliad status` (what it did and will do)."""

from __future__ import annotations

import json
import socket
from typing import Any

import psutil

from reliad.cli.base import Context, command
from reliad.logsetup import setup_logging
from reliad.timeutil import iso, utcnow


@command("run")
def run_cmd(ctx: Context) -> int:
    """Run the service: back up every policy on its schedules, prune, until SIGTERM.

    SIGHUP re-reads the configuration. Under systemd (Type=notify) it reports readiness,
    status and watchdog pings; see systemd/reliad.service and docs/INSTALL.md. Prometheus
    metrics are served on [metrics] listen (default 127.0.0.1:11090); see docs/MONITORING.md.
    """
    from reliad.daemon.service import run_service

    setup_logging(ctx.verbose, daemon=True)
    return run_service(ctx.config_path)


def _service_state(state_dir: Any) -> dict[str, Any] | None:
    """The running service's own account (state_dir/daemon.json), if it is alive."""
    from reliad.daemon.service import STATE_FILE

    try:
        data = json.loads((state_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if data.get("host") != socket.gethostname() or not psutil.pid_exists(int(data.get("pid", 0))):
        return None
    return data


@command("status")
def status_cmd(ctx: Context) -> int:
    """Per policy and type: the last run and its result, the next run, and whether the
    schedule is active (outside its start/end dates it is not)."""
    from reliad.catalog import Catalog
    from reliad.daemon.scheduling import plan

    cfg = ctx.config
    now = utcnow()
    service = _service_state(cfg.state_dir)
    catalog = Catalog(cfg.state_dir)
    try:
        slots = plan(cfg, catalog, now)
        rows = []
        for s in slots:
            if s.type == "prune":
                last = catalog.last_job("prune", s.policy)
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
    finally:
        catalog.close()
    data = {"at": iso(now), "service": {"running": service is not None,
                                        **({k: service[k] for k in ("pid", "started_at", "config", "workers")}
                                           if service else {})},
            "jobs": rows}

    def text() -> str:
        head = (f"service: running (pid {service['pid']}, since {service['started_at']})" if service
                else "service: not running (next runs are what it will do when started)")
        lines = [head, f"{'POLICY':<12} {'TYPE':<12} {'SCHEDULE':<22} {'STATE':<12} {'LAST RUN':<21} "
                       f"{'RESULT':<8} NEXT RUN"]
        for d in rows:
            last = d["last_run"] or {}
            if d.get("running_since"):
                nxt = f"running now (since {d['running_since']})"
            elif d["state"] == "ended":
                nxt = "never (schedule ended)"
            elif d["state"] == "off":
                nxt = "never (off)"
            elif d["next_run"] is None:
                nxt = "none"
            elif d["overdue"] and service is None:
                nxt = "overdue: runs when the service starts"
            else:
                nxt = d["next_run"] + (" (schedule starts)" if d["state"] == "not started" else "")
            lines.append(f"{d['policy']:<12} {d['type']:<12} {d['schedule'][:22]:<22} {d['state']:<12} "
                         f"{last.get('started_at') or '-':<21} {last.get('status') or '-':<8} {nxt}")
            if last.get("status") in ("failed", "skipped") and last.get("error"):
                lines.append(f"{'':<12} {'':<12} {last['status']}: {last['error']}")
        return "\n".join(lines)

    ctx.emit(data, text)
    return 0
