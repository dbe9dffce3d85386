"""Issue 7 as a new user tries it: an encrypted repository whose passphrase is a systemd
credential, backed up and copied offsite; the bucket shows neither contents nor names, a wrong
passphrase fails politely, a revoked key stops opening the offsite copy too, and the audit
log's copies in the bucket expose a log cut short on the host."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Reliad

from reliad.repository.keys import TEST_KDF_ENV

from .seaweed import SECRET_KEY, s3_config

NEEDLES = (b"Jane Doe", b"customer-jane-doe", b"DE89370400440532013000", b"sub/deeper", b"hello\n")


def _one_sentence(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def _key_source(cfg: Path, line: str) -> None:
    text = cfg.read_text()
    for target in ("[targets.local]\n", "[targets.offsite]\n"):
        head, _, rest = text.partition(target)
        body, sep, tail = rest.partition("\n\n")
        body = "\n".join(x for x in body.splitlines() if not x.startswith(("passphrase_", "key_")))
        text = head + target + body + f"\n{line}" + sep + tail
    cfg.write_text(text)


def test_encrypted_offsite_copy_reveals_nothing(tmp_path, weed, src, bucket):
    (src / "customer-jane-doe.txt").write_text("IBAN DE89370400440532013000 belongs to Jane Doe\n")
    creds = tmp_path / "credentials"
    creds.mkdir(mode=0o700)
    (creds / "reliad-pass").write_text("correct horse battery staple\n")
    (creds / "reliad-pass").chmod(0o400)
    env = {"CREDENTIALS_DIRECTORY": str(creds), TEST_KDF_ENV: "1", "NEW_PASS": "a new passphrase for the ops team"}
    cfg = s3_config(tmp_path, weed, src, bucket)
    _key_source(cfg, 'passphrase_credential = "reliad-pass"')
    r = Reliad(cfg)
    seen: list[str] = []
    run = r.run

    def recorded(*args, **kw):  # every output of this test is searched for the S3 secret at the end
        proc = run(*args, "-vv", **kw)
        seen.append(proc.stdout + proc.stderr)
        return proc

    r.run = recorded  # type: ignore[method-assign]
    full = r.json("backup", "shop", "--type", "full", env=env)
    assert full["replication"]["offsite"]["state"] == "replicated"
    r.run("ls", full["id"], env=env)
    r.json("backup", "shop", env=env)  # copies the audit records so far, then replicates them

    s3 = weed.client()
    names = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(n.startswith("web01/keys/") for n in names) and any(n.startswith("web01/audit/") for n in names)
    for name in names:
        data = s3.get_object(Bucket=bucket, Key=name)["Body"].read()
        for needle in (*NEEDLES, b"customer", str(src).encode()):
            assert needle not in data and needle.decode() not in name, (name, needle)

    # A wrong passphrase for the offsite copy: one sentence, exit 2, nothing restored.
    (creds / "reliad-pass").chmod(0o600)
    (creds / "reliad-pass").write_text("Tr0ub4dor&3\n")
    out = tmp_path / "out"
    proc = r.run("restore", full["id"], str(out), "--target", "offsite", env=env, expect=2)
    assert "does not open the repository" in _one_sentence(proc)
    assert not out.exists() or not any(out.iterdir())
    (creds / "reliad-pass").write_text("correct horse battery staple\n")

    # Rotate: a new passphrase, the old slot revoked; replication revokes it offsite too.
    old = next(s for s in r.json("key", "list", "--target", "local", env=env)["slots"] if s["in_use"])["id"]
    r.run("key", "add", "--target", "local", "--passphrase-env", "NEW_PASS", env=env)
    _key_source(cfg, 'passphrase_env = "NEW_PASS"')
    r.run("key", "remove", old, "--target", "local", env=env)
    r.run("replicate", env=env)
    assert not [n for n in (o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]) if n.endswith(old)]
    r.run("restore", full["id"], str(out), "--target", "offsite", env=env)
    assert (out / str(src).lstrip("/") / "customer-jane-doe.txt").read_text().endswith("Jane Doe\n")
    _key_source(cfg, 'passphrase_credential = "reliad-pass"')
    assert "does not open" in _one_sentence(r.run("ls", full["id"], "--target", "offsite", env=env, expect=2))
    _key_source(cfg, 'passphrase_env = "NEW_PASS"')

    # The host's audit log cut short: its copy in the bucket says so.
    assert r.json("audit", "verify", "--target", "offsite", env=env)["ok"]
    log = tmp_path / "state" / "audit.log"
    log.write_bytes(log.read_bytes().splitlines()[-1] + b"\n")
    report = r.json("audit", "verify", "--target", "offsite", env=env, expect=3)
    assert any("missing from the local log" in p for p in report["problems"])

    # The S3 secret key never reached an output, a log line or the audit log.
    assert len(seen) > 10 and not [o for o in seen if SECRET_KEY in o]
    assert SECRET_KEY not in log.read_text() and SECRET_KEY not in json.dumps(report)
