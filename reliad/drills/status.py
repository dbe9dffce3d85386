"""Whether a policy is VERIFIED today: proven by a passing drill that is still valid.

A passing drill verifies a policy until its validity ends (default 35 days) or until the
policy's configuration changes in a way that could change the recovery: its sources, its
targets and their keys, or its drill settings (checks, objectives, standby, recovery key).
A drill's record keeps the hash of that configuration, so a change is seen by comparing
hashes. The newest drill decides: a failed or unverified drill after a passing one means
the recovery no longer works as proven, so the policy is NOT_VERIFIED again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from reliad.config import Config
from reliad.config.drills import SCENARIOS
from reliad.timeutil import iso, parse_iso

VERIFIED, NOT_VERIFIED = "VERIFIED", "NOT_VERIFIED"


def config_hash(config: Config, policy: str) -> str:
    """SHA-256 of what a recovery of the policy depends on, in a canonical form."""
    p = config.policy(policy)
    dc = config.drills.get(policy)
    doc = {
        "sources": [{"type": s.type, "name": s.name, "paths": [str(x) for x in s.paths], "exclude": s.exclude,
                     "options": s.options} for s in p.sources],
        "targets": [{"name": t, "type": config.targets[t].type, "path": str(config.targets[t].path),
                     "encryption": config.targets[t].encryption, "options": config.targets[t].options}
                    for t in p.targets],
        "drill": {k: v for k, v in (dc.raw if dc else {}).items() if k not in ("schedule", "validity")},
    }
    text = json.dumps(doc, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def judge(drills: Sequence[dict[str, Any]], current_hash: str, validity_s: float, now: dt.datetime) -> dict[str, Any]:
    """The status given a policy's drills (oldest first): VERIFIED or NOT_VERIFIED, why, and
    until when a VERIFIED status holds."""
    if not drills:
        return {"status": NOT_VERIFIED, "reason": "never drilled", "drill": None, "valid_until": None}
    last = drills[-1]
    out = {"drill": last.get("id"), "scenario": last.get("scenario"), "finished_at": last.get("finished_at"),
           "valid_until": None}
    if last.get("verdict") != "PASS":
        why = (last.get("reasons") or [""])[0]
        return {**out, "status": NOT_VERIFIED,
                "reason": f"the last drill ended {last.get('verdict')}" + (f": {why}" if why else "")}
    until = parse_iso(str(last["finished_at"])) + dt.timedelta(seconds=validity_s)
    if last.get("config_hash") != current_hash:
        return {**out, "status": NOT_VERIFIED,
                "reason": "the policy's configuration changed since its last passing drill"}
    if now >= until:
        return {**out, "status": NOT_VERIFIED, "valid_until": iso(until),
                "reason": f"the last passing drill expired at {iso(until)}"}
    return {**out, "status": VERIFIED, "valid_until": iso(until), "reason": "passed its last drill"}


def policy_status(config: Config, policy: str, drills: Sequence[dict[str, Any]], now: dt.datetime) -> dict[str, Any]:
    """The policy's status and, beside it, each scenario's (from that scenario's drills)."""
    current = config_hash(config, policy)
    validity = config.drills[policy].validity_s
    mine = [d for d in drills if d.get("policy") == policy]
    out = judge(mine, current, validity, now)
    out["policy"] = policy
    out["scenarios"] = {s: judge([d for d in mine if d.get("scenario") == s], current, validity, now)
                        for s in SCENARIOS}
    return out
