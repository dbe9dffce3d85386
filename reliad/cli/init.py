"""`reliad init --target T`: create a target's repository."""

from __future__ import annotations

import click

from reliad.cli.base import Context, command


@command("init")
@click.option("--target", "target_name", required=True, help="The target whose repository to create.")
@click.option("--no-encryption", is_flag=True,
              help="Create a plain repository: readable by anyone who can read its files, restorable with "
              "zstd and tar alone (the same as encryption = false on the target).")
@click.option("--create-bucket", is_flag=True, help="For an S3 target: create the bucket when it does not exist.")
def init_cmd(ctx: Context, target_name: str, no_encryption: bool, create_bucket: bool) -> int:
    """Create the repository of a target (a first backup also does this); encrypted unless told otherwise.

    An offsite target (s3, offline) receives a copy of the local repository that feeds it (same
    id and keys), so that replication can fill it."""
    from reliad.config import OFFSITE_TYPES
    from reliad.errors import RepositoryError
    from reliad.repository.names import CONFIG
    from reliad.targets import create_repository, storage_for

    target = ctx.config.target(target_name)
    notes: list[str] = []
    if target.type in OFFSITE_TYPES:
        from reliad.jobs.replicate import init_offsite

        repo = init_offsite(ctx.config, target, create_bucket, encrypt=False if no_encryption else None)
    else:
        storage = storage_for(target)
        if storage.stat(CONFIG) is not None:
            raise RepositoryError(f"target {target_name!r}: a repository already exists at {storage.location}")
        repo, notes = create_repository(ctx.config, target, storage, encrypt=False if no_encryption else None)
    if not ctx.as_json:
        for n in notes:
            click.echo(f"warning: {n}", err=True)
    ctx.emit({"target": target_name, "id": repo.config.id, "location": repo.storage.location,
              "encrypted": repo.encrypted, "notes": notes},
             f"created {'encrypted' if repo.encrypted else 'plain (unencrypted)'} repository {repo.config.id} "
             f"at {repo.storage.location}")
    return 0
