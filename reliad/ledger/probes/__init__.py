"""Service probes, one module per type (as borgmatic keeps one file per data source). A new
type is a new module with a `TYPE` and one line in this table."""

from __future__ import annotations

from reliad.ledger.probes import command, disk, http, mariadb, postgres, raid, systemd, tcp
from reliad.ledger.probes.base import ProbeFailed, ProbeResult, ProbeType, run_check

TYPES: dict[str, ProbeType] = {
    "http": http.TYPE,
    "tcp": tcp.TYPE,
    "command": command.TYPE,
    "systemd": systemd.TYPE,
    "postgres": postgres.TYPE,
    "mariadb": mariadb.TYPE,
    "mysql": mariadb.TYPE,
    "disk": disk.TYPE,
    "raid": raid.TYPE,
}

__all__ = ["TYPES", "ProbeFailed", "ProbeResult", "ProbeType", "run_check"]
