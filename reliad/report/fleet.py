"""The platform report: one month of every host that shares an offsite bucket.

Each host's replication leaves its month summaries (the report JSON, `HOST-YYYY-MM.json`) at
`reliad-fleet/HOST/` at the top of the bucket, outside any repository prefix, so that a host
with none of the others' keys, or a workstation with only read access to the bucket, can read
them all. The summaries hold figures, service and policy names and verdicts; no backed-up data.

The platform's verdict on each clause is the worst of its hosts' (the reason names the host);
the detail sections list every host's rows, each named HOST/... . Nothing is recomputed: each
figure is the one its host's report holds.
"""

from __future__ import annotations

import json
from typing import Any

from reliad.config import Config, TargetConfig
from reliad.errors import ReliadError
from reliad.report import model as report_model
from reliad.report.period import Month


def read_summaries(config: Config, target: TargetConfig, month: Month) -> list[dict[str, Any]]:
    """Every host's summary of `month` in the target's bucket, by host name."""
    from reliad.targets import FLEET_PREFIX, fleet_storage

    storage = fleet_storage(target)
    try:
        names = sorted(o.name for o in storage.list(FLEET_PREFIX) if o.name.endswith(f"-{month.label}.json"))
        out = []
        for name in names:
            try:
                m = json.loads(storage.get(name))
            except (ValueError, UnicodeDecodeError):
                raise ReliadError(f"{storage.location}/{name}: not a report summary (damaged JSON); remove it or "
                                  "let its host's next replication write it again") from None
            if not isinstance(m, dict) or m.get("version") != report_model.MODEL_VERSION or "summary" not in m:
                raise ReliadError(f"{storage.location}/{name}: a report summary this reliad cannot read "
                                  f"(version {m.get('version') if isinstance(m, dict) else None}); upgrade reliad")
            out.append(m)
    finally:
        storage.close()
    return sorted(out, key=lambda m: m["host"])


def _prefixed(host: str, rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [{**r, key: f"{host}/{r.get(key)}"} for r in rows]


def merged_ledger(hosts: list[dict[str, Any]]) -> dict[str, Any]:
    """The hosts' ledger lists side by side (services and incidents named HOST/...), for the
    detail sections; the figures that only exist per host (MTBF, daily rate, utilisation) stay
    in each host's summary and are shown per host."""
    services = [s for h in hosts for s in _prefixed(h["host"], (h["ledger"].get("availability") or {})
                                                       .get("services") or [], "service")]
    mtrs: dict[str, Any] = {}
    for h in hosts:
        for cls, r in (h["ledger"].get("mtrs") or {}).items():
            c = mtrs.setdefault(cls, {"incidents": [], "open": []})
            c["incidents"] += _prefixed(h["host"], r.get("incidents") or [], "service")
            c["open"] += _prefixed(h["host"], r.get("open") or [], "service")
    return {"availability": {"services": services}, "mtrs": mtrs}


def platform_summary(hosts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per clause, the row of the host with the worst verdict, its reason naming the host."""
    rows = []
    for i, first in enumerate(hosts[0]["summary"]):
        worst = max(hosts, key=lambda h: report_model.SEVERITY[h["summary"][i]["verdict"]])
        r = worst["summary"][i]
        rows.append({**r, "topic": first["topic"], "clause": first["clause"],
                     "actual": report_model.reason("fleet.host", host=worst["host"], message=r["actual"])
                     if r["actual"] else None,
                     "reason": report_model.reason("fleet.host", host=worst["host"], message=r["reason"])})
    return rows


def assemble(hosts: list[dict[str, Any]], month: Month, until: str) -> dict[str, Any]:
    if not hosts:
        raise ReliadError(f"no host has a summary of {month.label} in the bucket yet; each host's replication "
                          "sends it after the host's daemon wrote the month's report (on the 1st)")
    m: dict[str, Any] = {
        "version": report_model.MODEL_VERSION, "host": ", ".join(h["host"] for h in hosts), "month": month.label,
        "timezone": month.tz_name, "period": {"start": month.start.isoformat(), "end": month.end.isoformat(),
                                               "until": until},
        "ledger": merged_ledger(hosts), "daily": [], "trend": [],
        "backups": {"rows": [{**r, "policy": f"{h['host']}/{r['policy']}"} for h in hosts for r in h["backups"]["rows"]],
                    "attempts": sum(h["backups"]["attempts"] for h in hosts),
                    "verification": _verification(hosts)},
        "drills": [{**d, "policy": f"{h['host']}/{d['policy']}"} for h in hosts for d in h["drills"]],
        "audit": {"records": sum(h["audit"]["records"] for h in hosts), "outcomes": _outcomes(hosts),
                  "chain_intact": all(h["audit"]["chain_intact"] for h in hosts), "problems": []},
        "hosts": [{"host": h["host"], "verdict": h["verdict"], "coverage": h["coverage"], "summary": h["summary"],
                   "ledger": {k: h["ledger"].get(k) for k in ("mtbf", "daily_failure_rate", "utilisation")}}
                  for h in hosts],
    }
    m["summary"] = platform_summary(hosts)
    m["coverage"] = min((h["coverage"] for h in hosts if h["coverage"] is not None), default=None)
    m["gaps"] = [{"host": h["host"], **g} for h in hosts for g in h["gaps"]]
    m["empty"] = all(h["empty"] for h in hosts)
    m["verdict"] = report_model.worst([r["verdict"] for r in m["summary"]])
    return m


def _verification(hosts: list[dict[str, Any]]) -> dict[str, Any]:
    vs = [h["backups"]["verification"] for h in hosts]
    return {"modes": [{**x, "mode": f"{h['host']}/{x['mode']}"} for h in hosts for x in h["backups"]["verification"]
                      ["modes"]],
            "runs": sum(v["runs"] for v in vs), "backups": sum(v["backups"] for v in vs),
            "bytes": sum(v["bytes"] for v in vs), "damaged_backups": sum(v["damaged_backups"] for v in vs),
            "damage": [d for v in vs for d in v["damage"]]}


def _outcomes(hosts: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for h in hosts:
        for k, n in h["audit"]["outcomes"].items():
            out[k] = out.get(k, 0) + n
    return dict(sorted(out.items()))


def build(config: Config, target: TargetConfig, month: Month) -> dict[str, Any]:
    hosts = read_summaries(config, target, month)
    until = max((h["period"]["until"] for h in hosts), default=month.end.isoformat())
    return assemble(hosts, month, until)
