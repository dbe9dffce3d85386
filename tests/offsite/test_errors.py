"""Errors a user meets with an S3 target: one sentence naming the target and what to do,
exit 1, and never a credential in the output."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import Reliad

from .seaweed import SECRET_KEY, bucket_name, free_port, s3_config


def _one_error_line(proc) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("reliad: error:")]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.mark.parametrize("case", ["wrong_secret", "missing_bucket", "wrong_endpoint", "no_network", "unknown_host",
                                  "lock_without_versioning"])
def test_error_sentences(case, weed, src, tmp_path, bucket):
    endpoint = {"wrong_endpoint": f"http://127.0.0.1:{weed.ports['f']}",  # the filer: HTTP, but not S3
                "no_network": f"http://127.0.0.1:{free_port()}",
                "unknown_host": "http://reliad-no-such-host.invalid:9000"}.get(case)
    name = bucket_name("missing") if case == "missing_bucket" else bucket
    extra = 'object_lock = { mode = "COMPLIANCE", days = 1 }\n' if case == "lock_without_versioning" else ""
    cfg = s3_config(tmp_path, weed, src, name, extra_target=extra, endpoint=endpoint)
    if case == "wrong_secret":
        (tmp_path / "s3.credentials").write_text("[default]\naws_access_key_id = RELIADTESTKEY\n"
                                                 "aws_secret_access_key = not-the-secret\n")
    r = Reliad(cfg)
    r.run("init", "--target", "local")
    proc = r.run("replicate", "-vv", expect=1)
    line = _one_error_line(proc)
    assert "target 'offsite'" in line
    expected = {"wrong_secret": "refused the credentials (SignatureDoesNotMatch); check the access key and secret in "
                                "the credentials file",
                "missing_bucket": f"bucket '{name}' does not exist",
                "wrong_endpoint": "which is not what an S3 server says; check endpoint_url",
                "no_network": "cannot connect to",
                "unknown_host": "cannot resolve the host",
                "lock_without_versioning": "has no versioning"}[case]
    assert expected in line, line
    assert SECRET_KEY not in proc.stdout + proc.stderr
    assert "not-the-secret" not in proc.stdout + proc.stderr
    if case == "wrong_secret":
        js = r.run("replicate", "--json", expect=1)
        assert "target 'offsite'" in js.stdout and "not-the-secret" not in js.stdout
    if case == "missing_bucket":
        assert "--create-bucket" in line
        r.run("replicate", "--create-bucket", expect=0)
        assert weed.client().head_bucket(Bucket=name)


def test_credentials_from_the_standard_chain(weed, src, tmp_path, bucket):
    cfg = s3_config(tmp_path, weed, src, bucket)
    cfg.write_text(cfg.read_text().replace(f'credentials_file = "{tmp_path / "s3.credentials"}"\n', ""))
    r = Reliad(cfg)
    r.run("init", "--target", "local")
    env = {"AWS_ACCESS_KEY_ID": "RELIADTESTKEY", "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_CONFIG_FILE": str(tmp_path / "none")}
    r.run("replicate", env=env, expect=0)
    missing = {**env, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    line = _one_error_line(r.run("replicate", env=missing, expect=1))
    assert "no S3 credentials found" in line


def test_backup_succeeds_when_the_offsite_store_is_unreachable(weed, src, tmp_path, bucket):
    down = f"http://127.0.0.1:{free_port()}"
    cfg = s3_config(tmp_path, weed, src, bucket, endpoint=down)
    r = Reliad(cfg)
    proc = r.run("backup", "shop", "--type", "full", "--json", expect=0)
    out = json.loads(proc.stdout)
    assert out["status"] == "ok" and out["replication_pending"] == 1
    assert out["replication"]["offsite"]["state"] == "pending"
    assert any("replication to 'offsite' is pending" in w and "'reliad replicate' (or the next backup) sends" in w
               for w in out["warnings"])
    status = r.json("replicate", "--status")
    assert status["targets"][0]["pending"][0]["id"] == out["id"]
    assert "cannot connect" in status["targets"][0]["pending"][0]["last_error"]
    assert r.json("list")[0]["replication"] == {"offsite": "pending"}
    # The store is reachable again: the next run catches up.
    cfg.write_text(cfg.read_text().replace(down, weed.endpoint))
    done = r.json("replicate")
    assert done["ok"] and done["targets"][0]["replicated"] == [out["id"]]
    assert r.json("list", "--target", "local")[0]["replication"] == {"offsite": "replicated"}
    # The store goes away again: restores find the local copy first and say why the bucket could not help.
    cfg.write_text(cfg.read_text().replace(weed.endpoint, down))
    r.run("restore", out["id"], str(tmp_path / "out"), expect=0)
    shutil.rmtree(tmp_path / "repo")
    line = _one_error_line(r.run("restore", out["id"], str(tmp_path / "out2"), expect=1))
    assert "no reachable target holds backup" in line and "cannot connect" in line
    assert "replicate" not in line  # a restore has nothing to replicate: the advice fits every command
