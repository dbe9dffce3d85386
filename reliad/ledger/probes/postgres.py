"""`postgres`: connect and run `SELECT 1` with psql, using the connection settings of the
`postgres` source (dsn, or host/port/user; `password_file` by reference, never the password)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reliad.config import SourceConfig
from reliad.errors import ReliadError
from reliad.ledger.probes.base import ProbeFailed, ProbeType
from reliad.sources.dump import find_program, run_client
from reliad.sources.postgres import PACKAGE, base_dsn, client_env, dsn_dbname, dsn_with_db


def check(options: Mapping[str, Any], timeout: float) -> str:
    src = SourceConfig(type="postgres", name="probe", options=dict(options))
    ctx = "PostgreSQL"
    psql = find_program(["psql"], PACKAGE, ctx)
    env = client_env(src, ctx)
    env["PGCONNECT_TIMEOUT"] = str(max(1, int(timeout)))
    dsn = base_dsn(src)
    database = options.get("database") or dsn_dbname(dsn) or "postgres"
    try:
        out = run_client([psql, "-X", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1", "-c", "SELECT 1",
                          "-d", dsn_with_db(dsn, database)], env, ctx, timeout=timeout)
    except ReliadError as e:
        raise ProbeFailed(str(e)) from None
    if out.strip() != "1":
        raise ProbeFailed(f"PostgreSQL answered {out.strip()[:80]!r} to SELECT 1")
    return "SELECT 1"



TYPE = ProbeType(name="postgres", check=check)
