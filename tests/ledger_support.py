"""A web server for the ledger's tests that they can stop and start again on the same port."""

from __future__ import annotations

import http.server
import threading


class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "7")
        self.end_headers()
        self.wfile.write(b"shop ok")

    def log_message(self, *args: object) -> None:
        pass


class Web:
    """The shop's web server, answering "shop ok" to every GET."""

    def __init__(self) -> None:
        self.srv: http.server.ThreadingHTTPServer | None = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
        self.port = self.srv.server_address[1]
        self._serve()

    def _serve(self) -> None:
        assert self.srv is not None
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.srv is not None:
            self.srv.shutdown()
            self.srv.server_close()
            self.srv = None

    def start(self) -> None:
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Ok)
        self._serve()
