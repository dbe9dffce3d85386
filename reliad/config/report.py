"""`[report]`: the monthly availability report the daemon writes on the 1st (reliad/report/).

    [report]
    formats = ["pdf", "html", "json"]   # any of html, pdf, json, md
    languages = ["zh-CN", "en"]         # en, zh-CN
    timezone = "Asia/Shanghai"          # the zone whose calendar months are reported; default: the host's
    monthly = true                      # false: only `reliad report` by hand
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reliad.config.keys import check_keys
from reliad.errors import ConfigError

REPORT_FORMATS = ("html", "pdf", "json", "md")
REPORT_LANGUAGES = ("en", "zh-CN")
REPORT_KEYS: dict[str, type | tuple[type, ...]] = {"formats": list, "languages": list, "timezone": str,
                                                   "monthly": bool}


@dataclass(frozen=True)
class ReportConfig:
    formats: tuple[str, ...] = ("pdf", "html", "json")
    languages: tuple[str, ...] = ("zh-CN", "en")
    timezone: str | None = None
    monthly: bool = True


def _choices(file: Path, key: str, raw: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if not raw or not all(isinstance(x, str) and x in allowed for x in raw):
        raise ConfigError(f"{file}: report.{key} must be a non-empty list of {', '.join(allowed)}; not {raw!r}")
    return tuple(dict.fromkeys(raw))


def parse_report(file: Path, raw: Any) -> ReportConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: [report] must be a table")
    check_keys(file, "report.", raw, REPORT_KEYS)
    default = ReportConfig()
    tz = raw.get("timezone")
    if tz is not None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f'{file}: report.timezone {tz!r} is not a known time zone; use a name like '
                              '"Asia/Shanghai" or "UTC"') from None
    return ReportConfig(
        formats=_choices(file, "formats", raw["formats"], REPORT_FORMATS) if "formats" in raw else default.formats,
        languages=(_choices(file, "languages", raw["languages"], REPORT_LANGUAGES) if "languages" in raw
                   else default.languages),
        timezone=tz, monthly=raw.get("monthly", True))
