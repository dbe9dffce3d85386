"""`tcp`: a TCP connection to host:port is accepted within the timeout."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any

from reliad.ledger.probes.base import ProbeFailed, ProbeType


def split_address(address: str) -> tuple[str, int]:
    """("host", port) from "host:port" or "[v6]:port"; ValueError otherwise."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(address)
    return host.strip("[]"), int(port)


def check(options: Mapping[str, Any], timeout: float) -> str:
    host, port = split_address(options["address"])
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as e:
        raise ProbeFailed(f"connect to {options['address']}: {e.strerror or e}") from None
    return "connected"


TYPE = ProbeType(name="tcp", check=check)
