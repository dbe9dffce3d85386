"""Policy hooks around a backup, and the content classes of R9."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import write_config


def _config(tmp_path: Path, src: Path, hooks: str) -> Path:
    return write_config(tmp_path / "reliad.toml", [str(src)], extra=f"\n[policies.shop.hooks]\n{hooks}\n")


def test_before_hook_runs_first_and_after_hook_sees_the_status(reliad, src, tmp_path):
    marker = tmp_path / "after.txt"
    _config(tmp_path, src, f'before = ["echo taken > {src}/snapshot.txt"]\n'
                           f'after = ["echo $RELIAD_STATUS $RELIAD_POLICY >> {marker}"]\ntimeout = "30s"')
    full = reliad.json("backup", "shop", "--type", "full")
    assert marker.read_text() == "ok shop\n"
    names = [e["path"] for e in json.loads(reliad.run("ls", full["id"], "--json").stdout)]
    assert f"{src}/snapshot.txt" in names  # the before hook ran before the source was read


def test_failing_before_hook_fails_the_run_and_after_hooks_still_run(reliad, src, tmp_path):
    marker = tmp_path / "after.txt"
    _config(tmp_path, src, 'before = ["echo cannot create snapshot: volume group full >&2; exit 4"]\n'
                           f'after = ["echo $RELIAD_STATUS >> {marker}", "exit 1", "echo second >> {marker}"]')
    proc = reliad.run("backup", "shop", "--type", "full", expect=1)
    assert "before hook" in proc.stderr and "exit code 4" in proc.stderr
    assert "cannot create snapshot: volume group full" in proc.stderr
    assert marker.read_text() == "failed\nsecond\n"  # every after hook ran, even past a failing one
    runs = reliad.json("list")
    assert [r["status"] for r in runs] == ["failed"] and "volume group full" in runs[0]["error"]
    assert not list((tmp_path / "repo").glob("manifests/*"))


def test_hook_timeout_kills_the_command(reliad, src, tmp_path):
    _config(tmp_path, src, 'before = ["sleep 60"]\ntimeout = "1s"')
    proc = reliad.run("backup", "shop", "--type", "full", expect=1, timeout=30)
    assert "did not finish within 1 s" in proc.stderr


def test_bad_hook_config_is_refused(reliad, src, tmp_path):
    _config(tmp_path, src, 'before = ["true"]\ntimeout = "soon"')
    proc = reliad.run("check-config", expect=2)
    assert "hooks.timeout" in proc.stderr
    _config(tmp_path, src, 'befor = ["true"]')
    assert "did you mean 'before'" in reliad.run("check-config", expect=2).stderr


def test_content_classes_in_list_and_check_config(tmp_path, src):
    cfg = tmp_path / "reliad.toml"
    base = ('state_dir = "state"\n[targets.local]\ntype = "local"\npath = "repo"\n[policies.shop]\n'
            'targets = ["local"]\nsources = [\n'
            f'  {{ type = "files", name = "web", paths = ["{src}/sub"], classes = ["pages", "merchants"] }},\n'
            f'  {{ type = "files", name = "data", paths = ["{src}/a.txt"], classes = [%s] }},\n]\n')
    from conftest import Reliad

    cfg.write_text(base % '"customers"')
    reliad = Reliad(cfg)
    out = reliad.json("check-config")
    assert out["uncovered_classes"] == ["transactions", "business"]
    assert [w for w in out["warnings"] if "transactions, business (R9" in w]
    assert out["classes"]["pages"] == ["shop/web"]
    reliad.json("backup", "shop", "--type", "full")
    assert reliad.json("list")[0]["classes"] == ["customers", "merchants", "pages"]

    cfg.write_text(base % '"customers", "transactions", "business"')
    assert not [w for w in reliad.json("check-config")["warnings"] if "R9" in w]
    cfg.write_text(base % '"customer"')
    assert "did you mean 'customers'" in reliad.run("check-config", expect=2).stderr
