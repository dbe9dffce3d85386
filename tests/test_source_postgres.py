"""The postgres source against the PostgreSQL server on 127.0.0.1:5432."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

from conftest import need_program
from dbutil import TransferWriter, check_bank, db_config, make_bank, pg_connect, pg_database, repo_bytes, table_rows

SHOP_SQL = [
    "CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE, "
    "meta jsonb, photo bytea, credit numeric(12, 2), joined timestamptz DEFAULT now())",
    "CREATE TABLE orders (id bigserial PRIMARY KEY, customer integer REFERENCES customers, lines text)",
    "INSERT INTO customers (name, email, meta, photo, credit) SELECT 'name ' || g, 'c' || g || '@shop.example', "
    "jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g)), decode(md5(g::text), 'hex'), g * 1.25 "
    "FROM generate_series(1, 2000) g",
    "INSERT INTO orders (customer, lines) SELECT 1 + g % 2000, "
    "(SELECT string_agg(md5((g * 100 + k)::text), ' ') FROM generate_series(1, 20) k) FROM generate_series(1, 8000) g",
    "CREATE VIEW big_customers AS SELECT * FROM customers WHERE credit > 1000",
    "CREATE FUNCTION order_count(c integer) RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM orders WHERE customer = c'",
]
TABLES = ["accounts", "transfers", "customers", "orders"]


def _pg_source(db: str, name: str = "pg", extra: str = "") -> str:
    return (f'{{ type = "postgres", name = "{name}", host = "127.0.0.1", user = "postgres", '
            f'databases = ["{db}"], classes = ["customers", "transactions"]{extra} }}')


def _setup(db: str) -> None:
    con = pg_connect(db)
    with con.cursor() as cur:
        make_bank(cur)
        for sql in SHOP_SQL:
            cur.execute(sql)
    con.close()


def _rows(db: str) -> dict:
    con = pg_connect(db)
    try:
        with con.cursor() as cur:
            return table_rows(cur, TABLES)
    finally:
        con.close()


def test_online_backup_restores_consistent_and_complete(tmp_path: Path) -> None:
    need_program("pg_dump")
    with pg_database() as db:
        _setup(db)
        reliad = db_config(tmp_path, [_pg_source(db)])
        writer = TransferWriter(lambda: pg_connect(db, autocommit=False))
        writer.start()
        writer.wait_for(20)
        before = writer.committed
        full = reliad.json("backup", "shop", "--type", "full")
        after = writer.finish()
        assert after > before  # the shop kept writing while the backup ran

        # Loaded into a new database: one consistent moment, every commit up to it.
        reliad.run("restore", full["id"], "--source", "pg", "--into", f"host=127.0.0.1 user=postgres dbname={db}_r1")
        con = pg_connect(f"{db}_r1")
        with con.cursor() as cur:
            check_bank(cur, before, after)
            cur.execute("SELECT order_count(5), (SELECT count(*) FROM big_customers)")
            assert cur.fetchone() == (4, 1200)
        con.close()

        # Quiet now: an incremental restores to exactly the source, table by table.
        inc = reliad.json("backup", "shop", "--type", "incremental")
        reliad.run("restore", inc["id"], "--source", "pg", "--into", f"postgresql://postgres@127.0.0.1/{db}_r2")
        assert _rows(f"{db}_r2") == _rows(db)


def test_dump_files_restore_and_tar_escape_hatch(tmp_path: Path) -> None:
    need_program("pg_restore")
    zstd, tar = need_program("zstd"), need_program("tar")
    with pg_database() as db:
        _setup(db)
        reliad = db_config(tmp_path, [_pg_source(db)])
        # the zstd | tar escape hatch is a property of plain (unencrypted) repositories
        reliad.config.write_text(reliad.config.read_text().replace('path = "repo"\n', 'path = "repo"\nencryption = false\n'))
        full = reliad.json("backup", "shop", "--type", "full")
        out = tmp_path / "out"
        reliad.run("restore", full["id"], str(out))
        dump = out / "_reliad" / "pg" / f"{db}.dump"
        assert (out / "_reliad" / "pg" / "globals.sql").read_text().count("CREATE ROLE") >= 1
        listing = subprocess.run(["pg_restore", "--list", str(dump)], capture_output=True, text=True, check=True)
        assert "TABLE DATA public orders" in listing.stdout

        # A full's packs are one tar stream; a dump comes out as numbered parts to concatenate.
        packs = sorted((tmp_path / "repo" / "data" / full["id"]).glob("*.pack"))
        plain = tmp_path / "plain"
        plain.mkdir()
        cat = subprocess.Popen([zstd, "-dc", *map(str, packs)], stdout=subprocess.PIPE)
        subprocess.run([tar, "-x", "-C", str(plain)], stdin=cat.stdout, check=True)
        assert cat.wait() == 0
        parts = sorted((plain / "_reliad" / "pg").glob(f"{db}.dump.part-*"))
        assert len(parts) > 1
        assert b"".join(p.read_bytes() for p in parts) == dump.read_bytes()

        proc = reliad.run("restore", full["id"], "--source", "pg", "--into", f"host=127.0.0.1 user=postgres dbname={db}",
                          expect=1)
        assert f"database '{db}' is not empty" in _one_sentence(proc)
        proc = reliad.run("restore", full["id"], "--source", "nope", "--into", "dbname=x", expect=1)
        assert "has no source 'nope'" in _one_sentence(proc)
        verified = reliad.json("verify", "--mode", "byte")
        assert verified["ok"] and not verified["changed"], verified  # dumps are checked, not compared with /_reliad
        data = json.loads(reliad.run("ls", full["id"], "--json").stdout)
        assert {d["path"] for d in data} >= {"/_reliad/pg/globals.sql", f"/_reliad/pg/{db}.dump"}


def test_unchanged_dump_is_not_stored_again(tmp_path: Path) -> None:
    with pg_database() as db:
        _setup(db)
        dsn = f"postgresql://postgres@127.0.0.1:5432/{db}"
        reliad = db_config(tmp_path, [f'{{ type = "postgres", name = "pg", dsn = "{dsn}", globals = false }}'])
        full = reliad.json("backup", "shop", "--type", "full")
        size0 = repo_bytes(tmp_path)
        same = reliad.json("backup", "shop", "--type", "incremental")
        # pg_dump writes its start time into the first bytes; nothing else is new.
        assert same["bytes_new"] <= 4096, same
        assert repo_bytes(tmp_path) - size0 < 8192
        con = pg_connect(db)
        con.execute("UPDATE customers SET name = 'changed' WHERE id = 1000")
        con.close()
        changed = reliad.json("backup", "shop", "--type", "differential")
        assert 4096 < changed["bytes_new"] < full["bytes_read"] // 2, changed
        reliad.run("restore", changed["id"], "--source", "pg", "--into", f"host=127.0.0.1 user=postgres dbname={db}_r")
        con = pg_connect(f"{db}_r")
        assert con.execute("SELECT name FROM customers WHERE id = 1000").fetchone() == ("changed",)
        con.close()


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _one_sentence(proc: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("reliad: error:")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_failures_are_one_sentence_and_never_recorded(tmp_path: Path) -> None:
    with pg_database() as db:
        _setup(db)
        port = _free_port()
        bad_port = db_config(tmp_path, [f'{{ type = "postgres", host = "127.0.0.1", port = {port}, '
                                        f'user = "postgres", databases = ["{db}"] }}'])
        msg = _one_sentence(bad_port.run("backup", "shop", "--type", "full", expect=1))
        assert "Connection refused" in msg and "cannot connect to PostgreSQL" in msg

        missing = db_config(tmp_path, [_pg_source(db + "_nope")])
        assert "does not exist" in _one_sentence(missing.run("backup", "shop", "--type", "full", expect=1))

        reliad = db_config(tmp_path, [_pg_source(db)])
        empty_path = tmp_path / "nobin"
        empty_path.mkdir()
        msg = _one_sentence(reliad.run("backup", "shop", "--type", "full", expect=1, env={"PATH": str(empty_path)}))
        assert "pg_dump is not installed" in msg and "postgresql-client" in msg

        # A pg_dump that writes its whole output and then exits non-zero: never recorded as good.
        shim = tmp_path / "shim"
        shim.mkdir()
        real = need_program("pg_dump")
        (shim / "pg_dump").write_text(f'#!/bin/sh\n"{real}" "$@"\necho "pg_dump: error: disk quota" >&2\nexit 3\n')
        (shim / "pg_dump").chmod(0o755)
        env = {"PATH": f"{shim}:{os.environ['PATH']}"}
        msg = _one_sentence(reliad.run("backup", "shop", "--type", "full", expect=1, env=env))
        assert f"pg_dump of database '{db}' failed (exit code 3): disk quota" in msg
        assert not list((tmp_path / "repo").glob("manifests/*"))
        runs = reliad.json("list")
        assert runs and all(r["status"] == "failed" for r in runs)


def test_password_reaches_the_environment_not_the_command_line(tmp_path: Path) -> None:
    with pg_database() as db:
        secret = "s3cret-" + db
        (tmp_path / "pg.pass").write_text(secret + "\n")
        shim = tmp_path / "shim"
        shim.mkdir()
        real = need_program("pg_dump")
        seen = tmp_path / "seen"
        (shim / "pg_dump").write_text(f'#!/bin/sh\necho "ARGV $*" >> "{seen}"\necho "ENV $PGPASSWORD" >> "{seen}"\n'
                                      f'exec "{real}" "$@"\n')
        (shim / "pg_dump").chmod(0o755)
        reliad = db_config(tmp_path, [_pg_source(db, extra=', password_file = "pg.pass"')])
        reliad.run("backup", "shop", "--type", "full", env={"PATH": f"{shim}:{os.environ['PATH']}"})
        lines = seen.read_text().splitlines()
        assert f"ENV {secret}" in lines
        assert not any(secret in ln for ln in lines if ln.startswith("ARGV"))


def test_config_refuses_a_password_in_the_dsn(tmp_path: Path) -> None:
    for dsn in ("postgresql://shop:secret@db.example/shop", "host=db.example password=secret dbname=shop"):
        reliad = db_config(tmp_path, [f'{{ type = "postgres", dsn = "{dsn}" }}'])
        proc = reliad.run("check-config", expect=2)
        assert "must not contain the password" in proc.stderr and "secret" not in proc.stderr.split("dsn")[-1]
    reliad = db_config(tmp_path, ['{ type = "postgres", host = "127.0.0.1" }'])
    assert "databases is required" in reliad.run("check-config", expect=2).stderr
    reliad = db_config(tmp_path, ['{ type = "postgres", host = "127.0.0.1", databases = ["all", "shop"] }'])
    assert 'or ["all"]' in reliad.run("check-config", expect=2).stderr
