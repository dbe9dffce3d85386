"""`[policies.NAME]`: sources, targets, schedules, retention and hooks of one policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reliad.config.keys import check_keys, parse_seconds, suggest
from reliad.config.model import (
    HOOK_KEYS,
    POLICY_KEYS,
    PolicyConfig,
    TargetConfig,
)
from reliad.config.retention import parse_retention
from reliad.config.schedule import parse_schedules
from reliad.config.sources import parse_source
from reliad.errors import ConfigError


def parse_policy(file: Path, name: str, raw: Any, targets: dict[str, TargetConfig]) -> PolicyConfig:
    where = f"policies.{name}."
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: [policies.{name}] must be a table")
    check_keys(file, where, raw, POLICY_KEYS)
    raw_sources = raw.get("sources")
    if not raw_sources:
        raise ConfigError(f"{file}: {where}sources is required (a list of source tables)")
    sources = [parse_source(file, name, i, s) for i, s in enumerate(raw_sources)]
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
                f"{file}: {where}targets names {t!r}, which is not defined{suggest(str(t), targets)}; "
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




def _check_hooks(file: Path, where: str, hooks: dict[str, Any]) -> None:
    check_keys(file, f"{where}hooks.", hooks, HOOK_KEYS)
    for key in ("before", "after"):
        if not all(isinstance(c, str) and c.strip() for c in hooks.get(key, [])):
            raise ConfigError(f"{file}: {where}hooks.{key} must be a list of shell commands")
    try:
        t = parse_seconds(hooks.get("timeout", "5m"))
    except ValueError:
        t = 0
    if t <= 0:
        raise ConfigError(f"{file}: {where}hooks.timeout must be a duration like \"90s\", \"5m\" or \"1h\", "
                          f"not {hooks.get('timeout')!r}")
