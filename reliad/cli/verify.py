"""`reliad verify`: prove backups intact; exit 3 on damage."""

from __future__ import annotations

import click

from reliad.cli.base import Context, command
from reliad.progress import human_bytes


@command("verify")
@click.argument("backup_ids", nargs=-1)
@click.option("--mode", type=click.Choice(["fast", "crc", "byte"]), default="crc", show_default=True,
              help="fast: objects exist with the right sizes; crc: read and check every stored byte; "
              "byte: compare with the live source.")
@click.option("--target", "target_name", default=None, help="Verify the backups in this target.")
def verify_cmd(ctx: Context, backup_ids: tuple[str, ...], mode: str, target_name: str | None) -> int:
    """Verify backups (all of them when none is named); exit 3 when damage is found."""
    from reliad.jobs.verify import verify_backups

    bar = ctx.progress()
    total = verify_backups(ctx.config, list(backup_ids), mode, target_name,
                           progress=lambda r: bar.show(lambda: f"{r.files} files checked"))
    bar.done()
    ctx.affect(*total.backups)
    data = total.to_json()

    def text() -> str:
        lines = [f"damaged: backup {d['backup']} {d['path'] or '(manifest)'}: {d['reason']}" if d["backup"]
                 else f"damaged: {d['path']}: {d['reason']}" for d in total.damaged]
        lines += [f"changed: backup {c['backup']} {c['path']}: {c['reason']}" for c in total.changed]
        where = [f"{len(total.damaged_backups())} backup(s)"] if total.damaged_backups() else []
        where += ["the repository"] if any(d["backup"] is None for d in total.damaged) else []
        verdict = f"DAMAGE FOUND in {' and '.join(where)}" if total.damaged else "OK"
        lines.append(f"{verdict}: {len(total.backups)} backups, {total.files} files, "
                     f"{human_bytes(total.bytes_checked)} checked ({mode})")
        if not total.decrypted:
            lines.append("note: no key for an encrypted repository, so only the stored CRC32Cs were checked; "
                         "configure its key to check decryption, GCM tags and content CRCs too")
        return "\n".join(lines)

    ctx.emit(data, text)
    return 3 if total.damaged else 0
