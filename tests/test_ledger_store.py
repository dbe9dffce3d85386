"""The ledger database: drills for issue 14, schema version, WAL, and writes that are kept
whole or not at all (kill -9, a full disk)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reliad.errors import ReliadError
from reliad.ledger.store import SCHEMA_VERSION, Ledger, LedgerWriteError

REPO_ROOT = Path(__file__).resolve().parent.parent


def drill(n: int, policy: str = "shop", started: str = "2026-03-01T10:00:00Z", verdict: str = "PASS") -> dict:
    return {"id": f"d{n}", "policy": policy, "scenario": "general", "backup_id": f"b{n}", "started_at": started,
            "finished_at": started.replace("10:00", "10:20"), "verdict": verdict, "recovery_time_s": 1200.5,
            "objective_s": 3600, "completeness": 1.0, "phases": [{"name": "restore", "seconds": 1000}],
            "reasons": []}


def test_drills_round_trip_oldest_first_and_filtered(tmp_path: Path) -> None:
    with Ledger(tmp_path) as led:
        led.add_drill(drill(2, started="2026-03-02T10:00:00Z"))
        led.add_drill(drill(1, started="2026-03-01T10:00:00Z", verdict="FAIL"))
        led.add_drill(drill(3, policy="db", started="2026-04-01T10:00:00Z", verdict="NOT_VERIFIED"))
    with Ledger(tmp_path) as led:  # reopened: the rows were committed
        assert [d["id"] for d in led.drills()] == ["d1", "d2", "d3"]
        assert led.drills()[0] == drill(1, started="2026-03-01T10:00:00Z", verdict="FAIL")
        assert [d["id"] for d in led.drills(policy="shop")] == ["d1", "d2"]
        assert [d["id"] for d in led.drills(since="2026-03-02T00:00:00Z")] == ["d2", "d3"]
        assert [d["id"] for d in led.drills(until="2026-03-02T10:00:00Z")] == ["d1"]
        assert [d["id"] for d in led.drills(since=datetime(2026, 3, 2, tzinfo=UTC),
                                            until=datetime(2026, 4, 1, tzinfo=UTC))] == ["d2"]


def test_a_drill_added_twice_is_kept_once(tmp_path: Path) -> None:
    with Ledger(tmp_path) as led:
        led.add_drill(drill(1))
        led.add_drill(drill(1))
        assert len(led.drills()) == 1


def test_a_drill_record_without_its_required_keys_is_refused(tmp_path: Path) -> None:
    with Ledger(tmp_path) as led:
        rec = drill(1)
        del rec["verdict"]
        with pytest.raises(ValueError, match="verdict"):
            led.add_drill(rec)
        with pytest.raises(ValueError, match="OK"):
            led.add_drill({**drill(2), "verdict": "OK"})
        assert led.drills() == []


def test_ledger_is_wal_with_a_schema_version(tmp_path: Path) -> None:
    with Ledger(tmp_path) as led:
        assert led.schema_version == SCHEMA_VERSION
        assert led.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (tmp_path / "ledger.db").exists()


def test_a_ledger_from_a_newer_reliad_is_refused(tmp_path: Path) -> None:
    Ledger(tmp_path).close()
    db = sqlite3.connect(tmp_path / "ledger.db")
    db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(ReliadError, match="schema version 99"):
        Ledger(tmp_path)


def test_a_full_disk_keeps_nothing_of_the_failed_write_and_says_so(tmp_path: Path) -> None:
    """SQLite's own full-disk condition (SQLITE_FULL via max_page_count): the write is refused as a
    whole, the ledger stays readable, and the same write succeeds once there is room again."""
    led = Ledger(tmp_path)
    led.add_drill(drill(1))
    pages = led.db.execute("PRAGMA page_count").fetchone()[0]
    led.db.execute(f"PRAGMA max_page_count={pages}")
    big = {**drill(2), "reasons": ["x" * 200_000]}
    with pytest.raises(LedgerWriteError, match=r"ledger\.db: a ledger write failed and was not kept"):
        led.add_drill(big)
    assert [d["id"] for d in led.drills()] == ["d1"]
    led.db.execute("PRAGMA max_page_count=1073741823")
    led.add_drill(big)
    assert [d["id"] for d in led.drills()] == ["d1", "d2"]
    led.close()


WRITER = """
import sys, os
from pathlib import Path
from reliad.ledger.store import Ledger
led = Ledger(Path(sys.argv[1]))
n = 0
while True:
    led.add_drill({"id": f"d{n}", "policy": "p", "scenario": "s", "backup_id": "b",
                   "started_at": f"2026-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}Z",
                   "finished_at": "2026-01-01T01:00:00Z", "verdict": "PASS", "recovery_time_s": 1, "objective_s": 2,
                   "completeness": 1.0, "phases": [], "reasons": []})
    n += 1
    if n == 50:
        print("written", flush=True)
"""


def test_ledger_survives_kill_9_of_a_writer(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "written"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with Ledger(tmp_path) as led:
        assert led.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = {d["id"] for d in led.drills()}
        assert len(ids) >= 50
        assert ids == {f"d{n}" for n in range(len(ids))}  # every committed drill, in order, none half-written


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_rounds_count_per_minute_and_hour_and_extend_the_measured_span(tmp_path: Path) -> None:
    with Ledger(tmp_path) as led:
        run = led.run_started("h", 1, at("2026-03-01T10:00:00Z"))
        led.record_round(run_id=run, service="web", at=at("2026-03-01T10:00:05Z"), ok=True, duration_s=0.1)
        led.record_round(run_id=run, service="web", at=at("2026-03-01T10:00:35Z"), ok=False, duration_s=2.5,
                         probe="http", error="connection refused")
        led.record_round(run_id=run, service="web", at=at("2026-03-01T10:01:05Z"), ok=False, duration_s=0.2,
                         maintenance=True)
        assert [(m["minute"], m["checks"], m["failures"], m["maintenance"], m["error"]) for m in led.probe_minutes()] == [
            ("2026-03-01T10:00", 2, 1, 0, "connection refused"), ("2026-03-01T10:01", 0, 0, 1, None)]
        assert led.daily_checks("2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z") == {"2026-03-01": (2, 1)}
        assert led.daily_checks("2026-03-01T00:00:00Z", "2026-03-01T10:00:01Z") == {"2026-03-01": (2, 1)}
        assert led.daily_checks("2026-03-01T00:00:00Z", "2026-03-01T10:00:00Z") == {}
        assert led.coverage("web") == [{"service": "web", "start": "2026-03-01T10:00:05Z", "end": "2026-03-01T10:01:05Z"}]
        assert led.runs()[0]["seen_at"] == "2026-03-01T10:01:05Z"
        assert led.service_names() == {"web"}


def test_retention_keeps_minutes_40_days_and_hours_25_months(tmp_path: Path) -> None:
    with Ledger(tmp_path) as led:
        run = led.run_started("h", 1, at("2024-01-01T00:00:00Z"))
        for t in ("2024-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z"):
            led.record_round(run_id=run, service="web", at=at(t), ok=True, duration_s=0.1)
            led.record_utilisation(at(t), {"cpu": 1, "memory": 2, "disk": 3, "network": 4})
        dropped = led.apply_retention(at("2026-03-15T00:00:00Z"))
        assert dropped == {"probe_minutes": 2, "probe_hours": 1, "utilisation": 1}
        assert [m["minute"] for m in led.probe_minutes()] == ["2026-03-01T00:00"]
        assert set(led.daily_checks("2020-01-01T00:00:00Z", "2030-01-01T00:00:00Z")) == {"2026-01-01", "2026-03-01"}


def test_incidents_keep_their_timeline(tmp_path: Path) -> None:
    with Ledger(tmp_path) as led:
        iid = led.open_incident(service="web", cls="software", start=at("2026-03-01T10:00:00Z"), origin="probe",
                                at=at("2026-03-01T10:02:00Z"), probe="http", error="503")
        assert [i["id"] for i in led.incidents(open_only=True)] == [iid]
        led.update_incident(iid, at("2026-03-01T10:20:00Z"), kind="restored", restored_at=at("2026-03-01T10:15:00Z"))
        inc = led.update_incident(iid, at("2026-03-02T09:00:00Z"), cause="bad deploy", **{"class": "software"})
        assert (inc["restored_at"], inc["cause"]) == ("2026-03-01T10:15:00Z", "bad deploy")
        assert [e["kind"] for e in inc["timeline"]] == ["opened", "restored", "updated"]
        assert led.incidents(open_only=True) == []
        assert led.incidents(since="2026-03-01T11:00:00Z") == []
        assert [i["id"] for i in led.incidents(since="2026-03-01T10:10:00Z")] == [iid]
        with pytest.raises(ValueError, match="colour"):
            led.update_incident(iid, at("2026-03-02T09:00:00Z"), colour="red")
        with pytest.raises(KeyError):
            led.update_incident(99, at("2026-03-02T09:00:00Z"), cause="x")


def test_maintenance_for_all_services_applies_to_each(tmp_path: Path) -> None:
    with Ledger(tmp_path) as led:
        led.add_maintenance(service="*", start="2026-03-01T00:00:00Z", end="2026-03-01T01:00:00Z", reason="kernel",
                            at=at("2026-02-28T00:00:00Z"))
        led.add_maintenance(service="db", start="2026-03-02T00:00:00Z", end="2026-03-02T01:00:00Z", reason="vacuum",
                            at=at("2026-02-28T00:00:00Z"))
        assert [m["reason"] for m in led.maintenance("web")] == ["kernel"]
        assert [m["reason"] for m in led.maintenance("db")] == ["kernel", "vacuum"]
        assert [m["reason"] for m in led.maintenance("db", since="2026-03-01T01:00:00Z")] == ["vacuum"]


def test_a_really_full_file_system_refuses_the_write_whole_and_recovers(tmp_path: Path) -> None:
    """The state directory on a 1 MiB tmpfs, filled up: the write that finds no space fails as a whole
    (the ledger stays consistent and keeps every earlier drill), and succeeds once space is freed."""
    from conftest import REQUIRE_ALL
    if os.geteuid() != 0:
        if REQUIRE_ALL:
            pytest.fail("mounting a small tmpfs needs root, and RELIAD_REQUIRE_ALL=1 forbids skipping")
        pytest.skip("mounting a small tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mnt)], check=True)
    try:
        led = Ledger(mnt)
        (mnt / "filler").write_bytes(b"\0" * (400 << 10))
        failed = None
        for n in range(1000):
            try:
                led.add_drill({**drill(n), "reasons": [os.urandom(2000).hex()]})
            except LedgerWriteError as e:
                failed = (n, str(e))
                break
        assert failed is not None, "the file system never filled up"
        n, message = failed
        assert "a ledger write failed and was not kept" in message
        kept = [d["id"] for d in led.drills()]
        assert kept == [f"d{i}" for i in range(n)]
        (mnt / "filler").unlink()
        led.add_drill({**drill(n), "reasons": ["retried"]})
        assert [d["id"] for d in led.drills()][-1] == f"d{n}"
        assert led.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        led.close()
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_utilisation_samples_fold_into_hourly_sums_and_peaks(tmp_path: Path) -> None:
    from reliad.ledger.utilisation import Sampler

    sample = Sampler().sample()  # psutil on this machine
    assert set(sample) == {"cpu", "memory", "disk", "network"}
    assert all(0 <= sample[k] <= 100 for k in ("cpu", "memory", "disk")) and sample["network"] >= 0
    assert sample["memory"] > 0 and sample["disk"] > 0
    with Ledger(tmp_path) as led:
        led.record_utilisation(at("2026-03-01T10:00:00Z"), {"cpu": 10, "memory": 50, "disk": 30, "network": 100})
        led.record_utilisation(at("2026-03-01T10:59:00Z"), {"cpu": 90, "memory": 40, "disk": 31, "network": 300})
        (h,) = led.utilisation("2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z")
        assert (h["samples"], h["cpu_sum"], h["cpu_max"], h["memory_max"], h["network_sum"]) == (2, 100, 90, 50, 400)


def test_a_garbled_or_truncated_ledger_is_one_sentence_with_what_to_do(tmp_path: Path, reliad) -> None:
    """A ledger damaged in the middle (a bad sector, a half-copied file) is named on open by the
    commands that read it, with what to do, never a traceback half way through a listing."""
    with Ledger(tmp_path / "state") as led:
        for i in range(300):
            led.add_drill({"id": f"d{i:04}", "policy": "shop", "scenario": "general", "backup_id": "b",
                           "started_at": "2026-03-01T00:00:00Z", "finished_at": "2026-03-01T00:01:00Z",
                           "verdict": "PASS", "recovery_time_s": 1.0, "objective_s": 3600, "completeness": 1.0,
                           "phases": [], "reasons": ["x" * 400]})
    path = tmp_path / "state" / "ledger.db"
    with open(path, "r+b") as fh:
        fh.seek(path.stat().st_size // 2)
        fh.write(b"\xff" * 3 * 4096)
    for args in (("stats",), ("drills",), ("incidents",)):
        proc = reliad.run(*args, expect=1)
        assert "Traceback" not in proc.stderr
        assert f"the ledger {path} is damaged" in proc.stderr and "reliad ledger restore" in proc.stderr
    path.write_bytes(path.read_bytes()[:5000])
    proc = reliad.run("stats", expect=1)
    assert "is damaged" in proc.stderr and "Traceback" not in proc.stderr
