"""The command line as sysadmins type it: -c before the subcommand (as git -C, restic -r and
borgmatic -c), and a TARGETS column in `list` once backups have copies in several targets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT, Reliad, write_config


def _reliad(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`reliad ARGS` exactly as given (the Reliad fixture would add -c after the command)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("RELIAD_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "reliad", *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=cwd)


def test_config_before_the_subcommand(reliad: Reliad) -> None:
    cfg = str(reliad.config)
    backup = _reliad("-c", cfg, "backup", "shop", "--type", "full")
    assert backup.returncode == 0, backup.stderr
    listed = _reliad("--config", cfg, "list")
    assert listed.returncode == 0 and backup.stdout.strip() in listed.stdout, listed.stderr
    keys = _reliad("-c", cfg, "key", "list", "--target", "local")  # a subcommand of a group
    assert keys.returncode == 0 and "opened by this configuration" in keys.stdout, keys.stderr
    same = _reliad("-c", cfg, "list", "-c", cfg)
    assert same.returncode == 0, same.stderr


def test_config_given_twice_differently_is_a_usage_error(reliad: Reliad, tmp_path: Path) -> None:
    other = write_config(tmp_path / "other.toml", [str(tmp_path)])
    proc = _reliad("-c", str(reliad.config), "list", "-c", str(other))
    assert proc.returncode == 2
    assert "-c is given twice" in proc.stderr and str(other) in proc.stderr


def test_no_config_anywhere_names_the_default(tmp_path: Path) -> None:
    proc = _reliad("list", cwd=tmp_path)
    assert proc.returncode == 2 and "configuration file not found" in proc.stderr


def test_list_shows_targets_once_copies_are_in_several(tmp_path: Path, src: Path) -> None:
    extra = '[targets.usb]\ntype = "offline"\npath = "usb"\n'
    cfg = write_config(tmp_path / "reliad.toml", [str(src)], extra=extra)
    r = Reliad(cfg)
    first = r.json("backup", "shop", "--type", "full")["id"]
    only_local = r.run("list").stdout
    assert "TARGETS" not in only_local.splitlines()[0]

    cfg.write_text(cfg.read_text().replace('targets = ["local"]', 'targets = ["local", "usb"]'))
    second = r.json("backup", "shop", "--type", "full")["id"]
    lines = r.run("list").stdout.splitlines()
    assert lines[0].split()[-1] == "TARGETS"
    by_id = {line.split()[0]: line.split()[-1] for line in lines[1:]}
    assert by_id[second] == "local,usb"
    assert by_id[first] in ("local", "local,usb")  # the first is copied too once usb catches up
    rows = {row["id"]: row for row in r.json("list")}
    assert rows[second]["targets"] == ["local", "usb"]
