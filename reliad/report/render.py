"""The model rendered as JSON, Markdown, HTML (one self-contained file) or PDF (WeasyPrint).

Each renderer is a pure function of the model and the language: no clock, no random id, sorted
JSON keys, charts with fixed SVG ids, and a PDF whose identifier is a hash of its own input and
whose embedded font subsets carry a fixed timestamp; so the same model renders byte for byte the
same. The HTML carries its charts inline as SVG and its style inline; it loads nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from reliad.report import charts, glossary
from reliad.report.i18n import LANGUAGES, Words

FORMATS = ("html", "pdf", "json", "md")
TEMPLATES = Path(__file__).with_name("templates")
# Font subsets made by fontTools carry a "modified" time; it honours SOURCE_DATE_EPOCH.
FIXED_EPOCH = "0"


def _env(autoescape: bool) -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=autoescape,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    return env


def render_json(model: dict[str, Any]) -> bytes:
    return (json.dumps(model, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def _context(model: dict[str, Any], lang: str, with_charts: bool) -> dict[str, Any]:
    w = Words(lang)
    summary = model["summary"]
    counts = {v: sum(r["verdict"] == v for r in summary) for v in ("PASS", "FAIL", "NOT_ENOUGH_DATA", "NOT_VERIFIED")}
    ctx: dict[str, Any] = {
        "m": model, "w": w, "f": w.fmt, "lang": lang, "when": _when(model["timezone"]), "counts": counts,
        "total": len(summary),
        "terms": glossary.TERMS[lang], "clauses": glossary.CLAUSES[lang],
        "incidents": _incidents(model), "services": _services(model),
        "failure": {"checks": None, "failed": None, "rate": None, "days_over": [], "days": [], "limit": 0.01,
                    **(model["ledger"].get("daily_failure_rate") or {})},
        "util": {k: {"average": None, "peak": None, **((model["ledger"].get("utilisation") or {}).get(k) or {})}
                 for k in ("cpu", "memory", "disk", "network")},
    }
    if with_charts:
        import markupsafe

        daily_days = ctx["failure"].get("days") or []
        ctx["chart_availability"] = markupsafe.Markup(charts.daily_availability(model["daily"], w)) \
            if ctx["services"] and model["daily"] else None
        ctx["chart_failure"] = markupsafe.Markup(charts.failure_rate(daily_days, ctx["failure"].get("limit", 0.01), w)) \
            if daily_days else None
        ctx["chart_trend"] = markupsafe.Markup(charts.trend(model["trend"], w)) if model["trend"] else None
    return ctx


def _when(tz_name: str) -> Any:
    """A time from the model (ISO text or epoch seconds) as local "YYYY-MM-DD HH:MM"."""
    import datetime as dt

    from reliad.report.period import zone

    tz = zone(tz_name)

    def when(value: Any) -> str:
        if value is None or value == "":
            return "–"
        t = (dt.datetime.fromtimestamp(value, dt.UTC) if isinstance(value, int | float)
             else dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")))
        return t.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    return when


def _services(model: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    from reliad.report.ledgerview import availability

    return sorted(availability(model["ledger"]).items())


def _incidents(model: dict[str, Any]) -> list[dict[str, Any]]:
    from reliad.report.ledgerview import incidents

    return incidents(model["ledger"])


def render_markdown(model: dict[str, Any], lang: str) -> bytes:
    return _env(False).get_template("report.md.j2").render(**_context(model, lang, False)).encode()


def render_html(model: dict[str, Any], lang: str) -> bytes:
    return _env(True).get_template("report.html.j2").render(**_context(model, lang, True)).encode()


@contextlib.contextmanager
def _fixed_font_time() -> Iterator[None]:
    old = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = FIXED_EPOCH
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = old


def render_pdf(model: dict[str, Any], lang: str) -> bytes:
    import logging

    from weasyprint import HTML

    html = render_html(model, lang)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)  # its font-subsetter notice is not ours to print
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    with _fixed_font_time():
        return HTML(string=html.decode(), base_url=str(TEMPLATES)).write_pdf(
            pdf_identifier=hashlib.sha256(html).hexdigest()[:32].encode())


def render(model: dict[str, Any], fmt: str, lang: str) -> bytes:
    """One output format of the model, as bytes to write."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    if lang not in LANGUAGES:
        raise ValueError(f"language {lang!r} is not one of {', '.join(LANGUAGES)}")
    if fmt == "json":
        return render_json(model)
    if fmt == "md":
        return render_markdown(model, lang)
    if fmt == "html":
        return render_html(model, lang)
    return render_pdf(model, lang)
