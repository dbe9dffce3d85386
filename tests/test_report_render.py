"""The report of a known month in every format and both languages: the JSON holds the hand-computed
figures, the PDF (read back with poppler's pdftotext and drawn with pdftoppm) has every section in
order with its key figures and real Chinese text, and the same model renders byte for byte the same."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from pathlib import Path

import pytest
import report_month
from conftest import need_program

from reliad.catalog import Catalog
from reliad.config import load_config
from reliad.report import backups, drillrows, model, render
from reliad.report.i18n import EN_LABELS, ZH_LABELS
from reliad.report.period import Month

MONTH = Month(2026, 11, dt.UTC)
NOW = dt.datetime(2026, 12, 1, 0, 5, tzinfo=dt.UTC)
AUDIT = {"records": 1432, "outcomes": {"failed": 12, "ok": 1420}, "chain_intact": True, "problems": []}
EMPTY_AUDIT = {"records": 0, "outcomes": {}, "chain_intact": True, "problems": []}

SECTIONS = {
    "en": ["Monthly availability report", "Availability per service", "Incidents", "MTBF and MTRS, trailing 12 months",
           "Daily failure rate", "Utilisation", "Backups per policy and type", "Verification", "Recovery drills",
           "Glossary and clauses"],
    "zh-CN": ["月度可用性报告", "各服务可用性", "故障事件", "近 12 个月的 MTBF 与 MTRS", "日故障率", "资源利用率",
              "按策略和类型的备份", "备份校验", "灾难恢复演练", "术语、公式与条款"],
}


def month_model(tmp: Path) -> dict:
    config = load_config(report_month.write_config(tmp))
    report_month.populate(config.state_dir)
    cat = Catalog(config.state_dir)
    try:
        figures = backups.gather(config, cat, MONTH, NOW)
    finally:
        cat.close()
    drills = [drillrows.drill_row(d) for d in report_month.DRILLS if d["started_at"].startswith("2026-11")]
    return model.assemble(host="shop-1", month=MONTH, generated_until="2026-12-01T00:00:00Z",
                          ledger=report_month.LEDGER, daily=report_month.daily(MONTH), trend=report_month.trend(MONTH),
                          backup_figures=figures, drills=drills, audit=AUDIT)


def empty_model(tmp: Path) -> dict:
    config = load_config(report_month.write_config(tmp))
    cat = Catalog(config.state_dir)
    try:
        figures = backups.gather(config, cat, MONTH, NOW)
    finally:
        cat.close()
    return model.assemble(host="shop-1", month=MONTH, generated_until="2026-12-01T00:00:00Z", ledger={}, daily=[],
                          trend=[], backup_figures=figures, drills=[], audit=EMPTY_AUDIT)


@pytest.fixture(scope="module")
def m(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return month_model(tmp_path_factory.mktemp("month"))


@pytest.fixture(scope="module")
def m2(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The same month generated a second time from nothing."""
    return month_model(tmp_path_factory.mktemp("again"))


@pytest.fixture(scope="module")
def pdfs(m: dict, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("pdf")
    paths = {}
    for lang in ("en", "zh-CN"):
        paths[lang] = out / f"report-{lang}.pdf"
        paths[lang].write_bytes(render.render(m, "pdf", lang))
    return paths


def pdftext(path: Path, first: int | None = None, last: int | None = None) -> str:
    args = [need_program("pdftotext"), "-layout"]
    if first:
        args += ["-f", str(first), "-l", str(last or first)]
    text = subprocess.run([*args, str(path), "-"], capture_output=True, text=True, check=True).stdout
    return text.replace("\u00a0", " ")


def test_the_json_holds_the_hand_computed_figures(m: dict) -> None:
    data = json.loads(render.render(m, "json", "en"))
    rows = {r["type"]: r for r in data["backups"]["rows"]}
    for btype, expected in report_month.EXPECTED.items():
        assert {k: rows[btype][k] for k in expected} == expected
    assert data["ledger"] == report_month.LEDGER  # the ledger's figures, as `reliad stats` gave them
    verdicts = {(r["clause"], r["topic"]): r["verdict"] for r in data["summary"]}
    assert verdicts == {
        ("R1", "availability"): "FAIL", ("R1", "utilisation"): "PASS", ("R2", "mtbf"): "FAIL",
        ("R3", "mtrs_software"): "PASS", ("R4", "mtrs_hardware"): "FAIL", ("R5", "daily_failure_rate"): "FAIL",
        ("R6", "backup_types"): "PASS", ("R7", "locations"): "PASS", ("R8", "schedules"): "FAIL",
        ("R10c", "verification"): "FAIL", ("R11", "failover"): "FAIL", ("R12", "recovery_time"): "FAIL",
        ("R13", "completeness"): "FAIL"}
    drills = {d["id"]: (d["rto_met"], d["completeness_met"]) for d in data["drills"]}
    assert drills == {"drill-1": (True, True), "drill-2": (False, False)}
    assert data["gaps"] == [{"key": "gap.coverage", "args": {"coverage": 0.95}},
                            {"key": "gap.days", "args": {"days": [{"date": "2026-11-07", "seconds": 43200.0},
                                                                  {"date": "2026-11-08", "seconds": 43200.0}],
                                                         "more": 0}}]
    assert (data["verdict"], data["empty"], data["month"]) == ("FAIL", False, "2026-11")


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_pdf_has_every_section_in_order_with_the_key_figures(pdfs: dict[str, Path], lang: str) -> None:
    text = pdftext(pdfs[lang])
    first, rest = text.split("\f", 1)
    assert first.lstrip().startswith(SECTIONS[lang][0])
    at = 0
    for title in SECTIONS[lang][1:]:  # each heading after the one before it, from page two on
        at = rest.find(title, at)
        assert at >= 0, f"{title!r} missing or out of order"
    flat = re.sub(r"\s+", " ", text)
    for figure in ("99.826", "99.995", "2,100", "129,600", "360", "296", "shop-web", "disk controller", "97.3",
                   "2026-11-12", "R10c"):
        assert figure in flat, figure
    verdicts = {"en": ("PASS", "FAIL"), "zh-CN": ("通过", "未通过")}[lang]
    assert all(v in flat for v in verdicts)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_page_one_is_the_whole_summary_with_the_coverage(pdfs: dict[str, Path], lang: str) -> None:
    page = re.sub(r"\s+", " ", pdftext(pdfs[lang], 1))
    for clause in ("R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R10c", "R11", "R12", "R13"):
        assert f"{clause} " in page, clause
    words = {"en": ("Measured coverage: 95 %", "What this report could not see", "4 of 13 requirements met",
                    "not measured: 2026-11-07 (12 h), 2026-11-08 (12 h)"),
             "zh-CN": ("测量覆盖率：95%", "本报告未能覆盖的内容", "13 项要求中 4 项通过",
                       "未测量：2026-11-07（12小时），2026-11-08（12小时）")}[lang]
    for w in words:
        assert w in page, w
    assert {"en": "Unmeasured (min)", "zh-CN": "未测量（分钟）"}[lang] not in page  # the details start on page two


def test_chinese_is_real_text_in_an_embedded_cjk_font(pdfs: dict[str, Path]) -> None:
    fonts = subprocess.run([need_program("pdffonts"), str(pdfs["zh-CN"])], capture_output=True, text=True,
                           check=True).stdout
    assert re.search(r"Noto-?Sans-?CJK", fonts), fonts
    text = re.sub(r"\s+", "", pdftext(pdfs["zh-CN"], 1))
    assert "日故障率" in text and "测量覆盖率" in text and "数据截至" in text


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_pages_render_as_images_with_content(pdfs: dict[str, Path], lang: str, tmp_path: Path) -> None:
    from PIL import Image

    subprocess.run([need_program("pdftoppm"), "-png", "-r", "40", str(pdfs[lang]), str(tmp_path / "p")], check=True)
    pages = sorted(tmp_path.glob("p-*.png"))
    assert len(pages) >= 4
    for page in pages[:4]:
        img = Image.open(page).convert("L")
        inked = sum(1 for px in img.get_flattened_data() if px < 128)
        assert inked > 500, f"{page.name} is nearly blank"


@pytest.mark.parametrize("fmt", ["json", "md", "html", "pdf"])
def test_the_same_inputs_render_byte_for_byte_the_same(m: dict, m2: dict, pdfs: dict[str, Path], fmt: str) -> None:
    for lang in ("en", "zh-CN"):
        first = pdfs[lang].read_bytes() if fmt == "pdf" else render.render(m, fmt, lang)
        again = render.render(m2, fmt, lang)
        assert first == again, f"{fmt} {lang} differs between two renders"


def test_the_html_is_one_self_contained_file(m: dict) -> None:
    html = render.render(m, "html", "zh-CN").decode()
    assert html.count("<svg") == 3
    assert not re.search(r"\bsrc=", html)
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', html))
    assert "<link" not in html and "<script" not in html
    assert '<html lang="zh-CN">' in html


def test_the_markdown_has_the_summary_table_and_every_section(m: dict) -> None:
    md = render.render(m, "md", "en").decode()
    assert "| R13 | Degree of recovery | general 100\u00a0%, severe >\u00a098\u00a0% |" in md
    headings = [line[3:] for line in md.splitlines() if line.startswith("## ")]
    assert headings == ["Summary", *SECTIONS["en"][1:]]


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_month_without_any_data_still_renders_and_says_so(tmp_path: Path, lang: str) -> None:
    empty = empty_model(tmp_path)
    assert empty["empty"] is True
    assert {r["verdict"] for r in empty["summary"]} == {"NOT_ENOUGH_DATA", "NOT_VERIFIED"}
    assert len(empty["gaps"]) == 1 + len(empty["summary"])  # no coverage, and every clause says why
    pdf = tmp_path / "empty.pdf"
    pdf.write_bytes(render.render(empty, "pdf", lang))
    page = re.sub(r"\s+", " ", pdftext(pdf, 1))
    assert {"en": "No data at all was recorded for this month", "zh-CN": "本月没有任何记录"}[lang] in page
    assert {"en": "the ledger measured none of the month", "zh-CN": "台账在本月没有任何测量"}[lang] in page
    md = render.render(empty, "md", lang).decode()
    assert {"en": "No recovery drill ran in this month.", "zh-CN": "本月没有执行恢复演练。"}[lang] in md


def test_both_languages_have_every_word() -> None:
    assert set(EN_LABELS) == set(ZH_LABELS)


def test_every_reason_and_target_has_words_in_both_languages(m: dict, tmp_path: Path) -> None:
    from reliad.report.i18n import Words

    messages = [x for r in [*m["summary"], *empty_model(tmp_path)["summary"]]
                for x in (r["target"], r["actual"], r["reason"]) if x]
    for lang in ("en", "zh-CN"):
        w = Words(lang)
        assert all(w.msg(x) for x in messages)
