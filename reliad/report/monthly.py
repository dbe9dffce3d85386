"""Writing a month's report files: what `reliad report` does once, and the daemon on each 1st.

Files go to `state_dir/reports/` (the daemon) or wherever asked, named
`<host>-<YYYY-MM>.<lang>.<format>` (the JSON, which has no language, `<host>-<YYYY-MM>.json`),
each written to a temporary name and renamed, so a reader never sees half a report. The JSON
is also the host's ledger summary that the replication sends offsite for the fleet report.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import stat
from pathlib import Path
from typing import Any

from reliad.errors import ReliadError
from reliad.report import model as report_model
from reliad.report.ledgerview import Compute
from reliad.report.period import Month, previous_month, zone
from reliad.report.render import render
from reliad.statedir import REPORTS_DIR
from reliad.timeutil import iso


def file_name(host: str, month: str, fmt: str, lang: str) -> str:
    return f"{host}-{month}.json" if fmt == "json" else f"{host}-{month}.{lang}.{fmt}"


def write_file(path: Path, data: bytes) -> None:
    """A regular file atomically: a temporary file beside it (beside the file a symbolic link
    points to), flushed, renamed over it. Anything else that exists there (a device like
    /dev/null, a pipe, a terminal) is written into, never replaced."""
    try:
        special = not stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        special = False
    except OSError as e:
        raise ReliadError(f"{path}: cannot write the report: {e.strerror}") from None
    try:
        if special:
            with open(path, "wb") as f:
                f.write(data)
            return
        target = Path(os.path.realpath(path))
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as e:
        raise ReliadError(f"{path}: cannot write the report: {e.strerror}") from None


def write_month(m: dict[str, Any], out_dir: Path, formats: tuple[str, ...], languages: tuple[str, ...]) -> list[Path]:
    """Every format in every language (the JSON once) of one model into `out_dir`."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
    except OSError as e:
        raise ReliadError(f"{out_dir}: cannot create the reports directory: {e.strerror}") from None
    written = []
    for fmt in formats:
        for lang in languages[:1] if fmt == "json" else languages:
            path = out_dir / file_name(m["host"], m["month"], fmt, lang)
            write_file(path, render(m, fmt, lang))
            written.append(path)
    return written


def reports_dir(config: Any) -> Path:
    return Path(config.state_dir) / REPORTS_DIR


def in_use_since(state_dir: Path) -> str | None:
    """When reliad was first used on this host: the time of the audit log's first record."""
    from reliad import audit

    try:
        with audit.log_path(state_dir).open("rb") as f:
            first = json.loads(f.readline() or b"{}")
    except (OSError, ValueError):
        return None
    return first.get("time") if isinstance(first, dict) else None


def due_month(config: Any, now: dt.datetime) -> Month | None:
    """The previous month, when its reports are not written yet (the JSON is written last of
    all, so its presence means the month is done) and reliad was in use on this host before it
    ended (a fresh install writes no report of the month before it); None when nothing is due."""
    month = previous_month(now, zone(config.report.timezone))
    json_file = reports_dir(config) / file_name(socket.gethostname(), month.label, "json", "")
    since = in_use_since(Path(config.state_dir))
    if json_file.exists() or since is None or since >= iso(month.end):
        return None
    return month


def write_due(config: Any, now: dt.datetime, compute: Compute | None = None) -> list[Path]:
    """The daemon's monthly job: the previous month in every configured format and language,
    once. The JSON goes last, so an interrupted run is done again in full."""
    month = due_month(config, now)
    if month is None:
        return []
    m = report_model.build(config, month, now, compute=compute)
    formats = tuple(f for f in config.report.formats if f != "json")
    written = write_month(m, reports_dir(config), formats, config.report.languages)
    return written + write_month(m, reports_dir(config), ("json",), config.report.languages)
