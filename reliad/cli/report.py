"""`reliad report`: the monthly availability report, for this host or (--fleet) the platform."""

from __future__ import annotations

import socket
from pathlib import Path

import click

from reliad.cli.base import Context, command
from reliad.config.report import REPORT_FORMATS, REPORT_LANGUAGES
from reliad.errors import ConfigError


@command("report")
@click.option("--month", "month_text", metavar="YYYY-MM", default=None,
              help="The calendar month to report, in [report] timezone (default: the previous month).")
@click.option("--format", "fmt", type=click.Choice(REPORT_FORMATS), default="pdf", show_default=True,
              help="pdf and html for people (html is one self-contained file), md for a wiki, json for machines: "
              "every figure the others show.")
@click.option("--lang", type=click.Choice(REPORT_LANGUAGES), default=None,
              help="Language of the report (default: the first of [report] languages).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write ('-' for standard output; default: HOST-YYYY-MM.LANG.FORMAT here).")
@click.option("--fleet", is_flag=True,
              help="The platform report: one row per host, from the summaries the hosts keep in --target's bucket.")
@click.option("--target", "target_name", default=None, help="With --fleet: the offsite target the hosts share.")
def report_cmd(ctx: Context, month_text: str | None, fmt: str, lang: str | None, output: Path | None, fleet: bool,
               target_name: str | None) -> int:
    """Write the monthly availability report: one page of verdicts per clause of the standard
    (R1-R13: PASS, FAIL, NOT ENOUGH DATA, NOT VERIFIED, each with its reason and the month's
    measured coverage), then availability, incidents, MTBF/MTRS, daily failure rate,
    utilisation, backups, verification, drills and a glossary. Figures come from the reliability
    ledger (the same as `reliad stats`), the catalog, the drill records and the audit log.

    Exit 0 when the report was written (its verdicts are in it, and in --json); 2 for a bad
    month, format or target."""
    from reliad.report import fleet as fleet_report
    from reliad.report import model as report_model
    from reliad.report.monthly import file_name, write_file
    from reliad.report.period import Month, previous_month, zone
    from reliad.report.render import render
    from reliad.timeutil import utcnow

    config = ctx.config
    if target_name and not fleet:
        raise ConfigError("--target is for the fleet report; add --fleet")
    now = utcnow()
    tz = zone(config.report.timezone)
    month = Month.parse(month_text, tz) if month_text else previous_month(now, tz)
    if month.start >= now:
        raise ConfigError(f"--month {month.label} has not started yet; the newest month with data is "
                          f"{Month(now.astimezone(tz).year, now.astimezone(tz).month, tz).label}")
    lang = lang or config.report.languages[0]
    if fleet:
        if not target_name:
            raise ConfigError("--fleet needs --target, the offsite target whose bucket the hosts share")
        m = fleet_report.build(config, config.target(target_name), month)
    else:
        m = report_model.build(config, month, now)
    data = render(m, fmt, lang)
    if output is not None and str(output) == "-":
        click.echo(data, nl=False) if fmt != "pdf" else click.get_binary_stream("stdout").write(data)
        return 0
    path = output or Path(file_name("platform" if fleet else socket.gethostname(), month.label, fmt, lang))
    write_file(path, data)
    counts = {v: sum(r["verdict"] == v for r in m["summary"]) for v in ("PASS", "FAIL", "NOT_ENOUGH_DATA",
                                                                           "NOT_VERIFIED")}
    ctx.emit({"ok": True, "output": str(path), "month": month.label, "format": fmt, "lang": lang,
              "verdict": m["verdict"], "empty": m["empty"],
              "summary": [{k: r[k] for k in ("clause", "topic", "verdict")} for r in m["summary"]]},
             lambda: f"wrote {path}: {month.label}, {counts['PASS']} of {len(m['summary'])} requirements met, "
                     f"{counts['FAIL']} failed, {counts['NOT_ENOUGH_DATA'] + counts['NOT_VERIFIED']} without a verdict"
                     + (" (no data at all for this month)" if m["empty"] else ""))
    return 0
