"""A repository under a prefix of an S3 bucket (AWS or any S3-compatible server).

Why it is built this way:
- Atomicity comes from S3 itself: a single PUT, or the CompleteMultipartUpload of a multipart
  upload, makes an object appear whole or not at all. An upload cut half way leaves only an
  unfinished multipart upload, which no listing or GET shows; `abort_stale_uploads` removes
  those so they stop costing storage.
- Every upload carries a full-object CRC32C as an S3 additional checksum, so the server
  refuses a transfer that arrived corrupted, and HEAD later returns the checksum the store
  keeps. CRC32C (not CRC32) because it is the checksum the repository already records for
  every whole pack (`pack_sums` in the manifest header): `verify --mode fast` compares the
  two from a HEAD alone, which ties the bytes the store accepted to the bytes the backup
  wrote without downloading anything. botocore needs its `crt` extra (awscrt) to checksum
  the parts of a multipart upload with CRC32C; the value is computed here with `crc32c`.
  The same value is kept in the object's metadata (`x-amz-meta-reliad-crc32c`) for objects
  without a pack sum (config, manifests).
- Retries live here, with exponential backoff and full jitter, because the layers above
  should see an outage only once it outlasted them. botocore's own retries are kept to one
  quick repeat: its non-throttling delays (50 ms scale) suit AWS blips, not a server restart.
- Errors a user meets become one sentence naming the target and what to do; credentials
  never appear in them, nor in logs (botocore's debug logging, which prints request
  headers, is held at WARNING).
"""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import boto3
import botocore.auth
import botocore.exceptions as bx
import botocore.session
import crc32c
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig

from reliad.errors import ReliadError
from reliad.storage.base import ObjectInfo, ObjectLockedError, StagedWriter

log = logging.getLogger(__name__)
for _name in ("botocore", "boto3", "s3transfer", "urllib3"):
    logging.getLogger(_name).setLevel(logging.WARNING)
# With awscrt installed (needed for CRC32C), botocore signs S3 requests with awscrt's signer,
# which reads the request body from C. When a server dies mid-upload, s3transfer's reader
# raises the transfer's failure into every other part still being signed, and awscrt prints
# each such Python traceback to stderr itself ("Treating Python exception as error") before
# failing the request. botocore's own signer lets the exception travel as usual, so the
# upload fails once, as one sentence. (Over HTTPS the body is not read for signing at all.)
botocore.auth.AUTH_TYPE_MAPS["s3v4"] = botocore.auth.S3SigV4Auth

T = TypeVar("T")
META_CRC = "reliad-crc32c"
# Objects a reader needs before it can find anything else; they stay in STANDARD storage so
# that listing, catalog rebuild and fast verify work even when packs sit in a cold class.
_HOT_PREFIXES = ("config", "keys/", "manifests/")
_RETRYABLE_CODES = {"RequestTimeout", "RequestTimeoutException", "SlowDown", "InternalError", "ServiceUnavailable",
                    "Throttling", "ThrottlingException", "RequestTimeTooSkewed", "BadDigest", "XAmzContentSHA256Mismatch"}
_NETWORK_ERRORS = (bx.EndpointConnectionError, bx.ConnectionClosedError, bx.ConnectTimeoutError, bx.ReadTimeoutError,
                   bx.IncompleteReadError, bx.ResponseStreamingError, bx.ProxyConnectionError, bx.SSLError,
                   bx.HTTPClientError)
_CRED_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "InvalidSecurity",
               "AuthorizationHeaderMalformed", "InvalidClientTokenId"}


class S3Error(ReliadError):
    """The S3 store refused or could not be reached (exit 1)."""


class BucketMissingError(S3Error):
    """The bucket does not exist; `--create-bucket` creates it."""


@dataclass(frozen=True)
class ObjectLock:
    mode: str  # GOVERNANCE or COMPLIANCE
    days: int

    def retain_until(self) -> datetime:
        return datetime.now(UTC) + timedelta(days=self.days)


def crc_b64(crc: int) -> str:
    """The base64 big-endian form S3 uses for x-amz-checksum-crc32c."""
    return base64.b64encode(crc.to_bytes(4, "big")).decode("ascii")


def file_crc32c(path: Path) -> int:
    crc = 0
    with open(path, "rb") as fh:
        while block := fh.read(4 << 20):
            crc = crc32c.crc32c(block, value=crc)
    return crc


def _code(e: BaseException) -> str:
    if isinstance(e, bx.ClientError):
        return str(e.response.get("Error", {}).get("Code", ""))
    return ""


def _status(e: BaseException) -> int:
    if isinstance(e, bx.ClientError):
        return int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return 0


def _cause(e: BaseException) -> BaseException:
    """s3transfer wraps the ClientError of a failed upload; look at the real one."""
    while isinstance(e, S3UploadFailedError) and e.__cause__ is not None:
        e = e.__cause__
    return e


def _retryable(e: BaseException) -> bool:
    e = _cause(e)
    if isinstance(e, _NETWORK_ERRORS):
        return True
    return _code(e) in _RETRYABLE_CODES or _status(e) >= 500


def _missing(e: BaseException) -> bool:
    return _code(e) in ("NoSuchKey", "404", "NotFound") or (_status(e) == 404 and _code(e) != "NoSuchBucket")


class _Writer(StagedWriter):
    """Uploads its temporary file on close()."""

    def __init__(self, storage: S3Storage, name: str) -> None:
        fh = tempfile.NamedTemporaryFile(prefix="reliad-s3-", delete=False)  # noqa: SIM115 - closed in _commit/abort
        super().__init__(fh, Path(fh.name))
        self.storage = storage
        self.name = name

    def _commit(self) -> None:
        try:
            self.fh.close()
            self.storage.put_file(self.name, self.tmp)
        finally:
            self.tmp.unlink(missing_ok=True)


class S3Storage:
    """The Storage protocol over one bucket and prefix."""

    def __init__(self, target: str, bucket: str, *, prefix: str = "", endpoint_url: str | None = None,
                 region: str | None = None, storage_class: str | None = None, object_lock: ObjectLock | None = None,
                 credentials_file: Path | None = None, profile: str | None = None, retries: int = 6,
                 retry_base_s: float = 1.0, timeout_s: float = 60.0, multipart_threshold: int = 64 << 20,
                 multipart_chunk: int = 16 << 20, max_concurrency: int = 4) -> None:
        self.target = target
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self.storage_class = storage_class
        self.object_lock = object_lock
        self.credentials_file = credentials_file
        self.retries = max(1, retries)
        self.retry_base_s = retry_base_s
        self.location = f"s3://{bucket}/{prefix}"
        self._versioned: bool | None = None
        core = botocore.session.Session(profile=profile)
        if credentials_file is not None:
            core.set_config_variable("credentials_file", str(credentials_file))
        session = boto3.Session(botocore_session=core)
        cfg = BotoConfig(
            retries={"mode": "standard", "total_max_attempts": 2},
            connect_timeout=min(timeout_s, 10.0), read_timeout=timeout_s,
            max_pool_connections=max(10, 2 * max_concurrency),
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            request_checksum_calculation="when_supported",
        )
        try:
            self.client = session.client("s3", endpoint_url=endpoint_url, region_name=region, config=cfg)
        except (bx.ProfileNotFound, ValueError) as e:
            raise S3Error(f"target {target!r}: cannot set up the S3 client ({e}); check profile, region and "
                          "endpoint_url in its configuration") from None
        self.transfer = TransferConfig(multipart_threshold=multipart_threshold, multipart_chunksize=multipart_chunk,
                                       max_concurrency=max_concurrency, use_threads=max_concurrency > 1,
                                       preferred_transfer_client="classic")

    # -- plumbing -----------------------------------------------------------------
    def _key(self, name: str) -> str:
        return self.prefix + name

    def _where(self) -> str:
        return self.endpoint_url or "AWS S3"

    def _explain(self, e: BaseException, action: str) -> S3Error:
        """One sentence for the user: which target, what went wrong, what to do."""
        e = _cause(e)
        t, b = self.target, self.bucket
        creds = f"the credentials file {self.credentials_file}" if self.credentials_file else \
            "the AWS credential chain (environment, ~/.aws/credentials profile or instance role)"
        code, status = _code(e), _status(e)
        if isinstance(e, bx.NoCredentialsError | bx.PartialCredentialsError):
            return S3Error(f"target {t!r}: no S3 credentials found; set credentials_file in [targets.{t}] or "
                           "provide them through the AWS environment variables or a profile")
        if code == "NoSuchBucket":
            return BucketMissingError(
                f"target {t!r}: bucket {b!r} does not exist at {self._where()}; create it, or run "
                f"'reliad replicate --target {t} --create-bucket' (or 'reliad init --target {t} --create-bucket')")
        if code in _CRED_CODES or (status == 403 and code in ("403", "")):
            return S3Error(f"target {t!r}: {self._where()} refused the credentials ({code or 'Forbidden'}); "
                           f"check the access key and secret in {creds}")
        if code == "AccessDenied":
            return S3Error(f"target {t!r}: access denied while trying to {action} in bucket {b!r}; check that the "
                           f"credentials in {creds} are allowed to read, write and list it")
        if isinstance(e, bx.EndpointConnectionError):
            reason = str(getattr(e, "kwargs", {}).get("error", "")) or str(e)
            if "Name or service not known" in reason or "nodename nor servname" in reason \
                    or "Temporary failure in name resolution" in reason:
                return S3Error(f"target {t!r}: cannot resolve the host of {self._where()}; check endpoint_url "
                               "and the network (DNS), then try again")
            return S3Error(f"target {t!r}: cannot connect to {self._where()} after {self.retries} attempts; check "
                           "endpoint_url and the network, then try again")
        if isinstance(e, bx.ConnectTimeoutError | bx.ReadTimeoutError):
            return S3Error(f"target {t!r}: {self._where()} did not answer in time after {self.retries} attempts; "
                           "check the network, then try again")
        if isinstance(e, bx.SSLError):
            return S3Error(f"target {t!r}: the TLS handshake with {self._where()} failed; check endpoint_url (http or "
                           "https) and the server's certificate")
        if isinstance(e, _NETWORK_ERRORS):
            return S3Error(f"target {t!r}: the connection to {self._where()} broke while trying to {action} "
                           f"({type(e).__name__}) after {self.retries} attempts; try again later")
        if status in (400, 405, 501) or (status and not code[:1].isalpha()):
            shown = f"HTTP {status}" + (f" {code}" if code and code != str(status) else "")
            return S3Error(f"target {t!r}: {self._where()} answered {shown} to '{action}', which is not what an S3 "
                           "server says; check endpoint_url and region")
        if status >= 500 or code in _RETRYABLE_CODES:
            return S3Error(f"target {t!r}: {self._where()} kept failing ({code or status}) while trying to {action} "
                           f"after {self.retries} attempts; try again later")
        message = e.response.get("Error", {}).get("Message", "") if isinstance(e, bx.ClientError) else str(e)
        return S3Error(f"target {t!r}: S3 error {code or type(e).__name__} while trying to {action}: {message}")

    def _call(self, action: str, fn: Callable[[], T], *, missing_ok: bool = False) -> T:
        """Run one S3 operation with backoff and full jitter between attempts.

        `missing_ok` turns 'no such key' into FileNotFoundError for the caller to handle.
        """
        attempt = 0
        while True:
            try:
                return fn()
            except (bx.BotoCoreError, bx.ClientError, S3UploadFailedError) as e:
                if missing_ok and _missing(_cause(e)):
                    raise FileNotFoundError(action) from None
                attempt += 1
                if not _retryable(e) or attempt >= self.retries:
                    raise self._explain(e, action) from None
                delay = random.uniform(0, min(30.0, self.retry_base_s * 2 ** (attempt - 1)))
                log.warning("event=s3_retry target=%s action=%r attempt=%d error=%s delay_s=%.2f", self.target,
                            action, attempt, type(_cause(e)).__name__ + (f":{_code(e)}" if _code(e) else ""), delay)
                time.sleep(delay)

    def _extra(self, name: str, crc: int) -> dict[str, Any]:
        extra: dict[str, Any] = {"ChecksumCRC32C": crc_b64(crc), "Metadata": {META_CRC: crc_b64(crc)}}
        if self.storage_class and not name.startswith(_HOT_PREFIXES):
            extra["StorageClass"] = self.storage_class
        if self.object_lock:
            extra["ObjectLockMode"] = self.object_lock.mode
            extra["ObjectLockRetainUntilDate"] = self.object_lock.retain_until()
        return extra

    def _upload(self, name: str, opener: Callable[[], BinaryIO], crc: int) -> None:
        """Upload a stream, opened afresh for each attempt (s3transfer closes it when it fails);
        multipart in parallel parts above the threshold."""
        key = self._key(name)

        def go() -> None:
            with opener() as fh:
                self.client.upload_fileobj(fh, self.bucket, key, ExtraArgs=self._extra(name, crc),
                                           Config=self.transfer)

        self._call(f"upload {key}", go)

    # -- the Storage protocol ---------------------------------------------------------
    def put(self, name: str, data: bytes) -> None:
        self._upload(name, lambda: io.BytesIO(data), crc32c.crc32c(data))

    def put_file(self, name: str, path: Path) -> None:
        self._upload(name, lambda: open(path, "rb"), file_crc32c(path))  # noqa: SIM115 - closed by _upload

    def open_write(self, name: str) -> StagedWriter:
        return _Writer(self, name)

    def open_read(self, name: str) -> BinaryIO:
        """The object spooled to a temporary file, so a broken connection mid-read is retried
        here instead of surfacing in the middle of a manifest parse."""
        key = self._key(name)
        spool = tempfile.SpooledTemporaryFile(max_size=16 << 20)  # noqa: SIM115 - returned to the caller

        def go() -> None:
            spool.seek(0)
            spool.truncate()
            self.client.download_fileobj(self.bucket, key, spool, Config=self.transfer)

        try:
            self._call(f"read {key}", go, missing_ok=True)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool  # type: ignore[return-value]

    def get(self, name: str) -> bytes:
        key = self._key(name)
        return self._call(f"read {key}", lambda: self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read(),
                          missing_ok=True)

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        key = self._key(name)
        rng = f"bytes={offset}-{offset + length - 1}"

        def go() -> bytes:
            try:
                return self.client.get_object(Bucket=self.bucket, Key=key, Range=rng)["Body"].read()
            except bx.ClientError as e:
                if _code(e) == "InvalidRange":
                    return b""
                raise

        return self._call(f"read {key}", go, missing_ok=True)

    def head(self, name: str) -> dict[str, Any] | None:
        """HEAD with the store's checksum; None when the object does not exist."""
        key = self._key(name)
        try:
            return self._call(f"look up {key}", lambda: self.client.head_object(
                Bucket=self.bucket, Key=key, ChecksumMode="ENABLED"), missing_ok=True)
        except FileNotFoundError:
            return None

    def stat(self, name: str) -> ObjectInfo | None:
        h = self.head(name)
        return None if h is None else ObjectInfo(name, int(h["ContentLength"]))

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        full = self._key(prefix)

        def go() -> list[ObjectInfo]:
            out = []
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
                for o in page.get("Contents", []):
                    if not o["Key"].endswith("/"):
                        out.append(ObjectInfo(o["Key"][len(self.prefix):], int(o["Size"])))
            return out

        found = self._call(f"list {full or 'the bucket'}", go)
        found.sort(key=lambda o: o.name)
        yield from found

    def delete(self, name: str) -> None:
        """Remove every version of an object (so that prune frees the space).

        Raises ObjectLockedError while an Object Lock retention still protects it; the store
        itself refuses such a delete, this only says so in a form prune can act on.
        """
        until = self.locked_until(name)
        if until is not None:
            raise ObjectLockedError(name, until, f"target {self.target!r}: {self._key(name)} is locked until "
                                                 f"{until.isoformat()}; it can be deleted after that")
        key = self._key(name)
        if not self.versioned():
            self._call(f"delete {key}", lambda: self.client.delete_object(Bucket=self.bucket, Key=key))
            return
        for version in self._versions(key):
            def go(v: str = version) -> bool:
                try:
                    self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=v)
                except bx.ClientError as e:
                    if _code(e) == "AccessDenied":
                        return False
                    raise
                return True

            if not self._call(f"delete {key}", go):
                raise ObjectLockedError(name, self.locked_until(name), f"target {self.target!r}: the store refused "
                                        f"to delete {key}, which is locked; it can be deleted once its retention "
                                        "expires")

    def _versions(self, key: str) -> list[str]:
        def go() -> list[str]:
            out = []
            for page in self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=key):
                for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                    if v["Key"] == key:
                        out.append(v["VersionId"])
            return out

        return self._call(f"list versions of {key}", go)

    def close(self) -> None:
        self.client.close()

    def prepare(self, create: bool = False) -> None:
        self.check(create_bucket=create)

    def clear_stale_writes(self, dry_run: bool = False) -> tuple[int, int]:
        return (len(self._stale_uploads()) if dry_run else self.abort_stale_uploads()), 0

    def local_path(self, name: str) -> Path | None:
        return None

    # -- beyond the protocol ------------------------------------------------------------
    def locked_until(self, name: str) -> datetime | None:
        """The Object Lock retain-until date of the current version, if still in the future."""
        h = self.head(name)
        if h is None or not h.get("ObjectLockMode"):
            return None
        until = h.get("ObjectLockRetainUntilDate")
        return until if until is not None and until > datetime.now(UTC) else None

    def checksum_problem(self, name: str, expected_crc32c: int | None = None) -> str | None:
        """Compare the CRC32C the store keeps for an object (from HEAD: no data is read) with
        the one expected (a pack's recorded sum), else with the one sent at upload.
        None when they agree, or when the store keeps no full-object CRC32C."""
        h = self.head(name)
        if h is None:
            return f"{name} is missing"
        kept = h.get("ChecksumCRC32C")
        if not kept or "-" in kept:
            return None
        want = crc_b64(expected_crc32c) if expected_crc32c is not None else (h.get("Metadata") or {}).get(META_CRC)
        if want and kept != want:
            return f"{name}: the store holds an object whose CRC32C ({kept}) is not the one recorded ({want})"
        return None

    def versioned(self) -> bool:
        if self._versioned is None:
            r = self._call(f"read the versioning of bucket {self.bucket}",
                           lambda: self.client.get_bucket_versioning(Bucket=self.bucket))
            self._versioned = r.get("Status") in ("Enabled", "Suspended")
        return self._versioned

    def check(self, create_bucket: bool = False) -> None:
        """Prove the bucket is reachable with these credentials (and create it when asked),
        and that Object Lock can work when the configuration asks for it."""
        probe = lambda: self.client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)  # noqa: E731
        try:
            self._call(f"list bucket {self.bucket}", probe)
        except BucketMissingError:
            if not create_bucket:
                raise
            self._create_bucket()
            self._call(f"list bucket {self.bucket}", probe)
        if self.object_lock:
            self._versioned = None
            if not self.versioned():
                raise S3Error(f"target {self.target!r}: object_lock is set but bucket {self.bucket!r} has no "
                              "versioning, which Object Lock needs; use a bucket created with Object Lock "
                              f"('reliad replicate --target {self.target} --create-bucket' with a new bucket name) "
                              "or remove object_lock")
            try:
                r = self._call(f"read the Object Lock configuration of bucket {self.bucket}",
                               lambda: self.client.get_object_lock_configuration(Bucket=self.bucket))
                enabled = r.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
            except S3Error:
                enabled = False
            if not enabled:
                raise S3Error(f"target {self.target!r}: object_lock is set but bucket {self.bucket!r} does not have "
                              "Object Lock enabled; enable it on the bucket or remove object_lock")

    def _create_bucket(self) -> None:
        kw: dict[str, Any] = {"Bucket": self.bucket}
        region = self.client.meta.region_name
        if region and region != "us-east-1":
            kw["CreateBucketConfiguration"] = {"LocationConstraint": region}
        if self.object_lock:
            kw["ObjectLockEnabledForBucket"] = True
        self._call(f"create bucket {self.bucket}", lambda: self.client.create_bucket(**kw))
        log.info("event=bucket_created target=%s bucket=%s object_lock=%s", self.target, self.bucket,
                 bool(self.object_lock))

    def _stale_uploads(self) -> list[tuple[str, str]]:
        """(key, upload id) of every unfinished multipart upload under our prefix."""
        def go() -> list[tuple[str, str]]:
            out = []
            pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=self.prefix)
            for page in pages:
                out += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
            return out

        return self._call("list unfinished uploads", go)

    def abort_stale_uploads(self) -> int:
        """Abort the multipart uploads left under our prefix by a writer that died.

        Called under the replication lock, so every upload found is one nobody will finish.
        """
        stale = self._stale_uploads()
        for key, upload_id in stale:
            with contextlib.suppress(FileNotFoundError):
                self._call(f"abort the unfinished upload of {key}", lambda k=key, u=upload_id:  # type: ignore[misc]
                           self.client.abort_multipart_upload(Bucket=self.bucket, Key=k, UploadId=u), missing_ok=True)
            log.info("event=stale_upload_aborted target=%s key=%s", self.target, key)
        return len(stale)
