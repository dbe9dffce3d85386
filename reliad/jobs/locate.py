"""Finding the repository that holds a backup the user named."""

from __future__ import annotations

from reliad.catalog import Catalog
from reliad.config import Config, TargetConfig
from reliad.errors import ConfigError, DamageError, ReliadError, RepositoryError
from reliad.repository import Repository
from reliad.repository.names import check_backup_id
from reliad.targets import open_repository


def find_backup(config: Config, backup_id: str, target_name: str | None) -> tuple[TargetConfig, Repository]:
    """The target named, else the one the catalog records, else any target that has it."""
    check_backup_id(backup_id)
    if target_name:
        target = config.target(target_name)
        return target, open_repository(config, target)
    catalog = Catalog(config.state_dir)
    try:
        rows = [r for r in catalog.backups() if r["id"] == backup_id and r["status"] in ("ok", "partial")]
    finally:
        catalog.close()
    names = [r["target"] for r in rows if r["target"] in config.targets]
    names += [n for n in config.targets if n not in names]
    # Local copies first: they are fastest, and an unreachable offsite store must not stand
    # in the way of a backup the local target holds.
    names.sort(key=lambda n: config.targets[n].type != "local")
    unreachable: list[str] = []
    refused: ConfigError | DamageError | None = None
    for name in names:
        try:
            repo = open_repository(config, config.targets[name])
            if repo.has_backup(backup_id):
                return config.targets[name], repo
        except (ConfigError, DamageError) as e:  # a wrong key, a damaged slot: say so, unless another target has it
            refused = refused or e
            continue
        except RepositoryError:
            continue
        except ReliadError as e:
            unreachable.append(str(e))
            continue
        repo.storage.close()
    if refused is not None:
        raise refused
    if unreachable:
        raise RepositoryError(f"no reachable target holds backup {backup_id!r}; {unreachable[0]}")
    raise RepositoryError(f"no backup {backup_id!r} in any configured target; 'reliad list' shows the ids")


def repositories(config: Config, target_name: str | None) -> list[tuple[TargetConfig, Repository]]:
    """The repositories a command that works on 'all backups' should look at."""
    if target_name:
        t = config.target(target_name)
        return [(t, open_repository(config, t))]
    out = []
    for t in config.targets.values():
        try:
            out.append((t, open_repository(config, t)))
        except RepositoryError:
            continue
    return out
