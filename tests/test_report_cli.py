"""`reliad report` as a user runs it: bad input refused in one sentence with exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import report_month
from conftest import Reliad


@pytest.mark.parametrize(("args", "message"), [
    (["--month", "2026-13"], "--month '2026-13' is not a month; write it as YYYY-MM"),
    (["--month", "2999-01"], "--month 2999-01 has not started yet"),
    (["--month", "2026-11", "--target", "offsite"], "--target is for the fleet report; add --fleet"),
    (["--month", "2026-11", "--fleet"], "--fleet needs --target"),
    (["--month", "2026-11", "--fleet", "--target", "nowhere"], "no target named 'nowhere'"),
])
def test_bad_input_is_refused_in_one_sentence(tmp_path: Path, args: list[str], message: str) -> None:
    proc = Reliad(report_month.write_config(tmp_path)).run("report", *args, expect=2)
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_an_unknown_format_or_language_is_a_usage_error(tmp_path: Path) -> None:
    r = Reliad(report_month.write_config(tmp_path))
    assert "'docx' is not one of" in r.run("report", "--format", "docx", expect=2).stderr
    assert "'fr' is not one of" in r.run("report", "--lang", "fr", expect=2).stderr
