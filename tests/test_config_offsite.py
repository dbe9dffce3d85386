"""Configuration of s3 and offline targets: mistakes are refused with the key and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliad.config import parse_config
from reliad.errors import ConfigError


def _cfg(target: dict) -> dict:
    return {"state_dir": "/var/lib/reliad", "targets": {"local": {"type": "local", "path": "/srv/repo"},
                                                        "offsite": target},
            "policies": {"shop": {"sources": [{"type": "files", "paths": ["/srv/www"]}],
                                  "targets": ["local", "offsite"]}}}


def test_a_full_s3_target_is_accepted():
    cfg = parse_config(Path("/etc/reliad/reliad.toml"), _cfg({
        "type": "s3", "bucket": "shop-backups", "prefix": "web01/", "endpoint_url": "https://s3.example.com",
        "region": "us-east-1", "storage_class": "STANDARD_IA", "object_lock": {"mode": "COMPLIANCE", "days": 30},
        "credentials_file": "s3.credentials"}))
    t = cfg.targets["offsite"]
    assert t.options["credentials_file"] == Path("/etc/reliad/s3.credentials")
    assert [x.name for x in cfg.offsite_targets(cfg.policies["shop"])] == ["offsite"]


@pytest.mark.parametrize(("target", "message"), [
    ({"type": "s3"}, "bucket is required"),
    ({"type": "s3", "bucket": "Shop_Backups"}, "not a valid bucket name"),
    ({"type": "s3", "bucket": "shop-backups", "bukket": "x"}, "unknown key targets.offsite.'bukket'"),
    ({"type": "s3", "bucket": "shop-backups", "storage_class": "GLACIER_IRR"}, "did you mean 'GLACIER_IR'"),
    ({"type": "s3", "bucket": "shop-backups", "object_lock": {"mode": "STRICT", "days": 30}}, "mode = \"COMPLIANCE\""),
    ({"type": "s3", "bucket": "shop-backups", "object_lock": {"mode": "COMPLIANCE", "dayz": 30}}, "did you mean 'days'"),
    ({"type": "s3", "bucket": "shop-backups", "multipart_chunk_mib": 1}, "at least 5"),
    ({"type": "offline"}, "path is required for a target of type 'offline'"),
    ({"type": "offline", "path": "/mnt/usb", "verify": "byte"}, "verify must be \"fast\" or \"crc\""),
    ({"type": "offline", "path": "/mnt/usb", "attach": ""}, "attach must be a command line"),
])
def test_mistakes_are_refused(target, message):
    with pytest.raises(ConfigError) as e:
        parse_config(Path("/etc/reliad/reliad.toml"), _cfg(target))
    assert message in str(e.value)
