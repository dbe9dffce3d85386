"""The TOML configuration: one module per section, checked key by key (reliad/config/keys.py).

model.py holds what a parsed configuration is; load.py reads a file and calls each section's
parser (targets.py, sources.py, policies.py with schedule.py and retention.py, service.py).
A new section is a new module with its dataclass and parser, a field on Config and one call
in load.py. Everything the rest of reliad needs is importable from `reliad.config`."""

from reliad.config.check import class_coverage
from reliad.config.keys import check_keys, parse_seconds, resolve_path, suggest
from reliad.config.load import default_config_path, load_config, parse_config
from reliad.config.model import (
    CONTENT_CLASSES,
    KEY_SOURCE_KEYS,
    OFFSITE_TYPES,
    Config,
    DaemonConfig,
    MetricsConfig,
    PolicyConfig,
    SourceConfig,
    TargetConfig,
)

__all__ = [
    "CONTENT_CLASSES",
    "KEY_SOURCE_KEYS",
    "OFFSITE_TYPES",
    "Config",
    "DaemonConfig",
    "MetricsConfig",
    "PolicyConfig",
    "SourceConfig",
    "TargetConfig",
    "check_keys",
    "class_coverage",
    "default_config_path",
    "load_config",
    "parse_config",
    "parse_seconds",
    "resolve_path",
    "suggest",
]
