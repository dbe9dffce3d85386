"""`[report]` in the configuration, and which month the service's monthly job writes when."""

from __future__ import annotations

import datetime as dt
import json
import socket
from pathlib import Path

import pytest
from conftest import Reliad

from reliad.config import load_config
from reliad.config.report import ReportConfig
from reliad.errors import ConfigError
from reliad.report import monthly


def _config(tmp_path: Path, report: str) -> Path:
    path = tmp_path / "reliad.toml"
    path.write_text('state_dir = "state"\n\n[targets.local]\ntype = "local"\npath = "repo"\n\n'
                    '[policies.shop]\nsources = [{ type = "files", paths = ["/srv"] }]\ntargets = ["local"]\n' + report)
    return path


def test_without_a_report_section_the_defaults_hold(tmp_path: Path) -> None:
    assert load_config(_config(tmp_path, "")).report == ReportConfig(("pdf", "html", "json"), ("zh-CN", "en"), None, True)


def test_a_report_section_is_read(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path, '[report]\nformats = ["md", "pdf"]\nlanguages = ["en"]\n'
                                        'timezone = "Asia/Shanghai"\nmonthly = false\n'))
    assert cfg.report == ReportConfig(("md", "pdf"), ("en",), "Asia/Shanghai", False)


@pytest.mark.parametrize(("text", "message"), [
    ('formats = ["pdf", "docx"]', "report.formats must be a non-empty list of html, pdf, json, md"),
    ("languages = []", "report.languages must be a non-empty list of en, zh-CN"),
    ('timezone = "Asia/Beijing"', "report.timezone 'Asia/Beijing' is not a known time zone"),
    ('format = ["pdf"]', "unknown key report.'format' (did you mean 'formats'?)"),
    ('monthly = "yes"', "report.monthly"),
])
def test_a_wrong_report_setting_is_named_with_what_to_write(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=__import__("re").escape(message)):
        load_config(_config(tmp_path, f"[report]\n{text}\n"))


def test_check_config_reports_a_bad_report_section_in_one_line(tmp_path: Path) -> None:
    proc = Reliad(_config(tmp_path, '[report]\nlanguages = ["fr"]\n')).run("check-config", "--no-paths", expect=2)
    assert "report.languages" in proc.stdout + proc.stderr and "Traceback" not in proc.stderr


def _first_used(state_dir: Path, when: str) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "audit.log").write_text(json.dumps({"seq": 1, "time": when, "command": "backup"}) + "\n")


def test_the_previous_month_is_due_once_and_only_if_reliad_was_in_use_then(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path, '[report]\ntimezone = "Asia/Shanghai"\n'))
    now = dt.datetime(2026, 11, 30, 16, 30, tzinfo=dt.UTC)  # Dec 1, 00:30 in Shanghai
    assert monthly.due_month(cfg, now) is None  # no audit record: reliad was never used here
    _first_used(cfg.state_dir, "2026-12-01T00:10:00Z")
    assert monthly.due_month(cfg, now) is None  # first used after November ended
    _first_used(cfg.state_dir, "2026-11-20T08:00:00Z")
    assert monthly.due_month(cfg, now).label == "2026-11"
    reports = cfg.state_dir / "reports"
    reports.mkdir()
    (reports / f"{socket.gethostname()}-2026-11.json").write_text("{}")
    assert monthly.due_month(cfg, now) is None  # written already


def test_a_report_written_into_a_pipe_or_through_a_link_leaves_them_as_they_are(tmp_path: Path) -> None:
    import os
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    monthly.write_file(fifo, b"report")  # like -o /dev/stdout or /dev/null: written into, never replaced
    reader.join(timeout=60)
    assert got == [b"report"] and fifo.is_fifo()
    real, link = tmp_path / "real.pdf", tmp_path / "link.pdf"
    real.write_bytes(b"old")
    link.symlink_to(real)
    monthly.write_file(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.pdf", "pipe", "real.pdf"]  # no temporary left
