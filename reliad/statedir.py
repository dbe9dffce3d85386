"""The state directory (catalog, audit log, generated key files): private to the service user."""

from __future__ import annotations

import fcntl
import logging
import os
import socket
from pathlib import Path

from reliad.errors import ConfigError, ReliadError

log = logging.getLogger(__name__)
REPORTS_DIR = "reports"  # the monthly reports the daemon writes (reliad/report/monthly.py), sent offsite


def ensure_state_dir(path: Path) -> Path:
    """Create the state directory 0700, or tighten an existing one we own to 0700.

    systemd's StateDirectory= and a plain mkdir both default to 0755, which would let every
    local user read the catalog and the audit log; fixing that quietly is kinder than refusing.
    One owned by somebody else is refused, since its owner could loosen it again.
    """
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = path.stat()
    except OSError as e:
        raise ConfigError(f"cannot create the state directory {path}: {e.strerror}") from None
    if st.st_mode & 0o077:
        if st.st_uid != os.geteuid():
            raise ConfigError(f"state directory {path} is owned by uid {st.st_uid} and open to other users "
                              f"(mode {st.st_mode & 0o777:04o}); make it 0700 and owned by the reliad user")
        os.chmod(path, 0o700)
        log.warning("event=state_dir_tightened path=%s old_mode=%04o new_mode=0700", path, st.st_mode & 0o777)
    return path


SERVICE_LOCK = "service.lock"


def _holder(path: Path) -> str:
    """Who holds the service lock, as the holder wrote it ("pid 1234 on host web01")."""
    try:
        pid, _, host = path.read_text().strip().partition(" ")
        return f"pid {int(pid)}" + (f" on host {host}" if host and host != socket.gethostname() else "")
    except (OSError, ValueError):
        return "a process that has not written its pid yet"


def hold_service_lock(state_dir: Path) -> int:
    """Take the one-service-per-state-directory lock and write our pid into it; returns the
    descriptor, which must stay open for the life of the service (the kernel releases the
    lock when the process dies, however it dies, so a stale file never blocks). Two services
    on one catalog would run every schedule twice and fight over the repositories."""
    ensure_state_dir(state_dir)
    path = state_dir / SERVICE_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ReliadError(f"another reliad service ({_holder(path)}) is already running on the state directory "
                          f"{state_dir}; stop it first (systemctl stop reliad) or give this one its own "
                          "state_dir") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
    return fd
