"""check-config warns, one line each, about what the standard asks and a configuration lacks:
an offsite location (R7), a key copy outside the state directory, a verification schedule
(R10c), TLS to a remote S3 endpoint (R16). Warnings never change the exit code."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Reliad

from reliad.config.advice import VERIFY_TYPES

BASE = '''state_dir = "state"
[targets.local]
type = "local"
path = "repo"
{local}
{more}
[policies.shop]
targets = [{targets}]
sources = [{{ type = "files", paths = ["src"], classes = ["pages", "customers", "transactions", "business", "merchants"] }}]
'''
OFFLINE = '[targets.usb]\ntype = "offline"\npath = "usb"\n'


def _check(tmp_path: Path, local: str = "", more: str = "", targets: str = '"local"',
           schedule: str = "") -> tuple[list[str], list[str]]:
    (tmp_path / "src").mkdir(exist_ok=True)
    cfg = tmp_path / "reliad.toml"
    cfg.write_text(BASE.format(local=local, more=more, targets=targets) + schedule)
    r = Reliad(cfg)
    text = r.run("check-config", expect=0)
    data = r.json("check-config")
    lines = [line for line in text.stdout.splitlines() if line.startswith("warning: ")]
    assert lines == [f"warning: {w}" for w in data["warnings"]]  # one line each, in text and JSON alike
    return data["warnings"], lines


def _about(warnings: list[str], needle: str) -> list[str]:
    return [w for w in warnings if needle in w]


NO_VERIFY = "[policies.shop.schedule]\n" + "".join(f'{t} = "off"\n' for t in VERIFY_TYPES)


def test_a_local_only_config_gets_one_line_for_each_gap(tmp_path: Path) -> None:
    warnings, _ = _check(tmp_path, schedule=NO_VERIFY)
    offsite = _about(warnings, "no offsite target (R7")
    assert len(offsite) == 1 and "R7" in offsite[0] and "'shop'" in offsite[0]
    key = _about(warnings, "only in the state directory")
    assert len(key) == 1 and str(tmp_path / "state") in key[0] and "reliad key export --target local" in key[0]
    verify = _about(warnings, "no verification schedule")
    assert len(verify) == 1 and "R10c" in verify[0]


def test_an_offsite_target_and_a_key_file_outside_the_state_directory_silence_them(tmp_path: Path) -> None:
    warnings, _ = _check(tmp_path, local='key_file = "keys/shop.key"', more=OFFLINE, targets='"local", "usb"')
    assert not _about(warnings, "no offsite target (R7") and not _about(warnings, "state directory"), warnings


@pytest.mark.parametrize("local", ['key_file = "state/keys/mine.key"', 'passphrase_file = "state/pass"'])
def test_a_key_source_inside_the_state_directory_is_no_copy(tmp_path: Path, local: str) -> None:
    warnings, _ = _check(tmp_path, local=local)
    assert len(_about(warnings, "only in the state directory")) == 1


@pytest.mark.parametrize("local", ['passphrase_credential = "reliad-pass"', 'passphrase_env = "RELIAD_PASS"'])
def test_a_credential_or_environment_passphrase_is_outside(tmp_path: Path, local: str) -> None:
    warnings, _ = _check(tmp_path, local=local)
    assert not _about(warnings, "state directory")


def test_plain_repositories_need_no_key_copy(tmp_path: Path) -> None:
    more = OFFLINE + "encryption = false\n"
    warnings, _ = _check(tmp_path, local="encryption = false", more=more, targets='"local", "usb"')
    assert not _about(warnings, "key of its encrypted repository")


@pytest.mark.parametrize(("endpoint", "warned"), [
    ("http://192.0.2.10:9000", True),
    ("http://s3.example.com", True),
    ("https://s3.example.com", False),
    ("http://127.0.0.1:9000", False),
    ("http://localhost:8333", False),
    ("http://[::1]:9000", False),
])
def test_plain_http_to_another_host_is_warned(tmp_path: Path, endpoint: str, warned: bool) -> None:
    more = f'[targets.offsite]\ntype = "s3"\nbucket = "shop-backups"\nendpoint_url = "{endpoint}"\n'
    warnings, _ = _check(tmp_path, more=more, targets='"local", "offsite"')
    tls = _about(warnings, "plain HTTP")
    assert len(tls) == warned and all("R16" in w and "'offsite'" in w and "https://" in w for w in tls), warnings
    assert not _about(warnings, "no offsite target (R7")


def test_the_severe_drills_recovery_key_is_a_key_copy(tmp_path: Path) -> None:
    more = OFFLINE + '[drills.shop]\nrecovery_key = { passphrase_file = "/etc/reliad/keys/drill-passphrase" }\n'
    warnings, _ = _check(tmp_path, more=more, targets='"local", "usb"')
    assert not _about(warnings, "state directory"), warnings


def test_an_active_verification_schedule_silences_its_warning(tmp_path: Path) -> None:
    warnings, _ = _check(tmp_path, schedule=f'[policies.shop.schedule]\n{VERIFY_TYPES[-1]} = "7d"\n')
    assert not _about(warnings, "no verification schedule"), warnings


def test_a_policy_verifies_by_default(tmp_path: Path) -> None:
    """verify_fast (daily) and verify_crc (weekly) are on unless turned off (issue 16, point 6)."""
    warnings, _ = _check(tmp_path)
    assert not _about(warnings, "no verification schedule")
