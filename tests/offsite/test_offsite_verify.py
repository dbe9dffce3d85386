"""verify --mode fast on S3 reads no data yet catches an altered pack through the store's
own checksum; Object Lock retention is set on every object replication writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import Reliad

from .seaweed import bucket_name, s3_config


def test_fast_catches_a_same_size_alteration_through_the_store_checksum(offsite, weed, bucket):
    bid = offsite.json("backup", "shop", "--type", "full")["id"]
    client = weed.client()
    key = f"web01/data/{bid}/000001.pack"
    body = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    body[len(body) // 2] ^= 0xFF
    client.put_object(Bucket=bucket, Key=key, Body=bytes(body), ChecksumAlgorithm="CRC32C")
    fast = offsite.run("verify", "--mode", "fast", "--target", "offsite", "--json", expect=3)
    assert "CRC32C" in fast.stdout and key.removeprefix("web01/") in fast.stdout
    offsite.run("verify", "--mode", "crc", "--target", "offsite", expect=3)
    offsite.run("verify", "--mode", "fast", "--target", "local", expect=0)


def test_replication_writes_every_object_with_the_configured_retention(weed, src, tmp_path):
    name = bucket_name("locked")
    cfg = s3_config(tmp_path, weed, src, name, extra_target='object_lock = { mode = "COMPLIANCE", days = 3 }\n')
    r = Reliad(cfg)
    r.run("init", "--target", "offsite", "--create-bucket")
    bid = r.json("backup", "shop", "--type", "full")["id"]
    client = weed.client()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=name)["Contents"]]
    assert f"web01/manifests/{bid}" in keys and len(keys) >= 3
    soon = datetime.now(UTC) + timedelta(days=3)
    for key in keys:
        h = client.head_object(Bucket=name, Key=key)
        assert h["ObjectLockMode"] == "COMPLIANCE", key
        assert abs((h["ObjectLockRetainUntilDate"] - soon).total_seconds()) < 600, key
    assert r.json("verify", "--mode", "fast", "--target", "offsite")["ok"]


def test_prune_skips_objects_under_object_lock(weed, src, tmp_path):
    name = bucket_name("prune")
    cfg = s3_config(tmp_path, weed, src, name, extra_target='object_lock = { mode = "COMPLIANCE", days = 1 }\n')
    cfg.write_text(cfg.read_text() + "retention = { keep_last = 1 }\n")
    r = Reliad(cfg)
    r.run("init", "--target", "offsite", "--create-bucket")
    old = r.json("backup", "shop", "--type", "full")["id"]
    (src / "a.txt").write_text("newer\n")
    new = r.json("backup", "shop", "--type", "full")["id"]
    report = r.json("prune")
    assert report["ok"], report
    by_target = {t["target"]: t for t in report["targets"]}
    assert f"manifests/{old}" in by_target["offsite"]["locked"]
    assert not by_target["local"]["locked"]
    weed.client().head_object(Bucket=name, Key=f"web01/manifests/{old}")  # still there, still locked
    assert [b["id"] for b in r.json("list", "--target", "local") if b["status"] == "ok"] == [new]
