"""Checking a configuration's keys and values the same way in every section.

Every key is checked against the set this version understands, so a misspelt key fails
loudly (with a suggestion) instead of silently falling back to a default. Errors name the
file, the key and what is allowed, because the person reading them is at a shell prompt.
Each section's parser (reliad/config/*.py, and the wings' own sections) imports these.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any

from reliad.errors import ConfigError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION_RE = re.compile(r"^(?:\s*\d+(?:\.\d+)?\s*[smhdw])+\s*$")
_PART_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


def suggest(word: str, choices: Any) -> str:
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
                f"{file}: unknown key {where}{key!r}{suggest(key, allowed)}; "
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


def check_name(file: Path, kind: str, name: str) -> None:
    if not NAME_RE.match(name):
        raise ConfigError(
            f"{file}: {kind} name {name!r} may use only letters, digits, '.', '_' and '-' (at most 64)"
        )


def parse_duration(text: str) -> float:
    """Seconds in "90s", "2h", "1h30m", "7d"; ValueError for anything else."""
    if not isinstance(text, str) or not _DURATION_RE.match(text):
        raise ValueError(f"not a duration: {text!r}")
    return float(sum(float(n) * _UNITS[u] for n, u in _PART_RE.findall(text)))


def format_duration(seconds: float) -> str:
    out, rest = [], int(seconds)
    for unit in ("w", "d", "h", "m", "s"):
        n, rest = divmod(rest, _UNITS[unit])
        if n:
            out.append(f"{n}{unit}")
    return "".join(out) or "0s"


def parse_seconds(text: str | int) -> float:
    """Seconds in "90", "90s", "5m", "2h", "1h30m", "7d" (or a bare integer of seconds)."""
    if isinstance(text, int):
        return float(text)
    if re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", text):
        return float(text)
    return parse_duration(text)
