"""The daemon's ledger loop against real servers: rounds on their interval, an outage opening and
closing one incident, a hung service not holding up another, and a full disk that delays writes
but loses none."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import pytest
from ledger_support import Ok

from reliad.config.services import ProbeConfig, ServiceConfig
from reliad.ledger.watch import Watcher


def wait_for(cond: Callable[[], object], what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)



def service(name: str, ptype: str, interval: float = 0.2, timeout: float = 2.0, **options) -> ServiceConfig:
    return ServiceConfig(name=name, interval=interval, failures_to_open=2, successes_to_close=2,
                         probes=(ProbeConfig(ptype, f"{ptype} {name}", timeout, "software", MappingProxyType(options)),))


def rounds(w: Watcher, name: str) -> int:
    return sum(m["checks"] for m in w.ledger.probe_minutes(name))


def test_an_outage_opens_and_closes_one_incident(tmp_path: Path) -> None:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    port = srv.server_address[1]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    w = Watcher(tmp_path, {"web": service("web", "http", url=f"http://127.0.0.1:{port}/")})
    w.start()
    try:
        wait_for(lambda: rounds(w, "web") >= 3, "three good rounds")
        srv.shutdown()
        srv.server_close()
        wait_for(lambda: w.ledger.incidents(open_only=True), "the incident to open")
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Ok)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        wait_for(lambda: w.ledger.incidents() and not w.ledger.incidents(open_only=True), "the incident to close")
    finally:
        w.stop()
        srv.shutdown()
        srv.server_close()
    (inc,) = w.ledger.incidents()
    assert inc["probe"] == "http web" and "refused" in inc["error"].lower()
    assert inc["start"] <= inc["detected_at"] <= inc["restored_at"]
    (run,) = w.ledger.runs()
    assert run["stopped_at"] is not None
    (cov,) = w.ledger.coverage("web")
    assert cov["start"] <= inc["start"] and inc["restored_at"] <= cov["end"]


def test_a_hung_service_does_not_hold_up_another(tmp_path: Path) -> None:
    services = {"hung": service("hung", "command", interval=60, timeout=30, command=["sleep", "60"]),
                "fast": service("fast", "command", command=["true"])}
    w = Watcher(tmp_path, services)
    w.start()
    try:
        wait_for(lambda: rounds(w, "fast") >= 5, "five rounds of the fast service")
        assert rounds(w, "hung") == 0  # its one round is still waiting for its probe
    finally:
        w.stop()


class MinuteClock:
    """Each reading is a minute after the last, so that every round needs a new row (and, now and
    then, a new page of the database file)."""

    def __init__(self) -> None:
        self.n = 0
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            self.n += 1
            return datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=self.n)


def test_a_full_disk_delays_ledger_writes_but_loses_none(tmp_path: Path) -> None:
    w = Watcher(tmp_path, {"fast": service("fast", "command", interval=0.05, command=["true"])}, clock=MinuteClock())
    w.start()
    try:
        wait_for(lambda: rounds(w, "fast") >= 2, "two rounds")
        with w.ledger._lock:
            pages = w.ledger.db.execute("PRAGMA page_count").fetchone()[0]
            w.ledger.db.execute(f"PRAGMA max_page_count={pages}")
        wait_for(lambda: w.write_failures > 0 and len(w._pending) >= 5, "failed writes to be held")
        held = len(w._pending)
        before = rounds(w, "fast")
        with w.ledger._lock:
            w.ledger.db.execute("PRAGMA max_page_count=1073741823")
        wait_for(lambda: not w._pending and rounds(w, "fast") >= before + held, "the held writes to land")
    finally:
        w.stop()
