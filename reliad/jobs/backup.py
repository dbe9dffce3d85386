"""The backup job: choose the base, run the archiver, commit the manifest, record the run."""

from __future__ import annotations

import contextlib
import errno
import heapq
import logging
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from reliad import audit
from reliad.catalog import Catalog
from reliad.config import Config, PolicyConfig
from reliad.config.schedule import BACKUP_TYPES
from reliad.errors import ConfigError, DamageError, ReliadError
from reliad.hooks import run_after, run_before
from reliad.jobs.archiver import Archiver, ArchiveStats, RefCursor
from reliad.redact import redact
from reliad.repository import Repository
from reliad.repository.lock import writer_lock
from reliad.repository.manifest import sort_key
from reliad.repository.names import new_backup_id
from reliad.sources import open_source
from reliad.sources.base import LeftOut, SourceItem
from reliad.targets import open_repository
from reliad.timeutil import iso, utcnow

log = logging.getLogger(__name__)



def choose_base(headers: list[dict[str, Any]], requested: str) -> dict[str, Any] | None:
    """The backup a new one builds on: the latest of any type for an incremental, the
    latest full for a differential. `headers` are one policy's backups, oldest first."""
    if requested == "full":
        return None
    for h in reversed(headers):
        if requested == "incremental" or h["type"] == "full":
            return h
    return None


def source_items(policy: PolicyConfig, skip_dirs: list[Any], left_out: LeftOut) -> Iterator[SourceItem]:
    """All sources of a policy merged into one stream in manifest order. A source that cannot
    be opened (a missing path, a database that refuses the connection) is left out with its
    reason and the others are still taken; only when every source fails does the backup."""
    streams = []
    for src in policy.sources:
        try:
            streams.append(open_source(policy, src, skip_dirs, left_out))
        except ReliadError as e:
            if len(policy.sources) == 1:
                raise
            log.warning("event=source_failed policy=%s source=%s error=%r", policy.name, src.name, str(e))
            left_out.failed_sources.append(f"source {src.name!r}: {e}")
    if not streams:
        raise ReliadError(f"policy {policy.name!r}: every source failed: {'; '.join(left_out.failed_sources)}")
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, key=lambda i: sort_key(i.path))


def _damaged_chain(catalog: Catalog, target: str, base: dict[str, Any]) -> tuple[str, str] | None:
    """(id, reason) of a backup known damaged among the base and the backups it points into:
    a new backup built on them would point at the same damaged data."""
    known = {bid: row for (bid, t), row in catalog.damage().items() if t == target}
    for bid in (base["id"], *base.get("depends_on", [])):
        if bid in known:
            return bid, known[bid]["reason"]
    return None


def _no_space(e: BaseException, config: Config, repo_path: Path) -> str | None:
    """For a full disk: which disk (the repository's or the state directory's, whichever has
    less room) and that the backup's partial data is gone, so that running it again after
    freeing space works."""
    if not isinstance(e, OSError) or e.errno not in (errno.ENOSPC, errno.EDQUOT):
        return None
    free = {}
    for p in (repo_path, config.state_dir):
        with contextlib.suppress(OSError):
            free[p] = shutil.disk_usage(p).free
    where = min(free, key=free.__getitem__) if free else repo_path
    return (f"no space left on the disk holding {where} ({free.get(where, 0) >> 10} KiB free); the backup's "
            "partial data was removed: free space there and run it again")


def run_backup(config: Config, policy_name: str, requested: str, *, lock_wait: float = 0.0,
               progress: Callable[[ArchiveStats], None] | None = None) -> dict[str, Any]:
    if requested not in BACKUP_TYPES:
        raise ConfigError(f"backup type must be one of {', '.join(BACKUP_TYPES)}, not {requested!r}")
    policy = config.policy(policy_name)
    target = config.primary_target(policy)
    assert target.path is not None
    started = utcnow()
    t0 = time.monotonic()
    bid = new_backup_id(started.strftime("%Y%m%dT%H%M%S.%fZ"))
    catalog = Catalog(config.state_dir)
    # The run is recorded before anything can go wrong, so that a refused lock, a broken
    # repository or a kill -9 all leave a failed row behind.
    catalog.start(id=bid, target=target.name, policy=policy.name, type=requested, requested_type=requested,
                  base=None, started_at=iso(started), classes=sorted({c for s in policy.sources for c in s.classes}))
    try:
        with writer_lock(target.path, f"backup {policy_name}", lock_wait,
                         on_wait=lambda s, ok: catalog.record_lock_wait(target.name, "backup", s, ok)):
            repo = open_repository(config, target, create=True)
            try:
                result = _locked_backup(config, policy, requested, repo, catalog, target.name, bid, started, t0,
                                        progress)
                copy_audit_log(repo, config)
            finally:
                repo.storage.close()
    except BaseException as e:
        msg = redact(_no_space(e, config, target.path) or str(e) or type(e).__name__)
        catalog.finish(bid, target.name, status="failed", finished_at=iso(utcnow()), error=msg,
                       duration_s=round(time.monotonic() - t0, 3))
        # an expected failure reaches the user as one sentence from the CLI; the event is for the daemon's log
        log.log(logging.INFO if isinstance(e, ReliadError) else logging.ERROR,
                "event=backup_failed id=%s policy=%s error=%r", bid, policy.name, msg)
        if isinstance(e, OSError):
            raise ReliadError(f"backup {bid} of policy {policy.name!r} failed: {msg}") from None
        raise
    finally:
        catalog.close()
    if config.offsite_targets(policy):
        # Outside the writer lock: the backup is committed locally whatever happens offsite.
        from reliad.jobs.replicate import replicate_after_backup

        rep = replicate_after_backup(config, policy, result["id"])
        result["warnings"] += rep.pop("warnings")
        result.update(rep)
    return result


def copy_audit_log(repo: Repository, config: Config) -> None:
    """Put the audit records not yet in the repository beside the backups (replication takes
    them offsite from there); a failure here must not fail the backup that just succeeded."""
    try:
        n = audit.copy_to(repo, config.state_dir)
        log.info("event=audit_copied location=%s records=%d", repo.storage.location, n)
    except (ReliadError, OSError) as e:
        log.warning("event=audit_copy_failed location=%s error=%r", repo.storage.location, str(e))


def _locked_backup(config: Config, policy: PolicyConfig, requested: str, repo: Repository, catalog: Catalog,
                   target: str, bid: str, started: datetime, t0: float,
                   progress: Callable[[ArchiveStats], None] | None) -> dict[str, Any]:
    if repo.encrypted:
        repo.need_cipher()  # no key: fail before any work
    all_headers = []
    for other in repo.backup_ids():
        try:
            all_headers.append(repo.header(other))
        except DamageError as e:  # one damaged manifest must not stop every later backup
            log.warning("event=manifest_unreadable id=%s error=%r", other, str(e))
    catalog.reconcile(target, all_headers)
    headers = [h for h in all_headers if h.get("policy") == policy.name]
    base = choose_base(headers, requested)
    note = None
    if requested != "full" and base is None:
        note = f"no full backup of policy {policy.name!r} to build on yet, so this {requested} runs as a full"
        log.warning("event=promoted_to_full policy=%s requested=%s", policy.name, requested)
    elif base is not None and (bad := _damaged_chain(catalog, target, base)):
        note = (f"backup {bad[0]}, which this {requested} would build on, failed verification ({bad[1]}), so it "
                "runs as a full")
        log.warning("event=promoted_to_full policy=%s requested=%s damaged_base=%s", policy.name, requested, bad[0])
        base = None
    btype = requested if base else "full"
    classes = sorted({c for s in policy.sources for c in s.classes})
    catalog.finish(bid, target, type=btype, base=base["id"] if base else None)
    log.info("event=backup_start id=%s policy=%s type=%s base=%s", bid, policy.name, btype,
             base["id"] if base else None)
    out = repo.start_backup(bid, config.state_dir, policy.compression_level)
    try:
        run_before(policy, btype)
        ref = RefCursor(repo.entries(base["id"])) if base else None
        archiver = Archiver(out.pipeline, out.manifest, tar_mode=(btype == "full"), ref=ref,
                            chunker=repo.config.chunker, progress=progress)
        skip = [p for p in (config.state_dir, *(t.path for t in config.targets.values())) if p]
        for item in source_items(policy, skip, archiver.stats.left_out):
            archiver.add(item)
        archiver.finish()
        out.finish_packs()
        stats = archiver.stats
        finished = utcnow()
        header = out.commit({
            "policy": policy.name, "type": btype, "requested_type": requested, "base": base["id"] if base else None,
            "started_at": iso(started), "finished_at": iso(finished), "host": socket.gethostname(),
            "sources": [{"name": s.name, "type": s.type, "classes": s.classes,
                         "paths": [str(p) for p in s.paths]} for s in policy.sources],
            "depends_on": sorted(archiver.depends - {bid}),
        }, {"files": stats.files, "dirs": stats.dirs, "entries": out.manifest.count,
            "bytes_read": stats.bytes_read, "bytes_new": stats.bytes_new,
            "bytes_stored": out.bytes_stored, "unchanged_files": stats.unchanged_files,
            "duration_s": round(time.monotonic() - t0, 3)})
    except BaseException:
        out.abort()
        run_after(policy, btype, "failed")
        raise
    out.close()
    hook_errors = run_after(policy, btype, "ok")
    duration = round(time.monotonic() - t0, 3)
    warnings = stats.left_out.warnings() + hook_errors
    status = "partial" if stats.left_out.incomplete() else "ok"
    catalog.finish(bid, target, status=status, finished_at=iso(finished), files=stats.files,
                   bytes_read=stats.bytes_read, bytes_stored=out.bytes_stored, duration_s=duration,
                   depends_on=header["depends_on"], error="; ".join(warnings) or None)
    log.info("event=backup_done id=%s policy=%s type=%s files=%d bytes_read=%d bytes_stored=%d duration_s=%.3f",
             bid, policy.name, btype, stats.files, stats.bytes_read, out.bytes_stored, duration)
    return {"id": bid, "policy": policy.name, "type": btype, "requested_type": requested,
            "base": base["id"] if base else None, "target": target, "status": status,
            "files": stats.files, "dirs": stats.dirs, "unchanged_files": stats.unchanged_files,
            "bytes_read": stats.bytes_read, "bytes_new": stats.bytes_new, "bytes_stored": out.bytes_stored,
            "duration_s": duration, "started_at": iso(started), "finished_at": iso(finished),
            "classes": classes, "note": note, "warnings": warnings, "hook_errors": hook_errors,
            "changed_during_backup": stats.changed_during_backup, "left_out": stats.left_out.to_json()}
