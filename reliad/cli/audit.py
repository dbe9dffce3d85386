"""`reliad audit show|verify`: read the audit log and prove it untouched."""

from __future__ import annotations

import click

from reliad import audit
from reliad.cli.base import Context, command
from reliad.errors import ConfigError, DamageError, RepositoryError
from reliad.timeutil import iso, parse_iso


@click.group("audit")
def audit_group() -> None:
    """The audit log: every command and service action on the backups, hash-chained."""


@command("show", group=audit_group)
@click.option("--since", default=None, help="Only records at or after this time (ISO 8601, e.g. 2026-11-01 or "
              "2026-11-01T08:00:00Z).")
def audit_show_cmd(ctx: Context, since: str | None) -> int:
    """Print the audit log (oldest first)."""
    records = audit.read_records(ctx.config.state_dir)
    if since:
        try:
            cut = iso(parse_iso(since if "T" in since else since + "T00:00:00Z"))
        except ValueError:
            raise ConfigError(f"--since {since!r} is not a date or time like 2026-11-01T08:00:00Z") from None
        records = [r for r in records if str(r.get("time", "")) >= cut]

    def text() -> str:
        lines = []
        for r in records:
            who = r.get("user", "?") + (f" (sudo from {r['sudo_user']})" if r.get("sudo_user") else "")
            args = " ".join(f"{k}={v}" for k, v in (r.get("args") or {}).items() if k != "config")
            line = f"{r.get('seq'):>6} {r.get('time')} {who}@{r.get('host')} {r.get('command')} {args}".rstrip()
            line += f" -> {r.get('outcome')}"
            if r.get("backups"):
                line += f" [{', '.join(r['backups'][:5])}{' ...' if len(r['backups']) > 5 else ''}]"
            if r.get("error"):
                line += f": {r['error']}"
            lines.append(line)
        return "\n".join(lines) or "the audit log is empty"

    ctx.emit(records, text)
    return 0


@command("verify", group=audit_group)
@click.option("--target", "target_name", default=None, help="Compare with the copy in this target only "
              "(default: every target that has one).")
def audit_verify_cmd(ctx: Context, target_name: str | None) -> int:
    """Check the hash chain, and compare the log with its copies in the repositories; exit 3 on tampering."""
    from reliad.jobs.locate import repositories

    state_dir = ctx.config.state_dir
    local = audit.verify_log(state_dir)
    problems = list(local.problems)
    lines = audit.local_lines_by_seq(state_dir)
    copies: dict[str, int] = {}
    for t, repo in repositories(ctx.config, target_name):
        try:
            copied, found = audit.compare_with_copy(repo, local, lines, f"target {t.name}")
        except (ConfigError, RepositoryError, DamageError) as e:
            problems.append(f"target {t.name}: {e}")
            continue
        finally:
            repo.storage.close()
        copies[t.name] = copied
        problems += found
    data = {"ok": not problems, "records": local.records, "copies": copies, "problems": problems}

    def text() -> str:
        out = [f"TAMPERED: {p}" for p in problems]
        compared = ", ".join(f"{n} ({c} records)" for n, c in copies.items()) or "no copies"
        out.append(f"{'OK' if not problems else 'AUDIT LOG DAMAGED'}: {local.records} records; compared with {compared}")
        return "\n".join(out)

    ctx.emit(data, text)
    return 3 if problems else 0
