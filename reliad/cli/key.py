"""`reliad key add|list|remove|export`: the secrets that open an encrypted repository.

New passphrases come from a file, an environment variable, a systemd credential or a
terminal prompt, never from the command line (which every local user can read in `ps`).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from reliad.cli.base import Context, command
from reliad.config.model import OFFSITE_TYPES
from reliad.errors import ConfigError
from reliad.keysource import check_private, write_private
from reliad.redact import register
from reliad.repository import Repository
from reliad.repository.keys import (
    Secret,
    make_slot,
    new_key_file,
    parse_key_file,
    read_slots,
    recovery_text,
    remove_slot,
    write_slot,
)


@click.group("key")
def key_group() -> None:
    """Manage the key slots of an encrypted repository (passphrases and key files that open it)."""


def _target_name(ctx: Context, target_name: str | None) -> str:
    if target_name:
        return target_name
    if len(ctx.config.targets) == 1:
        return next(iter(ctx.config.targets))
    raise ConfigError(f"{ctx.config.path}: several targets are configured; name one with --target")


def _refuse_copy(ctx: Context, name: str, change: str) -> None:
    """Key slots are changed where replication takes them from. An offsite target fed by a
    local repository gets that repository's slots at every replication (`sync_slots`), so a
    slot added to the copy alone was removed by the next replication, and one removed there
    came back: the command reported a change that did not last. Allowed when the feeding
    repository does not exist (a host rebuilt from its offsite copy), as nothing replicates."""
    from reliad.jobs.replicate import feed
    from reliad.repository.names import CONFIG
    from reliad.targets import storage_for

    target = ctx.config.target(name)
    if target.type not in OFFSITE_TYPES:
        return
    try:
        local, _ = feed(ctx.config, target)
    except ConfigError:
        return  # no policy replicates into it: its slots are its own
    if storage_for(local).stat(CONFIG) is None:
        return
    lasts = "be removed by" if change == "added to" else "come back with"
    raise ConfigError(f"target {name!r} is the offsite copy of target {local.name!r}, whose key slots every "
                      f"replication copies there: a slot {change} the copy alone would {lasts} the next one; "
                      f"run this with --target {local.name}, and the next 'reliad replicate' carries it offsite")


def _open(ctx: Context, target_name: str | None, need_key: bool = True) -> tuple[str, Repository]:
    from reliad.targets import open_repository

    name = _target_name(ctx, target_name)
    repo = open_repository(ctx.config, ctx.config.target(name))
    if not repo.encrypted:
        raise ConfigError(f"the repository of target {name!r} is not encrypted, so it has no keys")
    if need_key:
        repo.need_cipher()
    return name, repo


def _slot_view(slot: dict[str, Any], in_use: str | None) -> dict[str, Any]:
    kdf = slot.get("kdf") or {}
    return {"id": slot.get("id"), "kind": slot.get("kind"), "label": slot.get("label"), "created": slot.get("created"),
            "kdf": {k: v for k, v in kdf.items() if k != "salt"}, "in_use": slot.get("id") == in_use}


@command("list", group=key_group)
@click.option("--target", "target_name", default=None, help="The target whose repository to look at.")
def key_list_cmd(ctx: Context, target_name: str | None) -> int:
    """List the key slots (no key needed); the one your configuration opens is marked."""
    name, repo = _open(ctx, target_name, need_key=False)
    slots = [_slot_view(s, repo.slot) for s in read_slots(repo.storage)]

    def text() -> str:
        lines = [f"{'SLOT':<10} {'KIND':<11} {'CREATED':<21} LABEL"]
        for s in slots:
            lines.append(f"{s['id']:<10} {s['kind']:<11} {s['created']:<21} {s['label']}"
                         + ("   <- opened by this configuration" if s["in_use"] else ""))
        return "\n".join(lines)

    ctx.emit({"target": name, "repository": repo.config.id, "slots": slots}, text)
    return 0


def _new_secret(passphrase_file: Path | None, passphrase_env: str | None, passphrase_credential: str | None,
                key_file: Path | None, new_key_file_path: Path | None, repo_id: str) -> tuple[Secret, str | None]:
    """The secret for a new slot, and the path of a key file created for it."""
    given = [x for x in (passphrase_file, passphrase_env, passphrase_credential, key_file, new_key_file_path)
             if x is not None]
    if len(given) > 1:
        raise ConfigError("give only one of --passphrase-file, --passphrase-env, --passphrase-credential, "
                          "--key-file, --new-key-file")
    if new_key_file_path is not None:
        text, material = new_key_file(repo_id)
        write_private(new_key_file_path, text)
        register(material)
        return Secret("keyfile", material, f"key file {new_key_file_path}"), str(new_key_file_path)
    if key_file is not None:
        check_private(key_file, "key file")
        secret = parse_key_file(key_file.read_bytes(), f"key file {key_file}")
        if secret.kind == "datakey":
            raise ConfigError(f"{key_file} is a recovery copy of the data key; it opens the repository without "
                              "a slot and cannot be added as one")
        register(secret.material)
        return secret, None
    if passphrase_file is not None or passphrase_credential is not None:
        if passphrase_credential is not None:
            cred = os.environ.get("CREDENTIALS_DIRECTORY")
            if not cred:
                raise ConfigError("--passphrase-credential needs $CREDENTIALS_DIRECTORY (run from a systemd unit)")
            passphrase_file = Path(cred) / passphrase_credential
        assert passphrase_file is not None
        try:
            check_private(passphrase_file, "passphrase file")
            data = passphrase_file.read_bytes().rstrip(b"\r\n")
        except FileNotFoundError:
            raise ConfigError(f"passphrase file {passphrase_file} does not exist") from None
        source = f"passphrase file {passphrase_file}"
    elif passphrase_env is not None:
        if passphrase_env not in os.environ:
            raise ConfigError(f"${passphrase_env} is not set")
        data, source = os.fsencode(os.environ[passphrase_env]), f"${passphrase_env}"
    elif sys.stdin.isatty():
        data = click.prompt("New passphrase", hide_input=True, confirmation_prompt=True, err=True).encode()
        source = "the terminal"
    else:
        raise ConfigError("say where the new secret comes from: --passphrase-file, --passphrase-env, "
                          "--passphrase-credential, --key-file or --new-key-file (or run on a terminal to type it)")
    if len(data) < 8:
        raise ConfigError(f"the passphrase from {source} is shorter than 8 characters; use a long one")
    register(data)
    return Secret("passphrase", data, source), None


@command("add", group=key_group)
@click.option("--target", "target_name", default=None, help="The target whose repository gets the new key.")
@click.option("--passphrase-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Read the new passphrase from this file (mode 0600).")
@click.option("--passphrase-env", default=None, metavar="VAR", help="Read the new passphrase from $VAR.")
@click.option("--passphrase-credential", default=None, metavar="NAME",
              help="Read the new passphrase from the systemd credential NAME.")
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Add an existing key file (at least 32 secret bytes, mode 0600).")
@click.option("--new-key-file", "new_key_file_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Generate a new key file here (created 0600) and add it.")
@click.option("--label", default="", help="A note to tell the slot apart in 'reliad key list'.")
def key_add_cmd(ctx: Context, target_name: str | None, passphrase_file: Path | None, passphrase_env: str | None,
                passphrase_credential: str | None, key_file: Path | None, new_key_file_path: Path | None,
                label: str) -> int:
    """Add a key slot: one more passphrase or key file that opens the repository.

    The current key (from the target's configuration) must open the repository first.
    """
    _refuse_copy(ctx, _target_name(ctx, target_name), "added to")
    name, repo = _open(ctx, target_name)
    secret, created = _new_secret(passphrase_file, passphrase_env, passphrase_credential, key_file,
                                  new_key_file_path, repo.config.id)
    assert repo.data_key is not None
    slot = make_slot(repo.data_key, repo.config.id, secret, label)
    write_slot(repo.storage, slot)
    if created and not ctx.as_json:
        click.echo(f"warning: keep a copy of {created} somewhere other than this host", err=True)
    ctx.emit({"target": name, "slot": _slot_view(slot, None), "key_file": created},
             f"added {secret.kind} slot {slot['id']} to the repository of target {name!r}")
    return 0


@command("remove", group=key_group)
@click.argument("slot_id")
@click.option("--target", "target_name", default=None, help="The target whose repository loses the key.")
@click.option("--force", is_flag=True, help="Also remove the slot this configuration opens the repository with.")
def key_remove_cmd(ctx: Context, slot_id: str, target_name: str | None, force: bool) -> int:
    """Revoke a key: remove its slot. The data stays encrypted under the same data key, so a
    revoked secret's holder who copied the data key while it was valid can still read it."""
    _refuse_copy(ctx, _target_name(ctx, target_name), "removed from")
    name, repo = _open(ctx, target_name)
    slots = read_slots(repo.storage)
    ids = [s.get("id") for s in slots]
    if slot_id not in ids:
        raise ConfigError(f"the repository of target {name!r} has no key slot {slot_id!r}; "
                          f"it has {', '.join(map(str, ids))}")
    if len(slots) == 1:
        raise ConfigError(f"refusing to remove {slot_id}, the last key slot: nothing could open the repository")
    if slot_id == repo.slot and not force:
        raise ConfigError(f"slot {slot_id} is the one this configuration opens the repository with; point the "
                          "target at another key first, or pass --force")
    remove_slot(repo.storage, slot_id)
    ctx.emit({"target": name, "removed": slot_id, "remaining": [i for i in ids if i != slot_id]},
             f"removed key slot {slot_id} from the repository of target {name!r}; copies elsewhere (offsite, "
             "older backups of the repository) still hold it until they are updated")
    return 0


@command("export", group=key_group)
@click.option("--target", "target_name", default=None, help="The target whose repository's key to export.")
def key_export_cmd(ctx: Context, target_name: str | None) -> int:
    """Print a recovery copy of the data key (usable as a target's key_file). Keep it offline."""
    name, repo = _open(ctx, target_name)
    assert repo.data_key is not None
    text = recovery_text(repo.config.id, repo.data_key)
    click.echo("warning: this is the repository's data key: whoever reads it can decrypt every backup, and "
               "removing key slots does not revoke it. Print it or store it offline; do not leave it on this "
               "host.", err=True)
    if ctx.as_json:
        # Not through ctx.emit: the key itself must not be masked here, it is what was asked for.
        click.echo(json.dumps({"target": name, "repository": repo.config.id, "recovery_key": text}))
    else:
        click.echo(text, nl=False)
    return 0
