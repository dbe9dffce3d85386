"""A drill on one screen for a person: each phase's time, recovery time against the objective,
completeness against the target, the verdict, and what to fix."""

from __future__ import annotations

from typing import Any

from reliad.progress import human_bytes


def duration(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.2f} h"


def percent(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.2f} %"


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def render(r: dict[str, Any]) -> str:
    lines = [f"drill {r['id']}: {r['verdict']}",
             f"  {r['scenario']} scenario, policy {r['policy']}, backup {r.get('backup_id') or '-'}"
             + (f" from target {r['target']}" if r.get("target") else "") + f", into {r.get('standby', '-')}"]
    if r.get("rpo_s") is not None:
        lines.append(f"  the backup was {duration(r['rpo_s'])} old when the drill started (RPO achieved)")
    if r.get("phases"):
        lines.append(f"  {'PHASE':<9} {'OUTCOME':<12} {'TIME':>9} {'BYTES':>10}  DETAIL")
        for p in r["phases"]:
            detail = p.get("detail") or ""
            lines.append(f"  {p['name']:<9} {p['outcome']:<12} {duration(p['duration_s']):>9} "
                         f"{human_bytes(p['bytes']):>10}  {detail[:70]}")
    rt, obj = r.get("recovery_time_s"), r.get("objective_s")
    restored = {p["name"]: p["outcome"] for p in r.get("phases", [])}.get("restore") == "ok"
    if rt is not None and obj is not None and restored:
        lines.append(f"  recovery time {duration(rt)} against the objective {duration(obj)}: {_met(rt <= obj)}")
    elif rt is not None and obj is not None:
        lines.append(f"  recovery did not complete ({duration(rt)} spent; objective {duration(obj)})")
    c, target = r.get("completeness"), r.get("completeness_target")
    if c is None:
        lines.append(f"  completeness not measured (target {percent(target)})")
    else:
        f, b = r["files"], r["bytes"]
        lines.append(f"  completeness {percent(c)} ({f['verified']}/{f['expected']} entries, "
                     f"{human_bytes(b['verified'])}/{human_bytes(b['expected'])}) against the target "
                     f"{percent(target)}: {_met(c >= target)}")
    for chk in r.get("checks", []):
        lines.append(f"  check {chk['name']!r}: {chk['outcome']} ({chk.get('detail', '')})")
    for n in r.get("notes", []):
        lines.append(f"  note: {n}")
    lines.append(f"verdict: {r['verdict']} (exit {r['exit_code']})" + (", to fix:" if r.get("reasons") else ""))
    lines += [f"  - {reason}" for reason in r.get("reasons", [])]
    return "\n".join(lines)
