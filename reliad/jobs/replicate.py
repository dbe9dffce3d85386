"""The replicate job: copy to an offsite target whatever it is missing from the local repository.

The offsite copy is a complete repository of its own (same id, same objects), so a host that
lost everything restores from it alone. Order of writes, and why:
1. `keys/` then `config`: the repository exists offsite only once it can be read.
2. For each backup, oldest first (so that what an incremental points into is there before
   it): its packs, then its manifest. A backup is listed offsite only through its manifest,
   so the bucket never shows a backup whose data is incomplete, whenever the copy stops.
What is missing is decided from the target's own listing (name and size), not from the
catalog: after an outage the next run copies exactly what did not arrive, and objects that
did arrive are not uploaded again (no duplicate versions in a versioned bucket).
The catalog records per backup and target whether it is `pending` or `replicated`, with the
last error, for `reliad list`, `reliad replicate --status` and the metrics.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import time
from collections.abc import Callable
from typing import Any

from reliad.catalog import Catalog
from reliad.config import OFFSITE_TYPES, Config, PolicyConfig, TargetConfig
from reliad.errors import ConfigError, DamageError, LockError, ReliadError, RepositoryError
from reliad.jobs.verify import run_verify
from reliad.repository import Repository
from reliad.repository.keys import SLOT_PREFIX, sync_slots
from reliad.repository.lock import writer_lock
from reliad.repository.names import CONFIG, DATA, MANIFESTS, data_prefix, manifest_object, pack_object
from reliad.statedir import REPORTS_DIR
from reliad.storage.base import Storage
from reliad.targets import FLEET_PREFIX, attached, create_repository, fleet_storage, open_repository, storage_for

log = logging.getLogger(__name__)


LEDGER_PREFIX = "ledger/"  # copies of the reliability ledger (reliad/ledger/offsite.py)


def offsite_targets(config: Config, target_name: str | None) -> list[TargetConfig]:
    """The target named (which must be offsite), else every offsite target a policy uses."""
    if target_name:
        t = config.target(target_name)
        if t.type not in OFFSITE_TYPES:
            raise ConfigError(f"target {target_name!r} is of type {t.type!r}; replicate copies to targets of type "
                              f"{' or '.join(OFFSITE_TYPES)}")
        return [t]
    names = {n for p in config.policies.values() for n in p.targets if config.targets[n].type in OFFSITE_TYPES}
    return [config.targets[n] for n in sorted(names)]


def feed(config: Config, target: TargetConfig) -> tuple[TargetConfig, list[str]]:
    """The local target whose repository `target` mirrors, and the policies whose backups go there."""
    policies = [p for p in config.policies.values() if target.name in p.targets]
    if not policies:
        raise ConfigError(f"{config.path}: no policy lists target {target.name!r} in its targets, so nothing is "
                          "replicated to it")
    locals_ = sorted({config.primary_target(p).name for p in policies})
    if len(locals_) > 1:
        raise ConfigError(f"{config.path}: target {target.name!r} would receive two repositories (from local targets "
                          f"{', '.join(locals_)}); give each its own offsite target or prefix")
    return config.targets[locals_[0]], [p.name for p in policies]


def copy_object(src: Storage, dst: Storage, name: str) -> int:
    """Copy one object; from a local directory the file is uploaded as is (parallel multipart)."""
    path = src.local_path(name)
    if path is not None:
        dst.put_file(name, path)
        return path.stat().st_size
    with src.open_read(name) as fh:
        out = dst.open_write(name)
        try:
            shutil.copyfileobj(fh, out, 1 << 20)
        except BaseException:
            out.abort()
            raise
        size = out.tell()
        out.close()
    return size


def ensure_repository(src: Repository, dst: Storage, target: TargetConfig) -> bool:
    """Make `dst` hold the same repository as `src`; True when it had to be created."""
    try:
        existing = json.loads(dst.get(CONFIG))
    except FileNotFoundError:
        existing = None
    except ValueError:
        raise RepositoryError(f"target {target.name!r}: {dst.location}config is not a reliad repository config; "
                              "point the target at an empty location") from None
    if existing is not None and existing.get("id") == src.config.id:
        return False
    if existing is not None and any(True for _ in dst.list(MANIFESTS)):
        raise RepositoryError(
            f"target {target.name!r}: {dst.location} holds another repository (id {existing.get('id')}, the local one "
            f"is {src.config.id}); point the target at an empty bucket or prefix")
    for o in src.storage.list(SLOT_PREFIX):
        copy_object(src.storage, dst, o.name)
    copy_object(src.storage, dst, CONFIG)
    log.info("event=offsite_repository_created target=%s id=%s", target.name, src.config.id)
    return True


def _error_text(e: BaseException, target: TargetConfig) -> str:
    if isinstance(e, OSError):
        where = f" at {e.filename}" if e.filename else ""
        return f"target {target.name!r}: {e.strerror or e}{where}; check the media and its path"
    return str(e)


class _Run:
    """One replication of one target."""

    def __init__(self, config: Config, target: TargetConfig, catalog: Catalog,
                 progress: Callable[[str], None] | None) -> None:
        self.config = config
        self.target = target
        self.catalog = catalog
        self.progress = progress
        self.local, self.policies = feed(config, target)
        self._have: set[str] = set()
        self.result: dict[str, Any] = {"target": target.name, "type": target.type, "replicated": [], "already": 0,
                                       "pending": [], "bytes_copied": 0, "objects_copied": 0,
                                       "aborted_uploads": 0, "error": None}

    def run(self, create_bucket: bool) -> dict[str, Any]:
        t0 = time.monotonic()
        src = open_repository(self.config, self.local)
        headers: list[dict[str, Any]] = []
        try:
            headers = sorted((h for h in src.headers() if h.get("policy") in self.policies), key=lambda h: h["id"])
            with attached(self.target):
                dst = storage_for(self.target)
                try:
                    self._copy(src, dst, headers, create_bucket)
                finally:
                    dst.close()
        except (ReliadError, OSError) as e:
            if isinstance(e, ConfigError):
                raise
            msg = _error_text(e, self.target)
            self.result["error"] = msg
            done = set(self.result["replicated"])
            for h in headers:
                if h["id"] not in done and h["id"] not in self._have:
                    self.catalog.replication_pending(h["id"], self.target.name, msg)
                    if h["id"] not in self.result["pending"]:
                        self.result["pending"].append(h["id"])
            log.error("event=replicate_failed target=%s error=%r", self.target.name, msg)
        finally:
            src.storage.close()
        self.result["duration_s"] = round(time.monotonic() - t0, 3)
        return self.result

    def _copy(self, src: Repository, dst: Storage, headers: list[dict[str, Any]], create_bucket: bool) -> None:
        dst.prepare(create_bucket)
        self.result["aborted_uploads"] = dst.clear_stale_writes()[0]  # under the replication lock
        ensure_repository(src, dst, self.target)
        added, removed = sync_slots(src.storage, dst)
        if added or removed:
            log.info("event=key_slots_synced target=%s added=%d removed=%d", self.target.name, len(added),
                     len(removed))
        self._have = {o.name.split("/", 1)[1] for o in dst.list(MANIFESTS)}
        sizes = {o.name: o.size for o in dst.list(DATA)}
        states = {r["backup_id"]: r["state"] for r in self.catalog.replication(self.target.name)}
        for h in headers:
            bid = h["id"]
            if bid in self._have:
                self.result["already"] += 1
                if states.get(bid) != "replicated":
                    self.catalog.replication_done(bid, self.target.name, 0)
                    self.catalog.upsert_from_header(self.target.name, h)
                continue
            waiting = [d for d in h.get("depends_on", []) if d not in self._have]
            if waiting:
                msg = f"waits for backup {waiting[0]}, which it builds on, to reach target {self.target.name!r}"
                self.catalog.replication_pending(bid, self.target.name, msg)
                self.result["pending"].append(bid)
                continue
            copied = 0
            for pack in h.get("packs", []):
                name = pack_object(pack)
                local = src.storage.stat(name)
                if local is None:
                    raise DamageError(f"local target {self.local.name!r}: {name} of backup {bid} is missing; run "
                                      "'reliad verify' on it")
                if sizes.get(name) == local.size:
                    continue
                copied += copy_object(src.storage, dst, name)
                sizes[name] = local.size
                self.result["objects_copied"] += 1
                if self.progress:
                    self.progress(f"{self.target.name}: {name}")
            copied += copy_object(src.storage, dst, manifest_object(bid))
            self.result["objects_copied"] += 1
            self._have.add(bid)
            self.result["bytes_copied"] += copied
            self.result["replicated"].append(bid)
            self.catalog.replication_done(bid, self.target.name, copied)
            self.catalog.upsert_from_header(self.target.name, h)
            log.info("event=replicated id=%s target=%s bytes=%d", bid, self.target.name, copied)
        self._copy_audit(src, dst)
        self._copy_reports()
        if self.target.type == "offline" and self.result["replicated"]:
            self._verify(dst)

    def _copy_audit(self, src: Repository, dst: Storage) -> None:
        """The audit log goes offsite with the backups (docs/SECURITY.md): the records not yet
        in the local repository are stored there first, then every copy the target lacks is
        uploaded. Copies are only ever added, so Object Lock can keep them unchanged. The
        reliability ledger's copies (docs/RELIABILITY.md) follow the same way; the older ones
        the local repository no longer keeps are removed where the store allows."""
        from reliad import audit

        try:
            audit.copy_to(src, self.config.state_dir)
        except (ReliadError, OSError) as e:
            log.warning("event=audit_copy_failed location=%s error=%r", src.storage.location, str(e))
        for prefix in (audit.COPY_PREFIX, LEDGER_PREFIX):
            have = {o.name for o in dst.list(prefix)}
            wanted = {o.name for o in src.storage.list(prefix)}
            for name in sorted(wanted - have):
                copy_object(src.storage, dst, name)
                self.result["objects_copied"] += 1
            if prefix == LEDGER_PREFIX:
                for name in sorted(have - wanted):
                    try:
                        dst.delete(name)
                    except (ReliadError, OSError) as e:  # Object Lock keeps it until its retention ends
                        log.info("event=ledger_copy_kept target=%s name=%s reason=%r", self.target.name, name, str(e))

    def _copy_reports(self) -> None:
        """The monthly reports this host wrote (state_dir/reports/) go offsite too, to the top of
        the bucket (reliad-fleet/HOST/, outside the repository prefix), where the fleet report of
        any host sharing the bucket reads every host's summary. A file already there whole is
        not sent again."""
        files = sorted(p for p in (self.config.state_dir / REPORTS_DIR).glob("*")
                       if p.is_file() and not p.name.startswith("."))
        if not files:
            return
        root = fleet_storage(self.target)
        try:
            prefix = f"{FLEET_PREFIX}{socket.gethostname()}/"
            have = {o.name: o.size for o in root.list(prefix)}
            for path in files:
                if have.get(prefix + path.name) != path.stat().st_size:
                    root.put_file(prefix + path.name, path)
                    self.result["reports_copied"] = self.result.get("reports_copied", 0) + 1
        finally:
            root.close()

    def _verify(self, dst: Storage) -> None:
        """Read back what was just written to the media; a copy that does not verify is
        removed again and left pending, so the next run writes it anew."""
        mode = self.target.options.get("verify", "crc")
        report = run_verify(open_repository(self.config, self.target), list(self.result["replicated"]), mode)
        bad = sorted({d["backup"] for d in report.damaged})
        self.result["verified"] = {"mode": mode, "backups": len(report.backups), "ok": not bad,
                                   "bytes_checked": report.bytes_checked}
        if not bad:
            return
        for bid in bad:
            dst.delete(manifest_object(bid))
            self._have.discard(bid)
            self.result["replicated"].remove(bid)
            for o in dst.list(data_prefix(bid)):
                dst.delete(o.name)
        raise DamageError(f"target {self.target.name!r}: {len(bad)} backup(s) failed verification after the copy "
                          f"({bad[0]}: {report.damaged[0]['reason']}); check the media, then run 'reliad replicate' "
                          "again")


def replicate(config: Config, target_name: str | None = None, *, create_bucket: bool = False, lock_wait: float = 0.0,
              progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Bring every offsite target (or the one named) up to date with its local repository.

    Each target is done under its own lock in the state directory, so the daemon and a
    manual run never copy to the same target at once. A target that fails does not stop the
    others; its backups stay pending with the error.
    """
    targets = offsite_targets(config, target_name)
    catalog = Catalog(config.state_dir)
    out = []
    try:
        for t in targets:
            lock_dir = config.state_dir / "replication" / t.name
            try:
                with writer_lock(lock_dir, f"replicate {t.name}", lock_wait):
                    out.append(_Run(config, t, catalog, progress).run(create_bucket))
            except LockError:
                msg = f"target {t.name!r}: another replication to it is running; this one leaves it to that run"
                out.append({"target": t.name, "type": t.type, "replicated": [], "already": 0, "pending": [],
                            "bytes_copied": 0, "objects_copied": 0, "aborted_uploads": 0, "error": msg})
    finally:
        catalog.close()
    return out


def replicate_after_backup(config: Config, policy: PolicyConfig, backup_id: str) -> dict[str, Any]:
    """Run after a successful backup: mark it pending on each offsite target of the policy,
    then copy. Failures leave the backup pending and come back as warnings, never as a
    failure of the backup itself, which is safe on the local target already."""
    targets = config.offsite_targets(policy)
    catalog = Catalog(config.state_dir)
    try:
        for t in targets:
            catalog.replication_pending(backup_id, t.name)
    finally:
        catalog.close()
    state: dict[str, Any] = {}
    warnings = []
    pending = 0
    for t in targets:
        r = replicate(config, t.name)[0]
        ok = backup_id not in r["pending"] and r["error"] is None
        state[t.name] = {"state": "replicated" if ok else "pending", "error": r["error"]}
        pending += len(r["pending"])
        if r["error"]:
            warnings.append(f"replication to {t.name!r} is pending: {r['error']}; 'reliad replicate' (or the next "
                            "backup) sends what is pending")
    return {"replication": state, "replication_pending": pending, "warnings": warnings}


def replication_status(config: Config, target_name: str | None) -> list[dict[str, Any]]:
    """Per offsite target: how many backups are replicated and which are pending, with why."""
    catalog = Catalog(config.state_dir)
    try:
        out = []
        for t in offsite_targets(config, target_name):
            rows = catalog.replication(t.name)
            out.append({"target": t.name, "type": t.type,
                        "replicated": sum(r["state"] == "replicated" for r in rows),
                        "pending": [{"id": r["backup_id"], "attempts": r["attempts"], "last_error": r["last_error"],
                                     "last_attempt_at": r["last_attempt_at"]}
                                    for r in rows if r["state"] == "pending"]})
        return out
    finally:
        catalog.close()


def init_offsite(config: Config, target: TargetConfig, create_bucket: bool, encrypt: bool | None = None) -> Repository:
    """`reliad init` for an offsite target: the local repository that feeds it is copied
    (same id, same key slots), so later replication fills it and the same key opens both.
    A target no policy feeds gets a repository of its own."""
    with attached(target):
        dst = storage_for(target)
        dst.prepare(create_bucket)
        try:
            local, _ = feed(config, target)
            src = open_repository(config, local, create=True)
        except ConfigError:
            if dst.stat(CONFIG) is not None:
                raise RepositoryError(f"target {target.name!r}: a repository already exists at {dst.location}") \
                    from None
            repo, notes = create_repository(config, target, dst, encrypt=encrypt)
            for n in notes:
                log.warning("event=repository_created target=%s note=%r", target.name, n)
            return repo
        existed = dst.stat(CONFIG) is not None
        if not ensure_repository(src, dst, target) and existed:
            raise RepositoryError(f"target {target.name!r}: a repository already exists at {dst.location}")
        return Repository.open(dst)
