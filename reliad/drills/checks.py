"""The drill's checks phase: the policy's own proofs that the restored data is usable.

An SQL check runs its query in the scratch database its source's dump was loaded into and
compares the first value of the first row with `expect` ("> 0", "= 42", "open", ...). A
command check must exit 0; it gets the standby path and the scratch databases in its
environment. A check that could not run (its database was not loaded or its server does not
answer, its program is missing) is NOT_VERIFIED with the reason, never a pass.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from typing import Any

from reliad.config.drills import EXPECT_RE, DrillCheck
from reliad.drills.databases import Server
from reliad.drills.grading import FAIL, NOT_VERIFIED, PASS
from reliad.errors import ReliadError
from reliad.hooks import run_command

_OPS: dict[str, Callable[[Any, Any], bool]] = {">": operator.gt, ">=": operator.ge, "<": operator.lt,
                                               "<=": operator.le, "=": operator.eq, "!=": operator.ne}
_MISSING = (126, 127)  # the shell's "not executable" and "not found"


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def compare(value: str | None, expect: str) -> tuple[bool, str]:
    """Whether a query's value meets `expect`, and a sentence saying what was compared.
    Numbers compare as numbers; other values only with = and != (as text)."""
    m = EXPECT_RE.match(expect)
    assert m is not None  # the pattern matches any text
    op, want = m.group(1) or "=", m.group(2)
    if value is None:
        return False, f"the query returned no rows, expected {op} {want}"
    a, b = _number(value.strip()), _number(want)
    if a is not None and b is not None:
        ok = _OPS[op](a, b)
    elif op in ("=", "!="):
        ok = _OPS[op](value.strip(), want)
    else:
        return False, f"got {value.strip()!r}, which cannot be compared with {op} {want} (not a number)"
    return ok, f"got {value.strip()}, expected {op} {want}"


def sql_check(check: DrillCheck, loads: dict[tuple[str, str], dict[str, Any]], servers: dict[str, Server],
              not_loaded: dict[str, str]) -> dict[str, Any]:
    """Run one SQL check against the scratch database of its source (and database)."""
    assert check.source is not None and check.sql is not None
    out = {"name": check.name, "kind": "sql", "source": check.source, "database": check.database}
    mine = {db: d for (src, db), d in loads.items() if src == check.source}
    if check.source in not_loaded:
        return {**out, "outcome": NOT_VERIFIED, "detail": f"the dumps of source {check.source!r} were not loaded: "
                                                           f"{not_loaded[check.source]}"}
    if check.database is None and len(mine) != 1:
        return {**out, "outcome": NOT_VERIFIED, "detail": f"source {check.source!r} has {len(mine)} loaded databases "
                f"({', '.join(sorted(mine)) or 'none'}); name one with database = \"...\" in the check"}
    db = check.database if check.database is not None else next(iter(mine))
    if db not in mine:
        return {**out, "outcome": NOT_VERIFIED, "detail": f"the backup holds no loaded dump of database {db!r} of "
                                                           f"source {check.source!r}"}
    server = servers[check.source]
    down = server.reachable()
    if down is not None:
        return {**out, "outcome": NOT_VERIFIED, "detail": down}
    try:
        rows = server.rows(mine[db]["scratch"], check.sql, f"check {check.name!r}")
    except ReliadError as e:
        return {**out, "outcome": FAIL, "detail": str(e)}
    ok, said = compare(rows[0][0] if rows and rows[0] else None, check.expect)
    return {**out, "outcome": PASS if ok else FAIL, "detail": said}


def command_check(check: DrillCheck, env: dict[str, str], timeout: float) -> dict[str, Any]:
    assert check.command is not None
    out = {"name": check.name, "kind": "command"}
    rc, output = run_command(check.command, env, timeout)
    if rc is None:
        return {**out, "outcome": FAIL, "detail": f"did not finish within {timeout:g} s; output: {output or '(none)'}"}
    if rc in _MISSING:
        return {**out, "outcome": NOT_VERIFIED, "detail": f"the command could not be started (exit {rc}): "
                                                           f"{output or '(no output)'}"}
    if rc != 0:
        return {**out, "outcome": FAIL, "detail": f"exit code {rc}; output: {output or '(none)'}"}
    return {**out, "outcome": PASS, "detail": "exit code 0"}


def drill_env(policy: str, scenario: str, backup_id: str, standby: str,
              loads: dict[tuple[str, str], dict[str, Any]]) -> dict[str, str]:
    """What check and failover commands learn about the drill from their environment."""
    return {"RELIAD_DRILL": "1", "RELIAD_POLICY": policy, "RELIAD_DRILL_SCENARIO": scenario,
            "RELIAD_DRILL_BACKUP": backup_id, "RELIAD_DRILL_STANDBY": standby, "RELIAD_STANDBY": standby,
            "RELIAD_DRILL_DATABASES": json.dumps({f"{s}/{db}": d["into"] for (s, db), d in loads.items()})}
