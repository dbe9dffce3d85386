"""Each probe type against the real thing: HTTP(S) servers, a TCP listener and commands the test
starts, stops and breaks; PostgreSQL and MariaDB on this machine; md arrays in mdstat files."""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import need_program

from reliad.config.services import PROBE_TYPES
from reliad.ledger.probes import TYPES, run_check
from reliad.ledger.probes.raid import parse_mdstat


def probe(ptype: str, timeout: float = 5, **options):
    return run_check(TYPES[ptype], ptype, options, timeout)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/health")
            self.end_headers()
            return
        code, body = {"/health": (200, b"shop ok"), "/bad": (503, b"maintenance")}.get(self.path, (404, b"?"))
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[http.server.ThreadingHTTPServer]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def url(srv: http.server.HTTPServer, path: str, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{srv.server_address[1]}{path}"


def test_http_status_and_body(web) -> None:
    assert probe("http", url=url(web, "/health")).ok
    assert probe("http", url=url(web, "/health"), contains="shop ok").ok
    r = probe("http", url=url(web, "/health"), contains="checkout")
    assert (r.ok, r.error) == (False, f"GET {url(web, '/health')}: status 200 but the body lacks 'checkout'")
    r = probe("http", url=url(web, "/bad"))
    assert not r.ok and "status 503, expected 200" in r.error
    assert probe("http", url=url(web, "/bad"), status=[200, 503]).ok
    assert not probe("http", url=url(web, "/moved")).ok  # the URL itself must answer, not where it points
    assert probe("http", url=url(web, "/moved"), status=302).ok


def test_http_server_stopped(web) -> None:
    address = url(web, "/health")
    web.shutdown()
    web.server_close()
    r = probe("http", url=address)
    assert not r.ok and "refused" in r.error.lower()


def test_http_server_that_never_answers_fails_within_its_timeout() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()  # accepts connections (the backlog) but never says anything
        r = probe("http", timeout=0.5, url=f"http://127.0.0.1:{s.getsockname()[1]}/")
    assert not r.ok and "timed out" in r.error


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_https_verifies_certificates_unless_told_not_to(web, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    web.socket = ctx.wrap_socket(web.socket, server_side=True)
    address = url(web, "/health", "https")
    r = probe("http", url=address)
    assert not r.ok and "CERTIFICATE_VERIFY_FAILED" in r.error
    assert probe("http", url=address, ca_file=str(cert)).ok
    assert probe("http", url=address, tls_verify=False).ok


def test_tcp_listener_up_and_down() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    address = f"127.0.0.1:{s.getsockname()[1]}"
    assert probe("tcp", address=address).ok
    s.close()
    r = probe("tcp", address=address)
    assert not r.ok and r.error.startswith(f"connect to {address}:")


def test_command_exit_status_and_timeout(tmp_path: Path) -> None:
    assert probe("command", command=["true"]).ok
    script = tmp_path / "health.sh"
    script.write_text("#!/bin/sh\necho 'queue is stuck' >&2\nexit 4\n")
    script.chmod(0o755)
    r = probe("command", command=str(script))
    assert (r.ok, r.error) == (False, f"{script} exited with status 4: queue is stuck")
    r = probe("command", timeout=0.3, command="sh -c 'sleep 30'")
    assert (r.ok, r.error) == (False, "sh did not finish within 0.3 s")
    r = probe("command", command=[str(tmp_path / "missing")])
    assert not r.ok and "cannot run" in r.error


def test_systemd_unit_not_active_is_a_failure() -> None:
    # no systemd runs on these machines: the probe must say the unit is not active, never OK
    r = probe("systemd", unit="reliad-test-no-such.service")
    assert not r.ok and "reliad-test-no-such.service" in r.error


def test_postgres_select_1() -> None:
    need_program("psql")
    assert probe("postgres", host="127.0.0.1", port=5432, user="postgres").ok
    r = probe("postgres", host="127.0.0.1", port=5432, user="postgres", database="reliad_no_such_db")
    assert not r.ok and "reliad_no_such_db" in r.error
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = probe("postgres", host="127.0.0.1", port=port, user="postgres")
    assert not r.ok and "refused" in r.error.lower()


def test_mariadb_select_1_with_a_password_file(tmp_path: Path) -> None:
    need_program("mariadb")
    assert probe("mariadb", host="127.0.0.1", port=3306, user="root").ok
    pw = tmp_path / "pw"
    pw.write_text("wrong-password\n")
    r = probe("mariadb", host="127.0.0.1", port=3306, user="reliad_no_such_user", password_file=str(pw))
    assert not r.ok and "denied" in r.error.lower() and "wrong-password" not in r.error


def test_disk_thresholds(tmp_path: Path) -> None:
    assert probe("disk", path=str(tmp_path), min_free_percent=0, min_free_inodes_percent=0).ok
    r = probe("disk", path=str(tmp_path), min_free_percent=100.5)
    assert not r.ok and "less than 100.5 %" in r.error
    assert not probe("disk", path=str(tmp_path / "missing")).ok
    assert PROBE_TYPES["disk"].failure_class == PROBE_TYPES["raid"].failure_class == "hardware"


HEALTHY = """Personalities : [raid1] [raid6] [raid5] [raid4]
md1 : active raid5 sdd1[3] sdc1[1] sdb1[0]
      2093056 blocks super 1.2 level 5, 512k chunk, algorithm 2 [3/3] [UUU]

md0 : active raid1 sdb2[1] sda2[0]
      1046528 blocks super 1.2 [2/2] [UU]
      bitmap: 0/1 pages [0KB], 65536KB chunk

unused devices: <none>
"""
DEGRADED = """Personalities : [raid1]
md0 : active raid1 sdb2[1](F) sda2[0]
      1046528 blocks super 1.2 [2/1] [U_]

unused devices: <none>
"""
RESYNC = """Personalities : [raid1]
md0 : active raid1 sdb2[1] sda2[0]
      1046528 blocks super 1.2 [2/2] [UU]
      [=>...................]  resync =  8.3% (87680/1046528) finish=0.7min speed=21920K/sec

unused devices: <none>
"""


@pytest.mark.parametrize(("text", "error"), [
    (DEGRADED, "md0 is degraded (1 of 2 members up, 1 faulty)"),
    (RESYNC, "md0 is in resync (8.3% done)"),
    ("Personalities : [raid1]\nmd0 : inactive sdb2[1](S)\n      1046528 blocks\n", "md0 is inactive"),
    ("Personalities :\nunused devices: <none>\n", "no md arrays to check"),
])
def test_raid_failures(tmp_path: Path, text: str, error: str) -> None:
    mdstat = tmp_path / "mdstat"
    mdstat.write_text(text)
    r = probe("raid", mdstat=str(mdstat))
    assert (r.ok, r.error) == (False, f"{mdstat}: {error}")


def test_raid_healthy_and_named_arrays(tmp_path: Path) -> None:
    mdstat = tmp_path / "mdstat"
    mdstat.write_text(HEALTHY)
    r = probe("raid", mdstat=str(mdstat))
    assert (r.ok, r.detail) == (True, "md1 [3/3], md0 [2/2]")
    assert probe("raid", mdstat=str(mdstat), arrays=["md0"]).detail == "md0 [2/2]"
    assert probe("raid", mdstat=str(mdstat), arrays=["md9"]).error == f"{mdstat}: no array md9"
    assert [a.name for a in parse_mdstat(HEALTHY)] == ["md1", "md0"]
    assert not probe("raid", mdstat=str(tmp_path / "none")).ok
