"""Replication under faults: the writer killed mid-upload, the S3 server killed and restarted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT, Reliad

from .seaweed import bucket_name, s3_config


def _popen(cfg: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "reliad", *args, "-c", str(cfg)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})


def _wait_for(cond, proc: subprocess.Popen, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"replicate ended (rc={proc.returncode}) before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def _keys(client, bucket: str) -> dict[str, int]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {o["Key"]: o["Size"] for p in pages for o in p.get("Contents", [])}


def _local_only(cfg: Path) -> Path:
    """The same repository and state, with a policy that does not replicate on backup."""
    other = cfg.with_name("local-only.toml")
    other.write_text(cfg.read_text().replace('targets = ["local", "offsite"]', 'targets = ["local"]'))
    return other


def test_writer_killed_mid_multipart_upload_leaves_no_object(weed, bucket, src, tmp_path):
    (src / "big.bin").write_bytes(os.urandom(32 << 20))
    cfg = s3_config(tmp_path, weed, src, bucket, extra_target="max_concurrency = 1\n")
    cfg.write_text(cfg.read_text().replace("pack_size_mib = 1", "pack_size_mib = 64"))
    bid = Reliad(_local_only(cfg)).json("backup", "shop", "--type", "full")["id"]
    client = weed.client()
    proc = _popen(cfg, "replicate")
    _wait_for(lambda: client.list_multipart_uploads(Bucket=bucket).get("Uploads"), proc, "a multipart upload")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    keys = _keys(client, bucket)
    assert f"web01/manifests/{bid}" not in keys
    local_sizes = {f"web01/{p.relative_to(tmp_path / 'repo')}": p.stat().st_size
                   for p in (tmp_path / "repo" / "data").rglob("*.pack")}
    for key, size in keys.items():
        if key in local_sizes:
            assert size == local_sizes[key], f"{key} looks complete but is cut"
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads"), "the cut upload is still open"

    r = Reliad(cfg)
    out = r.json("replicate")
    assert out["ok"] and out["targets"][0]["replicated"] == [bid]
    assert out["targets"][0]["aborted_uploads"] >= 1
    assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads")
    assert r.json("verify", "--mode", "crc", "--target", "offsite")["ok"]


def test_server_killed_mid_replication_then_catch_up(own_weed, src, tmp_path):
    weed = own_weed
    bucket = bucket_name("faults")
    client = weed.client()
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for i in range(24):
        (src / f"blob{i:02d}.bin").write_bytes(os.urandom(1 << 20))
    cfg = s3_config(tmp_path, weed, src, bucket, extra_target="max_concurrency = 1\n")
    full = Reliad(_local_only(cfg)).json("backup", "shop", "--type", "full")
    npacks = len(list((tmp_path / "repo" / "data").rglob("*.pack")))
    assert npacks > 10

    # 1. The server dies half way and stays down: replication fails with a sentence, nothing looks complete.
    proc = _popen(cfg, "replicate")
    _wait_for(lambda: sum(k.endswith(".pack") for k in _keys(client, bucket)) >= 3, proc, "three packs offsite")
    weed.kill()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, (out, err)
    assert "target 'offsite'" in err and "Traceback" not in err
    r = Reliad(cfg)
    status = r.json("replicate", "--status")["targets"][0]
    assert [p["id"] for p in status["pending"]] == [full["id"]]

    weed.start()
    keys = _keys(client, bucket)
    assert f"web01/manifests/{full['id']}" not in keys, "no manifest before all its packs"
    arrived = sum(k.endswith(".pack") for k in keys)

    # 2. The next run copies only what is missing.
    done = r.json("replicate")
    assert done["ok"] and done["targets"][0]["replicated"] == [full["id"]]
    assert done["targets"][0]["objects_copied"] <= npacks - arrived + 1 + 1  # missing packs, maybe one cut, manifest

    # 3. An outage shorter than the retries is ridden out within one run.
    (src / "later.bin").write_bytes(os.urandom(8 << 20))
    inc = Reliad(_local_only(cfg)).json("backup", "shop", "--type", "incremental")
    patient = cfg.with_name("patient.toml")
    patient.write_text(cfg.read_text().replace("retries = 2\nretry_base_s = 0.2", "retries = 12\nretry_base_s = 1"))
    proc = _popen(patient, "replicate", "--json")
    _wait_for(lambda: any(k.startswith(f"web01/data/{inc['id']}/") for k in _keys(client, bucket)), proc,
              "the incremental's first pack")
    weed.kill()
    weed.start()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, (out, err)
    assert json.loads(out)["targets"][0]["replicated"] == [inc["id"]]

    # Nothing duplicated, nothing corrupted.
    versions = client.list_object_versions(Bucket=bucket)
    keys = [v["Key"] for v in versions.get("Versions", [])]
    dupes = {k for k in keys if keys.count(k) > 1}
    assert all(k.endswith(".pack") for k in dupes) and len(dupes) <= 2, \
        f"only a pack cut by a kill may have been uploaded twice: {dupes}"
    assert r.json("verify", "--mode", "crc", "--target", "offsite")["ok"]
    assert [b["id"] for b in r.json("list", "--target", "offsite")] == [full["id"], inc["id"]]
