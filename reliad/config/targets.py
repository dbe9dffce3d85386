"""`[targets.NAME]`: where backups are written (local, s3, offline) and how they are opened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reliad.config.keys import check_keys, resolve_path, suggest
from reliad.config.model import (
    BUCKET_RE,
    KEY_SOURCE_KEYS,
    S3_STORAGE_CLASSES,
    TARGET_KEYS,
    TargetConfig,
)
from reliad.errors import ConfigError


def parse_target(file: Path, name: str, raw: Any) -> TargetConfig:
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
        raise ConfigError(f"{file}: {where}storage_class {sc!r}{suggest(sc, S3_STORAGE_CLASSES)} is not one of "
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
