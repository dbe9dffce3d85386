"""sd_notify(3): tell systemd that the service is ready, what it is doing, that it is alive.

The protocol is one datagram of newline-separated KEY=VALUE lines to the Unix socket named
in $NOTIFY_SOCKET (a leading '@' means the abstract namespace). It is small enough that a
dependency (python-systemd needs libsystemd headers to build; sdnotify is unmaintained)
would cost more than these lines. Outside systemd there is no socket and every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, address: str | None, watchdog_usec: int | None) -> None:
        self.address = address
        self.watchdog_interval = watchdog_usec / 1e6 / 2 if watchdog_usec else None
        self._sock: socket.socket | None = None
        if address:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @classmethod
    def from_env(cls) -> Notifier:
        """Read and unset $NOTIFY_SOCKET and the watchdog variables, so that child processes
        (dump tools, hooks) do not talk to systemd in our name."""
        addr = os.environ.pop("NOTIFY_SOCKET", None) or None
        usec_text = os.environ.pop("WATCHDOG_USEC", None)
        pid_text = os.environ.pop("WATCHDOG_PID", None)
        usec = None
        if usec_text and (not pid_text or pid_text == str(os.getpid())):
            try:
                usec = int(usec_text) or None
            except ValueError:
                log.warning("event=bad_watchdog_usec value=%r", usec_text)
        return cls(addr, usec)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, **fields: str | int) -> None:
        """send(READY=1, STATUS="...") sends 'READY=1\\nSTATUS=...'."""
        if self._sock is None or self.address is None:
            return
        msg = "\n".join(f"{k}={v}" for k, v in fields.items()).encode()
        addr = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            # Never block the service on a reader that does not keep up: drop the message.
            self._sock.sendto(msg, socket.MSG_DONTWAIT, addr)
        except BlockingIOError:
            log.debug("event=notify_dropped socket=%s", self.address)
        except OSError as e:
            log.warning("event=notify_failed socket=%s error=%r", self.address, e.strerror)

    def ready(self, status: str) -> None:
        self.send(READY=1, STATUS=status, MAINPID=os.getpid())

    def status(self, status: str) -> None:
        self.send(STATUS=status)

    def watchdog(self) -> None:
        if self.watchdog_interval:
            self.send(WATCHDOG=1)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
