"""What every command shares: the options (-c/--config, --json, -v), the context that loads
the configuration once and prints for people or scripts, the exit codes, and the audit record
each command leaves. Commands live one per module beside this one and are listed in
reliad/cli/__init__.py."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from reliad.config import Config, default_config_path, load_config
from reliad.errors import ReliadError
from reliad.logsetup import setup_logging
from reliad.progress import Progress
from reliad.redact import redact


class Context:
    def __init__(self, config_path: str | None, as_json: bool, verbose: int) -> None:
        self.config_path = config_path
        self.as_json = as_json
        self.verbose = verbose
        self.affected: list[str] = []  # backup ids the command read or changed, for the audit log
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def progress(self) -> Progress:
        return Progress(enabled=None if not self.as_json else False)

    def affect(self, *backup_ids: str) -> None:
        """Name backups this command reads or changes; the audit record lists them."""
        self.affected.extend(backup_ids)

    def emit(self, data: Any, text: str | Callable[[], str]) -> None:
        if self.as_json:
            click.echo(redact(json.dumps(data, indent=None, default=str)))
        else:
            click.echo(redact(text() if callable(text) else text))


def _command_path() -> str:
    """'backup', 'key add': the words after 'reliad', however reliad was started."""
    c: click.Context | None = click.get_current_context()
    names = []
    while c is not None and c.parent is not None:
        names.append(c.info_name or "")
        c = c.parent
    return " ".join(reversed(names))


def _audit(ctx: Context, state_dir: Path | None, what: str, kw: dict[str, Any], code: int,
           error: str | None) -> None:
    if state_dir is None:
        return
    from reliad import audit

    ids = [*ctx.affected]
    for key in ("backup_id", "backup_ids"):
        value = kw.get(key)
        ids += [value] if isinstance(value, str) else list(value or [])
    args = {"config": str(ctx.config.path), **kw}
    try:
        audit.record(state_dir, what, args=args, outcome=audit.OUTCOMES.get(code, "error"), exit_code=code,
                     error=error, backups=ids, target=kw.get("target_name"))
    except (ReliadError, OSError) as e:
        click.echo(f"reliad: warning: this command could not be recorded in the audit log: {e}", err=True)


EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # also a configuration error
EXIT_DAMAGE = 3


def command(name: str, *, group: click.Group | None = None, audit: bool = True,
            **kwargs: Any) -> Callable[..., click.Command]:
    """A subcommand with the options every reliad command shares, the error handling that
    turns expected failures into one sentence and the right exit code, and the audit record
    every command leaves (who, what, on which backups, how it ended). `audit=False` only for
    commands that touch no backup and may run before reliad is set up (check-config). With
    `group`, the command is a subcommand of that group (`reliad key add`); without, it is
    registered by the explicit list in reliad/cli/__init__.py."""

    def wrap(fn: Callable[..., Any]) -> click.Command:
        maker = group.command if group is not None else click.command

        @maker(name, **kwargs)
        @click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), default=None,
                      help=f"Configuration file (default: $RELIAD_CONFIG, else {default_config_path()}).")
        @click.option("--json", "as_json", is_flag=True, help="Print one JSON document for scripts.")
        @click.option("-v", "--verbose", count=True, help="Log progress events to stderr (-vv for debug).")
        @functools.wraps(fn)
        def run(config_path: str | None, as_json: bool, verbose: int, **kw: Any) -> None:
            setup_logging(verbose)
            ctx = Context(_config_option(config_path), as_json, verbose)
            what = _command_path()
            state_dir: Path | None = None
            code, error = 0, None
            try:
                if audit:
                    state_dir = _audit_state_dir(ctx)
                code = fn(ctx, **kw) or 0
            except ReliadError as e:
                code, error = e.exit_code, redact(str(e))
                if as_json:
                    click.echo(json.dumps({"ok": False, "error": error}))
                click.echo(f"reliad: error: {error}", err=True)
            except KeyboardInterrupt:
                code, error = 130, "interrupted"
                click.echo("reliad: interrupted", err=True)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            except click.ClickException as e:  # usage errors a command raises itself
                _audit(ctx, state_dir, what, kw, e.exit_code, e.format_message())
                raise
            except BaseException as e:  # a bug: record that the command broke, keep the traceback
                _audit(ctx, state_dir, what, kw, 1, f"internal error: {type(e).__name__}")
                raise
            _audit(ctx, state_dir, what, kw, code, error)
            sys.exit(code)

        return run

    return wrap


def _config_option(after: str | None) -> str | None:
    """-c given after the command, or before it ('reliad -c FILE backup', as with git -C, restic -r
    and borgmatic -c); given in both places with different files, a usage error."""
    before = click.get_current_context().find_root().params.get("config_path")
    if before is not None and after is not None and before != after:
        raise click.UsageError(f"-c is given twice, {before} before the command and {after} after it; give it once")
    return after if after is not None else before


def _audit_state_dir(ctx: Context) -> Path | None:
    """The state directory whose audit log will get this command's record, after checking
    that it can be written (a command that could not be recorded does not run). None when
    the configuration does not load: the command then fails with that error itself."""
    from reliad import audit

    try:
        state_dir = ctx.config.state_dir
    except ReliadError:
        return None
    audit.check_writable(state_dir)
    return state_dir

