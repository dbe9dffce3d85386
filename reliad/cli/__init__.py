"""The command line: `main` and the one explicit list of its commands.

Each command (or command group) is a module beside this one that parses its arguments,
calls the layer below and prints; what every command shares is in reliad/cli/base.py. A new
command is a new module and one line in COMMANDS."""

from __future__ import annotations

import click

from reliad import __version__
from reliad.cli import (
    audit,
    backup,
    catalog,
    check_config,
    drill,
    incidents,
    init,
    key,
    ledger,
    listing,
    ls,
    maintenance,
    metrics,
    probe,
    prune,
    replicate,
    report,
    restore,
    run,
    stats,
    verify,
)
from reliad.memory import limit_malloc_arenas

COMMANDS: list[click.Command] = [
    backup.backup_cmd,
    init.init_cmd,
    listing.list_cmd,
    ls.ls_cmd,
    restore.restore_cmd,
    verify.verify_cmd,
    prune.prune_cmd,
    replicate.replicate_cmd,
    catalog.catalog_group,
    check_config.check_config_cmd,
    run.run_cmd,
    run.status_cmd,
    metrics.metrics_cmd,
    key.key_group,
    audit.audit_group,
    drill.drill_cmd,
    drill.drills_cmd,
    probe.probe_cmd,
    incidents.incidents_cmd,
    incidents.incident_group,
    maintenance.maintenance_group,
    stats.stats_cmd,
    report.report_cmd,
    ledger.ledger_group,
]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="reliad")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Configuration file for the command that follows: 'reliad -c FILE backup ...' is "
              "'reliad backup -c FILE ...'.")
def main(config_path: str | None) -> None:
    """reliad: backups you can prove you can restore.

    Backs up files and databases into checksummed repositories (local and offsite),
    verifies them, and records every run. Start with `reliad backup POLICY`;
    policies/ in the source tree has example configurations.
    """
    limit_malloc_arenas()  # before the command starts its threads


for _cmd in COMMANDS:
    main.add_command(_cmd)
