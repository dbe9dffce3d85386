"""Issue 7, point 6: with known secrets configured, every command's output, the logs, the
audit log, the catalog and the child processes' arguments are searched for them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import psutil
from dbutil import pg_database

from reliad.cli import main
from reliad.repository.keys import TEST_KDF_ENV
from tests.conftest import REPO_ROOT, Reliad, need_program

PASSPHRASE = "PASSPHRASE-correct-horse-4711"
NEW_PASSPHRASE = "NEWPASS-battery-staple-0815"
DB_PASSWORD = "DBPASS-s3cr3t-9z9z"


def _all_commands() -> list[str]:
    out = []

    def walk(group: click.Group, prefix: list[str]) -> None:
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            if isinstance(cmd, click.Group):
                walk(cmd, [*prefix, name])
            else:
                out.append(" ".join([*prefix, name]))

    walk(main, [])
    return sorted(out)


def _private(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)


def _children_args(proc: subprocess.Popen) -> list[str]:
    """Arguments of every process the command started, sampled until it ends."""
    seen: set[str] = set()
    parent = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            for p in [parent, *parent.children(recursive=True)]:
                seen.add(" ".join(p.cmdline()))
        except psutil.Error:
            pass
        time.sleep(0.01)
    return sorted(seen)


def test_no_secret_in_any_output_log_record_or_argument(tmp_path, src):
    need_program("pg_dump")
    with pg_database() as db:
        _private(tmp_path / "pass.txt", PASSPHRASE + "\n")
        _private(tmp_path / "db.pass", DB_PASSWORD + "\n")
        cfg = tmp_path / "reliad.toml"
        cfg.write_text(
            'state_dir = "state"\n\n'
            '[targets.local]\ntype = "local"\npath = "repo"\npassphrase_file = "pass.txt"\n\n'
            '[targets.vault]\ntype = "local"\npath = "vault"\nkey_file = "vault.key"\n\n'
            "[policies.shop]\nsources = [\n"
            f'  {{ type = "files", paths = ["{src}"] }},\n'
            f'  {{ type = "postgres", name = "pg", host = "127.0.0.1", user = "postgres", databases = ["{db}"], '
            'password_file = "db.pass" },\n]\ntargets = ["local"]\n')
        env = {TEST_KDF_ENV: "1", "NEW_PASS": NEW_PASSPHRASE, "PGPASSWORD": ""}
        r = Reliad(cfg)
        outputs: list[str] = []

        def run(*args: str, expect: int | None = 0) -> subprocess.CompletedProcess:
            proc = r.run(*args, "-vv", env=env, check=False, expect=expect)
            outputs.append(f"$ {' '.join(args)}\n{proc.stdout}\n{proc.stderr}")
            return proc

        run("init", "--target", "local")
        run("init", "--target", "vault")
        # The backup runs pg_dump: watch every process's arguments while it runs.
        cmd = [sys.executable, "-m", "reliad", "backup", "shop", "--type", "full", "--json", "-vv", "-c", str(cfg)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env})
        args_seen = _children_args(proc)
        out, err = proc.communicate()
        assert proc.returncode == 0, err
        assert any("pg_dump" in a for a in args_seen), args_seen
        outputs.append(out + err)
        bid = json.loads(out)["id"]
        run("backup", "shop")
        added = run("key", "add", "--target", "local", "--passphrase-env", "NEW_PASS", "--json")
        slot = json.loads(added.stdout)["slot"]["id"]
        done = {"init", "backup", "key add"}
        # Each command once, text or JSON (both paths print through the same places).
        table = {
            "list": [("list",), ("list", "shop", "--json")],
            "ls": [("ls", bid, "--json")],
            "restore": [("restore", bid, str(tmp_path / "out"))],
            "verify": [("verify", "--json"), ("verify", "--mode", "fast"), ("verify", "--mode", "byte", bid, "--json")],
            "catalog rebuild": [("catalog", "rebuild", "--json")],
            "check-config": [("check-config",)],
            "key list": [("key", "list", "--target", "local", "--json")],
            "key remove": [("key", "remove", slot, "--target", "local")],
            "audit show": [("audit", "show", "--json")],
            "audit verify": [("audit", "verify")],
            # its default file is HOST-YYYY-MM.LANG.pdf in the working directory (the checkout)
            "report": [("report", "--format", "md", "-o", str(tmp_path / "state" / "report.md"), "--json")],
        }
        for name in _all_commands():
            if name in done or name == "key export":
                continue
            if name == "run":  # the service runs until stopped: give it a moment, then SIGTERM
                svc = subprocess.Popen([sys.executable, "-m", "reliad", "run", "-vv", "-c", str(cfg)], text=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env})
                time.sleep(3)
                svc.send_signal(signal.SIGTERM)
                outputs.append("".join(svc.communicate(timeout=120)))
                continue
            for args in table.get(name, [(*name.split(), "--json")]):  # commands added later: run bare
                run(*args, expect=None)
        # Failures print errors: a wrong passphrase, a wrong database password.
        _private(tmp_path / "pass.txt", "not-the-passphrase\n")
        run("restore", bid, str(tmp_path / "out2"), expect=2)
        _private(tmp_path / "pass.txt", PASSPHRASE + "\n")
        # key export prints the data key on purpose, but nothing else secret.
        export = run("key", "export", "--target", "local")
        data_key = export.stdout.split()[-1]
        vault_key = (tmp_path / "vault.key").read_text().split()[-1]

        searched = {"output": "\n".join(outputs[:-1]), "export": export.stdout + export.stderr}
        for path in sorted((tmp_path / "state").rglob("*")):
            if path.is_file() and path.suffix != ".key":
                searched[str(path)] = path.read_bytes().decode("latin-1")
        for repo in ("repo", "vault"):
            for path in sorted((tmp_path / repo).rglob("*")):
                if path.is_file():
                    searched[str(path)] = path.read_bytes().decode("latin-1")
        searched["process arguments"] = "\n".join(args_seen)
        assert len(searched["output"]) > 1000 and any(p.endswith("audit.log") for p in searched)
        for secret in (PASSPHRASE, NEW_PASSPHRASE, DB_PASSWORD, vault_key):
            leaks = [where for where, text in searched.items() if secret in text]
            assert not leaks, (secret, leaks)
        leaks = [where for where, text in searched.items() if data_key in text and where != "export"]
        assert not leaks, leaks
