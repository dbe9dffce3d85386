"""`[services.NAME]`: the shop's services the reliability ledger watches (issue 13).

    [services.shop]
    interval = "60s"            # one probe round every interval (default 60 s)
    failures_to_open = 3        # failed rounds in a row that open an incident
    successes_to_close = 2      # good rounds in a row that close it (restored at the first)
    class = "software"          # class of its incidents (default: per probe type; raid, disk: hardware)
    objective = 99.9            # availability objective in percent (default 99.9)
    probes = [
      { type = "http", url = "https://shop.example/health", status = 200, contains = "ok", timeout = "10s" },
      { type = "postgres", host = "127.0.0.1", user = "monitor", password_file = "/etc/reliad/pg.pw" },
    ]
    maintenance = [{ cron = "0 3 * * sun", duration = "1h", reason = "weekly updates" }]

A service is down while any of its probes fails. Secrets are given by reference only
(`password_file`), as for the database sources. `PROBE_TYPES` holds each probe type's keys (as
sources.py does for sources); the probes themselves are in reliad/ledger/probes/, one module per
type, and tests/test_ledger_config.py keeps the two tables naming the same types.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reliad.config.keys import check_keys, check_name, parse_seconds, resolve_path, suggest
from reliad.config.schedule import cron_trigger
from reliad.errors import ConfigError

SERVICE_KEYS: dict[str, type | tuple[type, ...]] = {
    "interval": (str, int), "failures_to_open": int, "successes_to_close": int, "class": str,
    "objective": (int, float), "probes": list, "maintenance": list,
}
PROBE_COMMON: dict[str, type | tuple[type, ...]] = {"type": str, "name": str, "timeout": (str, int, float), "class": str}
WINDOW_KEYS: dict[str, type | tuple[type, ...]] = {"cron": str, "duration": str, "reason": str, "timezone": str}
CLASSES = ("software", "hardware")
DEFAULT_INTERVAL = 60.0
DEFAULT_TIMEOUT = 10.0
PATH_KEYS = ("path", "mdstat", "password_file", "ca_file")
_DB = {"host": str, "port": int, "user": str, "password_file": str}


@dataclass(frozen=True)
class ProbeSchema:
    """A probe type's own keys, the ones it needs, the key that names it by default, and the
    class of the failures it finds."""

    keys: dict[str, type | tuple[type, ...]]
    required: tuple[str, ...] = ()
    names_it: tuple[str, ...] = ()
    failure_class: str = "software"


PROBE_TYPES: dict[str, ProbeSchema] = {
    "http": ProbeSchema({"url": str, "status": (int, list), "contains": str, "tls_verify": bool, "ca_file": str},
                        ("url",), ("url",)),
    "tcp": ProbeSchema({"address": str}, ("address",), ("address",)),
    "command": ProbeSchema({"command": (str, list)}, ("command",), ("command",)),
    "systemd": ProbeSchema({"unit": str}, ("unit",), ("unit",)),
    "postgres": ProbeSchema({**_DB, "dsn": str, "database": str}, (), ("dsn", "host")),
    "mariadb": ProbeSchema({**_DB, "socket": str}, (), ("socket", "host")),
    "mysql": ProbeSchema({**_DB, "socket": str}, (), ("socket", "host")),
    "disk": ProbeSchema({"path": str, "min_free_percent": (int, float), "min_free_inodes_percent": (int, float)},
                        ("path",), ("path",), "hardware"),
    "raid": ProbeSchema({"mdstat": str, "arrays": list}, (), ("arrays", "mdstat"), "hardware"),
}
_DSN_PASSWORD = re.compile(r"(?:^[a-z]+://[^/@]*:[^/@]*@)|(?:(?:^|[\s?&])password\s*=)")


@dataclass(frozen=True)
class ProbeConfig:
    """One probe of a service; `options` are its type's own keys (paths resolved)."""

    type: str
    name: str
    timeout: float
    cls: str
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class MaintenanceWindow:
    """A recurring planned window: starts on `cron` (in `timezone`), lasts `duration` seconds."""

    cron: str
    duration: float
    reason: str
    timezone: str = "UTC"

    def starts(self, since: dt.datetime, until: dt.datetime) -> Iterator[dt.datetime]:
        """The window starts in [since, until)."""
        trigger = cron_trigger(self.cron, ZoneInfo(self.timezone))
        t = trigger.get_next_fire_time(None, since)
        while t is not None and t < until:
            yield t
            t = trigger.get_next_fire_time(t, t + dt.timedelta(seconds=1))


@dataclass(frozen=True)
class ServiceConfig:
    name: str
    probes: tuple[ProbeConfig, ...]
    interval: float = DEFAULT_INTERVAL
    failures_to_open: int = 3
    successes_to_close: int = 2
    objective: float = 0.999
    maintenance: tuple[MaintenanceWindow, ...] = ()


def _seconds(file: Path, where: str, value: Any) -> float:
    try:
        seconds = float(value) if isinstance(value, int | float) else parse_seconds(value)
    except ValueError:
        raise ConfigError(f'{file}: {where} must be a duration like "10s", "1m" or "1h", not {value!r}') from None
    if seconds <= 0:
        raise ConfigError(f"{file}: {where} must be more than 0 seconds, not {value!r}")
    return seconds


def _check_probe_options(file: Path, where: str, ptype: str, opts: dict[str, Any]) -> None:
    """What a probe type needs beyond key names and types, checked now rather than at 3 a.m."""
    if ptype == "http" and urlsplit(opts["url"]).scheme not in ("http", "https"):
        raise ConfigError(f"{file}: {where}url must start with http:// or https://, not {opts['url']!r}")
    if ptype == "tcp":
        host, sep, port = opts["address"].rpartition(":")
        if not (sep and host and port.isdigit() and 0 < int(port) < 65536):
            raise ConfigError(f'{file}: {where}address must be HOST:PORT such as "127.0.0.1:5432", '
                              f"not {opts['address']!r}") from None
    if ptype == "command" and not opts["command"]:
        raise ConfigError(f"{file}: {where}command is empty; give the program and its arguments")
    if ptype == "postgres" and "dsn" in opts and _DSN_PASSWORD.search(opts["dsn"]):
        raise ConfigError(f"{file}: {where}dsn contains a password; put it in a file and name it in password_file")
    if ptype == "http" and "status" in opts:
        codes = opts["status"] if isinstance(opts["status"], list) else [opts["status"]]
        if not codes or not all(isinstance(c, int) and 100 <= c <= 599 for c in codes):
            raise ConfigError(f"{file}: {where}status must be an HTTP status (100-599) or a list of them")


def _default_name(ptype: str, kind: ProbeSchema, opts: dict[str, Any]) -> str:
    """"http https://shop/health", "tcp 127.0.0.1:6379": the type and what it looks at."""
    for key in kind.names_it:
        if key in opts:
            v = opts[key]
            return f"{ptype} {' '.join(map(str, v)) if isinstance(v, list) else v}"
    return ptype


def parse_probe(file: Path, service: str, index: int, raw: Any) -> ProbeConfig:
    where = f"services.{service}.probes[{index}]."
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise ConfigError(f"{file}: services.{service}.probes[{index}] must be a table with a type, "
                          f"such as {{ type = \"http\", url = \"https://shop.example/\" }}")
    ptype = raw["type"]
    if ptype not in PROBE_TYPES:
        raise ConfigError(f"{file}: {where}type {ptype!r} is unknown{suggest(ptype, PROBE_TYPES)}; "
                          f"known: {', '.join(PROBE_TYPES)}")
    kind = PROBE_TYPES[ptype]
    check_keys(file, where, raw, {**PROBE_COMMON, **kind.keys})
    missing = [k for k in kind.required if k not in raw]
    if missing:
        raise ConfigError(f"{file}: {where}{missing[0]} is required for a {ptype} probe")
    opts = {k: v for k, v in raw.items() if k not in PROBE_COMMON}
    for key in PATH_KEYS:
        if key in opts:
            opts[key] = str(resolve_path(file, opts[key]))
    _check_probe_options(file, where, ptype, opts)
    cls = raw.get("class", kind.failure_class)
    if cls not in CLASSES:
        raise ConfigError(f"{file}: {where}class must be software or hardware, not {cls!r}")
    timeout = _seconds(file, f"{where}timeout", raw.get("timeout", DEFAULT_TIMEOUT))
    name = raw.get("name") or _default_name(ptype, kind, opts)
    return ProbeConfig(type=ptype, name=name, timeout=timeout, cls=cls, options=MappingProxyType(opts))


def _parse_window(file: Path, service: str, index: int, raw: Any) -> MaintenanceWindow:
    where = f"services.{service}.maintenance[{index}]."
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: services.{service}.maintenance[{index}] must be a table "
                          '{ cron = "0 3 * * sun", duration = "1h", reason = "..." }')
    check_keys(file, where, raw, WINDOW_KEYS)
    for key in ("cron", "duration"):
        if key not in raw:
            raise ConfigError(f"{file}: {where}{key} is required")
    tz = raw.get("timezone", "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{file}: {where}timezone {tz!r} is not a time zone name like \"Europe/Berlin\"") from None
    try:
        cron_trigger(raw["cron"], ZoneInfo(tz))
    except ValueError as e:
        raise ConfigError(f"{file}: {where}cron {raw['cron']!r} is not a cron expression ({e}); use five fields "
                          'minute hour day month weekday, like "0 3 * * sun"') from None
    return MaintenanceWindow(cron=raw["cron"], duration=_seconds(file, f"{where}duration", raw["duration"]),
                             reason=raw.get("reason", "planned maintenance"), timezone=tz)


def parse_service(file: Path, name: str, raw: Any) -> ServiceConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: [services.{name}] must be a table")
    where = f"services.{name}."
    check_keys(file, where, raw, SERVICE_KEYS)
    probes_raw = raw.get("probes")
    if not probes_raw:
        raise ConfigError(f"{file}: {where}probes is required: at least one probe, "
                          'such as probes = [{ type = "http", url = "https://shop.example/" }]')
    probes = [parse_probe(file, name, i, p) for i, p in enumerate(probes_raw)]
    if "class" in raw:
        if raw["class"] not in CLASSES:
            raise ConfigError(f"{file}: {where}class must be software or hardware, not {raw['class']!r}")
        probes = [p if "class" in probes_raw[i] else ProbeConfig(p.type, p.name, p.timeout, raw["class"], p.options)
                  for i, p in enumerate(probes)]
    names = [p.name for p in probes]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise ConfigError(f"{file}: {where}probes: two probes are named {dup!r}; give one a name = \"...\"")
    counts = {}
    for key in ("failures_to_open", "successes_to_close"):
        counts[key] = raw.get(key, 3 if key == "failures_to_open" else 2)
        if counts[key] < 1:
            raise ConfigError(f"{file}: {where}{key} must be at least 1, not {counts[key]}")
    objective = raw.get("objective", 99.9)
    if not 1 < objective <= 100:
        raise ConfigError(f"{file}: {where}objective is a percentage like 99.9 (more than 1, at most 100), "
                          f"not {objective!r}")
    return ServiceConfig(name=name, probes=tuple(probes),
                         interval=_seconds(file, f"{where}interval", raw.get("interval", DEFAULT_INTERVAL)),
                         objective=round(objective / 100, 10), maintenance=tuple(
                             _parse_window(file, name, i, w) for i, w in enumerate(raw.get("maintenance", []))),
                         **counts)


def parse_services(file: Path, raw: Any) -> dict[str, ServiceConfig]:
    """The [services] table: every service by name."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: [services] must be a table of [services.NAME] tables")
    for name in raw:
        check_name(file, "service", name)
    return {n: parse_service(file, n, s) for n, s in raw.items()}
