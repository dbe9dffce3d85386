"""`reliad metrics`: the same series `reliad run` serves, for hosts that run reliad from cron."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from reliad.cli.base import Context, command
from reliad.errors import ReliadError


def _json_number(value: float) -> float | str:
    """JSON has no infinity or NaN: the age of a policy with no backup yet (+Inf) becomes a string."""
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")


@command("metrics")
@click.option("--textfile", "textfile", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the series atomically to this file (name it *.prom, in node_exporter's "
              "--collector.textfile.directory) instead of printing them.")
def metrics_cmd(ctx: Context, textfile: Path | None) -> int:
    """Print the Prometheus series computed from the catalog, or write them for node_exporter."""
    from prometheus_client.parser import text_string_to_metric_families

    from reliad.metrics import render, write_textfile

    config = ctx.config
    if textfile is not None:
        if not textfile.parent.is_dir():
            raise ReliadError(f"{textfile.parent}: directory does not exist; create it or point --textfile at "
                              "node_exporter's --collector.textfile.directory")
        try:
            write_textfile(config, textfile)
        except OSError as e:
            raise ReliadError(f"{textfile}: cannot write the metrics file: {e.strerror}") from None
        ctx.emit({"ok": True, "textfile": str(textfile)}, f"wrote {textfile}")
        if not textfile.name.endswith(".prom"):
            click.echo(f"warning: node_exporter reads only files named *.prom; {textfile.name} will be ignored",
                       err=True)
        return 0
    text = render(config).decode()
    if ctx.as_json:
        samples = [{"name": s.name, "labels": s.labels, "value": _json_number(s.value)}
                   for family in text_string_to_metric_families(text) for s in family.samples]
        click.echo(json.dumps(samples, default=str))
    else:
        click.echo(text, nl=False)
    return 0
