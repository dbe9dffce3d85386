"""`[daemon]` and `[metrics]`: how `reliad run` behaves and where it serves /metrics."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from reliad.config.keys import check_keys, parse_seconds, resolve_path
from reliad.config.model import (
    DAEMON_DEFAULTS,
    DAEMON_KEYS,
    DEFAULT_METRICS_PORT,
    METRICS_KEYS,
    DaemonConfig,
    MetricsConfig,
)
from reliad.errors import ConfigError


def parse_daemon(file: Path, raw: Any) -> DaemonConfig:
    check_keys(file, "daemon.", raw, DAEMON_KEYS)
    values = {}
    for key, default in DAEMON_DEFAULTS.items():
        text = raw.get(key, default)
        try:
            values[key] = parse_seconds(text)
        except ValueError:
            raise ConfigError(f'{file}: daemon.{key} must be a duration like "30s", "5m" or "1h", '
                              f"not {text!r}") from None
    rate = raw.get("verify_rate_mib_s", 0)
    if isinstance(rate, bool) or rate < 0:
        raise ConfigError(f"{file}: daemon.verify_rate_mib_s must be a number of MiB per second (0: no limit), "
                          f"not {rate!r}")
    return DaemonConfig(**values, verify_rate_mib_s=float(rate))


def is_loopback(host: str) -> bool:
    """Whether a host name or address stays on this machine (metrics listeners, S3 endpoints)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_metrics(file: Path, raw: Any) -> MetricsConfig:
    """The [metrics] table. A listener other hosts can reach must be protected (TLS and basic
    auth) or explicitly declared insecure, so that backup facts are not published by accident."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: [metrics] must be a table")
    check_keys(file, "metrics.", raw, METRICS_KEYS)
    m = MetricsConfig(enabled=raw.get("enabled", True))
    listen = raw.get("listen", m.listen)
    host, sep, port = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{file}: metrics.listen must be HOST:PORT such as \"127.0.0.1:{DEFAULT_METRICS_PORT}\" "
                          f"or \"[::1]:{DEFAULT_METRICS_PORT}\", not {listen!r}")
    m.host, m.port = host or "0.0.0.0", int(port)
    for key in ("tls_cert_file", "tls_key_file", "basic_auth_password_file"):
        if key in raw:
            setattr(m, key, resolve_path(file, raw[key]))
    m.basic_auth_user = raw.get("basic_auth_user")
    if (m.tls_cert_file is None) != (m.tls_key_file is None):
        raise ConfigError(f"{file}: metrics.tls_cert_file and metrics.tls_key_file must be given together")
    if (m.basic_auth_user is None) != (m.basic_auth_password_file is None):
        raise ConfigError(f"{file}: metrics.basic_auth_user and metrics.basic_auth_password_file must be given "
                          "together")
    protected = m.tls_cert_file is not None and m.basic_auth_user is not None
    if m.enabled and not is_loopback(m.host) and not protected and not raw.get("allow_insecure", False):
        raise ConfigError(
            f"{file}: metrics.listen {listen!r} can be reached from other hosts; set metrics.tls_cert_file, "
            "metrics.tls_key_file, metrics.basic_auth_user and metrics.basic_auth_password_file, "
            "or set metrics.allow_insecure = true"
        )
    return m
