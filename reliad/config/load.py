"""Reading a configuration file: refuse unsafe files, parse every section, name every mistake."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from reliad.config.drills import parse_drills
from reliad.config.keys import check_keys, check_name, resolve_path
from reliad.config.model import (
    DEFAULT_CONFIG,
    TOP_KEYS,
    Config,
    MetricsConfig,
)
from reliad.config.policies import parse_policy
from reliad.config.report import parse_report
from reliad.config.service import parse_daemon, parse_metrics
from reliad.config.services import parse_services
from reliad.config.targets import parse_target
from reliad.errors import ConfigError
from reliad.redact import register_config_secrets


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
        check_name(file, "target", name)
    targets = {n: parse_target(file, n, t) for n, t in targets_raw.items()}
    policies_raw = raw.get("policies", {})
    for name in policies_raw:
        check_name(file, "policy", name)
    policies = {n: parse_policy(file, n, p, targets) for n, p in policies_raw.items()}
    metrics = parse_metrics(file, raw["metrics"]) if "metrics" in raw else MetricsConfig()
    state_dir = resolve_path(file, raw["state_dir"])
    return Config(path=file, state_dir=state_dir, targets=targets, policies=policies, metrics=metrics,
                  daemon=parse_daemon(file, raw.get("daemon", {})),
                  drills=parse_drills(file, raw.get("drills", {}), policies, targets, state_dir),
                  services=parse_services(file, raw.get("services", {})),
                  report=parse_report(file, raw.get("report", {})))
