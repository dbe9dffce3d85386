"""What the standard asks of a configuration and this one lacks: check-config's warnings.

Each is one line naming the policy or target and what to do. They are warnings, not errors: a
configuration without an offsite target still backs up, but does not meet R7, and the person
at the prompt should hear it while the host is still there, not after it is lost.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from reliad.config.keys import resolve_path
from reliad.config.model import KEY_SOURCE_KEYS, Config, PolicyConfig, TargetConfig
from reliad.config.schedule import VERIFY_TYPES as VERIFY_MODES
from reliad.config.service import is_loopback

FILE_KEY_SOURCES = ("key_file", "passphrase_file")
VERIFY_TYPES = tuple(VERIFY_MODES)  # verify_fast, verify_crc


def standard_warnings(config: Config) -> list[str]:
    """Every warning of a loaded configuration: per policy, then per target."""
    out: list[str] = []
    for policy in config.policies.values():
        for check in (_no_offsite, _no_key_copy, _no_verification):
            warning = check(config, policy)
            if warning:
                out.append(warning)
    out += [w for w in map(_plain_http, config.targets.values()) if w]
    return out


def _no_offsite(config: Config, policy: PolicyConfig) -> str | None:
    if config.offsite_targets(policy):
        return None
    return (f"policy {policy.name!r} has no offsite target (R7 asks for local and offsite): add an s3 or offline "
            "target to its targets (docs/OFFSITE.md)")


def _outside(config: Config, source: dict[str, str]) -> bool:
    """Whether a target's key source keeps the secret somewhere other than the state directory."""
    for key, value in source.items():
        if key in FILE_KEY_SOURCES:  # relative to the configuration file, as keysource reads them
            return not resolve_path(config.path, value).resolve().is_relative_to(config.state_dir.resolve())
        return True  # a systemd credential or an environment variable: not a file of the state directory
    return False  # none configured: the generated key file state_dir/keys/<repository-id>.key


def _no_key_copy(config: Config, policy: PolicyConfig) -> str | None:
    """The local repository and its offsite copies share one key (the copies have the same key
    slots), so one source outside the state directory on any of the policy's targets, or the
    recovery key of its severe drills, opens them all."""
    encrypted = [config.targets[n] for n in policy.targets if config.targets[n].encryption is not False]
    if not encrypted:
        return None
    sources = [{k: str(v) for k, v in t.options.items() if k in KEY_SOURCE_KEYS} for t in encrypted]
    drill = config.drills.get(policy.name)
    if drill is not None and drill.recovery_key:  # a severe drill's own key opens the offsite copy too
        sources.append(drill.recovery_key)
    if any(_outside(config, s) for s in sources):
        return None
    return (f"policy {policy.name!r}: the key of its encrypted repository is only in the state directory "
            f"{config.state_dir}, which a lost host takes along: set key_file outside it on the policy's targets "
            f"and keep an exported copy off the host ('reliad key export --target {encrypted[0].name}'; "
            "docs/INSTALL.md, step 4)")


def _no_verification(config: Config, policy: PolicyConfig) -> str | None:
    """Both verification types are on by default; only a policy that turned them all off is warned."""
    if any(policy.schedules[t].enabled for t in VERIFY_TYPES if t in policy.schedules):
        return None
    return (f"policy {policy.name!r} has no verification schedule: its backups are checked only when someone runs "
            f"'reliad verify' (R10c); set {' or '.join(VERIFY_TYPES)} in its schedule")


def _plain_http(target: TargetConfig) -> str | None:
    """R16: over http:// to another host, every request crosses the network unencrypted."""
    url = target.options.get("endpoint_url") if target.type == "s3" else None
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme != "http" or is_loopback(parts.hostname or ""):
        return None
    return (f"target {target.name!r}: endpoint_url {url} is plain HTTP to another host: every request, and a plain "
            "repository's data, crosses the network unencrypted (R16 asks for TLS); use https://")
