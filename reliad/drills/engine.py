"""One drill, phase by phase: prepare, fetch, restore, verify, load, checks, failover, cleanup.

General scenario: the primary target is intact; the newest backup of the policy (or the one
named) is restored from it into the standby location. Severe scenario: the host is assumed
lost; the drill starts from an empty temporary state directory, opens only the offsite
target with the recovery key configured for drills (never the local key file or catalog),
rebuilds the catalog from it (fetch) and restores from there.

Each phase is timed and records its bytes and outcome; what went wrong is caught per phase,
so a drill always ends in a record (and cleanup always runs). The verdict comes from
`grading`; nothing here decides PASS on its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reliad.catalog import Catalog
from reliad.config import KEY_SOURCE_KEYS, Config, TargetConfig
from reliad.config.drills import SCENARIOS, DrillConfig
from reliad.drills import bookkeeping, databases, records, status
from reliad.drills.checks import command_check, drill_env, sql_check
from reliad.drills.grading import (
    FAILED,
    INTERRUPTED,
    NOT_RUN,
    OK,
    PHASES,
    SKIPPED,
    Measures,
    Phase,
    completeness,
    exit_code,
    grade,
    recovery_time,
)
from reliad.drills.restored import verify_tree
from reliad.errors import ConfigError, DamageError, ReliadError
from reliad.hooks import run_command
from reliad.jobs.rebuild import rebuild_catalog
from reliad.jobs.restore import run_restore
from reliad.jobs.verify import run_verify
from reliad.repository import Repository
from reliad.repository.names import MANIFESTS
from reliad.targets import attached, open_repository
from reliad.timeutil import iso, parse_iso, utcnow

log = logging.getLogger(__name__)
SPACE_MARGIN = 1.05  # restore needs the backup's bytes plus room for directories and metadata
_MISSING = (126, 127)


class PhaseStop(Exception):
    """Ends a phase with an outcome other than ok (NOT_RUN, FAILED, SKIPPED) and a reason."""

    def __init__(self, outcome: str, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome


def _inside(a: Path, b: Path) -> bool:
    """Whether a is b or lies below it."""
    return a == b or b in a.parents


class Drill:
    def __init__(self, config: Config, policy: str, scenario: str, backup_id: str | None = None) -> None:
        if scenario not in SCENARIOS:
            raise ConfigError(f"scenario must be one of {', '.join(SCENARIOS)}, not {scenario!r}")
        self.config = config
        self.policy = config.policy(policy)
        self.dc: DrillConfig = config.drills[policy]
        self.scenario = scenario
        self.requested = backup_id
        self.started = utcnow()
        self.id = f"{policy}-{scenario}-{self.started.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"
        self.phases = {name: Phase(name) for name in PHASES}
        self.m = Measures(scenario, self.dc.objectives[scenario], self.dc.completeness[scenario],
                          phases=list(self.phases.values()))
        self.standby = self.dc.standby
        self.repo: Repository | None = None
        self.target: TargetConfig | None = None
        self.backup_id: str | None = None
        self.header: dict[str, Any] = {}
        self.tmp_state: Path | None = None
        self.loads: dict[tuple[str, str], dict[str, Any]] = {}
        self.servers: dict[str, databases.Server] = {}
        self.not_loaded: dict[str, str] = {}
        self.restore_errors: list[dict[str, str]] = []
        self.tally_problems: list[dict[str, str]] = []
        self.notes: list[str] = []
        self._stack = contextlib.ExitStack()

    # -- running -----------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Run every phase, always clean up, record the drill and return its record."""
        state_dir = self.config.state_dir
        with bookkeeping.policy_lock(state_dir, self.policy.name):
            self.notes += recover_interrupted(self.config)
            running = bookkeeping.drills_dir(state_dir) / "running" / f"{self.policy.name}.json"
            bookkeeping.write_json(running, {"pid": os.getpid(), "id": self.id, "policy": self.policy.name,
                                             "scenario": self.scenario, "started_at": iso(self.started),
                                             "standby": str(self.standby)})
            log.info("event=drill_start id=%s policy=%s scenario=%s", self.id, self.policy.name, self.scenario)
            try:
                self._steps()
            finally:
                self._phase("cleanup", self._cleanup)
                record = self.record()
                records.save(state_dir, record)
                bookkeeping.remove(running)
                log.info("event=drill_done id=%s policy=%s scenario=%s verdict=%s recovery_time_s=%.3f", self.id,
                         self.policy.name, self.scenario, record["verdict"], record["recovery_time_s"])
        return record

    def _steps(self) -> None:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("prepare", self._prepare), ("fetch", self._fetch), ("restore", self._restore),
            ("verify", self._verify), ("load", self._load), ("checks", self._checks), ("failover", self._failover)]
        blocked: str | None = None  # why the phases after a failed prepare, fetch or restore cannot run
        for name, step in steps:
            if blocked is not None:
                self.phases[name].outcome, self.phases[name].detail = SKIPPED, blocked
                continue
            try:
                self._phase(name, step)
            except BaseException:  # interrupted (Ctrl-C, the service stopping): the rest never ran
                for later, _ in steps[[n for n, _ in steps].index(name) + 1:]:
                    self.phases[later].outcome, self.phases[later].detail = SKIPPED, "the drill was interrupted"
                raise
            if name in ("prepare", "fetch") and self.phases[name].outcome not in (OK, SKIPPED):
                blocked = f"not run: {name} did not succeed"
            if name == "restore" and self.repo is None:
                blocked = "not run: nothing was restored"

    def _phase(self, name: str, step: Callable[[], None]) -> None:
        phase = self.phases[name]
        phase.started_at = iso(utcnow())
        t0 = time.monotonic()
        try:
            step()
            if phase.outcome == NOT_RUN:
                phase.outcome = OK
        except PhaseStop as e:
            phase.outcome, phase.detail = e.outcome, str(e)
        except DamageError as e:
            phase.outcome, phase.detail = FAILED, str(e)
            self.m.damage.append({"path": "(repository)", "reason": str(e)})
        except ReliadError as e:
            phase.outcome, phase.detail = FAILED, str(e)
        except OSError as e:
            phase.outcome, phase.detail = FAILED, f"{e.filename or ''}: {e.strerror or e}".lstrip(": ")
        except BaseException:
            phase.outcome, phase.detail = INTERRUPTED, "the drill was stopped during this phase"
            raise
        finally:
            phase.duration_s = round(time.monotonic() - t0, 3)  # the record's figures add up exactly
            log.info("event=drill_phase id=%s phase=%s outcome=%s duration_s=%.3f bytes=%d", self.id, name,
                     phase.outcome, phase.duration_s, phase.bytes)

    # -- phases ------------------------------------------------------------------
    def _prepare(self) -> None:
        self._check_standby_place()
        if self.scenario == "general":
            self.target = self.config.primary_target(self.policy)
            self.repo = open_repository(self.config, self.target)
            catalog = Catalog(self.config.state_dir)
            try:
                self.backup_id = self._choose(catalog, self.target.name)
            finally:
                catalog.close()
            self.header = self.repo.header(self.backup_id)
            self._check_space()
        self._claim_standby()

    def _fetch(self) -> None:
        if self.scenario == "general":
            raise PhaseStop(SKIPPED, "general drill: the primary target is intact")
        name = self.dc.offsite_target
        if name is None:
            raise PhaseStop(FAILED, f"policy {self.policy.name!r} has no offsite target, so a lost site cannot be "
                                    "recovered; add an s3 or offline target to its targets")
        self.tmp_state = Path(tempfile.mkdtemp(prefix=f"reliad-drill-{self.policy.name}-"))
        bookkeeping.write_json(self._running_file(), {**(bookkeeping.read_json(self._running_file()) or {}),
                                                       "tmp_state": str(self.tmp_state)})
        source = self.config.targets[name]
        # Only the offsite target, only the drill's recovery key: a lost host has neither the
        # local key file nor the catalog, and a drill that used them would prove nothing.
        options = {k: v for k, v in source.options.items() if k not in KEY_SOURCE_KEYS}
        self.target = dataclasses.replace(source, options={**options, **self.dc.recovery_key})
        lost = dataclasses.replace(self.config, state_dir=self.tmp_state, targets={name: self.target})
        self._stack.enter_context(attached(self.target))
        self.repo = open_repository(lost, self.target)
        if self.repo.encrypted and self.repo.cipher is None:
            raise PhaseStop(FAILED, f"the repository of offsite target {name!r} is encrypted and no recovery key is "
                                    f"configured for drills: set drills.{self.policy.name}.recovery_key = "
                                    "{ passphrase_file = \"...\" } (see 'reliad key add')")
        found = rebuild_catalog(lost, name)[name]
        catalog = Catalog(self.tmp_state)
        try:
            self.backup_id = self._choose(catalog, name)
        finally:
            catalog.close()
        self.phases["fetch"].bytes = sum(o.size for o in self.repo.storage.list(MANIFESTS))
        self.phases["fetch"].detail = f"catalog rebuilt from offsite target {name!r}: {found} backups"
        self.header = self.repo.header(self.backup_id)
        # one download of its manifest for the restore, the check of the standby tree and the databases
        self._stack.enter_context(self.repo.manifest_fetched(self.backup_id))
        self._check_space()

    def _restore(self) -> None:
        assert self.repo is not None and self.backup_id is not None
        result = run_restore(self.repo, self.backup_id, self.standby, [])
        self.phases["restore"].bytes = result["bytes"]
        self.restore_errors = result["errors"]
        if self.restore_errors:
            first = self.restore_errors[0]
            raise PhaseStop(FAILED, f"{len(self.restore_errors)} entries could not be restored, first "
                                    f"{first['path']}: {first['reason']}")

    def _verify(self) -> None:
        assert self.repo is not None and self.backup_id is not None
        tally = verify_tree(self.repo, self.backup_id, self.standby)
        m = self.m
        m.files_expected, m.files_verified = tally.files_expected, tally.files_verified
        m.bytes_expected, m.bytes_verified = tally.bytes_expected, tally.bytes_verified
        m.measured = True
        self.phases["verify"].bytes = tally.bytes_verified
        self.tally_problems = tally.problems
        if self.restore_errors or tally.problem_count:
            # Name the damage from the repository's own check: a restore error alone does not
            # say whether a stored byte changed or the standby disk refused a write.
            report = run_verify(self.repo, [self.backup_id], "crc")
            m.damage += [{"path": d["path"] or "(manifest)", "reason": d["reason"]} for d in report.damaged]
        if tally.problem_count:
            first = tally.problems[0]
            raise PhaseStop(FAILED, f"{tally.problem_count} of {tally.files_expected} entries missing or different "
                                    f"in the standby tree, first {first['path']}: {first['reason']}")

    def _load(self) -> None:
        assert self.repo is not None and self.backup_id is not None
        found = databases.dumps(self.repo, self.backup_id)
        if not found:
            raise PhaseStop(SKIPPED, "the backup holds no database dump")
        token = self.id.rsplit("-", 1)[1]
        failed: list[str] = []
        for source, database, _ in found:
            server = self.servers.get(source) or databases.server_for(self.config, self.policy.name, source)
            self.servers[source] = server
            if source in self.not_loaded:
                continue
            down = server.reachable()
            if down is not None:
                self.not_loaded[source] = down
                continue
            scratch = databases.scratch_name(token, self.policy.name, source, database)
            try:
                done = databases.load(self.config, self.repo, self.backup_id, server, source, database, scratch,
                                      self.id)
            except ReliadError as e:
                self.loads[(source, database)] = {"scratch": scratch, "into": server.into(scratch), "failed": str(e)}
                failed.append(f"{source}/{database}: {e}")
                continue
            self.loads[(source, database)] = done
            self.phases["load"].bytes += done["bytes"]
        if failed:
            raise PhaseStop(FAILED, "; ".join(failed))
        if self.not_loaded:
            raise PhaseStop(NOT_RUN, "; ".join(f"database server of source {s!r} unreachable: {why}"
                                                for s, why in self.not_loaded.items()))

    def _env(self) -> dict[str, str]:
        ok = {k: v for k, v in self.loads.items() if "failed" not in v}
        return drill_env(self.policy.name, self.scenario, self.backup_id or "", str(self.standby), ok)

    def _checks(self) -> None:
        if not self.dc.checks:
            raise PhaseStop(SKIPPED, f"no checks configured (drills.{self.policy.name}.checks)")
        ok = {k: v for k, v in self.loads.items() if "failed" not in v}
        not_loaded = {**self.not_loaded, **{s: v["failed"] for (s, _), v in self.loads.items() if "failed" in v}}
        for c in self.dc.checks:
            if c.kind == "sql":
                server = self.servers.get(c.source or "")
                if server is None:
                    result = {"name": c.name, "kind": "sql", "outcome": "NOT_VERIFIED",
                              "detail": f"the backup holds no dump of source {c.source!r}"}
                else:
                    result = sql_check(c, ok, self.servers, not_loaded)
            else:
                result = command_check(c, self._env(), self.dc.check_timeout_s)
            self.m.checks.append(result)
        outcomes = {c["outcome"] for c in self.m.checks}
        if "FAIL" in outcomes:
            raise PhaseStop(FAILED, "a check failed")
        if "NOT_VERIFIED" in outcomes:
            raise PhaseStop(NOT_RUN, "a check could not run")

    def _failover(self) -> None:
        cmd = self.dc.failover
        if cmd is None:
            raise PhaseStop(SKIPPED, "no failover command configured")
        rc, output = run_command(cmd, self._env(), self.dc.failover_timeout_s)
        if rc is None:
            raise PhaseStop(FAILED, f"the failover command did not finish within {self.dc.failover_timeout_s:g} s")
        if rc in _MISSING:
            raise PhaseStop(NOT_RUN, f"the failover command could not be started (exit {rc}): {output}; fix "
                                     f"drills.{self.policy.name}.failover")
        if rc != 0:
            raise PhaseStop(FAILED, f"the failover command exited with {rc}: {output or '(no output)'}")

    def _cleanup(self) -> None:
        problems = []
        for (source, _), d in self.loads.items():
            try:
                databases.drop(self.config, d["scratch"], self.servers[source])
            except ReliadError as e:
                problems.append(str(e))
        if not self.dc.keep_standby and self.phases["prepare"].outcome == OK:
            empty_tree(self.standby)
        self._stack.close()
        if self.repo is not None:
            self.repo.storage.close()
        if self.tmp_state is not None:
            shutil.rmtree(self.tmp_state, ignore_errors=True)
        if problems:
            raise PhaseStop(FAILED, "; ".join(problems) + " (dropped at the next drill's start)")

    # -- helpers -----------------------------------------------------------------
    def _running_file(self) -> Path:
        return bookkeeping.drills_dir(self.config.state_dir) / "running" / f"{self.policy.name}.json"

    def _choose(self, catalog: Catalog, target: str) -> str:
        """The backup to restore: the one named, else the policy's newest complete one."""
        rows = [r for r in catalog.backups(self.policy.name, target) if r["status"] == "ok"]
        if self.requested is not None:
            if not any(r["id"] == self.requested for r in rows):
                raise PhaseStop(NOT_RUN, f"backup {self.requested!r} is not a complete backup of policy "
                                         f"{self.policy.name!r} in target {target!r}; 'reliad list {self.policy.name}' "
                                         "shows them")
            return self.requested
        if not rows:
            raise PhaseStop(NOT_RUN, f"policy {self.policy.name!r} has no complete backup in target {target!r} yet; "
                                     f"run 'reliad backup {self.policy.name} --type full' first")
        return rows[-1]["id"]

    def _check_standby_place(self) -> None:
        """The standby is no source, no repository and not the state directory, nor inside one."""
        standby = self.standby.resolve()
        if standby == Path("/"):
            raise PhaseStop(NOT_RUN, "the standby location may not be /")
        taken = [("source path", p) for pol in self.config.policies.values() for s in pol.sources for p in s.paths]
        taken += [("target", t.path) for t in self.config.targets.values() if t.path is not None]
        for what, p in taken:
            p = Path(p).resolve()
            if _inside(standby, p) or _inside(p, standby):
                raise PhaseStop(NOT_RUN, f"standby {standby} overlaps the {what} {p}; a drill never writes there: "
                                         f"set drills.{self.policy.name}.standby to a separate directory")
        if _inside(self.config.state_dir.resolve(), standby):
            raise PhaseStop(NOT_RUN, f"standby {standby} would hold the state directory; choose another place")

    def _claim_standby(self) -> None:
        """Use the standby only when it is empty or a previous drill of ours filled it."""
        standby = self.standby
        owner = bookkeeping.drills_dir(self.config.state_dir) / "standby" / f"{self.policy.name}.json"
        mark = bookkeeping.read_json(owner)
        ours = mark is not None and mark.get("path") == str(standby)
        if standby.is_symlink() or (standby.exists() and not standby.is_dir()):
            raise PhaseStop(NOT_RUN, f"standby {standby} is not a directory; remove it or choose another place")
        if standby.exists() and any(standby.iterdir()):
            if not ours:
                raise PhaseStop(NOT_RUN, f"standby {standby} is not empty and no reliad drill filled it; empty it or "
                                         f"set drills.{self.policy.name}.standby to another directory")
            empty_tree(standby)
        bookkeeping.write_json(owner, {"path": str(standby), "drill": self.id})
        standby.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _check_space(self) -> None:
        need = int(int(self.header.get("stats", {}).get("bytes_read", 0)) * SPACE_MARGIN)
        where = self.standby
        while not where.exists():
            where = where.parent
        free = shutil.disk_usage(where).free
        if free < need:
            raise PhaseStop(NOT_RUN, f"not enough space for the standby: the backup needs about {need} bytes, "
                                     f"{free} are free at {where}")

    # -- the record --------------------------------------------------------------
    def record(self) -> dict[str, Any]:
        verdict, reasons = grade(self.m)
        m = self.m
        backup_time = self.header.get("finished_at")
        return {
            "id": self.id, "policy": self.policy.name, "scenario": self.scenario, "backup_id": self.backup_id,
            "backup_time": backup_time, "target": self.target.name if self.target else None,
            "standby": str(self.standby), "started_at": iso(self.started), "finished_at": iso(utcnow()),
            "verdict": verdict, "exit_code": exit_code(verdict, bool(m.damage)), "reasons": reasons,
            "recovery_time_s": round(recovery_time(m.phases), 3), "objective_s": m.objective_s,
            "completeness": round(completeness(m.files_verified, m.files_expected, m.bytes_verified,
                                               m.bytes_expected), 6) if m.measured else None,
            "completeness_target": m.completeness_target,
            "files": {"expected": m.files_expected, "verified": m.files_verified},
            "bytes": {"expected": m.bytes_expected, "verified": m.bytes_verified},
            "rpo_s": round((self.started - parse_iso(backup_time)).total_seconds(), 3) if backup_time else None,
            "phases": [p.to_json() for p in m.phases], "checks": m.checks, "damage": m.damage,
            "problems": self.tally_problems, "restore_errors": self.restore_errors[:50],
            "databases": [{"source": s, "database": db, **{k: v for k, v in d.items() if k != "into"}}
                          for (s, db), d in self.loads.items()],
            "notes": self.notes, "config_hash": status.config_hash(self.config, self.policy.name),
            "host": os.uname().nodename,
        }


def empty_tree(path: Path) -> None:
    """Remove everything below `path` (not `path` itself): the standby of a drill of ours."""
    if not path.is_dir() or path.is_symlink():
        return
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def recover_interrupted(config: Config) -> list[str]:
    """Clean up after drills that died (kill -9, power loss): record each as interrupted,
    drop their scratch databases, remove their temporary state directories. Returns notes."""
    notes = []
    for path, d in bookkeeping.entries(config.state_dir, "running"):
        if bookkeeping.alive(d):
            continue
        tmp = d.get("tmp_state")
        if isinstance(tmp, str) and Path(tmp).name.startswith("reliad-drill-"):
            shutil.rmtree(tmp, ignore_errors=True)
        records.save(config.state_dir, interrupted_record(d, config))
        bookkeeping.remove(path)
        notes.append(f"drill {d.get('id')} was interrupted (its process {d.get('pid')} is gone); recorded as "
                     "NOT_VERIFIED and cleaned up")
    notes += databases.drop_leftovers(config)
    return notes


def interrupted_record(d: dict[str, Any], config: Config) -> dict[str, Any]:
    """The record of a drill whose process died before it could write one."""
    policy = str(d.get("policy"))
    scenario = str(d.get("scenario"))
    dc = config.drills.get(policy)
    return {"id": d.get("id"), "policy": policy, "scenario": scenario, "backup_id": None,
            "started_at": d.get("started_at"), "finished_at": iso(utcnow()), "verdict": "NOT_VERIFIED",
            "exit_code": 1, "reasons": [f"the drill was interrupted: its process {d.get('pid')} died before it "
                                        "finished; run it again"],
            "recovery_time_s": None, "objective_s": dc.objectives.get(scenario) if dc else None,
            "completeness": None, "completeness_target": dc.completeness.get(scenario) if dc else None,
            "phases": [], "checks": [], "damage": [], "interrupted": True,
            "config_hash": status.config_hash(config, policy) if policy in config.policies else None}


def run_drill(config: Config, policy: str, scenario: str, backup_id: str | None = None) -> dict[str, Any]:
    return Drill(config, policy, scenario, backup_id).run()
