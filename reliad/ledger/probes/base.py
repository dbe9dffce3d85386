"""What every probe type shares: its result, the failure it raises, and how one is run.

A probe type is a module in this package with a `TYPE` (its name and `check` function);
`probes/__init__.py` lists them in one table. Its configuration keys are checked by
reliad/config/services.py (PROBE_TYPES), which sits below this wing. `check(options, timeout)`
returns a short description of what it saw when the service is fine and raises ProbeFailed
with one sentence when it is not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reliad.errors import ReliadError


class ProbeFailed(Exception):
    """The service failed the probe; the message says what was seen."""


Check = Callable[[Mapping[str, Any], float], str]


@dataclass(frozen=True)
class ProbeType:
    name: str
    check: Check


@dataclass(frozen=True)
class ProbeResult:
    probe: str
    type: str
    ok: bool
    duration_s: float
    detail: str = ""
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"probe": self.probe, "type": self.type, "ok": self.ok, "duration_s": round(self.duration_s, 3),
                "detail": self.detail, "error": self.error}


def run_check(ptype: ProbeType, name: str, options: Mapping[str, Any], timeout: float) -> ProbeResult:
    """Run one probe; whatever goes wrong in it is the probe's failure, never the caller's crash."""
    t0 = time.monotonic()
    try:
        detail = ptype.check(options, timeout)
    except ProbeFailed as e:
        return ProbeResult(name, ptype.name, False, time.monotonic() - t0, error=str(e))
    except ReliadError as e:
        return ProbeResult(name, ptype.name, False, time.monotonic() - t0, error=str(e))
    except Exception as e:  # a probe must report, not take the daemon's round down with it
        return ProbeResult(name, ptype.name, False, time.monotonic() - t0,
                           error=f"the {ptype.name} probe could not run: {type(e).__name__}: {e}")
    return ProbeResult(name, ptype.name, True, time.monotonic() - t0, detail=detail)
