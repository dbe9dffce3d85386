"""From a configured target to an open repository (and its storage), unlocked when a key is at hand."""

from __future__ import annotations

import contextlib
import logging
import shlex
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

from reliad.config import Config, TargetConfig
from reliad.errors import ConfigError, ReliadError, RepositoryError
from reliad.keysource import configured_source, secret_for, secret_for_new_repository
from reliad.repository import Repository
from reliad.repository.names import CONFIG
from reliad.storage import LocalStorage
from reliad.storage.base import Storage

log = logging.getLogger(__name__)
PLAIN_NOTE = ("is NOT encrypted: anyone who can read its files (or its bucket) can read every backed-up file "
              "and file name; in exchange its full backups restore with zstd and tar alone")


def storage_for(target: TargetConfig) -> Storage:
    if target.type in ("local", "offline"):
        assert target.path is not None
        return LocalStorage(target.path)
    if target.type == "s3":
        from reliad.storage.s3 import ObjectLock, S3Storage

        o = target.options
        prefix = o.get("prefix", "")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        lock = o.get("object_lock")
        creds = o.get("credentials_file")
        return S3Storage(
            target.name, o["bucket"], prefix=prefix, endpoint_url=o.get("endpoint_url"), region=o.get("region"),
            storage_class=o.get("storage_class"), object_lock=ObjectLock(lock["mode"], lock["days"]) if lock else None,
            credentials_file=creds, profile=o.get("profile"),
            retries=o.get("retries", 6), retry_base_s=float(o.get("retry_base_s", 1.0)),
            timeout_s=float(o.get("timeout_s", 60)),
            multipart_threshold=o.get("multipart_threshold_mib", 64) << 20,
            multipart_chunk=o.get("multipart_chunk_mib", 16) << 20, max_concurrency=o.get("max_concurrency", 4))
    raise ConfigError(f"target {target.name!r}: type {target.type!r} is not supported by this build")


FLEET_PREFIX = "reliad-fleet/"  # at the top of a bucket: HOST/HOST-YYYY-MM.json and the rendered reports


def fleet_storage(target: TargetConfig) -> Storage:
    """The top of the target's bucket (or media), outside its repository prefix: where every host
    sharing it keeps its monthly report summaries for the fleet report (reliad/report/fleet.py)."""
    import dataclasses

    return storage_for(dataclasses.replace(target, options={**target.options, "prefix": ""}))


def create_repository(config: Config, target: TargetConfig, storage: Storage,
                      encrypt: bool | None = None) -> tuple[Repository, list[str]]:
    """A new repository for `target`: encrypted unless `encrypt` or the target's `encryption`
    says otherwise. Returns it with the notes the user must see (a new key file, no encryption)."""
    if target.type == "local":
        assert target.path is not None
        try:
            target.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as e:
            raise RepositoryError(f"target {target.name!r}: cannot create {target.path}: {e.strerror}") from None
    encrypt = target.encryption is not False if encrypt is None else encrypt
    pack_mib = target.options.get("pack_size_mib")
    kw = {"pack_size": pack_mib << 20} if pack_mib else {}
    if not encrypt:
        if configured_source(target):
            raise ConfigError(f"target {target.name!r} has {configured_source(target)} set but is to be created "
                              "without encryption; remove one of the two")
        repo = Repository.init(storage, **kw)
        return repo, [f"the repository of target {target.name!r} at {storage.location} {PLAIN_NOTE}"]
    repo_id = str(uuid.uuid4())
    secret, notes = secret_for_new_repository(config, target, repo_id)
    repo = Repository.init(storage, secret=secret, repo_id=repo_id, label=f"created for target {target.name}", **kw)
    return repo, notes


def _run_hook(target: TargetConfig, which: str) -> None:
    cmd: Any = target.options.get(which)
    if not cmd:
        return
    argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
    log.info("event=offline_%s target=%s command=%r", which, target.name, argv)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ReliadError(f"target {target.name!r}: the {which} command {argv[0]!r} could not run ({e}); fix "
                          f"targets.{target.name}.{which}") from None
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        raise ReliadError(f"target {target.name!r}: the {which} command exited with {proc.returncode} "
                          f"({detail[0]}); check the media and targets.{target.name}.{which}")


@contextlib.contextmanager
def attached(target: TargetConfig) -> Iterator[None]:
    """Run an offline target's `attach` command, and its `detach` command afterwards even
    when the work in between failed: removable media must not stay mounted (R19)."""
    if target.type != "offline":
        yield
        return
    _run_hook(target, "attach")
    try:
        yield
    except BaseException:
        try:
            _run_hook(target, "detach")
        except ReliadError as e:
            log.error("event=offline_detach_failed target=%s error=%r", target.name, str(e))
        raise
    _run_hook(target, "detach")


def open_repository(config: Config, target: TargetConfig, create: bool = False) -> Repository:
    """Open the repository of a target (create it when `create` and none exists yet), unlocked
    when a key for it is configured or in the state directory. A locked encrypted repository
    still serves what needs no key (listing objects, checking stored CRCs)."""
    storage = storage_for(target)
    if create and storage.stat(CONFIG) is None:
        repo, notes = create_repository(config, target, storage)
        for n in notes:
            log.warning("event=repository_created target=%s note=%r", target.name, n)
        return repo
    repo = Repository.open(storage)
    secret = secret_for(config, target, repo.config.id)
    if repo.encrypted:
        if secret is not None:
            repo.unlock(secret)
    elif secret is not None or target.encryption is True:
        raise RepositoryError(
            f"target {target.name!r} expects an encrypted repository, but the config of the repository at "
            f"{storage.location} says it is not encrypted; if it was altered, do not back up into it")
    return repo
