"""The command line: `main` and the one explicit list of its commands.

Each command (or command group) is a module beside this one that parses its arguments,
calls the layer below and prints; what every command shares is in reliad/cli/base.py. A new
command is a new module and one line in COMMANDS.

A command's module is imported only when that command runs (or help lists it): importing
all of them cost every command, `reliad status` in a monitoring loop included, 0.1-0.2 s
of start before it did anything."""

from __future__ import annotations

import importlib

import click

from reliad import __version__
from reliad.memory import limit_malloc_arenas

# command name -> "module:attribute" under reliad.cli
COMMANDS: dict[str, str] = {
    "backup": "backup:backup_cmd",
    "init": "init:init_cmd",
    "list": "listing:list_cmd",
    "ls": "ls:ls_cmd",
    "restore": "restore:restore_cmd",
    "verify": "verify:verify_cmd",
    "prune": "prune:prune_cmd",
    "replicate": "replicate:replicate_cmd",
    "catalog": "catalog:catalog_group",
    "check-config": "check_config:check_config_cmd",
    "run": "run:run_cmd",
    "status": "run:status_cmd",
    "metrics": "metrics:metrics_cmd",
    "key": "key:key_group",
    "audit": "audit:audit_group",
    "drill": "drill:drill_cmd",
    "drills": "drill:drills_cmd",
    "probe": "probe:probe_cmd",
    "incidents": "incidents:incidents_cmd",
    "incident": "incidents:incident_group",
    "maintenance": "maintenance:maintenance_group",
    "stats": "stats:stats_cmd",
    "report": "report:report_cmd",
    "ledger": "ledger:ledger_group",
}


def load_command(name: str) -> click.Command:
    """The command registered as `name` in COMMANDS, its module imported now."""
    module, attr = COMMANDS[name].split(":")
    cmd: click.Command = getattr(importlib.import_module(f"reliad.cli.{module}"), attr)
    return cmd


class _Commands(click.Group):
    """A group whose subcommands are imported when looked up (click's documented pattern
    for lazily loaded subcommands); unknown names still get click's usage error."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name) if cmd_name in COMMANDS else None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
