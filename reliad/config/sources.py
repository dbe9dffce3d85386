"""A policy's `sources = [...]`: files, databases and images, each with its content classes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from reliad.config.keys import check_keys, check_name, resolve_path, suggest
from reliad.config.model import (
    CONTENT_CLASSES,
    SOURCE_KEYS,
    SourceConfig,
)
from reliad.errors import ConfigError


def parse_source(file: Path, policy: str, index: int, raw: Any) -> SourceConfig:
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
    check_name(file, "source", name)
    classes = raw.get("classes", [])
    for c in classes:
        if c not in CONTENT_CLASSES:
            raise ConfigError(
                f"{file}: {where}classes has {c!r}{suggest(str(c), CONTENT_CLASSES)}; "
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
