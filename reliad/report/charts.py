"""The report's charts, drawn with matplotlib as SVG text to embed in the HTML.

Deterministic by construction: the SVG's ids come from a fixed salt per chart (matplotlib
otherwise salts them randomly), its metadata carries no date or version, and text stays text
(svg.fonttype none), so the page's font (Noto Sans CJK for Chinese) draws it and `pdftotext`
reads it.
"""

from __future__ import annotations

import io
import re
from typing import Any

from reliad.report.i18n import Words

FONTS = ["Noto Sans CJK SC", "DejaVu Sans"]
RED, BLUE, GREY, GREEN, ORANGE = "#c0392b", "#2e86c1", "#aab7b8", "#1e8449", "#d68910"
_PROLOG = re.compile(r"^.*?(?=<svg)", re.S)


def _style(salt: str) -> dict[str, Any]:
    return {"svg.hashsalt": f"reliad-report-{salt}", "svg.fonttype": "none", "font.family": FONTS,
            "font.size": 8, "axes.spines.top": False, "axes.spines.right": False, "axes.titlesize": 9,
            "axes.titleweight": "bold", "legend.fontsize": 7, "legend.frameon": False}


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
                bbox_inches="tight")
    return _PROLOG.sub("", buf.getvalue(), count=1)


def _figure(salt: str, size: tuple[float, float], rows: int = 1) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_style(salt)):
        fig = Figure(figsize=size)
        axes = fig.subplots(rows, 1, squeeze=False)[:, 0]
    return fig, axes


def _draw(salt: str, draw: Any) -> str:
    """Run `draw` inside the chart style and return the SVG (rc settings apply when drawing)."""
    import matplotlib

    with matplotlib.rc_context(_style(salt)):
        fig = draw()
        return _svg(fig)


def daily_availability(daily: list[dict[str, Any]], w: Words) -> str:
    """Stacked bars per day: minutes down and in maintenance (all services); days with time
    the ledger did not measure are shaded grey behind the bars."""
    def draw() -> Any:
        fig, (ax,) = _figure("availability", (7.0, 2.2))
        days = [d["date"][8:] for d in daily]
        parts = {k: [sum((s.get(k) or 0) for s in d["services"].values()) / 60 for d in daily]
                 for k in ("down_s", "maintenance_s")}
        labelled = False
        for i, d in enumerate(daily):
            share = max((_unmeasured_share(s) for s in d["services"].values()), default=0.0)
            if share > 0:  # darker the more of the day was not measured
                ax.axvspan(i - 0.5, i + 0.5, color=GREY, alpha=0.15 + 0.45 * share, linewidth=0,
                           label=None if labelled else w("unmeasured"))
                labelled = True
        bottom = [0.0] * len(days)
        for key, color, label in (("down_s", RED, "down_min"), ("maintenance_s", BLUE, "maint_min")):
            ax.bar(days, parts[key], bottom=bottom, color=color, label=w(label), width=0.75)
            bottom = [b + v for b, v in zip(bottom, parts[key], strict=True)]
        ax.set_title(w("chart_availability"), pad=16)
        ax.set_ylabel("min")
        ax.set_xlim(-0.5, len(days) - 0.5)
        ax.tick_params(axis="x", labelsize=6)
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=3, borderaxespad=0.2)
        ax.set_ylim(0, max([*bottom, 1.0]) * 1.15)
        return fig
    return _draw("availability", draw)


def _unmeasured_share(s: dict[str, Any]) -> float:
    """The share of one service's day that was not measured."""
    total = sum((s.get(k) or 0) for k in ("up_s", "down_s", "maintenance_s", "unmeasured_s"))
    return (s.get("unmeasured_s") or 0) / total if total else 0.0


def failure_rate(days: list[dict[str, Any]], limit: float, w: Words) -> str:
    """The daily failure rate in percent, with the 1 % line; a day over it is drawn red."""
    def draw() -> Any:
        fig, (ax,) = _figure("failure", (7.0, 1.9))
        labels = [str(d["day"])[8:] for d in days]
        values = [(d["rate"] or 0.0) * 100 for d in days]
        colors = [RED if d["rate"] is not None and d["rate"] > limit else GREEN for d in days]
        ax.bar(labels, values, color=colors, width=0.75)
        ax.axhline(limit * 100, color=ORANGE, linestyle="--", linewidth=1, label=w("limit"))
        ax.set_title(w("chart_failure"))
        ax.set_ylabel("%")
        ax.set_xlim(-0.5, len(labels) - 0.5)
        ax.tick_params(axis="x", labelsize=6)
        ax.set_ylim(0, max([*values, limit * 100]) * 1.3)
        ax.legend(loc="upper right")
        return fig
    return _draw("failure", draw)


def trend(rows: list[dict[str, Any]], w: Words) -> str:
    """MTBF per month with its 90 % interval against 8500 h, and MTRS per class against 4 h / 12 h."""
    def draw() -> Any:
        fig, (top, bottom) = _figure("trend", (7.0, 3.6), rows=2)
        months = [r["month"] for r in rows]
        mtbf = [r["mtbf_h"] for r in rows]
        nan = float("nan")
        known = [v for r in rows for v in (r["mtbf_h"], r["lower_h"], r["upper_h"]) if v]
        ceiling = max([*known, 8500.0]) * 1.15
        # a month with no operating time has no interval to draw (the ledger's 0 h .. unbounded)
        lower = [(r["lower_h"] or nan) if r["operating_h"] else nan for r in rows]
        upper = [(min(r["upper_h"], ceiling) if r["upper_h"] else ceiling) if r["operating_h"] else nan for r in rows]
        x = list(range(len(months)))  # positions, not categories: a month without data keeps its place
        top.fill_between(x, lower, upper, color=BLUE, alpha=0.18, label=w("interval90"), step=None)
        top.plot(x, [v if v is not None else nan for v in mtbf], color=BLUE, marker="o", label=w("mtbf"))
        top.axhline(8500, color=ORANGE, linestyle="--", linewidth=1, label="8500 h")
        top.set_yscale("log")  # a month's MTBF and the 8500 h target are often orders of magnitude apart
        top.set_ylim(min([v for v in known if v > 0] + [8500.0]) / 2, ceiling * 1.5)
        top.set_title(w("chart_mtbf"), pad=16)
        top.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=3, borderaxespad=0.2)
        top.set_xticks(x, months)
        top.set_xlim(-0.5, len(months) - 0.5)
        top.tick_params(axis="x", labelsize=6)
        for offset, cls, color, target in ((-0.2, "software", BLUE, 4), (0.2, "hardware", GREEN, 12)):
            values = [((r["mtrs_s"].get(cls) or 0.0) / 3600) for r in rows]
            bottom.bar([i + offset for i in x], values, width=0.38, color=color, label=w(f"mtrs_{cls}"))
            bottom.axhline(target, color=color, linestyle=":", linewidth=1, label=w("target_line", hours=target))
        bottom.set_xticks(x, months)
        bottom.tick_params(axis="x", labelsize=6)
        bottom.set_title(w("chart_mtrs"), pad=16)
        bottom.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=4, borderaxespad=0.2)
        fig.subplots_adjust(hspace=0.75)
        return fig
    return _draw("trend", draw)
