"""`reliad report` as a user runs it: the month's report written where asked, in the format and
language asked, the same bytes every time; bad input refused in one sentence with exit 2."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import report_month
from conftest import Reliad, need_program


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Reliad:
    tmp = tmp_path_factory.mktemp("shop")
    cfg = report_month.write_config(tmp)
    cfg.write_text(cfg.read_text() + '\n[report]\ntimezone = "UTC"\nlanguages = ["zh-CN", "en"]\n')
    report_month.populate(tmp / "state")
    report_month.populate_ledger(tmp / "state")
    return Reliad(cfg)


def test_the_json_report_is_the_months_figures_and_the_same_twice(shop: Reliad) -> None:
    first = shop.run("report", "--month", "2026-11", "--format", "json", "-o", "-").stdout
    again = shop.run("report", "--month", "2026-11", "--format", "json", "-o", "-").stdout
    assert first == again
    data = json.loads(first)
    rows = {r["type"]: r for r in data["backups"]["rows"]}
    assert {k: rows["full"][k] for k in report_month.EXPECTED["full"]} == report_month.EXPECTED["full"]
    assert [d["id"] for d in data["drills"]] == ["drill-1", "drill-2"]


def test_a_chinese_pdf_is_written_where_asked_and_summarised_on_the_terminal(shop: Reliad, tmp_path: Path) -> None:
    out = shop.json("report", "--month", "2026-11", "-o", str(tmp_path / "r.pdf"))
    assert out["ok"] and out["lang"] == "zh-CN" and out["format"] == "pdf" and out["verdict"] == "FAIL"
    assert [r["clause"] for r in out["summary"]] == ["R1", "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R10c",
                                                     "R11", "R12", "R13"]
    text = subprocess.run([need_program("pdftotext"), str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "月度可用性报告" in text and "web" in text and "disk controller" in text
    line = shop.run("report", "--month", "2026-11", "--format", "md", "--lang", "en", "-o",
                    str(tmp_path / "r.md")).stdout
    assert line.startswith(f"wrote {tmp_path / 'r.md'}: 2026-11, ") and "requirements met" in line
    records = [json.loads(x) for x in (shop.config.parent / "state" / "audit.log").read_text().splitlines()]
    assert any(r["command"] == "report" and r["args"].get("month_text") == "2026-11" for r in records)


def test_a_month_without_any_data_still_renders_and_says_so(tmp_path: Path) -> None:
    r = Reliad(report_month.write_config(tmp_path))
    out = r.json("report", "--month", "2026-11", "--format", "md", "--lang", "en", "-o", str(tmp_path / "r.md"))
    assert out["ok"] and out["empty"] is True
    assert {x["verdict"] for x in out["summary"]} <= {"NOT_ENOUGH_DATA", "NOT_VERIFIED"}
    assert "No data at all was recorded for this month" in (tmp_path / "r.md").read_text()


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
