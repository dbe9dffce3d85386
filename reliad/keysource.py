"""Where the secret that opens a target's repository comes from.

A target names one source: `key_file`, `key_credential`, `passphrase_file`, `passphrase_env` or
`passphrase_credential` (a systemd credential, read from $CREDENTIALS_DIRECTORY). Never the
command line, where every local user could read it in the process list. With none configured,
the repository's own key file in the state directory (`keys/<repository-id>.key`) is used;
reliad generates that file when it creates a repository, so the minimal configuration works.

Files holding secrets must be readable by their owner only, like ssh's private keys.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from reliad.config import KEY_SOURCE_KEYS, Config, TargetConfig, resolve_path
from reliad.errors import ConfigError
from reliad.redact import register
from reliad.repository.keys import Secret, new_key_file, parse_key_file
from reliad.statedir import ensure_state_dir

log = logging.getLogger(__name__)


def check_private(path: Path, what: str) -> None:
    """Refuse a secret file that other users can read or change, or that someone else owns."""
    st = path.stat()
    mode = st.st_mode & 0o777
    if st.st_uid not in (os.geteuid(), 0):
        raise ConfigError(f"{what} {path} is owned by uid {st.st_uid}, neither root nor the user running reliad; "
                          "refusing a secret someone else controls")
    if mode & 0o077:
        raise ConfigError(f"{what} {path} can be read or changed by other users (mode {mode:04o}); "
                          f"run 'chmod 600 {path}'")


def _read_private(path: Path, what: str) -> bytes:
    try:
        check_private(path, what)
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except OSError as e:
        raise ConfigError(f"cannot read {what} {path}: {e.strerror}") from None


def _credential(name: str) -> Path:
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if not cred_dir:
        raise ConfigError(f"systemd credential {name!r} is configured but $CREDENTIALS_DIRECTORY is not set; "
                          "run reliad from its unit (LoadCredential=) or use passphrase_file")
    if "/" in name or name in (".", ".."):
        raise ConfigError(f"systemd credential name {name!r} must not contain '/'")
    return Path(cred_dir) / name


def _passphrase(data: bytes, source: str) -> Secret:
    text = data[:-1] if data.endswith(b"\n") else data
    text = text[:-1] if text.endswith(b"\r") else text
    if not text:
        raise ConfigError(f"the passphrase from {source} is empty")
    register(text)
    return Secret("passphrase", text, source)


def _key_file(data: bytes, source: str) -> Secret:
    secret = parse_key_file(data, source)
    register(secret.material)
    return secret


def default_key_path(config: Config, repo_id: str) -> Path:
    return config.state_dir / "keys" / f"{repo_id}.key"


def configured_source(target: TargetConfig) -> str | None:
    """The key-source setting of a target, if any (config parsing allows at most one)."""
    return next((k for k in KEY_SOURCE_KEYS if k in target.options), None)


def secret_for(config: Config, target: TargetConfig, repo_id: str | None) -> Secret | None:
    """The secret configured for a target, else the state directory's key file of the
    repository `repo_id`; None when there is neither."""
    key = configured_source(target)
    value = str(target.options.get(key, "")) if key else ""
    where = f"target {target.name!r}"
    if key == "key_file":
        path = resolve_path(config.path, value)
        return _key_file(_read_private(path, f"{where}: key file"), f"key file {path}")
    if key == "key_credential":
        path = _credential(value)
        return _key_file(_read_private(path, f"{where}: credential"), f"systemd credential {value!r}")
    if key == "passphrase_file":
        path = resolve_path(config.path, value)
        return _passphrase(_read_private(path, f"{where}: passphrase file"), f"passphrase file {path}")
    if key == "passphrase_credential":
        path = _credential(value)
        return _passphrase(_read_private(path, f"{where}: credential"), f"systemd credential {value!r}")
    if key == "passphrase_env":
        data = os.environ.get(value)
        if data is None:
            raise ConfigError(f"{where}: passphrase_env names ${value}, which is not set")
        return _passphrase(os.fsencode(data), f"${value}")
    if repo_id:
        path = default_key_path(config, repo_id)
        if path.exists():
            return _key_file(_read_private(path, "key file"), f"key file {path}")
    return None


def write_private(path: Path, text: str) -> None:
    """Create a secret file 0600 (its directory 0700) without ever making it readable to others."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".tmp-{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails instead of replacing an existing key
    except FileExistsError:
        raise ConfigError(f"{path} already exists; refusing to overwrite a key file") from None
    finally:
        tmp.unlink()


def secret_for_new_repository(config: Config, target: TargetConfig, repo_id: str) -> tuple[Secret, list[str]]:
    """The secret a new encrypted repository is created under, and warnings for the user.

    A configured key file that does not exist yet, or no key source at all, gets a new
    generated key file (the latter in the state directory, named after the repository).
    """
    key = configured_source(target)
    if key in (None, "key_file"):
        path = (resolve_path(config.path, str(target.options["key_file"])) if key
                else default_key_path(config, repo_id))
        if key is None:
            ensure_state_dir(config.state_dir)
        if key is None or not path.exists():
            text, material = new_key_file(repo_id)
            write_private(path, text)
            register(material)
            return Secret("keyfile", material, f"key file {path}"), [
                f"created key file {path} for the encrypted repository of target {target.name!r}: keep a copy "
                "of it somewhere other than this host (without it the backups cannot be restored)"]
    secret = secret_for(config, target, repo_id)
    assert secret is not None
    return secret, []
