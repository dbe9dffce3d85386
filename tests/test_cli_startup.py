"""What a command costs before it starts: each command imports its own module and what it
uses, not every command's (issue 18: a verification of a 1 GiB backup takes about a second,
and start was a fifth of it). Nothing here is timed; the imports are what is checked."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from reliad.cli import COMMANDS, load_command, main
from reliad.config.drills import DEFAULT_SCHEDULES
from reliad.config.schedule import cron_trigger
from tests.conftest import REPO_ROOT, Reliad, write_config

# per command: modules it has no use for; each one cost start time before
NOT_NEEDED = {
    "verify": ("reliad.cli.report", "reliad.cli.drill", "reliad.cli.key", "reliad.cli.incidents",
               "reliad.cli.audit", "apscheduler", "asyncio", "psutil", "reliad.sources", "boto3"),
    # `reliad status` in a monitoring loop: the service's own modules are not needed to read its state
    "status": ("reliad.cli.verify", "reliad.cli.backup", "reliad.daemon.service", "reliad.drills.engine",
               "reliad.metrics", "reliad.report", "reliad.jobs", "boto3"),
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_listed_command_loads_under_its_own_name(name: str) -> None:
    cmd = load_command(name)
    assert isinstance(cmd, click.Command)
    assert cmd.name == name


def test_help_lists_every_command_and_an_unknown_one_is_a_usage_error() -> None:
    out = CliRunner().invoke(main, ["--help"]).output
    listed = {line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == set(COMMANDS)
    bad = CliRunner().invoke(main, ["verfiy"])
    assert bad.exit_code == 2
    assert "No such command 'verfiy'" in bad.output


@pytest.mark.parametrize("command", sorted(NOT_NEEDED))
def test_a_command_imports_only_what_it_uses(command: str, reliad: Reliad, tmp_path: Path) -> None:
    reliad.run("backup", "shop", "--type", "full")
    seen = tmp_path / "modules.json"
    probe = ("import json, runpy, sys\n"
             "try:\n    runpy.run_module('reliad', run_name='__main__')\n"
             "except SystemExit as e:\n    code = e.code\n"
             f"open({str(seen)!r}, 'w').write(json.dumps({{'code': code, 'modules': sorted(sys.modules)}}))\n")
    args = {"verify": ["verify", "--mode", "crc"], "status": ["status"]}[command]
    proc = subprocess.run([sys.executable, "-c", probe, *args, "-c", str(reliad.config)],
                          capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, timeout=120)
    result = json.loads(seen.read_text())
    assert result["code"] == 0, proc.stderr
    assert {"verify": "OK: 1 backups", "status": "service: not running"}[command] in proc.stdout
    loaded = [m for m in result["modules"] if m.startswith(NOT_NEEDED[command])]
    assert not loaded, f"reliad {command} imported {loaded}"


@pytest.mark.parametrize("scenario", sorted(DEFAULT_SCHEDULES))
def test_the_default_drill_schedules_are_valid_cron_lines(scenario: str) -> None:
    """They are not checked when a configuration loads (that would import APScheduler's cron
    trigger into every command), so they are checked here."""
    trigger = cron_trigger(DEFAULT_SCHEDULES[scenario], dt.UTC)
    assert trigger.get_next_fire_time(None, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) is not None


def test_a_drill_schedule_the_user_writes_is_still_checked(tmp_path: Path, src: Path) -> None:
    cfg = write_config(tmp_path / "reliad.toml", [str(src)],
                       extra='\n[drills.shop]\nstandby = "standby"\nschedule = { general = "0 4 1 13 *" }\n')
    proc = Reliad(cfg).run("check-config", expect=2)
    assert "drills.shop.schedule.general" in proc.stderr
    assert "is not a cron expression" in proc.stderr
