"""What `reliad drills` and `reliad status` show: every drill and each policy's status."""

from __future__ import annotations

from typing import Any

from reliad.config import Config
from reliad.drills import records
from reliad.drills.status import policy_status
from reliad.drills.summary import duration, percent
from reliad.timeutil import iso, utcnow


def statuses(config: Config, policy: str | None = None) -> list[dict[str, Any]]:
    """Each policy's (or one policy's) drill status, now."""
    names = [config.policy(policy).name] if policy else sorted(config.policies)
    drills = records.load(config.state_dir, policy)
    now = utcnow()
    return [policy_status(config, n, drills, now) for n in names]


def drills_report(config: Config, policy: str | None = None) -> dict[str, Any]:
    names = [config.policy(policy).name] if policy else None
    return {"at": iso(utcnow()), "drills": records.load(config.state_dir, policy),
            "status": statuses(config, policy), "policies": names or sorted(config.policies)}


def render_report(report: dict[str, Any]) -> str:
    lines = []
    if not report["drills"]:
        lines.append("no drills yet; run 'reliad drill POLICY --scenario general'")
    else:
        lines.append(f"{'STARTED':<21} {'POLICY':<12} {'SCENARIO':<9} {'BACKUP':<30} {'RECOVERY':>9} {'OBJECTIVE':>9} "
                     f"{'COMPLETE':>9} VERDICT")
    for d in report["drills"]:
        lines.append(f"{d.get('started_at') or '-':<21} {d['policy']:<12} {d['scenario']:<9} "
                     f"{d.get('backup_id') or '-':<30} {duration(d.get('recovery_time_s')):>9} "
                     f"{duration(d.get('objective_s')):>9} {percent(d.get('completeness')):>9} {d['verdict']}")
        phases = ", ".join(f"{p['name']} {duration(p['duration_s'])}" for p in d.get("phases", [])
                           if p["outcome"] != "skipped")
        if phases:
            lines.append(f"{'':<21} phases: {phases}")
        for reason in d.get("reasons", []):
            lines.append(f"{'':<21} - {reason}")
    lines.append("")
    for s in report["status"]:
        until = f" until {s['valid_until']}" if s["status"] == "VERIFIED" else ""
        lines.append(f"policy {s['policy']}: {s['status']}{until} ({s['reason']})")
    return "\n".join(lines)
