"""Issue 14, the severe scenario against a real S3 server (SeaweedFS): the site is lost, so the
drill starts from an empty temporary state directory and uses only the offsite target and the
recovery key configured for drills; it rebuilds the catalog from the bucket, then restores."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import Reliad
from dbutil import make_bank, maria_connect, maria_database, pg_connect, pg_database

from reliad.config import load_config
from reliad.drills.engine import run_drill
from reliad.repository import keys
from reliad.repository.names import manifest_object
from reliad.storage.s3 import S3Storage

from .seaweed import s3_config

FAST_KDF = {keys.TEST_KDF_ENV: "1"}


def severe_config(tmp_path: Path, weed, src: Path, bucket: str, drill: str) -> Reliad:
    cfg = s3_config(tmp_path, weed, src, bucket)
    cfg.write_text(cfg.read_text() + f'\n[drills.shop]\nstandby = "standby"\n{drill}')
    return Reliad(cfg)


def passphrase(path: Path) -> Path:
    path.write_text("the drill's own long recovery passphrase\n")
    path.chmod(0o600)
    return path


def test_severe_drill_from_the_bucket_alone(tmp_path, weed, src, bucket):
    passphrase(tmp_path / "drill-pass.txt")
    r = severe_config(tmp_path, weed, src, bucket, 'recovery_key = { passphrase_file = "drill-pass.txt" }\n')
    r.run("backup", "shop", "--type", "full")
    (src / "a.txt").write_text("changed after the full\n")
    inc = r.json("backup", "shop", "--type", "incremental")
    assert inc["replication"]["offsite"]["state"] == "replicated"
    # The drills' key goes where replication takes the slots from (docs/DRILLS.md), then offsite.
    r.run("key", "add", "--target", "local", "--passphrase-file", str(tmp_path / "drill-pass.txt"),
          "--label", "drills", env=FAST_KDF)
    r.run("replicate")
    # The host is lost: its repository, catalog and key file are gone.
    shutil.rmtree(tmp_path / "repo")
    shutil.rmtree(tmp_path / "state")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = r.run("drill", "shop", "--scenario", "severe", "--json", env={**FAST_KDF, "TMPDIR": str(tmp)})
    rec = json.loads(proc.stdout)
    assert rec["verdict"] == "PASS", rec["reasons"]
    assert list(tmp.iterdir()) == []  # the temporary state directory is gone with the drill
    assert rec["scenario"] == "severe" and rec["target"] == "offsite" and rec["backup_id"] == inc["id"]
    assert rec["objective_s"] == 12 * 3600 and rec["completeness_target"] == 0.98 and rec["completeness"] == 1.0
    fetch = next(p for p in rec["phases"] if p["name"] == "fetch")
    assert fetch["outcome"] == "ok" and "catalog rebuilt from offsite target 'offsite': 2 backups" in fetch["detail"]
    assert fetch["bytes"] > 0
    assert not (tmp_path / "repo").exists()  # nothing was written back to where the lost host kept it
    text = r.run("drill", "shop", "--scenario", "severe", env=FAST_KDF).stdout
    assert "severe scenario" in text and "against the objective 12.00 h: met" in text
    assert "against the target 98.00 %: met" in text and ": PASS" in text


def test_severe_drill_never_uses_the_local_key_file(tmp_path, weed, src, bucket):
    r = severe_config(tmp_path, weed, src, bucket, "")
    r.run("backup", "shop", "--type", "full")
    assert list((tmp_path / "state" / "keys").glob("*.key"))  # the local key file is right there
    proc = r.run("drill", "shop", "--scenario", "severe", "--json", expect=1)
    rec = json.loads(proc.stdout)
    assert rec["verdict"] == "FAIL"
    assert "no recovery key is configured for drills" in rec["reasons"][0]
    assert all(p["outcome"] == "skipped" for p in rec["phases"] if p["name"] in ("restore", "verify"))


def test_severe_drill_with_databases(tmp_path, weed, src, bucket):
    passphrase(tmp_path / "drill-pass.txt")
    with pg_database() as pg, maria_database() as maria:
        for connect in (lambda: pg_connect(pg), lambda: maria_connect(maria)):
            con = connect()
            with con.cursor() as cur:
                make_bank(cur)
            con.close()
        cfg = s3_config(tmp_path, weed, src, bucket)
        text = cfg.read_text().replace(
            'exclude = ["*.tmp"] }]',
            f'exclude = ["*.tmp"] }}, {{ type = "postgres", name = "pg", host = "127.0.0.1", user = "postgres", '
            f'databases = ["{pg}"] }}, {{ type = "mariadb", name = "maria", host = "127.0.0.1", user = "root", '
            f'databases = ["{maria}"] }}]')
        cfg.write_text(text + '\n[drills.shop]\nstandby = "standby"\n'
                              'recovery_key = { passphrase_file = "drill-pass.txt" }\n'
                              '[[drills.shop.checks]]\nname = "pg"\nsource = "pg"\nsql = "SELECT count(*) FROM accounts"\n'
                              '[[drills.shop.checks]]\nname = "maria"\nsource = "maria"\n'
                              'sql = "SELECT sum(balance) FROM accounts"\nexpect = "= 20000"\n')
        r = Reliad(cfg)
        r.run("backup", "shop", "--type", "full")
        r.run("key", "add", "--target", "local", "--passphrase-file", str(tmp_path / "drill-pass.txt"), env=FAST_KDF)
        r.run("replicate")
        shutil.rmtree(tmp_path / "repo")
        shutil.rmtree(tmp_path / "state")
        rec = json.loads(r.run("drill", "shop", "--scenario", "severe", "--json", env=FAST_KDF).stdout)
        assert rec["verdict"] == "PASS", rec["reasons"]
        assert [(c["name"], c["outcome"]) for c in rec["checks"]] == [("pg", "PASS"), ("maria", "PASS")]
        assert {d["source"] for d in rec["databases"]} == {"pg", "maria"}


def test_a_severe_drill_downloads_the_backups_manifest_once(tmp_path, weed, src, bucket, monkeypatch):
    """The restore, the check of the standby tree and the databases each pass over the
    manifest; from the bucket, each pass was a download of it."""
    passphrase(tmp_path / "drill-pass.txt")
    r = severe_config(tmp_path, weed, src, bucket, 'recovery_key = { passphrase_file = "drill-pass.txt" }\n')
    bid = r.json("backup", "shop", "--type", "full")["id"]
    r.run("key", "add", "--target", "local", "--passphrase-file", str(tmp_path / "drill-pass.txt"),
          "--label", "drills", env=FAST_KDF)
    r.run("replicate")
    opened: list[str] = []
    real_open_read = S3Storage.open_read

    def counting(self: S3Storage, name: str):
        opened.append(name)
        return real_open_read(self, name)

    monkeypatch.setattr(S3Storage, "open_read", counting)  # the real S3 storage, its downloads counted
    monkeypatch.setenv(keys.TEST_KDF_ENV, "1")
    rec = run_drill(load_config(r.config), "shop", "severe")
    assert rec["verdict"] == "PASS", rec["reasons"]
    assert opened.count(manifest_object(bid)) == 1
