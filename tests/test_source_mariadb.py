"""The mariadb source against the MariaDB server on 127.0.0.1:3306."""

from __future__ import annotations

import secrets
from pathlib import Path

from conftest import need_program
from dbutil import TransferWriter, check_bank, db_config, make_bank, maria_connect, maria_database, repo_bytes, table_rows

SHOP_SQL = [
    "CREATE TABLE customers (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, "
    "photo BLOB, credit DECIMAL(12, 2), joined DATETIME(6)) ENGINE=InnoDB",
    "CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, customer INT, note TEXT) ENGINE=InnoDB",
    "INSERT INTO customers (name, photo, credit, joined) SELECT CONCAT('name ', seq), UNHEX(MD5(seq)), seq * 1.25, "
    "'2026-01-02 03:04:05.123456' FROM seq_1_to_3000",
    "CREATE TRIGGER customers_audit AFTER UPDATE ON customers FOR EACH ROW "
    "INSERT INTO audit (customer, note) VALUES (NEW.id, CONCAT('renamed to ', NEW.name))",
    "CREATE FUNCTION credit_of(c INT) RETURNS DECIMAL(12, 2) READS SQL DATA "
    "RETURN (SELECT credit FROM customers WHERE id = c)",
    "CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM audit WHERE id < 0",
]
TABLES = ["accounts", "transfers", "customers", "audit"]


def _source(db: str, extra: str = "") -> str:
    return (f'{{ type = "mariadb", name = "maria", host = "127.0.0.1", port = 3306, user = "root", '
            f'databases = ["{db}"], classes = ["transactions", "merchants"]{extra} }}')


def _setup(db: str) -> None:
    con = maria_connect(db)
    with con.cursor() as cur:
        make_bank(cur)
        for sql in SHOP_SQL:
            cur.execute(sql)
    con.close()


def _rows(db: str) -> dict:
    con = maria_connect(db)
    try:
        with con.cursor() as cur:
            return table_rows(cur, TABLES, quote="`")
    finally:
        con.close()


def test_online_backup_round_trip_with_routines_triggers_events(tmp_path: Path) -> None:
    need_program("mariadb-dump")
    with maria_database() as db:
        _setup(db)
        reliad = db_config(tmp_path, [_source(db)])
        writer = TransferWriter(lambda: maria_connect(db, autocommit=False))
        writer.start()
        writer.wait_for(20)
        before = writer.committed
        full = reliad.json("backup", "shop", "--type", "full")
        after = writer.finish()
        assert after > before

        reliad.run("restore", full["id"], "--source", "maria", "--into", f"mysql://root@127.0.0.1:3306/{db}_r1")
        con = maria_connect(f"{db}_r1")
        with con.cursor() as cur:
            check_bank(cur, before, after)
            cur.execute("SELECT credit_of(8)")
            assert str(cur.fetchone()[0]) == "10.00"
            cur.execute("UPDATE customers SET name = 'x' WHERE id = 1")  # the trigger came back too
            cur.execute("SELECT count(*) FROM audit")
            assert cur.fetchone()[0] == 1
            cur.execute("SELECT count(*) FROM information_schema.events WHERE event_schema = %s", (f"{db}_r1",))
            assert cur.fetchone()[0] == 1
        con.close()

        # Quiet now: restored table by table equal to the source; loading twice is refused.
        inc = reliad.json("backup", "shop", "--type", "incremental")
        reliad.run("restore", inc["id"], "--source", "maria", "--into", f"mariadb://root@127.0.0.1:3306/{db}_r2")
        assert _rows(f"{db}_r2") == _rows(db)
        proc = reliad.run("restore", inc["id"], "--source", "maria", "--into", f"mysql://root@127.0.0.1/{db}_r2",
                          expect=1)
        assert f"database '{db}_r2' is not empty" in proc.stderr


def test_unchanged_dump_is_not_stored_again(tmp_path: Path) -> None:
    with maria_database() as db:
        _setup(db)
        reliad = db_config(tmp_path, [_source(db)])
        full = reliad.json("backup", "shop", "--type", "full")
        size0 = repo_bytes(tmp_path)
        same = reliad.json("backup", "shop", "--type", "incremental")
        assert same["bytes_new"] == 0 and same["bytes_read"] == full["bytes_read"], same
        assert repo_bytes(tmp_path) == size0
        con = maria_connect(db)
        with con.cursor() as cur:
            cur.execute("INSERT INTO accounts VALUES (999, 5)")
        con.close()
        changed = reliad.json("backup", "shop", "--type", "incremental")
        assert changed["bytes_new"] > 0 and repo_bytes(tmp_path) > size0


def test_password_file_and_wrong_password(tmp_path: Path) -> None:
    with maria_database() as db:
        user, password = f"rt_{secrets.token_hex(3)}", "pw'\"\\" + secrets.token_hex(4)
        admin = maria_connect()
        with admin.cursor() as cur:
            cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
            cur.execute("CREATE USER %s@'localhost' IDENTIFIED BY %s", (user, password))
            cur.execute(f"GRANT ALL ON `{db}`.* TO %s@'%%'", (user,))
            cur.execute(f"GRANT ALL ON `{db}`.* TO %s@'localhost'", (user,))
        try:
            con = maria_connect(db)
            with con.cursor() as cur:
                make_bank(cur)
            con.close()
            (tmp_path / "good.pass").write_text(password + "\n")
            (tmp_path / "bad.pass").write_text("wrong\n")
            (tmp_path / "good.pass").chmod(0o644)
            base = (f'{{ type = "mariadb", name = "maria", host = "127.0.0.1", user = "{user}", '
                    f'databases = ["{db}"], password_file = "%s" }}')
            # "all" means every database the user can see: here only its own.
            good = db_config(tmp_path, [(base % "good.pass").replace(f'["{db}"]', '["all"]')])
            assert any("good.pass can be read by other users" in w for w in good.json("check-config")["warnings"])
            full = good.json("backup", "shop", "--type", "full")
            listed = [e["path"] for e in good.json("ls", full["id"]) if e["type"] == "file"]
            assert listed == [f"/_reliad/maria/{db}.sql"]
            bad = db_config(tmp_path, [base % "bad.pass"])
            proc = bad.run("backup", "shop", "--type", "full", expect=1)
            lines = proc.stderr.strip().splitlines()
            assert len([ln for ln in lines if ln.startswith("reliad: error:")]) == 1, proc.stderr
            assert "cannot connect to mariadb" in proc.stderr and "Access denied" in proc.stderr
            assert "Traceback" not in proc.stderr
        finally:
            with admin.cursor() as cur:
                cur.execute("DROP USER %s@'%%'", (user,))
                cur.execute("DROP USER %s@'localhost'", (user,))
            admin.close()
