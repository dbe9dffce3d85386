"""The [drills.POLICY] tables: how each policy's recovery drills run and what they must meet.

    [drills.shop]
    standby = "/srv/standby/shop"        # where drills restore (default: STATE_DIR/standby/POLICY)
    objective = { general = "1h", severe = "12h" }       # recovery time objectives (R12)
    completeness = { general = 100, severe = 98 }        # percent verified (R13)
    validity = "35d"                     # how long a passing drill keeps the policy VERIFIED
    keep_standby = false                 # remove the restored tree after the drill
    failover = "/usr/local/sbin/switch-shop"   # optional, runs with RELIAD_DRILL=1
    offsite_target = "offsite"           # severe drills read only this target
    recovery_key = { passphrase_file = "/root/drill-passphrase" }   # severe: never the local key file
    database_server = { db = "host=10.0.0.9 port=5432 user=postgres" }  # standby server per source
    schedule = { general = "0 4 1 * *", severe = "0 5 1 1,4,7,10 *" }
    [[drills.shop.checks]]
    name = "orders are there"
    source = "db"                        # a database source of the policy
    sql = "SELECT count(*) FROM orders"
    expect = "> 0"
    [[drills.shop.checks]]
    name = "front page restored"
    command = "test -s \"$RELIAD_DRILL_STANDBY/srv/www/index.html\""

A policy without a table is drilled with the defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliad.config.keys import check_keys, parse_seconds, resolve_path
from reliad.config.model import KEY_SOURCE_KEYS, OFFSITE_TYPES, PolicyConfig, TargetConfig
from reliad.config.schedule import Schedule, parse_entry
from reliad.errors import ConfigError

SCENARIOS = ("general", "severe")
DEFAULT_OBJECTIVES = {"general": "1h", "severe": "12h"}
DEFAULT_COMPLETENESS = {"general": 100.0, "severe": 98.0}
# The standard's cadence: general monthly (first of the month), severe quarterly.
DEFAULT_SCHEDULES = {"general": "0 4 1 * *", "severe": "0 5 1 1,4,7,10 *"}
DEFAULT_VALIDITY = "35d"
DRILL_KEYS: dict[str, type | tuple[type, ...]] = {
    "standby": str, "objective": dict, "completeness": dict, "validity": str, "keep_standby": bool,
    "failover": (str, list), "failover_timeout": str, "check_timeout": str, "checks": list,
    "database_server": dict, "offsite_target": str, "recovery_key": dict, "schedule": dict,
}
CHECK_KEYS: dict[str, type | tuple[type, ...]] = {"name": str, "sql": str, "expect": (str, int, float),
                                                  "source": str, "database": str, "command": (str, list)}
EXPECT_RE = re.compile(r"^\s*(>=|<=|!=|=|>|<)?\s*(.*?)\s*$", re.S)
DATABASE_TYPES = ("postgres", "mariadb", "mysql")


@dataclass(frozen=True)
class DrillCheck:
    """A check run against the restored data: an SQL query against a scratch database whose
    first value must meet `expect`, or a command that must exit 0."""

    name: str
    sql: str | None = None
    expect: str = "> 0"
    source: str | None = None
    database: str | None = None
    command: tuple[str, ...] | str | None = None

    @property
    def kind(self) -> str:
        return "sql" if self.sql is not None else "command"


@dataclass(frozen=True)
class DrillConfig:
    policy: str
    standby: Path
    objectives: dict[str, float] = field(default_factory=dict)  # seconds per scenario
    completeness: dict[str, float] = field(default_factory=dict)  # fraction per scenario
    validity_s: float = 35 * 86400.0
    keep_standby: bool = False
    failover: tuple[str, ...] | str | None = None
    failover_timeout_s: float = 600.0
    check_timeout_s: float = 300.0
    checks: tuple[DrillCheck, ...] = ()
    database_servers: dict[str, str] = field(default_factory=dict)  # source name -> DSN / mysql:// URL
    offsite_target: str | None = None
    recovery_key: dict[str, str] = field(default_factory=dict)  # one KEY_SOURCE_KEYS entry
    schedules: dict[str, Schedule] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # as written, for the configuration hash


def _seconds(file: Path, key: str, text: Any) -> float:
    try:
        value = parse_seconds(text)
    except (ValueError, TypeError):
        value = 0.0
    if value <= 0:
        raise ConfigError(f'{file}: {key} must be a duration like "45m", "1h" or "12h", not {text!r}')
    return value


def _per_scenario(file: Path, where: str, raw: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    check_keys(file, where + ".", raw, {s: (str, int, float) for s in SCENARIOS})
    return {s: raw.get(s, defaults[s]) for s in SCENARIOS}


def _check(file: Path, where: str, raw: Any, policy: PolicyConfig) -> DrillCheck:
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: {where} must be a table like {{ name = \"orders\", sql = \"SELECT count(*) "
                          "FROM orders\", expect = \"> 0\" }} or {{ name = \"site\", command = \"...\" }}")
    check_keys(file, where + ".", raw, CHECK_KEYS)
    name = raw.get("name")
    if not name:
        raise ConfigError(f"{file}: {where}.name is required (it names the check in every report)")
    if ("sql" in raw) == ("command" in raw):
        raise ConfigError(f"{file}: {where} needs exactly one of sql = \"...\" or command = \"...\"")
    if "command" in raw:
        cmd = raw["command"]
        if not cmd or (isinstance(cmd, list) and not all(isinstance(a, str) for a in cmd)):
            raise ConfigError(f"{file}: {where}.command must be a shell command or a list of arguments")
        extra = [k for k in ("expect", "source", "database") if k in raw]
        if extra:
            raise ConfigError(f"{file}: {where}.{extra[0]} belongs to an sql check; a command passes when it exits 0")
        return DrillCheck(name=name, command=tuple(cmd) if isinstance(cmd, list) else cmd)
    dbs = [s for s in policy.sources if s.type in DATABASE_TYPES]
    source = raw.get("source")
    if source is None:
        if len(dbs) != 1:
            raise ConfigError(f"{file}: {where}.source is required: name the database source the query runs against "
                              f"(policy {policy.name!r} has {', '.join(s.name for s in dbs) or 'none'})")
        source = dbs[0].name
    elif source not in {s.name for s in dbs}:
        raise ConfigError(f"{file}: {where}.source {source!r} is not a postgres or mariadb source of policy "
                          f"{policy.name!r} (it has: {', '.join(s.name for s in dbs) or 'none'})")
    expect = str(raw.get("expect", "> 0"))
    if not EXPECT_RE.match(expect).group(2):  # type: ignore[union-attr]
        raise ConfigError(f"{file}: {where}.expect must be a value or a comparison like \"> 0\", not {expect!r}")
    return DrillCheck(name=name, sql=raw["sql"], expect=expect, source=source, database=raw.get("database"))


def _recovery_key(file: Path, where: str, raw: dict[str, Any]) -> dict[str, str]:
    check_keys(file, where + ".", raw, KEY_SOURCE_KEYS)
    if len(raw) != 1:
        raise ConfigError(f"{file}: {where} must name exactly one of {', '.join(KEY_SOURCE_KEYS)}")
    key, value = next(iter(raw.items()))
    if key in ("key_file", "passphrase_file"):
        value = str(resolve_path(file, value))
    return {key: value}


def _offsite(file: Path, where: str, name: str | None, policy: PolicyConfig,
             targets: dict[str, TargetConfig]) -> str | None:
    offsite = [t for t in policy.targets if targets[t].type in OFFSITE_TYPES]
    if name is None:
        return offsite[0] if offsite else None
    if name not in offsite:
        raise ConfigError(f"{file}: {where}.offsite_target {name!r} is not an offsite target of policy "
                          f"{policy.name!r} (it has: {', '.join(offsite) or 'none'})")
    return name


def parse_drill(file: Path, name: str, raw: Any, policy: PolicyConfig, targets: dict[str, TargetConfig],
                state_dir: Path) -> DrillConfig:
    where = f"drills.{name}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: [{where}] must be a table")
    check_keys(file, where + ".", raw, DRILL_KEYS)
    objectives = {s: _seconds(file, f"{where}.objective.{s}", v)
                  for s, v in _per_scenario(file, f"{where}.objective", raw.get("objective", {}),
                                            DEFAULT_OBJECTIVES).items()}
    completeness = {}
    for s, v in _per_scenario(file, f"{where}.completeness", raw.get("completeness", {}),
                              DEFAULT_COMPLETENESS).items():
        if not isinstance(v, int | float) or not 0 < v <= 100:
            raise ConfigError(f"{file}: {where}.completeness.{s} must be a percentage above 0 and at most 100, "
                              f"not {v!r}")
        completeness[s] = float(v) / 100
    checks = tuple(_check(file, f"{where}.checks[{i}]", c, policy) for i, c in enumerate(raw.get("checks", [])))
    seen = set()
    for c in checks:
        if c.name in seen:
            raise ConfigError(f"{file}: {where}.checks: two checks are named {c.name!r}; give each its own name")
        seen.add(c.name)
    servers = raw.get("database_server", {})
    check_keys(file, f"{where}.database_server.", servers,
               {s.name: str for s in policy.sources if s.type in DATABASE_TYPES})
    failover = raw.get("failover")
    if failover is not None and (not failover or (isinstance(failover, list)
                                                  and not all(isinstance(a, str) for a in failover))):
        raise ConfigError(f"{file}: {where}.failover must be a shell command or a list of arguments")
    schedule = raw.get("schedule", {})
    check_keys(file, f"{where}.schedule.", schedule, {s: (str, dict) for s in SCENARIOS})
    return DrillConfig(
        policy=name,
        standby=resolve_path(file, raw["standby"]) if "standby" in raw else state_dir / "standby" / name,
        objectives=objectives, completeness=completeness,
        validity_s=_seconds(file, f"{where}.validity", raw.get("validity", DEFAULT_VALIDITY)),
        keep_standby=raw.get("keep_standby", False),
        failover=tuple(failover) if isinstance(failover, list) else failover,
        failover_timeout_s=_seconds(file, f"{where}.failover_timeout", raw.get("failover_timeout", "10m")),
        check_timeout_s=_seconds(file, f"{where}.check_timeout", raw.get("check_timeout", "5m")),
        checks=checks, database_servers=dict(servers),
        offsite_target=_offsite(file, where, raw.get("offsite_target"), policy, targets),
        recovery_key=_recovery_key(file, f"{where}.recovery_key", raw["recovery_key"]) if "recovery_key" in raw
        else {},
        schedules={s: parse_entry(file, f"{where}.schedule.{s}", f"drill-{s}",
                                  schedule.get(s, DEFAULT_SCHEDULES[s]), check_cron=s in schedule)
                   for s in SCENARIOS},
        raw=raw)


def parse_drills(file: Path, raw: Any, policies: dict[str, PolicyConfig], targets: dict[str, TargetConfig],
                 state_dir: Path) -> dict[str, DrillConfig]:
    """A DrillConfig for every policy: as its [drills.NAME] table says, or the defaults."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: [drills] must be a table of tables, one per policy: [drills.shop]")
    for name in raw:
        if name not in policies:
            raise ConfigError(f"{file}: [drills.{name}] names no policy; defined: {', '.join(sorted(policies))}")
    return {n: parse_drill(file, n, raw.get(n, {}), p, targets, state_dir) for n, p in policies.items()}
