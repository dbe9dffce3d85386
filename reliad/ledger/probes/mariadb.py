"""`mariadb` (and `mysql`): connect and run `SELECT 1` with the client program, using the
connection settings of the `mariadb` source (host/port/user/socket; `password_file` by
reference, handed to the client through a pipe, never on its command line)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from reliad.config import SourceConfig
from reliad.errors import ReliadError
from reliad.ledger.probes.base import ProbeFailed, ProbeType
from reliad.sources.dump import password_from, run_client
from reliad.sources.mariadb import connection_args, password_pipe, programs, with_password


def check(options: Mapping[str, Any], timeout: float) -> str:
    src = SourceConfig(type="mariadb", name="probe", options=dict(options))
    ctx = "MariaDB"
    _, client = programs("mariadb", ctx)
    fds = password_pipe(password_from(src, ctx))()
    try:
        argv = [*with_password(client, fds), *connection_args(src.options), f"--connect-timeout={max(1, int(timeout))}",
                "--batch", "--skip-column-names", "-e", "SELECT 1"]
        out = run_client(argv, None, ctx, pass_fds=fds, timeout=timeout)
    except ReliadError as e:
        raise ProbeFailed(str(e)) from None
    finally:
        for fd in fds:
            os.close(fd)
    if out.strip() != "1":
        raise ProbeFailed(f"MariaDB answered {out.strip()[:80]!r} to SELECT 1")
    return "SELECT 1"



TYPE = ProbeType(name="mariadb", check=check)
