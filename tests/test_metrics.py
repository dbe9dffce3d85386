"""The series `reliad metrics` computes from the catalog, the textfile writer, the [metrics]
configuration and the /metrics server's TLS and basic auth."""

from __future__ import annotations

import base64
import math
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO_ROOT, Reliad, need_program, write_config


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def value(series: dict, name: str, **labels: str) -> float:
    matches = [v for (n, ls), v in series.items() if n == name and set(labels.items()) <= ls]
    assert len(matches) == 1, f"{name} {labels}: {len(matches)} series"
    return matches[0]


def test_series_come_from_the_catalog_after_a_restart(reliad: Reliad, src: Path, tmp_path: Path) -> None:
    """A full succeeds, then an incremental fails because the source is gone. A fresh process
    (as after a service restart) reports both from the catalog, and promtool accepts the output."""
    full = reliad.json("backup", "shop", "--type", "full")
    src.rename(tmp_path / "gone")
    reliad.run("backup", "shop", "--type", "incremental", expect=1)

    text = reliad.run("metrics").stdout
    s = samples(text)
    finished = full["finished_at"]
    from reliad.timeutil import parse_iso

    assert value(s, "reliad_backup_last_success_timestamp_seconds", policy="shop", type="full",
                 target="local") == parse_iso(finished).timestamp()
    assert value(s, "reliad_backup_last_result", policy="shop", type="incremental", result="failed") == 1
    assert value(s, "reliad_backup_last_result", policy="shop", type="incremental", result="ok") == 0
    assert value(s, "reliad_backup_last_result", policy="shop", type="full", result="ok") == 1
    assert value(s, "reliad_backups_total", policy="shop", type="incremental", result="failed") == 1
    assert value(s, "reliad_backups_total", policy="shop", type="full", result="ok") == 1
    assert value(s, "reliad_backup_last_files", policy="shop", type="full") == full["files"]
    assert value(s, "reliad_backup_last_read_bytes", policy="shop", type="full") == full["bytes_read"]
    assert value(s, "reliad_backup_last_stored_bytes", policy="shop", type="full") == full["bytes_stored"]
    assert value(s, "reliad_backup_duration_seconds_count", policy="shop", type="full") == 1
    assert value(s, "reliad_backup_interval_seconds", policy="shop", type="incremental") == 7200
    assert value(s, "reliad_backup_interval_seconds", policy="shop", type="full") == 12 * 3600
    assert value(s, "reliad_backup_interval_seconds", policy="shop", type="differential") == 7 * 86400
    # The full renews the incremental's recovery point too, so its age is finite and small.
    assert 0 <= value(s, "reliad_backup_age_seconds", policy="shop", type="incremental") < 3600
    assert value(s, "reliad_repository_size_bytes", target="local") > full["bytes_stored"]
    assert value(s, "reliad_build_info") == 1
    assert value(s, "reliad_policy_info", policy="shop", target="local", role="primary") == 1
    # Bounded labels only: no path, id or error text anywhere.
    for (_name, labels), _ in s.items():
        for k, v in labels:
            assert "/" not in v and full["id"] not in v, (k, v)

    promtool = need_program("promtool")
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_no_backup_yet_means_infinite_age(reliad: Reliad) -> None:
    data = reliad.json("metrics")
    ages = [d for d in data if d["name"] == "reliad_backup_age_seconds"]
    assert {d["labels"]["type"] for d in ages} == {"full", "differential", "incremental"}
    assert all(d["value"] == "+Inf" for d in ages)
    assert not [d for d in data if d["name"] == "reliad_backup_last_result"]


def test_textfile_is_written_atomically(reliad: Reliad, tmp_path: Path) -> None:
    reliad.run("backup", "shop", "--type", "full")
    out = tmp_path / "textfile"
    out.mkdir()
    reliad.run("metrics", "--textfile", str(out / "reliad.prom"))
    assert [p.name for p in out.iterdir()] == ["reliad.prom"]  # no temporary file left behind
    s = samples((out / "reliad.prom").read_text())
    assert value(s, "reliad_backup_last_result", policy="shop", type="full", result="ok") == 1
    # process_* series are the service's; a cron-written file must not pretend to have them.
    assert not [n for (n, _), _ in s.items() if n.startswith("process_")]

    proc = reliad.run("metrics", "--textfile", str(tmp_path / "missing" / "reliad.prom"), expect=1)
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_verify_runs_and_damage_are_recorded(reliad: Reliad, tmp_path: Path) -> None:
    reliad.run("backup", "shop", "--type", "full")
    reliad.run("verify", "--mode", "crc")
    s = samples(reliad.run("metrics").stdout)
    assert value(s, "reliad_verify_runs_total", policy="shop", target="local", mode="crc", result="ok") == 1
    assert value(s, "reliad_verify_damaged_backups", policy="shop", target="local", mode="crc") == 0
    assert value(s, "reliad_verify_last_checked_backups", policy="shop", target="local", mode="crc") == 1

    pack = next((tmp_path / "repo" / "data").rglob("*.pack"))
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pack.write_bytes(bytes(data))
    reliad.run("verify", "--mode", "crc", expect=3)
    s = samples(reliad.run("metrics").stdout)
    assert value(s, "reliad_verify_runs_total", policy="shop", target="local", mode="crc", result="damage") == 1
    assert value(s, "reliad_verify_damaged_backups", policy="shop", target="local", mode="crc") == 1


def test_lock_waits_are_recorded(reliad: Reliad, tmp_path: Path) -> None:
    from reliad.repository.lock import writer_lock

    reliad.run("backup", "shop", "--type", "full")
    with writer_lock(tmp_path / "repo", "test holds the lock"):
        proc = reliad.run("backup", "shop", "--lock-wait", "0.5", expect=1)
    assert "locked" in proc.stderr

    # Hold the lock until the second backup is seen waiting for it (it has the lock file open).
    lock_file = tmp_path / "repo" / "locks" / "writer"
    cmd = [sys.executable, "-m", "reliad", "backup", "shop", "--lock-wait", "120", "-c", str(reliad.config)]
    with writer_lock(tmp_path / "repo", "test holds the lock"):
        proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while str(lock_file) not in {f.path for f in psutil.Process(proc.pid).open_files()}:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        time.sleep(0.5)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    s = samples(reliad.run("metrics").stdout)
    assert value(s, "reliad_lock_waits_total", target="local", outcome="timeout") == 1
    assert value(s, "reliad_lock_waits_total", target="local", outcome="acquired") == 1
    assert value(s, "reliad_lock_wait_seconds_total", target="local") > 0


@pytest.mark.parametrize(("table", "message"), [
    ('listen = "0.0.0.0:11090"', "can be reached from other hosts"),
    ('listen = "127.0.0.1"', "must be HOST:PORT"),
    ('listen = "127.0.0.1:11090"\nbasic_auth_user = "prom"', "must be given together"),
    ('lisen = "127.0.0.1:11090"', "did you mean 'listen'"),
])
def test_metrics_config_is_checked(tmp_path: Path, src: Path, table: str, message: str) -> None:
    cfg = write_config(tmp_path / "reliad.toml", [str(src)], extra=f"\n[metrics]\n{table}\n")
    proc = Reliad(cfg).run("check-config", expect=2)
    assert message in proc.stderr and proc.stderr.count("\n") == 1


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    openssl = need_program("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def test_server_with_tls_and_basic_auth(reliad: Reliad, tmp_path: Path) -> None:
    """A listener on every address is accepted once TLS and basic auth are set; the endpoint
    then answers only HTTPS requests with the right credentials."""
    from reliad.config import load_config
    from reliad.metrics import build_registry
    from reliad.metrics.server import MetricsServer

    cert, key = _self_signed(tmp_path)
    (tmp_path / "metrics.pass").write_text("s3cret\n")
    cfg = reliad.config
    cfg.write_text(cfg.read_text() + f'\n[metrics]\nlisten = "0.0.0.0:0"\ntls_cert_file = "{cert}"\n'
                   f'tls_key_file = "{key}"\nbasic_auth_user = "prom"\nbasic_auth_password_file = "metrics.pass"\n')
    reliad.run("backup", "shop", "--type", "full")
    config = load_config(cfg)
    server = MetricsServer(config.metrics, build_registry(lambda: config, process=True))
    try:
        url = f"https://127.0.0.1:{server.port}/metrics"
        ctx = ssl.create_default_context(cafile=str(cert))

        def get(user: str, password: str) -> urllib.request.Request:
            req = urllib.request.Request(url)
            req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
            return req

        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(get("prom", "wrong"), context=ctx, timeout=10)
        assert e.value.code == 401
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url, context=ctx, timeout=10)
        assert e.value.code == 401
        body = urllib.request.urlopen(get("prom", "s3cret"), context=ctx, timeout=10).read().decode()
        s = samples(body)
        assert value(s, "reliad_backup_last_result", policy="shop", type="full", result="ok") == 1
        assert math.isfinite(value(s, "process_start_time_seconds"))
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=10)
    finally:
        server.close()


def test_default_listener_is_loopback_on_the_documented_port(reliad: Reliad) -> None:
    """The default listener is loopback-only and plain HTTP, on the documented port."""
    from reliad.config import load_config
    from reliad.config.model import DEFAULT_METRICS_PORT

    m = load_config(reliad.config).metrics
    assert (m.host, m.port, m.tls_cert_file, m.basic_auth_user) == ("127.0.0.1", DEFAULT_METRICS_PORT, None, None)
    assert DEFAULT_METRICS_PORT == 11090


def test_intervals_follow_the_configured_schedules(tmp_path: Path, src: Path) -> None:
    """Alerts compare age with the configured interval: an interval as written (plus its
    jitter), the longest gap of a cron line (a weekday-only line leaves the weekend), nothing for
    a type switched off, and schedules outside their dates are marked inactive."""
    cfg = write_config(tmp_path / "reliad.toml", [str(src)], extra=(
        '\n[policies.shop.schedule]\nincremental = { every = "30m", jitter = "5m" }\ndifferential = "off"\n'
        'full = { cron = "0 3 * * 1-5", start = "2099-01-01", timezone = "UTC" }\n'))
    data = Reliad(cfg).json("metrics")
    got = {(d["name"], d["labels"].get("type")): d["value"] for d in data if d["labels"].get("policy") == "shop"}
    assert got[("reliad_backup_interval_seconds", "incremental")] == 35 * 60
    assert got[("reliad_backup_interval_seconds", "full")] == 72 * 3600
    assert ("reliad_backup_interval_seconds", "differential") not in got
    assert ("reliad_backup_age_seconds", "differential") not in got
    assert got[("reliad_schedule_active", "incremental")] == 1
    assert got[("reliad_schedule_active", "full")] == 0


def test_service_endpoint_survives_a_busy_port_and_moves_on_reload(reliad: Reliad, tmp_path: Path) -> None:
    """`reliad run` keeps running (backups matter more than their metrics) when its metrics port
    is taken, says so in one log line, and serves on the new address after SIGHUP."""
    import signal

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    new_port = free.getsockname()[1]
    free.close()
    off = '\n[policies.shop.schedule]\nfull = "off"\ndifferential = "off"\nincremental = "off"\n'
    base = reliad.config.read_text() + off
    reliad.config.write_text(base + f'\n[metrics]\nlisten = "127.0.0.1:{busy.getsockname()[1]}"\n')
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "reliad", "run", "-c", str(reliad.config)],
                                env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "event=metrics_failed" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert "cannot listen there" in log.read_text()
        reliad.config.write_text(base + f'\n[metrics]\nlisten = "127.0.0.1:{new_port}"\n')
        proc.send_signal(signal.SIGHUP)
        while True:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{new_port}/metrics", timeout=5).read().decode()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        # All three types are off: no interval promised, so no age alert possible.
        assert "reliad_backup_interval_seconds{" not in body
        assert "reliad_build_info" in body and "process_start_time_seconds" in body
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, log.read_text()
    finally:
        busy.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
