"""The /metrics endpoint of `reliad run`: prometheus-client's WSGI app in a threaded server,
with optional TLS and HTTP basic auth for a listener other hosts can reach.

prometheus-client's own start_http_server offers TLS but no basic auth and no way to wrap its
app, so the server is assembled here from the same parts (make_wsgi_app, ThreadingWSGIServer).
"""

from __future__ import annotations

import base64
import hmac
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from reliad.config import MetricsConfig
from reliad.errors import ConfigError

log = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    """Scrapes every few seconds would flood the journal; failures are logged by the app."""

    timeout = 30  # a client that connects and says nothing does not hold a thread for ever

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingWSGIServer):
    """Does the TLS handshake in the request's own thread: wrapping the listening socket would
    do it in accept(), where one silent client would stall every scrape."""

    ssl_context: ssl.SSLContext | None = None

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr


def _read_password(m: MetricsConfig) -> bytes:
    assert m.basic_auth_password_file is not None
    try:
        return m.basic_auth_password_file.read_bytes().rstrip(b"\r\n")
    except OSError as e:
        raise ConfigError(f"metrics.basic_auth_password_file {m.basic_auth_password_file}: cannot read it: "
                          f"{e.strerror}") from None


def basic_auth(app: Callable[..., Iterable[bytes]], user: str, password: bytes) -> Callable[..., Iterable[bytes]]:
    """Wrap a WSGI app so that it answers only requests carrying these credentials."""
    expected = b"Basic " + base64.b64encode(user.encode() + b":" + password)

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        given = environ.get("HTTP_AUTHORIZATION", "").encode("latin-1", "replace")
        if not hmac.compare_digest(given, expected):
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="reliad"'),
                                                ("Content-Type", "text/plain; charset=utf-8")])
            return [b"Unauthorized\n"]
        return app(environ, start_response)

    return guarded


class MetricsServer:
    """A running /metrics endpoint; `close()` stops it."""

    def __init__(self, m: MetricsConfig, registry: CollectorRegistry) -> None:
        app = make_wsgi_app(registry)
        if m.basic_auth_user is not None:
            app = basic_auth(app, m.basic_auth_user, _read_password(m))
        server_class = type("MetricsHTTPServer", (_Server,),
                            {"address_family": socket.AF_INET6 if ":" in m.host else socket.AF_INET})
        if m.tls_cert_file is not None and m.tls_key_file is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            try:
                ctx.load_cert_chain(m.tls_cert_file, m.tls_key_file)
            except (OSError, ssl.SSLError) as e:
                raise ConfigError(f"metrics.tls_cert_file {m.tls_cert_file} / tls_key_file {m.tls_key_file}: "
                                  f"cannot load the certificate and key: {e}") from None
            server_class.ssl_context = ctx
        self.scheme = "https" if server_class.ssl_context else "http"
        try:
            self.httpd = make_server(m.host, m.port, app, server_class, handler_class=_QuietHandler)
        except OSError as e:
            raise ConfigError(f"metrics.listen {m.listen}: cannot listen there: {e.strerror}; choose another "
                              "address or port in [metrics]") from None
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="metrics", daemon=True)
        self.thread.start()
        log.info("event=metrics_listening url=%s://%s:%d/metrics auth=%s", self.scheme, m.host, self.port,
                 "basic" if m.basic_auth_user else "none")

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
