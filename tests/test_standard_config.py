"""policies/standard.toml is the standard's configuration in full: local and offsite locations,
replication, a key copy outside the state directory, credentials by reference, all five content
classes, the recommended schedules, and no check-config warning."""

from __future__ import annotations

import tomllib

from conftest import REPO_ROOT, Reliad

STANDARD = REPO_ROOT / "policies" / "standard.toml"


def _check() -> dict:
    return Reliad(STANDARD).json("check-config", str(STANDARD), "--no-paths")


def test_standard_config_validates_without_warnings() -> None:
    data = _check()
    assert data["ok"] and not data["problems"], data
    assert data["warnings"] == [], data["warnings"]
    assert data["uncovered_classes"] == []
    assert all(holders for holders in data["classes"].values())


def test_standard_config_has_local_and_offsite_with_replication() -> None:
    raw = tomllib.loads(STANDARD.read_text())
    types = {name: t["type"] for name, t in raw["targets"].items()}
    for policy in raw["policies"].values():
        kinds = [types[t] for t in policy["targets"]]
        assert kinds[0] == "local" and "s3" in kinds  # R7: local first, replicated offsite
    s3 = next(t for t in raw["targets"].values() if t["type"] == "s3")
    assert s3["endpoint_url"].startswith("https://")  # R16
    assert s3["credentials_file"].startswith("/etc/reliad/")  # by reference
    assert s3["object_lock"]["mode"] == "COMPLIANCE"  # R19
    assert not any(k in s3 for k in ("aws_access_key_id", "aws_secret_access_key", "secret"))


def test_standard_config_keeps_the_key_outside_the_state_directory() -> None:
    raw = tomllib.loads(STANDARD.read_text())
    for name, target in raw["targets"].items():
        assert target.get("encryption", True), name
        assert not target["key_file"].startswith(raw["state_dir"]), name


def test_standard_config_uses_the_recommended_schedules() -> None:
    sched = _check()["schedules"]["shop"]
    assert (sched["incremental"], sched["full"], sched["differential"]) == ("every 2h", "every 12h", "every 7d")
    assert (sched["verify_fast"], sched["verify_crc"]) == ("every 1d", "every 7d")  # R10c, on a schedule
    text = STANDARD.read_text()
    for clause in ("R6", "R7", "R8", "R9", "R10a", "R10b", "R10c", "R16", "R19", "R20"):
        assert clause in text, clause


def test_readme_points_to_the_clauses_and_the_example_repository() -> None:
    from reliad.config import load_config

    readme = (REPO_ROOT / "README.md").read_text()
    assert "docs/STANDARD.md" in readme
    clauses = (REPO_ROOT / "docs" / "STANDARD.md").read_text()
    for n in range(1, 23):
        assert f"| R{n}" in clauses, n
    example = load_config(REPO_ROOT / "policies" / "example.toml")
    assert example.targets["local"].path == REPO_ROOT / ".reliad-example" / "repo"
    assert "`.reliad-example/repo` at the top of the\ncheckout" in readme
