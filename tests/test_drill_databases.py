"""Issue 14 with databases: a drill loads each dump of the backup into a scratch database named
for the drill (PostgreSQL and MariaDB on 127.0.0.1), runs the SQL checks against it, drops it,
and never touches the live database. A check against a server that is down is NOT_VERIFIED;
scratch databases of a drill killed with -9 are dropped when the next drill starts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import REPO_ROOT, Reliad, need_program
from dbutil import make_bank, maria_connect, maria_database, pg_connect, pg_database

CHECKS = """
[[drills.shop.checks]]
name = "pg accounts"
source = "pg"
sql = "SELECT count(*) FROM accounts"
expect = "= 20"
[[drills.shop.checks]]
name = "pg money"
source = "pg"
sql = "SELECT sum(balance) FROM accounts"
expect = ">= 20000"
[[drills.shop.checks]]
name = "maria accounts"
source = "maria"
sql = "SELECT count(*) FROM accounts"
expect = "> 0"
"""


@contextmanager
def shop(tmp_path: Path, drill: str = "") -> Iterator[tuple[Reliad, str, str]]:
    """A policy with files, a PostgreSQL and a MariaDB database (each a small bank)."""
    need_program("pg_restore")
    with pg_database() as pg, maria_database() as maria:
        con = pg_connect(pg)
        with con.cursor() as cur:
            make_bank(cur)
        con.close()
        mcon = maria_connect(maria)
        with mcon.cursor() as cur:
            make_bank(cur)
        mcon.close()
        files = tmp_path / "www"
        files.mkdir()
        (files / "index.html").write_text("<h1>shop</h1>")
        cfg = tmp_path / "reliad.toml"
        cfg.write_text(
            'state_dir = "state"\n[targets.local]\ntype = "local"\npath = "repo"\n'
            f'[policies.shop]\ntargets = ["local"]\nsources = [\n'
            f'  {{ type = "files", name = "www", paths = ["{files}"] }},\n'
            f'  {{ type = "postgres", name = "pg", host = "127.0.0.1", user = "postgres", databases = ["{pg}"] }},\n'
            f'  {{ type = "mariadb", name = "maria", host = "127.0.0.1", port = 3306, user = "root", '
            f'databases = ["{maria}"] }},\n]\n[drills.shop]\nstandby = "standby"\n{drill}{CHECKS}')
        try:
            yield Reliad(cfg), pg, maria
        finally:
            _drop_scratch(pg, maria)


def _scratch_pg(live: str) -> list[str]:
    con = pg_connect("postgres")
    try:
        rows = con.execute("SELECT datname FROM pg_database WHERE datname LIKE 'reliad_drill_%%' AND datname LIKE %s",
                           ("%" + live[:20] + "%",)).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def _scratch_maria(live: str) -> list[str]:
    con = maria_connect()
    try:
        with con.cursor() as c:
            c.execute("SHOW DATABASES")
            return [r[0] for r in c.fetchall() if r[0].startswith("reliad_drill_") and live[:20] in r[0]]
    finally:
        con.close()


def _drop_scratch(pg: str, maria: str) -> None:
    con = pg_connect("postgres")
    for db in _scratch_pg(pg):
        con.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    con.close()
    mcon = maria_connect()
    with mcon.cursor() as c:
        for db in _scratch_maria(maria):
            c.execute(f"DROP DATABASE `{db}`")
    mcon.close()


def test_dumps_load_into_scratch_databases_and_checks_query_them(tmp_path):
    with shop(tmp_path) as (r, pg, maria):
        r.run("backup", "shop", "--type", "full")
        # The live databases change after the backup: the checks must see the backup's state.
        con = pg_connect(pg)
        con.execute("DELETE FROM accounts")
        con.close()
        rec = json.loads(r.run("drill", "shop", "--scenario", "general", "--json").stdout)
        assert rec["verdict"] == "PASS", rec["reasons"]
        assert {p["name"]: p["outcome"] for p in rec["phases"]}["load"] == "ok"
        loaded = {(d["source"], d["database"]): d for d in rec["databases"]}
        assert set(loaded) == {("pg", pg), ("maria", maria)}
        for d in loaded.values():
            assert d["scratch"].startswith("reliad_drill_") and d["bytes"] > 0
        assert [(c["name"], c["outcome"]) for c in rec["checks"]] == [
            ("pg accounts", "PASS"), ("pg money", "PASS"), ("maria accounts", "PASS")]
        assert rec["checks"][0]["detail"] == "got 20, expected = 20"
        assert _scratch_pg(pg) == [] and _scratch_maria(maria) == []  # dropped in cleanup
        con = pg_connect(pg)
        assert con.execute("SELECT count(*) FROM accounts").fetchone()[0] == 0  # the live database untouched
        con.close()
        text = r.run("drill", "shop", "--scenario", "general").stdout
        assert "check 'maria accounts': PASS" in text


def test_check_against_a_database_that_is_down_is_not_verified(tmp_path):
    with shop(tmp_path, 'database_server = { pg = "host=127.0.0.1 port=1 user=postgres" }\n') as (r, _, _):
        r.run("backup", "shop", "--type", "full")
        proc = r.run("drill", "shop", "--scenario", "general", "--json", expect=1)
        rec = json.loads(proc.stdout)
        assert rec["verdict"] == "NOT_VERIFIED"
        outcomes = {c["name"]: c["outcome"] for c in rec["checks"]}
        assert outcomes == {"pg accounts": "NOT_VERIFIED", "pg money": "NOT_VERIFIED", "maria accounts": "PASS"}
        pg_check = rec["checks"][0]
        assert "were not loaded" in pg_check["detail"] and "port 1" in pg_check["detail"].replace("=", " ")
        assert any(reason.startswith("check 'pg accounts' did not run") for reason in rec["reasons"])
        assert rec["completeness"] == 1.0  # the files and dumps themselves were restored and proven


def test_killed_drill_leaves_scratch_databases_that_the_next_drill_drops(tmp_path):
    flag = tmp_path / "checks-started"
    wait = f'[[drills.shop.checks]]\nname = "slow"\ncommand = "touch {flag}; sleep 60"\n'
    with shop(tmp_path, "") as (r, pg, maria):
        r.config.write_text(r.config.read_text() + wait)
        r.run("backup", "shop", "--type", "full")
        proc = subprocess.Popen([sys.executable, "-m", "reliad", "drill", "shop", "--scenario", "general", "-c",
                                 str(r.config)], env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 240
        while not flag.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert flag.exists(), "the drill never reached its checks"
        assert len(_scratch_pg(pg)) == 1 and len(_scratch_maria(maria)) == 1  # left behind by the kill
        r.config.write_text(r.config.read_text().replace(wait, ""))
        rec = json.loads(r.run("drill", "shop", "--scenario", "general", "--json").stdout)
        assert rec["verdict"] == "PASS", rec["reasons"]
        assert _scratch_pg(pg) == [] and _scratch_maria(maria) == []
        assert any("interrupted" in n for n in rec["notes"])
