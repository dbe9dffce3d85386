"""policies/*.toml validate, and check-config names the file and key of each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO_ROOT, Reliad, write_config

POLICIES = sorted((REPO_ROOT / "policies").glob("*.toml"))


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_shipped_policies_validate(path: Path) -> None:
    data = Reliad(path).json("check-config", str(path), "--no-paths")
    assert data["ok"] and data["policies"] and not data["problems"]


def test_standard_policy_is_the_standards_defaults() -> None:
    data = Reliad(REPO_ROOT / "policies" / "standard.toml").json(
        "check-config", str(REPO_ROOT / "policies" / "standard.toml"), "--no-paths")
    sched = data["schedules"]["shop"]
    assert (sched["incremental"], sched["full"], sched["differential"]) == ("every 2h", "every 12h", "every 7d")
    text = (REPO_ROOT / "policies" / "standard.toml").read_text()
    for clause in ("R6", "R7", "R8", "R9", "R10a", "R10b", "R10c"):
        assert clause in text


@pytest.mark.parametrize(("extra", "needles"), [
    ('[policies.shop.schedule]\nincremnetal = "2h"\n',
     ["policies.shop.schedule.'incremnetal'", "did you mean 'incremental'", "allowed here"]),
    ('[policies.shop.schedule]\nfull = { cron = "0 */2 * *" }\n',
     ["policies.shop.schedule.full.cron", "is not a cron expression", "five fields"]),
    ('[policies.shop.schedule]\nfull = "every day"\n', ["policies.shop.schedule.full", "is not a schedule"]),
    ('[policies.shop.retention]\nkeep_fulls = "3"\n', ["policies.shop.retention.keep_fulls", "an integer"]),
    ('[daemon]\nstop_grace = "soon"\n', ["daemon.stop_grace", "a duration"]),
])
def test_mistakes_give_one_line_naming_file_and_key(tmp_path: Path, extra: str, needles: list[str]) -> None:
    (tmp_path / "src").mkdir()
    cfg = write_config(tmp_path / "reliad.toml", [str(tmp_path / "src")], extra=extra)
    proc = Reliad(cfg).run("check-config", expect=2)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(cfg) in lines[0], proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_missing_path_names_the_key(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "reliad.toml", [str(tmp_path / "nowhere")])
    proc = Reliad(cfg).run("check-config", expect=2)
    (line,) = proc.stderr.strip().splitlines()
    assert str(cfg) in line and "policies.shop.sources[0].paths" in line and "does not exist" in line
    Reliad(cfg).run("check-config", "--no-paths", expect=0)
