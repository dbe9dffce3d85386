"""The verify job: prove that backups are intact, in three depths (R10c).

fast  every object a manifest points to exists and is long enough; reads no content.
crc   reads every referenced frame, checks its stored CRC32C, decrypts it (checking the GCM tag),
      decompresses it and checks the CRC32C of every chunk's raw bytes. Without the key of an
      encrypted repository it checks the CRC32C of every envelope of each backup's manifest and
      packs instead: every stored byte, though not whether an intact envelope was moved.
byte  compares each file's stored content with the live source, byte for byte; a file
      whose metadata changed since the backup is reported as changed, not as damage.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from reliad import audit
from reliad.catalog import Catalog
from reliad.config import Config, TargetConfig
from reliad.errors import DamageError, NoRepositoryError, RepositoryError
from reliad.jobs.locate import find_backup
from reliad.repository import Repository, codec
from reliad.repository.crypto import HEAD, check_envelopes, parse_head
from reliad.repository.keys import scan_slots
from reliad.repository.manifest import VIRTUAL_ROOT, Chunk, Entry, display_path, parse_entry
from reliad.repository.names import DATA, MANIFESTS, PACK_RE, data_prefix, manifest_object, pack_object
from reliad.repository.prefetch import FrameStream
from reliad.targets import open_repository
from reliad.timeutil import iso, utcnow

MODES = ("fast", "crc", "byte")
_CONTENT = ("file", "hardlink")  # the entry types that have content to check


@dataclass
class Report:
    mode: str
    backups: list[str] = field(default_factory=list)
    damaged: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    files: int = 0
    bytes_checked: int = 0
    decrypted: bool = True  # False: an encrypted repository checked without its key

    def damage(self, backup: str, path: str | None, reason: str) -> None:
        self.damaged.append({"backup": backup, "path": path, "reason": reason})

    def absorb(self, other: Report) -> None:
        """Add another target's or policy's result, so one verdict covers the whole run."""
        self.backups += other.backups
        self.damaged += other.damaged
        self.changed += other.changed
        self.files += other.files
        self.bytes_checked += other.bytes_checked
        self.decrypted = self.decrypted and other.decrypted

    def damaged_backups(self) -> set[str]:
        return {d["backup"] for d in self.damaged if d["backup"] is not None}

    def to_json(self) -> dict[str, Any]:
        return {"ok": not self.damaged, "mode": self.mode, "backups": self.backups, "damaged": self.damaged,
                "changed": self.changed, "files_checked": self.files, "bytes_checked": self.bytes_checked,
                "decrypted": self.decrypted}


def _pack_sums(header: dict[str, Any], bid: str) -> dict[str, dict[str, int]]:
    """The header's record of the backup's own packs, checked for shape: `--mode fast` reads
    the header without checking the manifest's checksum, so a damaged one must fail here as
    damage (not as a KeyError), and must not name an object outside the backup's packs."""
    sums = header.get("pack_sums") or {}
    if not isinstance(sums, dict) or not all(
            isinstance(pack, str) and PACK_RE.match(pack) and pack.startswith(bid + "/") and isinstance(want, dict)
            and type(want.get("size")) is int and type(want.get("crc32c")) is int for pack, want in sums.items()):
        raise DamageError(f"{manifest_object(bid)}: the header's pack_sums is damaged")
    return sums


def _shown(e: Entry) -> str:
    return display_path(e.path)


class Verifier:
    def __init__(self, repo: Repository, mode: str, progress: Callable[[Report], None] | None = None,
                 done: Callable[[str, list[dict[str, Any]]], None] | None = None) -> None:
        self.repo = repo
        self.report = Report(mode)
        self.progress = progress
        self.done = done  # called after each backup with its damage: results are kept as they come
        self._sizes: dict[str, int] | None = None
        self._bad_frames: dict[tuple[str, int], str] = {}
        self._bad_packs: set[str] = set()  # packs already blamed on some path
        self._good_slices: set[int] = set()
        # own-pack frames read and checked for some chunk: pack -> offset -> (length, CRC32C)
        self._covered: dict[str, dict[int, tuple[int, int]]] = {}
        # manifest lines (by hash) whose entries verified clean in this run, file content or not
        self._clean_files: set[int] = set()
        self._clean_other: set[int] = set()

    def run(self, backup_ids: list[str]) -> Report:
        if self.repo.encrypted and self.repo.cipher is None:
            if self.report.mode != "crc":
                self.repo.need_cipher()
            return self._keyless(backup_ids)
        for bid in backup_ids:
            self.report.backups.append(bid)
            try:
                self._backup(bid)
            except (DamageError, RepositoryError) as e:
                self.report.damage(bid, None, str(e))
            self._done(bid)
        return self.report

    def _done(self, bid: str) -> None:
        if self.done:
            self.done(bid, [d for d in self.report.damaged if d["backup"] == bid])

    def _backup(self, bid: str) -> None:
        """The manifest first (its own checksum), then every entry, then the backup's own
        packs as whole objects: that last step covers the bytes no entry points at (tar
        headers and padding), which `zstd -dc | tar -x` needs intact too."""
        mode = self.report.mode
        if mode == "crc":
            self.repo.check_manifest(bid)
        elif mode == "fast":
            self.repo.manifest_trailer(bid)
        header = self.repo.header(bid)
        own = _pack_sums(header, bid)
        if mode == "crc":
            keys: deque[int] = deque()  # the line hash of each entry the stream yields, in order
            stream = FrameStream(self.repo, self._unseen(bid, keys), self._crc_plan)
            try:
                for entry, _ in stream:
                    key = keys.popleft()
                    damaged = len(self.report.damaged)
                    self._entry(bid, entry, stream)
                    if len(self.report.damaged) == damaged:
                        (self._clean_files if entry.type in _CONTENT else self._clean_other).add(key)
                    if self.progress:
                        self.progress(self.report)
            finally:
                stream.close()
        else:
            for entry in self.repo.entries(bid):
                self._entry(bid, entry)
                if self.progress:
                    self.progress(self.report)
        for pack, want in own.items():
            if pack in self._bad_packs:
                continue
            try:
                if mode == "crc" and self.repo.encrypted:
                    self._uncovered_frames(pack, want["size"])
                elif mode == "crc":
                    self.repo.check_pack(pack, want["size"], want["crc32c"], self._covered.pop(pack, {}))
                elif mode == "fast":
                    self._check_size(pack, want["size"], exact=True)
                    self._check_store_sum(pack, want["crc32c"])
            except DamageError as e:
                self._bad_packs.add(pack)
                self.report.damage(bid, None, f"{e} (in bytes no file's content uses: tar headers or padding)"
                                   if mode == "crc" else str(e))

    def _unseen(self, bid: str, keys: deque[int]) -> Iterator[Entry]:
        """The entries of a backup, less those whose manifest line is byte for byte one that
        already verified clean in this run: an incremental repeats most lines of the backup it
        builds on, and such a line's chunks are slices already proven intact, so it is only
        counted, not parsed and checked again. (The manifest's own bytes are still all read
        and checked: every record is opened.) Once a damaged frame is known, every line is
        checked again, so that every path whose chunk records name that frame is reported."""
        name = manifest_object(bid)
        for line in self.repo.entry_lines(bid):
            key = hash(line)
            if not self._bad_frames:
                if key in self._clean_files:
                    self.report.files += 1
                    continue
                if key in self._clean_other:
                    continue
            entry = parse_entry(line, name)
            keys.append(key)
            yield entry

    def _check_size(self, pack: str, need: int, exact: bool = False) -> None:
        """A pack exists and holds `need` bytes: at least (a frame some path uses lies
        within it) or exactly (the size its backup recorded for the whole pack)."""
        if self._sizes is None:
            self._sizes = {o.name: o.size for o in self.repo.storage.list(DATA)}
        name = pack_object(pack)
        size = self._sizes.get(name)
        if size is None:
            raise DamageError(f"{name} is missing")
        if size < need or (exact and size != need):
            raise DamageError(f"{name} is truncated or altered ({size} bytes, its backup wrote "
                              f"{'' if exact else 'at least '}{need})")

    def _uncovered_frames(self, pack: str, size: int) -> None:
        """Open the frames of one of a backup's own packs that no chunk led to (tar headers,
        padding): with the GCM tags checked there too, no stored byte of an encrypted backup
        can change unnoticed, which a whole-pack CRC32C (forgeable) could not promise."""
        self._check_size(pack, size, exact=True)
        cipher = self.repo.need_cipher()
        name = pack_object(pack)
        covered = self._covered.pop(pack, {})
        pos = 0
        while pos < size:
            if pos in covered:
                pos += covered[pos][0]
                continue
            where = f"{name}@{pos}"
            length, _ = parse_head(self.repo.storage.get_range(name, pos, HEAD.size), where)
            stored = self.repo.read_stored(pack, pos, HEAD.size + length)
            codec.decompress(cipher.open_frame(pack, pos, stored, where), where)
            self.report.bytes_checked += len(stored)
            pos += len(stored)
        if pos != size:
            raise DamageError(f"{name}: the last frame runs past the end of the pack")

    def _keyless(self, backup_ids: list[str]) -> Report:
        """Check every envelope of each backup's manifest and packs against its CRC32C."""
        self.report.decrypted = False
        storage = self.repo.storage
        for bid in backup_ids:
            self.report.backups.append(bid)
            names = [manifest_object(bid), *(o.name for o in storage.list(data_prefix(bid)))]
            for name in names:
                try:
                    with storage.open_read(name) as stream:
                        self.report.bytes_checked += check_envelopes(stream, name, name.startswith(MANIFESTS))
                except FileNotFoundError:
                    self.report.damage(bid, None, f"{name} is missing")
                except DamageError as e:
                    self.report.damage(bid, None, str(e))
                if self.progress:
                    self.progress(self.report)
            self._done(bid)
        return self.report

    def _check_store_sum(self, pack: str, want: int) -> None:
        """Where the store keeps a checksum of its own (S3 additional checksums), the pack's
        must be the CRC32C its backup recorded; a HEAD tells, still without reading data."""
        if problem := self.repo.storage.checksum_problem(pack_object(pack), want):
            raise DamageError(problem)

    def _entry(self, bid: str, entry: Entry, stream: FrameStream | None = None) -> None:
        if entry.type not in _CONTENT:
            return
        self.report.files += 1
        if self.report.mode == "fast":
            self._fast(bid, entry)
        elif self.report.mode == "crc" or entry.path.startswith(VIRTUAL_ROOT + b"/"):
            self._crc(bid, entry, stream)  # a dump or image has no live file to compare with
        else:
            self._byte(bid, entry)

    def _fast(self, bid: str, entry: Entry) -> None:
        for c in entry.chunks:
            try:
                self._check_size(c.pack, c.frame_offset + c.frame_length)
            except DamageError as e:
                self._bad_packs.add(c.pack)
                self.report.damage(bid, _shown(entry), str(e))
                return

    @staticmethod
    def _slice_key(c: Chunk) -> int:
        return hash((c.pack, c.frame_offset, c.raw_offset, c.raw_length, c.raw_crc32c))

    def _crc_plan(self, entry: Entry) -> list[Chunk]:
        """The chunks `_crc` will read, for the stream to decode ahead: not those in a frame
        known bad or a slice already proven good (an incremental's chunks mostly point into
        frames its full backup's check has read)."""
        if entry.type not in _CONTENT:
            return []
        return [c for c in entry.chunks
                if (c.pack, c.frame_offset) not in self._bad_frames and self._slice_key(c) not in self._good_slices]

    def _crc(self, bid: str, entry: Entry, stream: FrameStream | None) -> None:
        own = bid + "/"
        for c in entry.chunks:
            key = (c.pack, c.frame_offset)
            bad = self._bad_frames.get(key)
            if bad:
                self.report.damage(bid, _shown(entry), bad)
                return
            slice_key = self._slice_key(c)
            if slice_key in self._good_slices:
                continue
            try:
                data = stream.data(c) if stream else self.repo.chunk_data(c)
            except DamageError as e:
                if "content CRC32C" not in str(e):
                    self._bad_frames[key] = str(e)
                self._bad_packs.add(c.pack)
                self.report.damage(bid, _shown(entry), str(e))
                return
            if c.pack.startswith(own):  # read and checked: the pass over the backup's own packs skips it
                self._covered.setdefault(c.pack, {})[c.frame_offset] = (c.frame_length, c.frame_crc32c)
            self.report.bytes_checked += len(data)
            self._good_slices.add(slice_key)

    def _byte(self, bid: str, entry: Entry) -> None:
        live = "/" + os.fsdecode(entry.path)
        shown = _shown(entry)
        try:
            st = os.lstat(live)
        except FileNotFoundError:
            self.report.changed.append({"backup": bid, "path": shown, "reason": "deleted since the backup"})
            return
        if st.st_size != entry.size or st.st_mtime_ns != entry.mtime_ns or "changed_during_backup" in entry.flags:
            self.report.changed.append({"backup": bid, "path": shown, "reason": "changed since the backup"})
            return
        try:
            with open(live, "rb") as fh:
                for c in entry.chunks:
                    stored = self.repo.chunk_data(c)
                    current = fh.read(len(stored))
                    self.report.bytes_checked += len(stored)
                    if current != stored:
                        self.report.damage(bid, shown, "stored content differs from the live file")
                        return
        except DamageError as e:
            self.report.damage(bid, shown, str(e))
        except OSError as e:
            self.report.changed.append({"backup": bid, "path": shown, "reason": f"cannot read: {e.strerror}"})


def run_verify(repo: Repository, backup_ids: list[str], mode: str,
               progress: Callable[[Report], None] | None = None,
               done: Callable[[str, list[dict[str, Any]]], None] | None = None) -> Report:
    return Verifier(repo, mode, progress, done).run(backup_ids)


def _policy_of(repo: Repository, known: dict[str, str], backup_id: str) -> str:
    if backup_id in known:
        return known[backup_id]
    try:
        return str(repo.header(backup_id).get("policy") or "unknown")
    except (DamageError, RepositoryError, OSError, ValueError):
        return "unknown"


def verify_and_record(catalog: Catalog, target: str, repo: Repository, backup_ids: list[str], mode: str,
                      progress: Callable[[Report], None] | None = None) -> list[Report]:
    """Verify one target's backups a policy at a time and record each policy's result in the
    catalog, so that monitoring can say per policy when it was last proven intact."""
    known = {r["id"]: r["policy"] for r in catalog.backups(target=target)}
    groups: dict[str, list[str]] = {}
    for bid in backup_ids:
        groups.setdefault(_policy_of(repo, known, bid), []).append(bid)
    reports = []
    for policy, ids in sorted(groups.items()):
        started = iso(utcnow())

        def done(bid: str, damage: list[dict[str, Any]], policy: str = policy) -> None:
            """Kept per backup as it finishes, so that a run cut short (a stop, a kill) keeps what
            it proved, and the next one starts with the backups proven longest ago."""
            found = {bid: f"{damage[0]['path'] or '(manifest)'}: {damage[0]['reason']}"} if damage else {}
            catalog.record_damage(target, policy, mode, found, [] if damage else [bid])

        r = run_verify(repo, ids, mode, progress, done)
        catalog.record_verify(target=target, policy=policy, mode=mode, started_at=started, finished_at=iso(utcnow()),
                              backups=len(r.backups), damaged_backups=len({d["backup"] for d in r.damaged}),
                              files=r.files, bytes_checked=r.bytes_checked)
        reports.append(r)
    return reports


def _slice(catalog: Catalog, target: str, mode: str, ids: list[str], share: float) -> list[str]:
    """The `share` of `ids` proven longest ago in `mode` (never proven first), oldest first;
    at least one."""
    if share >= 1.0:
        return ids
    proven = {r["id"]: r["verified_at"] or "" for r in catalog.verification_ages(mode) if r["target"] == target}
    ordered = sorted(ids, key=lambda b: (proven.get(b, ""), b))
    return ordered[:max(1, math.ceil(len(ordered) * share))]


def _listed(catalog: Catalog, target: str, policy: str | None = None) -> dict[str, str]:
    """{backup id: policy} of the complete backups the catalog records in a target (of one policy)."""
    return {r["id"]: r["policy"] for r in catalog.backups(policy, target) if r["status"] in ("ok", "partial")}


def _unreadable(catalog: Catalog, report: Report, target: TargetConfig, listed: dict[str, str], reason: str,
                mode: str) -> None:
    """A repository that cannot be opened: every backup the catalog records in it is damaged
    as far as anyone can prove (recorded per policy, so monitoring sees it), never skipped."""
    now = iso(utcnow())
    by_policy: dict[str, list[str]] = {}
    for bid, policy in sorted(listed.items()):
        report.backups.append(bid)
        report.damage(bid, None, f"target {target.name!r}: {reason}; the catalog records this backup there")
        by_policy.setdefault(policy, []).append(bid)
    for policy, ids in by_policy.items():
        catalog.record_damage(target.name, policy, mode, {b: f"target {target.name!r}: {reason}" for b in ids}, [])
        catalog.record_verify(target=target.name, policy=policy, mode=mode, started_at=now, finished_at=now,
                              backups=len(ids), damaged_backups=len(ids), files=0, bytes_checked=0)


def check_repository_objects(repo: Repository, target: str) -> list[dict[str, Any]]:
    """Damage in what is not a backup but that restoring and auditing need: key slots (one
    damaged slot may be the only one a key opens) and the audit log's copies."""
    where = f"target {target!r}"
    found = [{"backup": None, "path": name, "reason": f"{where}: damaged key slot ({problem})"}
             for name, slot, problem in (scan_slots(repo.storage) if repo.encrypted else []) if slot is None]
    for host in audit.copy_hosts(repo):
        try:
            problems = audit.check_copies(repo, f"{where} audit copy of {host}", host).problems
        except (DamageError, RepositoryError) as e:
            problems = [f"{where} audit copy of {host}: {e}"]
        found += [{"backup": None, "path": f"{audit.COPY_PREFIX}{host}/", "reason": p} for p in problems]
    return found


def verify_backups(config: Config, backup_ids: list[str], mode: str, target_name: str | None = None,
                   progress: Callable[[Any], None] | None = None, policy: str | None = None,
                   share: float = 1.0) -> Report:
    """Verify the named backups (each found in whichever target holds it), or every backup of
    every target (or of `target_name`) when none is named, recording each policy's result.
    With `policy` (the service's scheduled verification): only that policy's backups, in the
    targets it writes to, and of those only the `share` proven longest ago (never first): a
    slice, so that runs spread the reading of everything over `[daemon] verify_within`, and a
    run cut short is taken up where it stopped."""
    catalog = Catalog(config.state_dir)
    try:
        return _verify(config, catalog, backup_ids, mode, target_name, progress, policy, share)
    finally:
        catalog.close()


def _verify(config: Config, catalog: Catalog, backup_ids: list[str], mode: str, target_name: str | None,
            progress: Callable[[Any], None] | None, policy: str | None = None, share: float = 1.0) -> Report:
    """What cannot be read is damage, never an empty success: a repository that is missing
    (an unmounted disk) while the catalog lists backups in it, a damaged repository config,
    backups the catalog lists that have no manifest, damaged key slots and audit copies."""
    total = Report(mode)
    work: dict[str, tuple[Repository, list[str]]] = {}
    if backup_ids:
        for bid in backup_ids:
            t, repo = find_backup(config, bid, target_name)
            work.setdefault(t.name, (repo, []))[1].append(bid)
    else:
        targets = [config.target(target_name)] if target_name else list(config.targets.values())
        if policy is not None:
            targets = [t for t in targets if t.name in config.policy(policy).targets]
        for t in targets:
            listed = _listed(catalog, t.name, policy)
            try:
                repo = open_repository(config, t)
            except NoRepositoryError as e:
                if not listed and target_name is None:
                    continue  # a target nothing was written to yet
                if not listed:
                    raise
                _unreadable(catalog, total, t, listed, str(e), mode)
                continue
            except (RepositoryError, DamageError) as e:  # a damaged config or key slot
                total.damage(None, "keys/" if isinstance(e, DamageError) else "config", f"target {t.name!r}: {e}")
                _unreadable(catalog, total, t, listed, str(e), mode)
                continue
            stored = repo.backup_ids()
            gone = {bid: p for bid, p in listed.items() if bid not in set(stored)}
            if gone:
                _unreadable(catalog, total, t, gone, "its manifest is missing from the repository", mode)
            ids = stored if policy is None else _slice(catalog, t.name, mode, [b for b in stored if b in listed], share)
            work[t.name] = (repo, ids)
    for tname, (repo, ids) in work.items():
        if not backup_ids:
            total.damaged += check_repository_objects(repo, tname)
        for r in verify_and_record(catalog, tname, repo, ids, mode, progress):
            total.absorb(r)
    return total
