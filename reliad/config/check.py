"""What `check-config` checks beyond parsing: that this host has what the file names
(source paths, safely kept password files) and that every content class of R9 is covered.
Parsing alone must not touch the host, so that a file meant for another host still loads."""

from __future__ import annotations

import os
from typing import Any

from reliad.config.model import CONTENT_CLASSES, Config


def class_coverage(config: Config) -> dict[str, list[str]]:
    """For each content class of R9, the sources (as "policy/source") that carry it."""
    out: dict[str, list[str]] = {c: [] for c in CONTENT_CLASSES}
    for p in config.policies.values():
        for s in p.sources:
            for c in s.classes:
                out[c].append(f"{p.name}/{s.name}")
    return out


def check_paths(cfg: Config, paths: bool = True) -> tuple[list[str], list[str]]:
    """Problems (one line each, naming the file and key) and warnings about this host: missing
    source paths (unless `paths` is false) and password files others can read, plus any
    content class of R9 that no source carries."""
    problems: list[str] = []
    warnings: list[str] = []
    for p in cfg.policies.values():
        for i, s in enumerate(p.sources):
            where = f"policies.{p.name}.sources[{i}]"
            for path in s.paths if paths else []:
                if os.path.lexists(path):
                    continue
                if s.type in ("sqlite", "image"):  # their single `path` key
                    problems.append(f"{cfg.path}: {where}.path: {path} does not exist; give an existing "
                                    f"{'database file' if s.type == 'sqlite' else 'device or image file'}")
                else:
                    problems.append(f"{cfg.path}: {where}.paths: {path} does not exist; list existing files or "
                                    "directories (or pass --no-paths to check a file meant for another host)")
            pf = s.options.get("password_file")
            if pf and os.path.exists(pf) and os.stat(pf).st_mode & 0o077:
                warnings.append(f"policy {p.name!r}, source {s.name!r}: password_file {pf} can be read by other "
                                "users; chmod 600 it")
    for name, dc in cfg.drills.items():
        _check_drill(cfg, name, dc, problems, warnings)
    coverage = class_coverage(cfg)
    uncovered = [c for c, holders in coverage.items() if not holders]
    if uncovered:
        warnings.append(f"no source carries the content class{'es' if len(uncovered) > 1 else ''} "
                        f"{', '.join(uncovered)} (R9 asks for all of {', '.join(CONTENT_CLASSES)}); "
                        "add them to the classes of the sources that hold that content")
    return problems, warnings


def _check_drill(cfg: Config, name: str, dc: Any, problems: list[str], warnings: list[str]) -> None:
    """A standby that would overwrite what is backed up is an error; a severe drill that cannot
    open the offsite copy (no target, no key of its own) is worth a warning before it fails."""
    standby = dc.standby.resolve()
    for s in cfg.policies[name].sources:
        for path in s.paths:
            p = path.resolve()
            if standby == p or p in standby.parents or standby in p.parents:
                problems.append(f"{cfg.path}: drills.{name}.standby: {standby} overlaps the source path {p}; a "
                                "drill never writes there, so give the standby a directory of its own")
    if dc.schedules["severe"].enabled:
        if dc.offsite_target is None:
            warnings.append(f"policy {name!r} has no offsite target, so its severe drills will fail; add an s3 or "
                            f"offline target, or set drills.{name}.schedule.severe = \"off\"")
        elif not dc.recovery_key:
            warnings.append(f"severe drills of policy {name!r} need a key of their own for the offsite copy: set "
                            f"drills.{name}.recovery_key (docs/DRILLS.md), or they will fail")
