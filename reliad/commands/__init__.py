"""Subcommands beyond the core ones in reliad/cli.py: one module per area, each registering
its commands on `reliad.cli.main` with the `reliad.cli.command` decorator when imported."""
