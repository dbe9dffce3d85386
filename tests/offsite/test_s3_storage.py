"""S3Storage against a real SeaweedFS: the Storage contract, checksums, multipart, Object Lock."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta

import crc32c
import pytest

from reliad.storage import ObjectLockedError
from reliad.storage.s3 import ObjectLock, S3Error, S3Storage, crc_b64

from .seaweed import bucket_name


def storage(weed, bucket: str, **kw) -> S3Storage:
    return S3Storage("offsite", bucket, prefix="host1/", endpoint_url=weed.endpoint, region="us-east-1",
                     credentials_file=weed.credentials_file(weed.dir / "creds"), retries=2, retry_base_s=0.1,
                     multipart_threshold=5 << 20, multipart_chunk=5 << 20, **kw)


def test_storage_contract(weed, bucket, tmp_path):
    s = storage(weed, bucket)
    s.put("data/b1/000001.pack", b"0123456789")
    assert s.get("data/b1/000001.pack") == b"0123456789"
    assert s.get_range("data/b1/000001.pack", 3, 4) == b"3456"
    assert s.get_range("data/b1/000001.pack", 8, 10) == b"89"
    assert s.stat("data/b1/000001.pack").size == 10
    assert s.stat("data/b1/none") is None
    with pytest.raises(FileNotFoundError):
        s.get("nothing")
    with pytest.raises(FileNotFoundError):
        s.open_read("nothing")
    w = s.open_write("manifests/b1")
    w.write(b"abc")
    assert s.stat("manifests/b1") is None, "an object must not appear before close()"
    w.close()
    assert s.open_read("manifests/b1").read() == b"abc"
    w = s.open_write("manifests/b2")
    w.write(b"never")
    w.abort()
    assert s.stat("manifests/b2") is None
    assert [o.name for o in s.list("")] == ["data/b1/000001.pack", "manifests/b1"]
    keys = [o["Key"] for o in weed.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert all(k.startswith("host1/") for k in keys), "objects must live under the prefix"
    s.delete("manifests/b1")
    s.delete("manifests/b1")  # deleting a missing object is not an error
    assert [o.name for o in s.list("manifests/")] == []


def test_large_objects_go_up_as_multipart_with_a_full_object_crc32c(weed, bucket, tmp_path):
    data = os.urandom(12 << 20)
    path = tmp_path / "pack"
    path.write_bytes(data)
    s = storage(weed, bucket)
    s.put_file("data/b1/000001.pack", path)
    head = weed.client().head_object(Bucket=bucket, Key="host1/data/b1/000001.pack", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32C"] == crc_b64(crc32c.crc32c(data))
    assert head["ChecksumType"] == "FULL_OBJECT"
    assert head["ETag"].strip('"').endswith("-3"), "12 MiB in 5 MiB parts is a 3-part multipart upload"
    assert s.checksum_problem("data/b1/000001.pack") is None
    assert s.get_range("data/b1/000001.pack", (12 << 20) - 5, 5) == data[-5:]


def test_server_refuses_a_corrupted_transfer(weed, bucket):
    s = storage(weed, bucket)
    with pytest.raises(S3Error):
        s._upload("data/x.pack", lambda: io.BytesIO(b"payload as it arrived"), crc32c.crc32c(b"payload as it was sent"))
    assert s.stat("data/x.pack") is None


def test_object_lock_retention_and_refused_delete(weed):
    name = bucket_name("lock")
    s = storage(weed, name, object_lock=ObjectLock("COMPLIANCE", 2))
    s.check(create_bucket=True)
    s.put("data/b1/000001.pack", b"locked content")
    until = s.locked_until("data/b1/000001.pack")
    expected = datetime.now(UTC) + timedelta(days=2)
    assert until is not None and abs((until - expected).total_seconds()) < 300
    with pytest.raises(ObjectLockedError) as e:
        s.delete("data/b1/000001.pack")
    assert e.value.until == until and "locked until" in str(e.value)
    # The store itself enforces it, not only reliad's check:
    client = weed.client()
    version = client.head_object(Bucket=name, Key="host1/data/b1/000001.pack")["VersionId"]
    with pytest.raises(client.exceptions.ClientError):
        client.delete_object(Bucket=name, Key="host1/data/b1/000001.pack", VersionId=version)
    assert s.get("data/b1/000001.pack") == b"locked content"


def test_object_lock_needs_a_versioned_bucket(weed, bucket):
    s = storage(weed, bucket, object_lock=ObjectLock("COMPLIANCE", 1))
    with pytest.raises(S3Error, match=r"offsite.*has no versioning"):
        s.check()


def test_stale_multipart_uploads_are_aborted(weed, bucket):
    client = weed.client(attempts=6)  # a loaded server may answer InternalError once
    up = client.create_multipart_upload(Bucket=bucket, Key="host1/data/b1/000002.pack")
    client.upload_part(Bucket=bucket, Key="host1/data/b1/000002.pack", UploadId=up["UploadId"], PartNumber=1,
                       Body=b"x" * 1024)
    other = client.create_multipart_upload(Bucket=bucket, Key="host2/data/keep.pack")
    s = storage(weed, bucket)
    assert s.stat("data/b1/000002.pack") is None, "an unfinished upload is no object"
    assert s.abort_stale_uploads() == 1
    left = [u["Key"] for u in client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
    assert left == ["host2/data/keep.pack"], "another host's prefix is left alone"
    client.abort_multipart_upload(Bucket=bucket, Key="host2/data/keep.pack", UploadId=other["UploadId"])
