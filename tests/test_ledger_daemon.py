"""Point 8 of issue 13 end to end: `reliad run` probing a real web server every second through
an outage, a restart of the daemon (a coverage gap), a maintenance window and an operator-added
hardware incident, all checked through `reliad incidents --json` and `reliad stats --json`."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import Reliad
from daemon_support import Daemon, wait_for
from ledger_support import Web


def ledger_rows(tmp: Path, sql: str) -> list[tuple]:
    db = tmp / "state" / "ledger.db"
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def checks(tmp: Path, column: str = "checks") -> int:
    rows = ledger_rows(tmp, f"SELECT sum({column}) FROM probe_minutes WHERE service='web'")
    return rows[0][0] or 0 if rows else 0


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_outage_restart_maintenance_and_an_operator_incident(tmp_path: Path) -> None:
    web = Web()
    cfg = tmp_path / "reliad.toml"
    cfg.write_text(f"""state_dir = "state"

[metrics]
enabled = false

[services.web]
interval = "1s"
failures_to_open = 2
successes_to_close = 2
objective = 99.9
probes = [{{ type = "http", url = "http://127.0.0.1:{web.port}/", contains = "shop ok", timeout = "1s" }}]
""")
    cfg.chmod(0o600)
    reliad = Reliad(cfg)
    daemon = Daemon(tmp_path, cfg)
    try:
        # an outage of a few seconds: one software incident, opened and closed by the probes
        wait_for("three good rounds", lambda: checks(tmp_path) >= 3, proc=daemon)
        web.stop()
        wait_for("the incident to open", lambda: reliad.json("incidents", "--open")["incidents"], proc=daemon)
        web.start()
        wait_for("the incident to close", lambda: not reliad.json("incidents", "--open")["incidents"], proc=daemon)
        before_stop = checks(tmp_path)
        assert daemon.stop() == 0
        # the daemon is away: unmeasured time, in which an operator records a hardware outage
        gap_from = datetime.now(UTC).replace(microsecond=0)
        time.sleep(4)
        daemon = Daemon(tmp_path, cfg)
        wait_for("rounds of the second run", lambda: checks(tmp_path) >= before_stop + 2, proc=daemon)
        gap_to = ts(ledger_rows(tmp_path, "SELECT start FROM coverage ORDER BY run_id DESC LIMIT 1")[0][0])
        hw = reliad.json("incident", "add", "--service", "web", "--class", "hardware", "--start",
                         iso(gap_from + timedelta(seconds=1)), "--end", iso(gap_from + timedelta(seconds=3)),
                         "--cause", "power supply")["incident"]
        # planned work: the server is down inside a maintenance window, and no incident opens
        start = datetime.now(UTC).replace(microsecond=0)
        end = start + timedelta(seconds=30)
        reliad.run("maintenance", "add", "--service", "web", "--start", iso(start), "--end", iso(end),
                   "--reason", "upgrade")
        web.stop()
        wait_for("three failed rounds in the window", lambda: checks(tmp_path, "maintenance") >= 3, proc=daemon)
        web.start()
        assert datetime.now(UTC) < end, "the machine was too slow to end the outage inside the window"
        wait_for("the window to pass", lambda: datetime.now(UTC) > end + timedelta(seconds=2), proc=daemon)
        wait_for("a good round after the window",
                 lambda: ledger_rows(tmp_path, f"SELECT 1 FROM probe_minutes WHERE minute >= '{iso(end)[:16]}' "
                                               "AND checks > 0"), proc=daemon)
    finally:
        daemon.stop()
        web.stop()

    incidents = reliad.json("incidents")["incidents"]
    assert [(i["class"], i["origin"]) for i in incidents] == [("software", "probe"), ("hardware", "operator")]
    sw = incidents[0]
    assert sw["probe"] == f"http http://127.0.0.1:{web.port}/" and "refused" in sw["error"].lower()
    assert sw["start"] < sw["detected_at"] <= sw["restored_at"]  # started at the first failed round
    assert [e["kind"] for e in sw["timeline"]] == ["opened", "restored"]
    assert incidents[1]["cause"] == "power supply" and incidents[1]["id"] == hw["id"]

    s = reliad.run("stats", "--period", "1d", "--json", check=False)
    assert s.returncode in (1, 3), s.stderr  # a day barely measured: not a pass
    stats = json.loads(s.stdout)
    (a,) = stats["availability"]["services"]
    sw_s = (ts(sw["restored_at"]) - ts(sw["start"])).total_seconds()
    assert a["down_s"] == sw_s + 2  # the probes' outage and the operator's 2 s; nothing in the window
    assert a["maintenance_s"] == 30 and a["maintenance"][0]["reason"] == "upgrade"
    assert a["unmeasured_s"] >= (gap_to - gap_from).total_seconds() - 2  # the gap is neither up nor down
    assert 0 < a["availability"] < 1 and a["verdict"] == "NOT_ENOUGH_DATA"
    assert [i["duration_s"] for i in stats["mtrs"]["software"]["incidents"]] == [sw_s]
    assert [i["duration_s"] for i in stats["mtrs"]["hardware"]["incidents"]] == [2]
    assert stats["mtbf"]["platform"]["failures"] == 2
    today = stats["daily_failure_rate"]["days"][-1]
    assert today["failed"] >= 2 and today["checks"] > today["failed"]
