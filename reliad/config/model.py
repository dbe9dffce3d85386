"""The parsed configuration: what each section holds once checked, and the keys each allows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliad.config.keys import suggest
from reliad.config.report import ReportConfig
from reliad.config.retention import Retention
from reliad.config.schedule import Schedule
from reliad.config.services import ServiceConfig
from reliad.errors import ConfigError

DEFAULT_CONFIG = Path("/etc/reliad/reliad.toml")
CONTENT_CLASSES = ("pages", "customers", "transactions", "business", "merchants")

TOP_KEYS = {"state_dir": str, "targets": dict, "policies": dict, "metrics": dict, "daemon": dict, "drills": dict,
            "services": dict, "report": dict}
# 11090: outside 9100-9999, the range the Prometheus wiki's "Default port allocations" page
# hands out to exporters, which is fully taken; reliad is an application, not an exporter.
DEFAULT_METRICS_PORT = 11090
METRICS_KEYS: dict[str, type | tuple[type, ...]] = {
    "enabled": bool,
    "listen": str,
    "tls_cert_file": str,
    "tls_key_file": str,
    "basic_auth_user": str,
    "basic_auth_password_file": str,
    "allow_insecure": bool,
}
# [daemon]: how `reliad run` behaves (reliad/daemon/); durations as in schedules.
DAEMON_KEYS: dict[str, type | tuple[type, ...]] = {"stop_grace": str, "lock_wait": str, "coalesce": str,
                                                   "verify_within": str, "verify_rate_mib_s": (int, float)}
DAEMON_DEFAULTS = {"stop_grace": "60s", "lock_wait": "10m", "coalesce": "1m", "verify_within": "30d"}
TARGET_KEYS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "local": {"type": str, "path": str, "encryption": bool, "pack_size_mib": int},
    # Offsite object store; credentials come from the AWS chain or credentials_file (an AWS
    # shared-credentials INI file, read with `profile`), never from this file itself.
    "s3": {"type": str, "bucket": str, "prefix": str, "endpoint_url": str, "region": str, "storage_class": str,
           "object_lock": dict, "credentials_file": str, "profile": str, "encryption": bool, "retries": int,
           "retry_base_s": (int, float), "timeout_s": (int, float), "multipart_threshold_mib": int,
           "multipart_chunk_mib": int, "max_concurrency": int},
    # Offline copy: a directory on removable media, attached (mounted) only around each copy.
    "offline": {"type": str, "path": str, "attach": (str, list), "detach": (str, list), "verify": str,
                "encryption": bool},
}
# Where the secret that opens an encrypted repository comes from; allowed on every target type.
# Only references: the secret itself never sits in the configuration file.
KEY_SOURCE_KEYS: dict[str, type | tuple[type, ...]] = {
    "key_file": str, "key_credential": str, "passphrase_file": str, "passphrase_env": str,
    "passphrase_credential": str,
}
OFFSITE_TYPES = ("s3", "offline")
S3_STORAGE_CLASSES = ("STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER",
                      "DEEP_ARCHIVE", "REDUCED_REDUNDANCY")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
POLICY_KEYS: dict[str, type | tuple[type, ...]] = {
    "sources": list,
    "targets": list,
    "compression_level": int,
    "hooks": dict,
    "schedule": dict,
    "retention": dict,
}
HOOK_KEYS: dict[str, type | tuple[type, ...]] = {"before": list, "after": list, "timeout": (str, int)}
_COMMON: dict[str, type | tuple[type, ...]] = {"type": str, "name": str, "classes": list}
_MARIADB: dict[str, type | tuple[type, ...]] = {**_COMMON, "host": str, "port": int, "user": str, "socket": str,
                                                "databases": list, "password_file": str}
SOURCE_KEYS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "files": {**_COMMON, "paths": list, "exclude": list, "one_file_system": bool},
    "postgres": {**_COMMON, "dsn": str, "host": str, "port": int, "user": str, "databases": list,
                 "password_file": str, "globals": bool},
    "mariadb": _MARIADB,
    "mysql": _MARIADB,
    "sqlite": {**_COMMON, "path": str, "tmp_dir": str},
    "image": {**_COMMON, "path": str},
}


@dataclass
class SourceConfig:
    """One thing a policy backs up; `options` holds the type-specific keys as written."""

    type: str
    name: str
    classes: list[str] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class TargetConfig:
    name: str
    type: str
    path: Path | None = None
    encryption: bool | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class PolicyConfig:
    name: str
    sources: list[SourceConfig]
    targets: list[str]
    compression_level: int = 3
    options: dict[str, Any] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    retention: Retention = field(default_factory=Retention)


@dataclass
class DaemonConfig:
    """Seconds: how long SIGTERM waits for a running job, how long a job waits for a writer
    lock held by someone else (a backup run by hand), and how close together two types of one
    policy must fall due to count as "together" (the larger type runs, the smaller is skipped)."""

    stop_grace: float = 60.0
    lock_wait: float = 600.0
    coalesce: float = 60.0
    verify_within: float = 30 * 86400.0  # every stored backup read back (crc) at least this often
    verify_rate_mib_s: float = 0.0  # scheduled verification reads at most this fast (0: no limit)


@dataclass
class MetricsConfig:
    """Where `reliad run` serves /metrics, and how it guards the endpoint off loopback."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = DEFAULT_METRICS_PORT
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    basic_auth_user: str | None = None
    basic_auth_password_file: Path | None = None

    @property
    def listen(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass
class Config:
    path: Path
    state_dir: Path
    targets: dict[str, TargetConfig]
    policies: dict[str, PolicyConfig]
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    drills: dict[str, Any] = field(default_factory=dict)  # policy name -> config.drills.DrillConfig, one for each
    services: dict[str, ServiceConfig] = field(default_factory=dict)

    def service(self, name: str) -> ServiceConfig:
        if name not in self.services:
            raise ConfigError(
                f"{self.path}: no service named {name!r}{suggest(name, self.services)}; "
                f"defined: {', '.join(sorted(self.services)) or 'none'}"
            )
        return self.services[name]
    report: ReportConfig = field(default_factory=ReportConfig)

    def policy(self, name: str) -> PolicyConfig:
        if name not in self.policies:
            raise ConfigError(
                f"{self.path}: no policy named {name!r}{suggest(name, self.policies)}; "
                f"defined: {', '.join(sorted(self.policies)) or 'none'}"
            )
        return self.policies[name]

    def target(self, name: str) -> TargetConfig:
        if name not in self.targets:
            raise ConfigError(
                f"{self.path}: no target named {name!r}{suggest(name, self.targets)}; "
                f"defined: {', '.join(sorted(self.targets)) or 'none'}"
            )
        return self.targets[name]

    def primary_target(self, policy: PolicyConfig) -> TargetConfig:
        """The target a backup is written to first: the policy's first local one."""
        for name in policy.targets:
            if self.targets[name].type == "local":
                return self.targets[name]
        raise ConfigError(f"{self.path}: policy {policy.name!r} needs at least one target of type 'local'")

    def offsite_targets(self, policy: PolicyConfig) -> list[TargetConfig]:
        """The targets a policy's backups are replicated to after the local one succeeded."""
        return [self.targets[n] for n in policy.targets if self.targets[n].type in OFFSITE_TYPES]
