"""`reliad run` (the service) and `reliad status` (what it did and will do)."""

from __future__ import annotations

from reliad.cli.base import Context, command
from reliad.logsetup import setup_logging


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


@command("status")
def status_cmd(ctx: Context) -> int:
    """Per policy and type: the last run and its result, the next run, and whether the
    schedule is active (outside its start/end dates it is not)."""
    from reliad.daemon.status import status_report

    data = status_report(ctx.config)
    service = data["service"] if data["service"]["running"] else None
    rows = data["jobs"]

    def text() -> str:
        head = (f"service: running (pid {service['pid']}, since {service['started_at']})" if service
                else "service: not running (next runs are what it will do when started)")
        lines = [head, f"{'POLICY':<12} {'TYPE':<13} {'SCHEDULE':<22} {'STATE':<12} {'LAST RUN':<21} "
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
            lines.append(f"{d['policy']:<12} {d['type']:<13} {d['schedule'][:22]:<22} {d['state']:<12} "
                         f"{last.get('started_at') or '-':<21} {last.get('status') or '-':<8} {nxt}")
            if last.get("status") in ("failed", "skipped", "FAIL", "NOT_VERIFIED") and last.get("error"):
                lines.append(f"{'':<12} {'':<13} {last['status']}: {last['error']}")
        for st in data["drills"]:
            until = f" until {st['valid_until']}" if st["status"] == "VERIFIED" else ""
            lines.append(f"drills of {st['policy']}: {st['status']}{until} ({st['reason']})")
        lines += [f"DAMAGED: backup {b['backup']} of {b['policy']} in target {b['target']} (found by verify --mode "
                  f"{b['mode']} at {b['found_at']}): {b['reason']}" for b in data["damaged"]]
        return "\n".join(lines)

    ctx.emit(data, text)
    return 0
