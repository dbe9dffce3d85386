"""The prune job: remove expired backups and data no kept backup needs.

Per target of the chosen policies:
1. read every manifest header in the repository (all policies, so nothing another policy
   still needs is touched);
2. apply each chosen policy's retention (reliad/config/retention.py) to its own backups; the rest of
   the repository is kept as is;
3. delete the manifests of expired backups FIRST: a reader never sees a backup whose packs
   are gone, and a prune cut off half way leaves at most unreferenced packs;
4. then delete each `data/<id>/` whose backup no remaining manifest is or depends on: packs of
   expired backups and of interrupted runs. This happens under the target's writer lock (the
   repository's own for a local target, the replication lock for offsite ones), so a backup or
   copy being written is never mistaken for a leftover, and `.tmp-*` files of dead writers go
   too. Without the lock, only leftovers older than ORPHAN_MIN_AGE are removed.
Objects the store refuses to delete because they are locked (S3 Object Lock) are skipped and
kept, and everything they need is kept with them, until a later prune after their date.
It is written against the Storage protocol only, so it works on any target type.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Iterator
from typing import Any

from reliad.catalog import Catalog
from reliad.config import Config, TargetConfig
from reliad.config.retention import select
from reliad.errors import ConfigError, DamageError, ReliadError
from reliad.repository.lock import writer_lock
from reliad.repository.names import CONFIG, manifest_object
from reliad.storage import ObjectLockedError
from reliad.storage.base import Storage
from reliad.targets import open_repository, storage_for
from reliad.timeutil import iso, utcnow

log = logging.getLogger(__name__)
ORPHAN_MIN_AGE = dt.timedelta(hours=24)


def _id_time(backup_id: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(backup_id.split("-", 1)[0], "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


class _TargetPrune:
    def __init__(self, target: TargetConfig, storage: Storage, dry_run: bool, has_lock: bool) -> None:
        self.target = target
        self.storage = storage
        self.dry_run = dry_run
        self.has_lock = has_lock
        self.report: dict[str, Any] = {"target": target.name, "expired": [], "kept": [], "manifests_deleted": 0,
                                       "packs_deleted": 0, "orphans": [], "temporaries_deleted": 0,
                                       "bytes_freed": 0, "locked": [], "errors": []}

    def delete(self, name: str, size: int = 0) -> bool:
        """Delete one object; False when the store refuses (locked) or fails."""
        if self.dry_run:
            self.report["bytes_freed"] += size
            return True
        try:
            self.storage.delete(name)
        except ObjectLockedError as e:
            self.report["locked"].append(name)
            log.info("event=prune_locked target=%s object=%s reason=%r", self.target.name, name, str(e))
            return False
        except (OSError, ReliadError) as e:  # one object failing does not stop the rest
            self.report["errors"].append(f"{name}: {getattr(e, 'strerror', None) or e}")
            log.error("event=prune_delete_failed target=%s object=%s error=%r", self.target.name, name, str(e))
            return False
        self.report["bytes_freed"] += size
        return True


def prune_target(config: Config, target: TargetConfig, policies: list[str], dry_run: bool,
                 now: dt.datetime, locked: bool) -> dict[str, Any]:
    if storage_for(target).stat(CONFIG) is None:
        return {"target": target.name, "skipped": "no repository there yet", "errors": [], "deleted_ids": []}
    repo = open_repository(config, target)
    job = _TargetPrune(target, repo.storage, dry_run, locked)
    rep = job.report
    headers: dict[str, dict[str, Any]] = {}
    unreadable: list[str] = []
    for bid in repo.backup_ids():
        try:
            headers[bid] = repo.header(bid)
        except (DamageError, ReliadError) as e:
            unreadable.append(bid)
            rep["errors"].append(f"{manifest_object(bid)}: unreadable header, kept ({e})")
    expired: list[str] = []
    for name in policies:
        policy = config.policies[name]
        own = [h for h in headers.values() if h.get("policy") == name]
        keep = select(own, policy.retention, now)
        for h in sorted(own, key=lambda h: h["id"]):
            if h["id"] in keep:
                rep["kept"].append({"id": h["id"], "policy": name, "type": h["type"], "reason": keep[h["id"]]})
            else:
                expired.append(h["id"])
    # Whatever any remaining backup depends on stays, whichever policy it belongs to.
    needed = _closure(headers, set(headers) - set(expired))
    expired = [b for b in expired if b not in needed]
    for bid in expired:
        h = headers[bid]
        rep["expired"].append({"id": bid, "policy": h.get("policy"), "type": h.get("type"),
                               "started_at": h.get("started_at")})
    # 1. manifests first
    deleted: list[str] = []
    for bid in expired:
        name = manifest_object(bid)
        info = repo.storage.stat(name)
        if job.delete(name, info.size if info else 0):
            deleted.append(bid)
            rep["manifests_deleted"] += 1
            log.info("event=prune_expired target=%s id=%s dry_run=%s", target.name, bid, dry_run)
    # 2. then packs: everything no remaining manifest needs
    remaining = set(headers) - set(deleted)
    needed = _closure(headers, remaining) | set(unreadable)
    if unreadable:
        rep["errors"].append("packs were not pruned because some manifests could not be read")
    else:
        for bid, objects in sorted(repo.data_objects().items()):
            if bid in needed:
                continue
            if not job.has_lock and bid not in deleted:
                born = _id_time(bid)
                if born is None or now - born < ORPHAN_MIN_AGE:
                    continue
            if bid not in headers:
                rep["orphans"].append(bid)
            for o in objects:
                if job.delete(o.name, o.size):
                    rep["packs_deleted"] += 1
    if job.has_lock:
        count, size = repo.storage.clear_stale_writes(dry_run)
        rep["temporaries_deleted"] += count
        rep["bytes_freed"] += size
    repo.storage.close()
    rep["deleted_ids"] = deleted
    return rep


def _closure(headers: dict[str, dict[str, Any]], roots: set[str]) -> set[str]:
    out = set(roots)
    todo = list(roots)
    while todo:
        for dep in headers.get(todo.pop(), {}).get("depends_on", []):
            if dep not in out:
                out.add(dep)
                todo.append(dep)
    return out


@contextlib.contextmanager
def _target_lock(config: Config, target: TargetConfig, lock_wait: float) -> Iterator[bool]:
    """Exclude every other writer of the target while pruning; yields whether that is so.
    A local repository has its own writer lock (backups take it). Offsite targets are written
    only by replication, which takes a lock per target in the state directory: the same one."""
    if target.type == "local":
        if target.path is None or not target.path.exists():
            yield False
            return
        lock_dir = target.path
    else:
        lock_dir = config.state_dir / "replication" / target.name
    with writer_lock(lock_dir, "prune", lock_wait):
        yield True


def run_prune(config: Config, policies: list[str] | None = None, *, dry_run: bool = False,
              target_name: str | None = None, lock_wait: float = 0.0, now: dt.datetime | None = None) -> dict[str, Any]:
    """Prune the targets of `policies` (all when None); one report per target.

    The run is recorded in the catalog here, whoever started it (the CLI or the service):
    one `prune` job row per policy, which is what the service's schedule counts as a served
    prune slot. A dry run changes nothing and is not recorded."""
    names = policies if policies else sorted(config.policies)
    for n in names:
        config.policy(n)
    if target_name:
        config.target(target_name)
    now = now or utcnow()
    t0 = time.monotonic()
    catalog = Catalog(config.state_dir)
    try:
        rows = [] if dry_run else [catalog.job_start("prune", n, _row_target(config, n, target_name)) for n in names]
        report: dict[str, Any] = {}
        error: str | None = None
        try:
            report = _prune(config, catalog, names, dry_run, target_name, lock_wait, now, t0)
            error = "; ".join(e for t in report["targets"] for e in t.get("errors", [])) or None
        except ReliadError as e:
            error = str(e)
            raise
        finally:
            detail = {k: v for k, v in report.items() if k != "targets"} | {
                "targets": [{k: v for k, v in t.items() if k not in ("kept", "deleted_ids")}
                            for t in report.get("targets", [])]}
            for rowid in rows:
                catalog.job_finish(rowid, "ok" if report.get("ok") else "failed", time.monotonic() - t0, error,
                                   detail)
    finally:
        catalog.close()
    return report


def _row_target(config: Config, policy: str, target_name: str | None) -> str | None:
    """The target a prune job row names: the one pruned, else the policy's primary one."""
    try:
        return target_name or config.primary_target(config.policies[policy]).name
    except ConfigError:
        return None


def _prune(config: Config, catalog: Catalog, names: list[str], dry_run: bool, target_name: str | None,
           lock_wait: float, now: dt.datetime, t0: float) -> dict[str, Any]:
    targets: dict[str, list[str]] = {}
    for n in names:
        for t in config.policies[n].targets:
            if target_name is None or t == target_name:
                targets.setdefault(t, []).append(n)
    reports: list[dict[str, Any]] = []
    for tname, pols in targets.items():
        target = config.targets[tname]
        try:
            with _target_lock(config, target, lock_wait) as locked:
                rep = prune_target(config, target, pols, dry_run, now, locked)
        except ConfigError as e:  # e.g. a target type this build cannot open
            reports.append({"target": tname, "skipped": str(e), "errors": []})
            continue
        except ReliadError as e:
            reports.append({"target": tname, "errors": [str(e)]})
            log.error("event=prune_failed target=%s error=%r", tname, str(e))
            continue
        if not dry_run:
            for bid in rep.get("deleted_ids", []):
                catalog.mark_pruned(bid, tname)
        reports.append(rep)
        if "skipped" in rep:
            continue
        log.info("event=prune_done target=%s expired=%d manifests_deleted=%d packs_deleted=%d orphans=%d "
                 "bytes_freed=%d dry_run=%s", tname, len(rep["expired"]), rep["manifests_deleted"],
                 rep["packs_deleted"], len(rep["orphans"]), rep["bytes_freed"], dry_run)
    errors = [e for r in reports for e in r.get("errors", [])]
    return {"ok": not errors, "dry_run": dry_run, "policies": names, "at": iso(now),
            "duration_s": round(time.monotonic() - t0, 3), "targets": reports}
