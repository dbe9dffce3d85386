"""Issue 16, point 10: `restore --source S --into DSN` connects with the DSN's credentials only
(or --password-file for the target's user), never with the source user's password: that
password belongs to another account, which the target server must never be sent."""

from __future__ import annotations

import secrets
from pathlib import Path

from dbutil import db_config, make_bank, maria_connect, maria_database


def _user(cur, name: str, password: str | None, db: str) -> None:
    for host in ("%", "localhost"):
        if password is None:
            cur.execute("CREATE USER %s@%s", (name, host))
        else:
            cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (name, host, password))
        cur.execute(f"GRANT ALL ON `{db}%%`.* TO %s@%s", (name, host))


def test_restore_into_uses_the_dsn_credentials_only(tmp_path: Path) -> None:
    with maria_database() as db:
        owner, loader, keyed = (f"rt_{w}_{secrets.token_hex(3)}" for w in ("own", "load", "key"))
        owner_pw, keyed_pw = "own-" + secrets.token_hex(6), "key-" + secrets.token_hex(6)
        admin = maria_connect()
        with admin.cursor() as cur:
            _user(cur, owner, owner_pw, db)
            _user(cur, loader, None, db)  # an account without a password refuses one that is sent
            _user(cur, keyed, keyed_pw, db)
        try:
            con = maria_connect(db)
            with con.cursor() as cur:
                make_bank(cur)
            con.close()
            (tmp_path / "owner.pass").write_text(owner_pw + "\n")
            (tmp_path / "keyed.pass").write_text(keyed_pw + "\n")
            (tmp_path / "owner.pass").chmod(0o600)
            r = db_config(tmp_path, [f'{{ type = "mariadb", name = "maria", host = "127.0.0.1", user = "{owner}", '
                                     f'databases = ["{db}"], password_file = "owner.pass" }}'])
            bid = r.json("backup", "shop", "--type", "full")["id"]
            # the loader has no password: the source's must not be sent along
            r.run("restore", bid, "--source", "maria", "--into", f"mysql://{loader}@127.0.0.1:3306/{db}_a")
            # another user's password comes from --password-file
            r.run("restore", bid, "--source", "maria", "--into", f"mysql://{keyed}@127.0.0.1:3306/{db}_b",
                  "--password-file", str(tmp_path / "keyed.pass"))
            # and without it, that user is refused: the source's password is not tried instead
            proc = r.run("restore", bid, "--source", "maria", "--into", f"mysql://{keyed}@127.0.0.1:3306/{db}_c",
                         expect=1)
            assert "Access denied" in proc.stderr and "Traceback" not in proc.stderr
            assert owner_pw not in proc.stderr
            con = maria_connect(f"{db}_b")
            with con.cursor() as cur:
                cur.execute("SELECT COUNT(*) FROM accounts")
                assert cur.fetchone()[0] > 0
            con.close()
        finally:
            with admin.cursor() as cur:
                for name in (owner, loader, keyed):
                    for host in ("%", "localhost"):
                        cur.execute("DROP USER IF EXISTS %s@%s", (name, host))
            admin.close()
