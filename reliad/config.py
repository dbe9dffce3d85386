"""Loading and validating the TOML configuration.

Every key is checked against the set this version understands, so a misspelt key fails
loudly (with a suggestion) instead of silently falling back to a default. Errors name the
file, the key and what is allowed, because the person reading them is at a shell prompt.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliad.errors import ConfigError
from reliad.redact import register_config_secrets
from reliad.retention import Retention, parse_retention
from reliad.schedule import Schedule, parse_schedules
from reliad.schedule import parse_duration as parse_span

DEFAULT_CONFIG = Path("/etc/reliad/reliad.toml")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CONTENT_CLASSES = ("pages", "customers", "transactions", "business", "merchants")

TOP_KEYS = {"state_dir": str, "targets": dict, "policies": dict, "metrics": dict, "daemon": dict}
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
DAEMON_KEYS: dict[str, type | tuple[type, ...]] = {"stop_grace": str, "lock_wait": str, "coalesce": str}
DAEMON_DEFAULTS = {"stop_grace": "60s", "lock_wait": "10m", "coalesce": "1m"}
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

    def policy(self, name: str) -> PolicyConfig:
        if name not in self.policies:
            raise ConfigError(
                f"{self.path}: no policy named {name!r}{_suggest(name, self.policies)}; "
                f"defined: {', '.join(sorted(self.policies)) or 'none'}"
            )
        return self.policies[name]

    def target(self, name: str) -> TargetConfig:
        if name not in self.targets:
            raise ConfigError(
                f"{self.path}: no target named {name!r}{_suggest(name, self.targets)}; "
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


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _type_name(expected: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", bool: "true or false", list: "a list",
             dict: "a table", float: "a number"}
    if isinstance(expected, tuple):
        return " or ".join(names.get(t, t.__name__) for t in expected)
    return names.get(expected, expected.__name__)


def check_keys(file: Path, where: str, table: dict[str, Any], allowed: dict[str, Any]) -> None:
    """Refuse unknown keys and wrong types, naming the key and what is allowed."""
    for key, value in table.items():
        if key not in allowed:
            raise ConfigError(
                f"{file}: unknown key {where}{key!r}{_suggest(key, allowed)}; "
                f"allowed here: {', '.join(sorted(allowed))}"
            )
        expected = allowed[key]
        ok = isinstance(value, expected)
        if expected is int and isinstance(value, bool):
            ok = False
        if not ok:
            raise ConfigError(f"{file}: {where}{key} must be {_type_name(expected)}, not {value!r}")


def resolve_path(file: Path, value: str) -> Path:
    """Relative paths in the file are relative to the file, as the documentation promises."""
    p = Path(os.path.expanduser(value))
    return p if p.is_absolute() else (file.parent / p).resolve()


def _check_name(file: Path, kind: str, name: str) -> None:
    if not NAME_RE.match(name):
        raise ConfigError(
            f"{file}: {kind} name {name!r} may use only letters, digits, '.', '_' and '-' (at most 64)"
        )


def _parse_target(file: Path, name: str, raw: Any) -> TargetConfig:
    where = f"targets.{name}."
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: [targets.{name}] must be a table")
    ttype = raw.get("type")
    if not isinstance(ttype, str) or ttype not in TARGET_KEYS:
        raise ConfigError(
            f"{file}: {where}type must be one of {', '.join(sorted(TARGET_KEYS))}, not {ttype!r}"
        )
    check_keys(file, where, raw, {**TARGET_KEYS[ttype], **KEY_SOURCE_KEYS})
    given = [k for k in KEY_SOURCE_KEYS if k in raw]
    if len(given) > 1:
        raise ConfigError(f"{file}: {where}: set only one of {', '.join(given)} (where the repository's key comes from)")
    path = None
    if "path" in raw:
        path = resolve_path(file, raw["path"])
    elif ttype in ("local", "offline"):
        raise ConfigError(f"{file}: {where}path is required for a target of type {ttype!r}")
    if ttype == "s3":
        _check_s3(file, where, raw)
    elif ttype == "offline":
        _check_offline(file, where, raw)
    options = {k: v for k, v in raw.items() if k not in ("type", "path", "encryption")}
    if "credentials_file" in options:
        options["credentials_file"] = resolve_path(file, options["credentials_file"])
    return TargetConfig(name=name, type=ttype, path=path, encryption=raw.get("encryption"), options=options)


def _check_s3(file: Path, where: str, raw: dict[str, Any]) -> None:
    bucket = raw.get("bucket")
    if not bucket:
        raise ConfigError(f"{file}: {where}bucket is required for an s3 target")
    if not BUCKET_RE.match(bucket) or ".." in bucket:
        raise ConfigError(f"{file}: {where}bucket {bucket!r} is not a valid bucket name (3-63 lowercase letters, "
                          "digits, '-' and '.')")
    prefix = raw.get("prefix", "")
    if prefix.startswith("/") or "//" in prefix:
        raise ConfigError(f"{file}: {where}prefix {prefix!r} must be relative, like \"web01/\"")
    sc = raw.get("storage_class")
    if sc is not None and sc not in S3_STORAGE_CLASSES:
        raise ConfigError(f"{file}: {where}storage_class {sc!r}{_suggest(sc, S3_STORAGE_CLASSES)} is not one of "
                          f"{', '.join(S3_STORAGE_CLASSES)}")
    lock = raw.get("object_lock")
    if lock is not None:
        check_keys(file, f"{where}object_lock.", lock, {"mode": str, "days": int})
        if lock.get("mode") not in ("COMPLIANCE", "GOVERNANCE") or not isinstance(lock.get("days"), int) \
                or lock["days"] < 1:
            raise ConfigError(f"{file}: {where}object_lock must be like {{ mode = \"COMPLIANCE\", days = 30 }} "
                              "(mode COMPLIANCE or GOVERNANCE, days at least 1)")
    for key in ("retries", "max_concurrency", "multipart_chunk_mib", "multipart_threshold_mib"):
        if key in raw and raw[key] < 1:
            raise ConfigError(f"{file}: {where}{key} must be at least 1, not {raw[key]}")
    if "multipart_chunk_mib" in raw and raw["multipart_chunk_mib"] < 5:
        raise ConfigError(f"{file}: {where}multipart_chunk_mib must be at least 5 (the S3 minimum part size)")


def _check_offline(file: Path, where: str, raw: dict[str, Any]) -> None:
    for key in ("attach", "detach"):
        cmd = raw.get(key)
        if cmd is not None and (not cmd or (isinstance(cmd, list) and not all(isinstance(a, str) for a in cmd))):
            raise ConfigError(f"{file}: {where}{key} must be a command line, as a string or a list of strings")
    if raw.get("verify", "crc") not in ("fast", "crc"):
        raise ConfigError(f"{file}: {where}verify must be \"fast\" or \"crc\", not {raw['verify']!r}")


def _parse_source(file: Path, policy: str, index: int, raw: Any) -> SourceConfig:
    where = f"policies.{policy}.sources[{index}]."
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: policies.{policy}.sources[{index}] must be a table like "
                          "{{ type = \"files\", paths = [...] }}")
    stype = raw.get("type")
    if not isinstance(stype, str) or stype not in SOURCE_KEYS:
        raise ConfigError(
            f"{file}: {where}type must be one of {', '.join(sorted(SOURCE_KEYS))}, not {stype!r}"
        )
    check_keys(file, where, raw, SOURCE_KEYS[stype])
    name = raw.get("name", stype if index == 0 else f"{stype}{index}")
    _check_name(file, "source", name)
    classes = raw.get("classes", [])
    for c in classes:
        if c not in CONTENT_CLASSES:
            raise ConfigError(
                f"{file}: {where}classes has {c!r}{_suggest(str(c), CONTENT_CLASSES)}; "
                f"allowed: {', '.join(CONTENT_CLASSES)}"
            )
    src = SourceConfig(type=stype, name=name, classes=list(classes))
    if stype == "files":
        paths = raw.get("paths")
        if not paths or not all(isinstance(p, str) for p in paths):
            raise ConfigError(f"{file}: {where}paths must be a non-empty list of directory or file paths")
        src.paths = [resolve_path(file, p) for p in paths]
        excl = raw.get("exclude", [])
        if not all(isinstance(p, str) for p in excl):
            raise ConfigError(f"{file}: {where}exclude must be a list of glob patterns")
        src.exclude = list(excl)
    if stype in ("sqlite", "image"):
        if not raw.get("path"):
            what = "database file" if stype == "sqlite" else "device or image file"
            raise ConfigError(f"{file}: {where}path is required (the {what})")
        src.paths = [resolve_path(file, raw["path"])]
    src.options = {k: v for k, v in raw.items() if k not in ("type", "name", "classes", "paths", "exclude", "path")}
    _check_database_options(file, where, src)
    return src


def _check_database_options(file: Path, where: str, src: SourceConfig) -> None:
    """The checks a database source's keys need beyond their types."""
    o = src.options
    dbs = o.get("databases")
    if dbs is not None and (not dbs or not all(isinstance(d, str) and d for d in dbs)
                            or ("all" in dbs and len(dbs) > 1)):
        raise ConfigError(f"{file}: {where}databases must be a non-empty list of database names, or [\"all\"]")
    if src.type in ("mariadb", "mysql") and not dbs:
        raise ConfigError(f"{file}: {where}databases is required: a list of names, or [\"all\"]")
    if src.type == "postgres":
        if "dsn" in o and any(k in o for k in ("host", "port", "user")):
            raise ConfigError(f"{file}: {where}give either dsn or host/port/user, not both")
        if "dsn" in o and re.search(r"(?:^[a-z]+://[^/@]*:[^/@]*@)|(?:(?:^|[\s?&])password\s*=)", o["dsn"]):
            raise ConfigError(f"{file}: {where}dsn must not contain the password (other users could read it "
                              "from the process list); put it in password_file")
        if not dbs and "dsn" not in o:
            raise ConfigError(f"{file}: {where}databases is required: a list of names, or [\"all\"]")
    for key in ("password_file", "tmp_dir"):
        if key in o:
            o[key] = str(resolve_path(file, o[key]))
    if "port" in o and not 0 < o["port"] < 65536:
        raise ConfigError(f"{file}: {where}port must be between 1 and 65535, not {o['port']}")


def _parse_policy(file: Path, name: str, raw: Any, targets: dict[str, TargetConfig]) -> PolicyConfig:
    where = f"policies.{name}."
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: [policies.{name}] must be a table")
    check_keys(file, where, raw, POLICY_KEYS)
    raw_sources = raw.get("sources")
    if not raw_sources:
        raise ConfigError(f"{file}: {where}sources is required (a list of source tables)")
    sources = [_parse_source(file, name, i, s) for i, s in enumerate(raw_sources)]
    seen: set[str] = set()
    for s in sources:
        if s.name in seen:
            raise ConfigError(f"{file}: {where}sources: two sources are named {s.name!r}; give each a name")
        seen.add(s.name)
    tnames = raw.get("targets")
    if not tnames:
        raise ConfigError(f"{file}: {where}targets is required (a list of target names)")
    for t in tnames:
        if t not in targets:
            raise ConfigError(
                f"{file}: {where}targets names {t!r}, which is not defined{_suggest(str(t), targets)}; "
                f"defined: {', '.join(sorted(targets)) or 'none'}"
            )
    _check_hooks(file, where, raw.get("hooks", {}))
    level = raw.get("compression_level", 3)
    if not 1 <= level <= 19:
        raise ConfigError(f"{file}: {where}compression_level must be between 1 and 19, not {level}")
    options = {k: v for k, v in raw.items()
               if k not in ("sources", "targets", "compression_level", "schedule", "retention")}
    options.setdefault("hooks", {})
    return PolicyConfig(name=name, sources=sources, targets=list(tnames), compression_level=level,
                        options=options, schedules=parse_schedules(file, name, raw.get("schedule")),
                        retention=parse_retention(file, name, raw.get("retention")))


def _parse_daemon(file: Path, raw: Any) -> DaemonConfig:
    check_keys(file, "daemon.", raw, DAEMON_KEYS)
    values = {}
    for key, default in DAEMON_DEFAULTS.items():
        text = raw.get(key, default)
        try:
            values[key] = parse_duration(text)
        except ValueError:
            raise ConfigError(f'{file}: daemon.{key} must be a duration like "30s", "5m" or "1h", '
                              f"not {text!r}") from None
    return DaemonConfig(**values)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse_metrics(file: Path, raw: Any) -> MetricsConfig:
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
    if m.enabled and not _is_loopback(m.host) and not protected and not raw.get("allow_insecure", False):
        raise ConfigError(
            f"{file}: metrics.listen {listen!r} can be reached from other hosts; set metrics.tls_cert_file, "
            "metrics.tls_key_file, metrics.basic_auth_user and metrics.basic_auth_password_file, "
            "or set metrics.allow_insecure = true"
        )
    return m


def parse_duration(text: str | int) -> float:
    """Seconds in "90", "90s", "5m", "2h", "1h30m", "7d" (or a bare integer of seconds)."""
    if isinstance(text, int):
        return float(text)
    if re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", text):
        return float(text)
    return parse_span(text)


def _check_hooks(file: Path, where: str, hooks: dict[str, Any]) -> None:
    check_keys(file, f"{where}hooks.", hooks, HOOK_KEYS)
    for key in ("before", "after"):
        if not all(isinstance(c, str) and c.strip() for c in hooks.get(key, [])):
            raise ConfigError(f"{file}: {where}hooks.{key} must be a list of shell commands")
    try:
        t = parse_duration(hooks.get("timeout", "5m"))
    except ValueError:
        t = 0
    if t <= 0:
        raise ConfigError(f"{file}: {where}hooks.timeout must be a duration like \"90s\", \"5m\" or \"1h\", "
                          f"not {hooks.get('timeout')!r}")


def class_coverage(config: Config) -> dict[str, list[str]]:
    """For each content class of R9, the sources (as "policy/source") that carry it."""
    out: dict[str, list[str]] = {c: [] for c in CONTENT_CLASSES}
    for p in config.policies.values():
        for s in p.sources:
            for c in s.classes:
                out[c].append(f"{p.name}/{s.name}")
    return out


def default_config_path() -> Path:
    env = os.environ.get("RELIAD_CONFIG")
    return Path(env) if env else DEFAULT_CONFIG


def load_config(path: Path | str | None = None) -> Config:
    file = Path(path) if path else default_config_path()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{file}: configuration file not found; pass -c FILE or set RELIAD_CONFIG "
            "(policies/ has examples)"
        ) from None
    except OSError as e:
        raise ConfigError(f"{file}: cannot read configuration: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{file}: not UTF-8 text (byte {e.start}); a configuration is a TOML text file") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{file}: not valid TOML: {e}") from None
    check_config_file(file, register_config_secrets(raw))
    return parse_config(file.resolve(), raw)


def check_config_file(file: Path, secret_keys: list[str]) -> None:
    """Refuse a configuration others could change, or read when it holds secrets (as ssh does).

    Whoever can change the file decides what reliad reads and where it writes, with reliad's
    privileges; this also keeps a user who may run reliad through sudo from passing a
    configuration of their own.
    """
    st = file.stat()
    mode = st.st_mode & 0o777
    if st.st_uid not in (os.geteuid(), 0):
        raise ConfigError(f"{file}: owned by uid {st.st_uid}, neither root nor the user running reliad; "
                          "refusing a configuration someone else controls")
    if mode & 0o022:
        raise ConfigError(f"{file}: other users can change it (mode {mode:04o}); run 'chmod go-w {file}'")
    if secret_keys and mode & 0o077:
        raise ConfigError(f"{file}: holds secrets ({', '.join(secret_keys)}) and other users can read it "
                          f"(mode {mode:04o}); run 'chmod 600 {file}', or move the secrets to files")


def parse_config(file: Path, raw: dict[str, Any]) -> Config:
    check_keys(file, "", raw, TOP_KEYS)
    if "state_dir" not in raw:
        raise ConfigError(f"{file}: state_dir is required (for example \"/var/lib/reliad\")")
    targets_raw = raw.get("targets", {})
    for name in targets_raw:
        _check_name(file, "target", name)
    targets = {n: _parse_target(file, n, t) for n, t in targets_raw.items()}
    policies_raw = raw.get("policies", {})
    for name in policies_raw:
        _check_name(file, "policy", name)
    policies = {n: _parse_policy(file, n, p, targets) for n, p in policies_raw.items()}
    metrics = _parse_metrics(file, raw["metrics"]) if "metrics" in raw else MetricsConfig()
    return Config(path=file, state_dir=resolve_path(file, raw["state_dir"]), targets=targets,
                  policies=policies, metrics=metrics, daemon=_parse_daemon(file, raw.get("daemon", {})))
