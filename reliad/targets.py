"""From a configured target to an open repository (and its storage)."""

from __future__ import annotations

from reliad.config import Config, TargetConfig
from reliad.errors import ConfigError, RepositoryError
from reliad.repository import Repository
from reliad.storage import LocalStorage
from reliad.storage.base import Storage


def storage_for(target: TargetConfig) -> Storage:
    if target.type == "local":
        assert target.path is not None
        return LocalStorage(target.path)
    raise ConfigError(f"target {target.name!r}: type {target.type!r} is not supported by this build")


def open_repository(config: Config, target: TargetConfig, create: bool = False) -> Repository:
    """Open the repository of a target; create it when `create` and none exists yet."""
    storage = storage_for(target)
    if create and storage.stat("config") is None:
        if target.type == "local":
            assert target.path is not None
            try:
                target.path.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as e:
                raise RepositoryError(f"target {target.name!r}: cannot create {target.path}: {e.strerror}") \
                    from None
        pack_mib = target.options.get("pack_size_mib")
        if pack_mib:
            return Repository.init(storage, pack_size=pack_mib << 20)
        return Repository.init(storage)
    return Repository.open(storage)
