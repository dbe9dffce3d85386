"""Keeping secrets out of everything reliad prints or records.

Secrets are never put into messages on purpose; this is the second line of defence for the
ones a library might echo back (a connection error quoting a URL with a password, say).
Every secret reliad loads (passphrases, key material, secret-named config values) is
registered here, and error output, log lines, audit records and catalog errors pass through
`redact`.
"""

from __future__ import annotations

import logging
import re
from typing import Any

MASK = "***"
_known: set[str] = set()
# Config keys whose values are secrets themselves (not *_file/_env/_credential references to one).
_SECRET_NAME = re.compile(r"(password|passphrase|secret|token|private_key)", re.I)
_REFERENCE = re.compile(r"_(file|env|credential|command)$")


def is_secret_key(name: str) -> bool:
    return bool(_SECRET_NAME.search(name)) and not _REFERENCE.search(name)


def register(secret: str | bytes) -> None:
    """Remember a secret so that `redact` masks it; very short values would mask too much."""
    text = secret.decode("utf-8", "replace") if isinstance(secret, bytes) else secret
    text = text.strip()
    if len(text) >= 4:
        _known.add(text)


def register_config_secrets(table: Any) -> list[str]:
    """Register every secret-named value in a parsed config; returns their dotted key names."""
    found: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                path = f"{where}.{k}" if where else str(k)
                if isinstance(v, str) and is_secret_key(str(k)):
                    if v:
                        register(v)
                        found.append(path)
                else:
                    walk(v, path)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}[{i}]")

    walk(table, "")
    return found


def redact(text: str) -> str:
    for s in sorted(_known, key=len, reverse=True):
        if s in text:
            text = text.replace(s, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Masks known secrets in every log record before a handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _known:
            record.msg = redact(record.getMessage())
            record.args = None
        return True
