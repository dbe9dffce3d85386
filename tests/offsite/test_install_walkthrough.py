"""docs/INSTALL.md walked as a new sysadmin would, against a real S3 server: the shipped
policies/standard.toml edited only where the guide says (paths, bucket, endpoint), the repository
and the bucket created, the key exported, a first backup replicated and verified; then the host
is lost and the data comes back from the bucket and the exported key alone."""

from __future__ import annotations

import filecmp
import re
import shutil
from pathlib import Path

from conftest import REPO_ROOT, Reliad

from .seaweed import Weed, bucket_name


def _edited_standard(tmp_path: Path, src: Path, weed: Weed, bucket: str) -> Path:
    """Step 2 and 3: paths at this host's data, the database source removed (its classes given to
    the files), the bucket, its endpoint and credentials. The test server speaks HTTP on loopback."""
    text = (REPO_ROOT / "policies" / "standard.toml").read_text()
    db = re.search(r"\n# The shop's database.*?\n(?=\n# R6)", text, flags=re.S)
    assert db, "the standard configuration's database source moved; update this walkthrough"
    text = text.replace(db.group(0), "")
    replace = {
        'state_dir = "/var/lib/reliad"': f'state_dir = "{tmp_path / "state"}"',
        'path = "/var/backups/reliad"': f'path = "{tmp_path / "repo"}"',
        'key_file = "/etc/reliad/keys/shop.key"': f'key_file = "{tmp_path / "etc" / "keys" / "shop.key"}"',
        'paths = ["/srv/shop"]': f'paths = ["{src}"]',
        'classes = ["pages", "merchants"]': 'classes = ["pages", "customers", "transactions", "business", "merchants"]',
        'bucket = "shop-backups"': f'bucket = "{bucket}"',
        'endpoint_url = "https://s3.eu-central-1.amazonaws.com"': f'endpoint_url = "{weed.endpoint}"',
        'region = "eu-central-1"': 'region = "us-east-1"',
        'credentials_file = "/etc/reliad/s3.credentials"':
            f'credentials_file = "{weed.credentials_file(tmp_path / "s3.credentials")}"',
        'listen = "127.0.0.1:11090"': "enabled = false",
        'standby = "/var/lib/reliad/standby/shop"': f'standby = "{tmp_path / "standby"}"',
        'passphrase_file = "/etc/reliad/keys/drill-passphrase"':
            f'passphrase_file = "{tmp_path / "etc" / "keys" / "drill-passphrase"}"',
    }
    for old, new in replace.items():
        assert old in text, f"policies/standard.toml no longer has {old}; update docs/INSTALL.md and this test"
        text = text.replace(old, new)
    (tmp_path / "etc" / "keys").mkdir(parents=True, mode=0o700)
    cfg = tmp_path / "reliad.toml"
    cfg.write_text(text)
    return cfg


def _same_tree(a: Path, b: Path) -> None:
    cmp = filecmp.dircmp(a, b)
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files and not cmp.funny_files, cmp.report()
    for sub in cmp.common_dirs:
        _same_tree(a / sub, b / sub)


def test_install_guide_from_first_backup_to_lost_host(tmp_path: Path, src: Path, weed: Weed) -> None:
    (src / "skip.tmp").unlink()  # the standard excludes *.tmp
    bucket = bucket_name("guide")
    r = Reliad(_edited_standard(tmp_path, src, weed, bucket))
    checked = r.json("check-config")
    assert checked["ok"] and checked["uncovered_classes"] == []
    assert not [w for w in checked["warnings"] if "offsite" in w or "key" in w or "HTTP" in w], checked["warnings"]

    # Step 4: the repository and its key, the bucket (with Object Lock), the exported key.
    r.run("init", "--target", "local")
    assert (tmp_path / "etc" / "keys" / "shop.key").exists()
    r.run("init", "--target", "offsite", "--create-bucket")
    drill_pass = tmp_path / "etc" / "keys" / "drill-passphrase"
    drill_pass.write_text("a passphrase only the drills use\n")
    drill_pass.chmod(0o600)
    r.run("key", "add", "--target", "local", "--passphrase-file", str(drill_pass), "--label", "drills")
    exported = r.run("key", "export", "--target", "local").stdout
    recovery = tmp_path / "kept-off-the-host" / "reliad-recovery.txt"
    recovery.parent.mkdir()
    recovery.write_text(exported)
    recovery.chmod(0o600)

    # Step 5: the first backup, replicated and verified; step 6: status and list.
    first = r.json("backup", "shop", "--type", "full")
    assert first["replication"]["offsite"]["state"] == "replicated"
    assert "offsite: 1 replicated, 0 pending" in r.run("replicate", "--status").stdout
    assert r.run("verify", "--mode", "crc").stdout.splitlines()[-1].startswith("OK: 2 backups")
    r.run("status")
    listing = r.run("list").stdout.splitlines()
    assert listing[0].endswith("TARGETS") and listing[1].endswith("local,offsite")
    assert "drills" in r.run("key", "list", "--target", "offsite").stdout  # the slot went offsite with the backup

    # Step 9: a first drill of each scenario; the severe one from the bucket and the drill passphrase.
    for scenario in ("general", "severe"):
        drill = r.run("drill", "shop", "--scenario", scenario, check=False)
        assert drill.returncode == 0 and "PASS" in drill.stdout, drill.stdout + drill.stderr

    # Step 10: the host is lost. The configuration, the credentials and the exported key survived.
    for gone in ("state", "repo", "etc"):
        shutil.rmtree(tmp_path / gone)
    cfg = r.config.read_text()
    offsite = cfg.index("[targets.offsite]")
    head, tail = cfg[:offsite], cfg[offsite:]
    r.config.write_text(head + tail.replace(f'key_file = "{tmp_path / "etc" / "keys" / "shop.key"}"',
                                            f'key_file = "{recovery}"', 1))
    assert r.json("catalog", "rebuild", "--target", "offsite")["targets"] == {"offsite": 1}
    assert [b["id"] for b in r.json("list", "--target", "offsite")] == [first["id"]]
    dest = tmp_path / "new-host" / "srv" / "shop"
    r.run("restore", first["id"], str(dest), "--target", "offsite", "--relative")
    _same_tree(src, dest)
