"""The ledger's commands as a sysadmin uses them: exit codes, --json, one-sentence errors, and the
audit record every operator edit leaves."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from conftest import Reliad, write_config


@pytest.fixture
def ops(tmp_path: Path, src: Path) -> Reliad:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    cfg = write_config(tmp_path / "reliad.toml", [str(src)], extra=f"""
[services.web]
probes = [{{ type = "tcp", address = "127.0.0.1:{port}" }}, {{ type = "command", command = ["true"], name = "check" }}]

[services.db]
class = "hardware"
probes = [{{ type = "command", command = ["false"] }}]
""")
    cfg.chmod(0o600)
    yield Reliad(cfg)
    listener.close()


def test_probe_prints_each_result_and_fails_when_a_service_is_down(ops: Reliad) -> None:
    out = ops.json("probe", "web")
    assert [(s["service"], s["ok"]) for s in out["services"]] == [("web", True)]
    assert [p["probe"] for p in out["services"][0]["probes"]][1] == "check"
    proc = ops.run("probe", expect=1)
    assert "db: DOWN" in proc.stdout and "FAIL command false" in proc.stdout and "exited with status 1" in proc.stdout
    proc = ops.run("probe", "nope", expect=2)
    assert "no service named 'nope'" in proc.stderr and "Traceback" not in proc.stderr


def test_check_config_lists_the_services(ops: Reliad) -> None:
    out = ops.json("check-config")
    assert out["services"]["web"][1] == "check"
    assert "service db: every 60 s, objective 99.9 %" in ops.run("check-config").stdout


def test_operator_incidents_are_recorded_checked_and_audited(ops: Reliad) -> None:
    inc = ops.json("incident", "add", "--service", "db", "--class", "hardware", "--start", "2026-03-04T02:10:00Z",
                   "--detected", "2026-03-04T03:30:00+01:00")["incident"]
    assert (inc["origin"], inc["restored_at"], inc["detected_at"]) == ("operator", None, "2026-03-04T02:30:00Z")
    assert [i["id"] for i in ops.json("incidents", "--open")["incidents"]] == [inc["id"]]
    upd = ops.json("incident", "update", str(inc["id"]), "--cause", "RAID controller", "--class", "hardware")
    assert upd["incident"]["cause"] == "RAID controller"
    closed = ops.json("incident", "close", str(inc["id"]), "--at", "2026-03-04T05:40:00Z")["incident"]
    assert closed["restored_at"] == "2026-03-04T05:40:00Z"
    assert [e["kind"] for e in closed["timeline"]] == ["opened", "updated", "restored"]
    assert ops.json("incidents", "--open")["incidents"] == []
    assert ops.json("incidents", "--since", "2026-03-04")["incidents"][0]["id"] == inc["id"]
    assert ops.json("incidents", "--since", "today")["incidents"] == []
    for args, message in [
        (("incident", "add", "--service", "nope", "--class", "software", "--start", "now"), "no service 'nope'"),
        (("incident", "add", "--service", "db", "--class", "software", "--start", "yesterday"),
         "--start 'yesterday' is not a time"),
        (("incident", "add", "--service", "db", "--class", "software", "--start", "2026-03-04T02:00:00Z",
          "--end", "2026-03-04T01:00:00Z"), "restored time 2026-03-04T01:00:00Z is before the incident's start"),
        (("incident", "update", "99", "--cause", "x"), "there is no incident 99"),
        (("incident", "close", str(inc["id"])), "is already closed"),
        (("maintenance", "add", "--service", "web", "--start", "2026-03-04T02:00:00Z", "--end", "2026-03-04T01:00:00Z",
          "--reason", "x"), "must be after --start"),
    ]:
        proc = ops.run(*args, check=False)
        assert proc.returncode in (1, 2) and message in proc.stderr and "Traceback" not in proc.stderr, (args, proc)
    done = [(r["command"], r["outcome"], r["args"].get("incident_id")) for r in ops.json("audit", "show")
            if r["command"].startswith("incident ")]
    assert done[:3] == [("incident add", "ok", None), ("incident update", "ok", inc["id"]),
                        ("incident close", "ok", inc["id"])]
    assert ("incident close", "failed", inc["id"]) in done  # refused edits are recorded too


def test_maintenance_windows_are_listed(ops: Reliad) -> None:
    ops.run("maintenance", "add", "--service", "*", "--start", "2026-03-01T00:00:00Z", "--end", "2026-03-01T01:00:00Z",
            "--reason", "kernel update")
    (w,) = ops.json("maintenance", "list", "--service", "web")["maintenance"]
    assert (w["service"], w["reason"]) == ("*", "kernel update")


def test_stats_with_nothing_measured_is_not_a_pass(ops: Reliad) -> None:
    proc = ops.run("stats", "--period", "2026-03", check=False)
    assert proc.returncode == 1 and "NOT_ENOUGH_DATA" in proc.stdout
    s = json.loads(ops.run("stats", "--period", "2026-03", "--json", check=False).stdout)
    assert s["period"] == {"start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z", "seconds": 2678400.0}
    assert s["verdict"] == "NOT_ENOUGH_DATA" and {a["service"] for a in s["availability"]["services"]} == {"web", "db"}
    proc = ops.run("stats", "--period", "March", expect=2)
    assert "--period 'March' is not a period" in proc.stderr
