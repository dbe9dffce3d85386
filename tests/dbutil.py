"""Helpers for the database source tests: throwaway databases on the servers that run on
these machines, a writer that keeps transferring money while a backup runs, and table
comparison."""

from __future__ import annotations

import contextlib
import json
import random
import secrets
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REQUIRE_ALL, Reliad, need_program

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
MARIA = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
ACCOUNTS = 20
START_BALANCE = 1000


def _unavailable(what: str, e: Exception) -> None:
    if REQUIRE_ALL:
        pytest.fail(f"{what} is not reachable ({e}), and RELIAD_REQUIRE_ALL=1 forbids skipping")
    pytest.skip(f"{what} is not reachable: {e}")


def unique(prefix: str = "reliad_t") -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


def pg_connect(dbname: str, autocommit: bool = True) -> Any:
    import psycopg

    return psycopg.connect(dbname=dbname, autocommit=autocommit, **PG)


@contextlib.contextmanager
def pg_database(name: str | None = None) -> Iterator[str]:
    """A new, uniquely named PostgreSQL database, dropped afterwards (with any restore
    targets the test registered in the same name family)."""
    name = name or unique()
    for program in ("psql", "pg_dump", "pg_dumpall", "pg_restore"):
        need_program(program)
    try:
        admin = pg_connect("postgres")
    except Exception as e:
        _unavailable("PostgreSQL on 127.0.0.1:5432", e)
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        rows = admin.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (name + "%",)).fetchall()
        for (db,) in rows:
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()


def maria_connect(dbname: str | None = None, autocommit: bool = True) -> Any:
    import pymysql

    return pymysql.connect(database=dbname, autocommit=autocommit, **MARIA)


@contextlib.contextmanager
def maria_database(name: str | None = None) -> Iterator[str]:
    name = name or unique()
    need_program("mariadb")
    need_program("mariadb-dump")
    try:
        admin = maria_connect()
    except Exception as e:
        _unavailable("MariaDB on 127.0.0.1:3306", e)
    try:
        with admin.cursor() as c:
            c.execute(f"CREATE DATABASE `{name}`")
        yield name
    finally:
        with admin.cursor() as c:
            c.execute("SHOW DATABASES")
            for (db,) in c.fetchall():
                if db.startswith(name):
                    c.execute(f"DROP DATABASE `{db}`")
        admin.close()


def db_config(tmp_path: Path, sources: list[str], extra: str = "") -> Reliad:
    """A config whose policy `shop` has the given source tables (TOML inline tables)."""
    cfg = tmp_path / "reliad.toml"
    listed = ",\n  ".join(sources)
    cfg.write_text(
        'state_dir = "state"\n\n[targets.local]\ntype = "local"\npath = "repo"\n\n'
        f"[policies.shop]\nsources = [\n  {listed},\n]\ntargets = [\"local\"]\n{extra}"
    )
    return Reliad(cfg)


def repo_bytes(tmp_path: Path) -> int:
    return sum(p.stat().st_size for p in (tmp_path / "repo" / "data").rglob("*.pack"))


class TransferWriter(threading.Thread):
    """Moves money between accounts in transactions, one after another, until stopped.

    Each transaction updates two balances and logs the transfer with the next id, so a
    consistent snapshot has (a) the same total, (b) transfer ids 1..N without a gap and
    (c) balances that equal the replay of exactly those N transfers.
    """

    def __init__(self, connect: Callable[[], Any], placeholder: str = "%s") -> None:
        super().__init__(daemon=True)
        self.connect = connect
        self.p = placeholder
        self.committed = 0
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        rnd = random.Random(1)
        con = self.connect()
        p = self.p
        try:
            while not self.stop.is_set():
                a, b = rnd.sample(range(1, ACCOUNTS + 1), 2)
                amount = rnd.randint(1, 50)
                cur = con.cursor()
                cur.execute(f"UPDATE accounts SET balance = balance - {p} WHERE id = {p}", (amount, a))
                cur.execute(f"UPDATE accounts SET balance = balance + {p} WHERE id = {p}", (amount, b))
                cur.execute(f"INSERT INTO transfers (id, src, dst, amount) VALUES ({p}, {p}, {p}, {p})",
                            (self.committed + 1, a, b, amount))
                con.commit()
                self.committed += 1
        except BaseException as e:
            self.error = e
        finally:
            con.close()

    def wait_for(self, n: int) -> None:
        while self.committed < n and self.is_alive():
            self.stop.wait(0.01)
        assert self.error is None, self.error

    def finish(self) -> int:
        self.stop.set()
        self.join()
        assert self.error is None, self.error
        return self.committed


BANK_SQL = [
    "CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)",
    "CREATE TABLE transfers (id INTEGER PRIMARY KEY, src INTEGER NOT NULL, dst INTEGER NOT NULL, "
    "amount INTEGER NOT NULL)",
]


def make_bank(cur: Any, placeholder: str = "%s") -> None:
    for sql in BANK_SQL:
        cur.execute(sql)
    for i in range(1, ACCOUNTS + 1):
        cur.execute(f"INSERT INTO accounts (id, balance) VALUES ({placeholder}, {placeholder})", (i, START_BALANCE))


def check_bank(cur: Any, committed_before: int, committed_after: int) -> int:
    """The restored bank is one consistent moment between the two counts; returns N."""
    cur.execute("SELECT sum(balance), count(*) FROM accounts")
    total, n_accounts = cur.fetchone()
    assert (int(total), n_accounts) == (ACCOUNTS * START_BALANCE, ACCOUNTS), "the total is not constant"
    cur.execute("SELECT id, src, dst, amount FROM transfers ORDER BY id")
    transfers = cur.fetchall()
    n = len(transfers)
    assert [t[0] for t in transfers] == list(range(1, n + 1)), "a committed transfer is missing"
    assert committed_before <= n <= committed_after, (committed_before, n, committed_after)
    expected = dict.fromkeys(range(1, ACCOUNTS + 1), START_BALANCE)
    for _, a, b, amount in transfers:
        expected[a] -= amount
        expected[b] += amount
    cur.execute("SELECT id, balance FROM accounts ORDER BY id")
    assert {r[0]: r[1] for r in cur.fetchall()} == expected, "balances do not match the logged transfers"
    return n


def table_rows(cur: Any, tables: list[str], quote: str = '"') -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for t in tables:
        cur.execute(f"SELECT * FROM {quote}{t}{quote}")
        out[t] = sorted(tuple(json.dumps(v, sort_keys=True, default=str) for v in r) for r in cur.fetchall())
    return out
