"""Issue 16, point 6: the service's verification is rate-limited ([daemon] verify_rate_mib_s)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Reliad
from hypothesis import given
from hypothesis import strategies as st

from reliad.daemon.worker import pause_needed


@given(done=st.integers(0, 1 << 40), elapsed=st.floats(0, 1e6), rate=st.floats(1, 1e10))
def test_after_the_pause_the_average_rate_is_within_the_limit(done: int, elapsed: float, rate: float) -> None:
    pause = pause_needed(done, elapsed, rate)
    assert pause >= 0
    assert done <= rate * (elapsed + pause) * (1 + 1e-9) + 1e-6
    if done <= rate * elapsed:
        assert pause == 0  # within the limit: no pause at all


def test_no_limit_never_pauses() -> None:
    assert pause_needed(1 << 40, 0.0, 0.0) == 0.0


@pytest.mark.parametrize(("value", "ok"), [("50", True), ("0", True), ("2.5", True), ("-1", False),
                                           ('"fast"', False), ("true", False)])
def test_the_rate_key_is_checked(tmp_path: Path, value: str, ok: bool) -> None:
    (tmp_path / "src").mkdir()
    cfg = tmp_path / "reliad.toml"
    cfg.write_text(f'state_dir = "state"\n[daemon]\nverify_rate_mib_s = {value}\n[targets.local]\ntype = "local"\n'
                   'path = "repo"\n[policies.shop]\ntargets = ["local"]\nsources = [{ type = "files", paths = ["src"] }]\n')
    proc = Reliad(cfg).run("check-config", expect=0 if ok else 2)
    if not ok:
        assert "verify_rate_mib_s" in proc.stderr and "Traceback" not in proc.stderr
