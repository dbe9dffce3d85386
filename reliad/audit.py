"""The audit log: who did what to the backups, when, from where, and how it ended (R18).

One JSON object per line in ``<state_dir>/audit.log``. Every record carries the SHA-256 of the
record before it (``prev``) and its own (``hash``, over ``prev`` and the record's other
fields), and a sequence number. Editing a record breaks its hash; deleting or reordering
records breaks the chain or the numbering. Cutting records off the end leaves a valid chain,
which is why the log is also copied into the repositories (``audit/<host>/<first>-<last>``,
encrypted like everything else there) and from there offsite: `reliad audit verify` compares
the local log with those copies, which an intruder on this host cannot rewrite once they
have left it (Object Lock).

Every command goes through `record` (from the `command` decorator in cli.py), and so do the
service's own actions (`reliad.audit.record(state_dir, "daemon backup", ...)`).
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import hashlib
import json
import os
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliad.errors import DamageError, ReliadError
from reliad.redact import MASK, is_secret_key, redact
from reliad.statedir import ensure_state_dir
from reliad.timeutil import iso, utcnow

AUDIT_FILE = "audit.log"
GENESIS = "0" * 64
OUTCOMES = {0: "ok", 1: "failed", 2: "refused", 3: "damage", 130: "interrupted"}
COPY_PREFIX = "audit/"
_SEGMENT = re.compile(r"^(\d{10})-(\d{10})$")
MAX_BACKUPS = 200  # a `verify` of everything lists at most this many ids (and the total)


def log_path(state_dir: Path) -> Path:
    return state_dir / AUDIT_FILE


def _digest(prev: str, body: dict[str, Any]) -> str:
    data = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(prev.encode() + b"\n" + data).hexdigest()


def _who() -> dict[str, Any]:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return {"user": user, "uid": os.getuid(), "sudo_user": os.environ.get("SUDO_USER"),
            "host": socket.gethostname(), "pid": os.getpid()}


def clean_args(args: dict[str, Any]) -> dict[str, Any]:
    """Arguments as they may be recorded: secret-named ones masked, known secrets cut out."""
    out: dict[str, Any] = {}
    for k, v in args.items():
        if v is None or v == () or v is False:
            continue
        if is_secret_key(k):
            out[k] = MASK
        elif isinstance(v, (list, tuple)):
            out[k] = [redact(str(x)) for x in v]
        elif isinstance(v, (bool, int, float)):
            out[k] = v
        else:
            out[k] = redact(str(v))
    return out


def _open_log(state_dir: Path) -> int:
    ensure_state_dir(state_dir)
    path = log_path(state_dir)
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as e:
        raise ReliadError(f"cannot write the audit log {path}: {e.strerror}; reliad records every command "
                          "there, so run it as the reliad service user (see docs/SECURITY.md)") from None
    if os.fstat(fd).st_mode & 0o077:
        os.fchmod(fd, 0o600)
    return fd


def check_writable(state_dir: Path) -> None:
    """Fail before a command starts when its record could not be written afterwards."""
    os.close(_open_log(state_dir))


def _last_line(fd: int) -> bytes | None:
    size = os.fstat(fd).st_size
    step = 1 << 16
    while size:
        start = max(0, size - step)
        data = os.pread(fd, size - start, start)
        body = data.rstrip(b"\n")
        nl = body.rfind(b"\n")
        if nl >= 0 or start == 0:
            return body[nl + 1:] if body else None
        step *= 4
    return None


def _text(value: Any) -> Any:
    """Arguments and errors may hold file names that are not UTF-8 (surrogate-escaped by
    Python): write their bytes as \\xHH so the record can be encoded, hashed and read back."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if isinstance(value, dict):
        return {k: _text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_text(v) for v in value]
    return value


def record(state_dir: Path, command: str, *, args: dict[str, Any] | None = None, outcome: str = "ok",
           exit_code: int = 0, error: str | None = None, backups: list[str] | None = None,
           target: str | None = None, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """Append one record to the audit log, chained to the one before it; returns it."""
    ids = list(dict.fromkeys(backups or []))
    body: dict[str, Any] = {"time": iso(utcnow()), **_who(), "command": command, "args": clean_args(args or {}),
                            "outcome": outcome, "exit_code": exit_code}
    if error:
        body["error"] = redact(error)
    if target:
        body["target"] = target
    if ids:
        body["backups"] = ids[:MAX_BACKUPS]
        if len(ids) > MAX_BACKUPS:
            body["backups_total"] = len(ids)
    if details:
        body["details"] = json.loads(redact(json.dumps(details, default=str)))
    fd = _open_log(state_dir)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last = _last_line(fd)
        prev, seq = GENESIS, 1
        if last:
            try:
                d = json.loads(last)
                prev, seq = str(d["hash"]), int(d["seq"]) + 1
            except (ValueError, KeyError, TypeError):
                # A damaged last line: chain to its bytes; `audit verify` reports the damage.
                prev = hashlib.sha256(last).hexdigest()
                seq = log_path(state_dir).read_bytes().count(b"\n") + 1
        body = _text({"seq": seq, **body, "prev": prev})
        body["hash"] = _digest(prev, body)
        os.write(fd, json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return body


# -- reading and verifying -----------------------------------------------------------------
def _parse_lines(lines: list[bytes], where: str) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line number, record or None, problem) for each line."""
    for n, line in enumerate(lines, 1):
        try:
            d = json.loads(line)
            if not isinstance(d, dict):
                raise ValueError("not an object")
            yield n, d, ""
        except ValueError:
            yield n, None, f"{where} line {n}: not a valid record"


def read_records(state_dir: Path) -> list[dict[str, Any]]:
    path = log_path(state_dir)
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return []
    except OSError as e:
        raise ReliadError(f"cannot read the audit log {path}: {e.strerror}") from None
    return [d for _, d, _ in _parse_lines(lines, str(path)) if d is not None]


@dataclass
class ChainReport:
    records: int = 0
    problems: list[str] = field(default_factory=list)
    by_seq: dict[int, str] = field(default_factory=dict)  # seq -> hash of intact records


def check_chain(lines: list[bytes], where: str, first_seq: int = 1, first_prev: str | None = GENESIS) -> ChainReport:
    """Check numbering, links and hashes; after a break, resynchronise so that each
    problem is reported once and later ones are still found."""
    rep = ChainReport()
    want_seq, want_prev = first_seq, first_prev
    for n, d, problem in _parse_lines(lines, where):
        rep.records += 1
        if d is None:
            rep.problems.append(problem)
            want_prev = None
            want_seq += 1
            continue
        seq, prev, got = d.get("seq"), d.get("prev"), d.get("hash")
        body = {k: v for k, v in d.items() if k != "hash"}
        if not isinstance(prev, str) or _digest(prev, body) != got:
            rep.problems.append(f"{where} line {n} (record {seq}): the record was altered (its hash does not match)")
        elif seq != want_seq:
            what = "deleted" if isinstance(seq, int) and seq > want_seq else "reordered or duplicated"
            rep.problems.append(f"{where} line {n}: record {seq} where record {want_seq} was expected "
                                f"(records were {what})")
        elif want_prev is not None and prev != want_prev:
            rep.problems.append(f"{where} line {n} (record {seq}): it does not follow the record before it "
                                "(records were removed, inserted or reordered)")
        else:
            rep.by_seq[seq] = got
        want_seq = seq + 1 if isinstance(seq, int) else want_seq + 1
        want_prev = got if isinstance(got, str) else None
    return rep


def verify_log(state_dir: Path) -> ChainReport:
    path = log_path(state_dir)
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return ChainReport()
    except OSError as e:
        raise ReliadError(f"cannot read the audit log {path}: {e.strerror}") from None
    return check_chain(lines, str(path))


# -- copies in repositories -------------------------------------------------------------------
def _segments(repo: Any, host: str) -> list[tuple[int, int, str]]:
    out = []
    for info in repo.storage.list(f"{COPY_PREFIX}{host}/"):
        m = _SEGMENT.match(info.name.rsplit("/", 1)[1])
        if m:
            out.append((int(m.group(1)), int(m.group(2)), info.name))
    return sorted(out)


def copy_to(repo: Any, state_dir: Path) -> int:
    """Store the records not yet in `repo` as one new object; returns how many were copied.

    Objects are only ever added (never rewritten), so on a store with Object Lock the copy
    of a record cannot be changed once it is there.
    """
    host = socket.gethostname()
    done = max((last for _, last, _ in _segments(repo, host)), default=0)
    path = log_path(state_dir)
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return 0
    new = []
    for line in lines:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            if int(json.loads(line).get("seq", 0)) > done:
                new.append(line)
    if not new:
        return 0
    first, last = json.loads(new[0])["seq"], json.loads(new[-1])["seq"]
    repo.put_object(f"{COPY_PREFIX}{host}/{int(first):010d}-{int(last):010d}", b"\n".join(new) + b"\n")
    return len(new)


def copy_hosts(repo: Any) -> list[str]:
    """The hosts whose audit log has copies in `repo`."""
    return sorted({info.name[len(COPY_PREFIX):].split("/", 1)[0] for info in repo.storage.list(COPY_PREFIX)
                   if "/" in info.name[len(COPY_PREFIX):]})


def check_copies(repo: Any, where: str, host: str | None = None) -> ChainReport:
    """Read one host's copies in a repository and check their chain (numbering, links,
    hashes) across segments: what `verify` can prove about them without the local log."""
    rep = ChainReport()
    prev_last, prev_hash = 0, GENESIS
    for first, last, name in _segments(repo, host or socket.gethostname()):
        try:
            lines = repo.get_object(name).splitlines()
        except (DamageError, ReliadError) as e:
            rep.problems.append(f"{where}: {e}")
            continue
        seg = check_chain(lines, f"{where}/{name}", first, prev_hash if first == prev_last + 1 and prev_hash else None)
        rep.records += seg.records
        rep.problems += seg.problems
        rep.by_seq.update(seg.by_seq)
        prev_last, prev_hash = last, seg.by_seq.get(last, "")
    return rep


def compare_with_copy(repo: Any, local: ChainReport, lines_by_seq: dict[int, bytes], where: str) -> tuple[int, list[str]]:
    """Check the copies in one repository and compare them with the local log."""
    copy = check_copies(repo, where)
    problems = list(copy.problems)
    for seq, h in copy.by_seq.items():
        if seq not in lines_by_seq:
            problems.append(f"record {seq} is in the copy at {where} but missing from the local log "
                            "(deleted, or the log was cut short)")
        elif local.by_seq.get(seq) != h:
            problems.append(f"record {seq} differs from its copy at {where} (altered on this host)")
    return len(copy.by_seq), problems


def local_lines_by_seq(state_dir: Path) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    try:
        lines = log_path(state_dir).read_bytes().splitlines()
    except FileNotFoundError:
        return out
    for line in lines:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            out[int(json.loads(line)["seq"])] = line
    return out
