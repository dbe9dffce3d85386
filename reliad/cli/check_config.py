"""`reliad check-config`: validate a configuration file before it is used."""

from __future__ import annotations

import click

from reliad.cli.base import Context, command
from reliad.config import class_coverage, load_config
from reliad.config.advice import standard_warnings
from reliad.config.check import check_paths


@command("check-config", audit=False)
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--no-paths", is_flag=True, help="Do not check that source paths exist (for a file meant for "
              "another host).")
def check_config_cmd(ctx: Context, file: str | None, no_paths: bool) -> int:
    """Validate a configuration file: keys, types, schedules, retention, and that every source
    path exists. Each problem is one line naming the file and the key; exit 2 when any."""
    cfg = load_config(file or ctx.config_path)
    problems, warnings = check_paths(cfg, paths=not no_paths)
    warnings += standard_warnings(cfg)
    coverage = class_coverage(cfg)
    uncovered = [c for c, holders in coverage.items() if not holders]
    schedules = {p.name: {t: sch.describe() for t, sch in p.schedules.items()} for p in cfg.policies.values()}
    retention = {p.name: p.retention.rules for p in cfg.policies.values()}
    drills = {n: {"standby": str(d.standby), **{s: sch.describe() for s, sch in d.schedules.items()}}
              for n, d in cfg.drills.items()}

    if problems and not ctx.as_json:
        for line in problems:
            click.echo(f"reliad: error: {line}", err=True)
        return 2

    def text() -> str:
        lines = [f"warning: {w}" for w in warnings] + [f"{cfg.path}: OK ({len(cfg.policies)} policies)"]
        for name, sch in schedules.items():
            lines.append(f"  {name}: " + "; ".join(f"{t} {d}" for t, d in sch.items())
                         + "; retention " + (", ".join(f"{k} = {v}" for k, v in retention[name].items())
                                             or "keeps everything"))
            d = drills[name]
            lines.append(f"  {name} drills: general {d['general']}; severe {d['severe']}; standby {d['standby']}")
        for svc in cfg.services.values():
            lines.append(f"  service {svc.name}: every {svc.interval:g} s, objective {100 * svc.objective:g} %, "
                         f"probes: {', '.join(p.name for p in svc.probes)}")
        return "\n".join(lines)

    services = {s.name: [p.name for p in s.probes] for s in cfg.services.values()}
    ctx.emit({"ok": not problems, "file": str(cfg.path), "policies": sorted(cfg.policies), "problems": problems,
              "warnings": warnings, "classes": coverage, "uncovered_classes": uncovered,
              "schedules": schedules, "retention": retention, "drills": drills, "services": services}, text)
    return 2 if problems else 0
