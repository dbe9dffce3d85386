"""Key slots: the repository's random data key, wrapped once for every secret allowed to open it.

A slot is the JSON object ``keys/<slot-id>``. Adding a passphrase or a key file adds a slot;
revoking one removes its slot. The data itself is never re-encrypted, which is why a revoked
secret must be assumed to have been able to copy the data key while it was valid.

Passphrases go through Argon2id (memory-hard, RFC 9106); key files already hold 256 random
bits, so HKDF-SHA256 is enough for them. Every field of a slot is bound into the wrapping as
associated data, so an edited slot (weaker KDF parameters, another kind) no longer opens.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import crc32c
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from reliad.errors import ConfigError, DamageError
from reliad.storage.base import Storage
from reliad.timeutil import iso, utcnow

SLOT_PREFIX = "keys/"
SLOT_FORMAT = "reliad-keyslot"
KEY_FILE_TAG = "reliad-keyfile-v1"
DATA_KEY_TAG = "reliad-data-key-v1"
# RFC 9106's second recommended setting: 64 MiB, 3 passes, 4 lanes (about 0.3 s here).
ARGON2ID = {"name": "argon2id", "iterations": 3, "lanes": 4, "memory_kib": 64 << 10}
# Tests only: the whole suite would otherwise spend minutes in the KDF. Never set in production.
TEST_KDF_ENV = "RELIAD_INSECURE_TEST_KDF"


@dataclass
class Secret:
    """What a user holds: a passphrase, a key file's secret, or a recovery copy of the data key."""

    kind: str  # passphrase | keyfile | datakey
    material: bytes = field(repr=False)
    source: str = ""  # where it came from, for messages ("key file /etc/...", "$RELIAD_PASSPHRASE")
    repo_id: str | None = None  # a recovery copy names its repository


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _unb64(s: Any) -> bytes:
    if not isinstance(s, str):
        raise ValueError("not base64 text")
    return base64.b64decode(s, validate=True)


def _canonical(d: dict[str, Any]) -> bytes:
    return json.dumps(d, sort_keys=True, separators=(",", ":")).encode()


def passphrase_kdf() -> dict[str, Any]:
    if os.environ.get(TEST_KDF_ENV) == "1":
        return {"name": "argon2id", "iterations": 1, "lanes": 1, "memory_kib": 8}
    return dict(ARGON2ID)


def _kek(kdf: dict[str, Any], material: bytes) -> bytes:
    """The key-encryption key a secret yields under a slot's KDF parameters."""
    salt = _unb64(kdf["salt"])
    if kdf["name"] == "argon2id":
        return Argon2id(salt=salt, length=32, iterations=int(kdf["iterations"]), lanes=int(kdf["lanes"]),
                        memory_cost=int(kdf["memory_kib"])).derive(material)
    if kdf["name"] == "hkdf-sha256":
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"reliad/keyfile/v1").derive(material)
    raise ValueError(f"unknown KDF {kdf['name']!r}")


def _slot_aad(repo_id: str, slot: dict[str, Any]) -> bytes:
    bound = {k: v for k, v in slot.items() if k not in ("wrapped", "crc32c")}
    return b"reliad/keyslot/v1\0" + repo_id.encode() + b"\0" + _canonical(bound)


def make_slot(data_key: bytes, repo_id: str, secret: Secret, label: str = "") -> dict[str, Any]:
    if secret.kind == "passphrase":
        kdf = passphrase_kdf()
    elif secret.kind == "keyfile":
        kdf = {"name": "hkdf-sha256"}
    else:
        raise ConfigError(f"{secret.source}: a recovery copy of the data key cannot become a key slot; "
                          "give a passphrase or a key file")
    kdf["salt"] = _b64(os.urandom(16))
    slot: dict[str, Any] = {"format": SLOT_FORMAT, "version": 1, "id": secrets.token_hex(4), "kind": secret.kind,
                            "kdf": kdf, "created": iso(utcnow()), "label": label, "nonce": _b64(os.urandom(12))}
    kek = _kek(kdf, secret.material)
    slot["wrapped"] = _b64(AESGCM(kek).encrypt(_unb64(slot["nonce"]), data_key, _slot_aad(repo_id, slot)))
    slot["crc32c"] = _slot_crc(slot)
    return slot


def _slot_crc(slot: dict[str, Any]) -> int:
    """CRC32C of every other field: a wrong key and a damaged slot both fail the GCM tag, and
    only this keyless check tells the two apart (slots written before it have none)."""
    return crc32c.crc32c(_canonical({k: v for k, v in slot.items() if k != "crc32c"}))


def slot_problem(slot: Any) -> str | None:
    """Why a slot object cannot be a sound key slot (damage), or None when it may be one."""
    if not isinstance(slot, dict) or slot.get("format") != SLOT_FORMAT:
        return "not a reliad key slot"
    if "crc32c" in slot and slot["crc32c"] != _slot_crc(slot):
        return "its CRC32C does not match its content"
    kdf = slot.get("kdf")
    if slot.get("kind") not in ("passphrase", "keyfile") or not isinstance(kdf, dict) \
            or kdf.get("name") not in ("argon2id", "hkdf-sha256"):
        return "its kind or key derivation is not one reliad writes"
    try:
        sizes = (len(_unb64(slot.get("nonce"))), len(_unb64(slot.get("wrapped"))), len(_unb64(kdf.get("salt"))))
    except ValueError:
        return "a binary field is not valid base64"
    if sizes != (12, 48, 16):
        return "a binary field has the wrong length"
    return None


def _unwrap(slot: dict[str, Any], repo_id: str, secret: Secret) -> bytes | None:
    try:
        kek = _kek(slot["kdf"], secret.material)
        key = AESGCM(kek).decrypt(_unb64(slot["nonce"]), _unb64(slot["wrapped"]), _slot_aad(repo_id, slot))
    except (InvalidTag, ValueError, KeyError, TypeError):
        return None
    return key if len(key) == 32 else None


def scan_slots(storage: Storage) -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
    """(object name, slot, None) for each sound slot and (object name, None, reason) for each
    damaged one, so that one damaged slot neither hides the others nor passes for a wrong key."""
    for info in storage.list(SLOT_PREFIX):
        try:
            slot = json.loads(storage.get(info.name))
        except (ValueError, UnicodeDecodeError) as e:
            yield info.name, None, f"not JSON: {e}"
            continue
        problem = slot_problem(slot)
        yield (info.name, None, problem) if problem else (info.name, slot, None)


def read_slots(storage: Storage) -> list[dict[str, Any]]:
    """Every key slot; a damaged one fails as damage (exit 3), naming it."""
    out = []
    for name, slot, problem in scan_slots(storage):
        if slot is None:
            raise DamageError(f"{storage.location}/{name}: damaged key slot ({problem})")
        out.append(slot)
    return out


def write_slot(storage: Storage, slot: dict[str, Any]) -> None:
    storage.put(f"{SLOT_PREFIX}{slot['id']}", json.dumps(slot, indent=2).encode() + b"\n")


def remove_slot(storage: Storage, slot_id: str) -> None:
    storage.delete(f"{SLOT_PREFIX}{slot_id}")


def unlock(storage: Storage, repo_id: str, secret: Secret) -> tuple[bytes, str | None]:
    """(data key, id of the slot that opened it). A wrong secret is a configuration error (exit 2)."""
    if secret.kind == "datakey":
        if secret.repo_id != repo_id:
            raise ConfigError(f"{secret.source} is the recovery key of repository {secret.repo_id}, "
                              f"not of {storage.location} ({repo_id})")
        return secret.material, None
    damaged = []
    for name, slot, problem in scan_slots(storage):
        if slot is None:
            damaged.append(f"{name} ({problem})")
        elif slot.get("kind") == secret.kind and (key := _unwrap(slot, repo_id, secret)) is not None:
            return key, str(slot["id"])
    what = "passphrase" if secret.kind == "passphrase" else "key file"
    if damaged:
        raise DamageError(f"the repository at {storage.location} has a damaged key slot: {'; '.join(damaged)}; no "
                          f"intact slot opens with the {what} from {secret.source}; copy the slot back from another "
                          "copy of the repository (offsite) or open it with a recovery key")
    raise ConfigError(f"the {what} from {secret.source} does not open the repository at {storage.location} "
                      f"(wrong {what}, or its key slot was removed); 'reliad key list' shows the slots")


def sync_slots(src: Storage, dst: Storage) -> tuple[list[str], list[str]]:
    """Make `dst`'s key slots those of `src` (a copy of the same repository, offsite): new
    slots are copied, and revoked ones removed, so that a key revoked here stops opening the
    offsite copy too. Returns (added, removed) slot object names."""
    want = {o.name: src.get(o.name) for o in src.list(SLOT_PREFIX)}
    if not want:
        return [], []  # never strip a copy bare because the source listed nothing
    have = {o.name for o in dst.list(SLOT_PREFIX)}
    added = []
    for name, data in want.items():
        if name not in have or dst.get(name) != data:
            dst.put(name, data)
            added.append(name)
    removed = sorted(have - set(want))
    for name in removed:
        dst.delete(name)
    return added, removed


# -- key files and recovery copies --------------------------------------------------------------
def new_key_file(repo_id: str) -> tuple[str, bytes]:
    """(text of a new key file, its secret)."""
    secret = os.urandom(32)
    text = (f"# reliad key file for repository {repo_id}\n"
            "# Without it (or another key of this repository) the backups cannot be restored:\n"
            "# keep a copy somewhere other than this host, readable only by you.\n"
            f"{KEY_FILE_TAG} {_b64(secret)}\n")
    return text, secret


def recovery_text(repo_id: str, data_key: bytes) -> str:
    return (f"# reliad RECOVERY KEY for repository {repo_id}\n"
            "# This is the data key itself: whoever has this text can read every backup of this\n"
            "# repository, past and future, and removing key slots does not change that.\n"
            "# Store it offline (printed, in a safe). Use it as a target's key_file to restore.\n"
            f"{DATA_KEY_TAG} {repo_id} {_b64(data_key)}\n")


def parse_key_file(data: bytes, source: str) -> Secret:
    """A key file: ours (tagged line), a recovery copy, or any file of at least 32 secret bytes."""
    lines = [ln.strip() for ln in data.splitlines() if ln.strip() and not ln.lstrip().startswith(b"#")]
    if not lines:
        raise ConfigError(f"{source} is empty; it should hold a reliad key")
    first = lines[0].split()
    try:
        if first[0] == KEY_FILE_TAG.encode() and len(first) == 2:
            return Secret("keyfile", _unb64(first[1].decode()), source)
        if first[0] == DATA_KEY_TAG.encode() and len(first) == 3:
            key = _unb64(first[2].decode())
            if len(key) != 32:
                raise ValueError("wrong length")
            return Secret("datakey", key, source, repo_id=first[1].decode())
    except (ValueError, UnicodeDecodeError):
        raise ConfigError(f"{source} is damaged: its key line is not valid") from None
    material = b"\n".join(lines)
    if len(material) < 32:
        raise ConfigError(f"{source} holds fewer than 32 bytes of secret; use 'reliad key add --new-key-file'")
    return Secret("keyfile", material, source)
