"""`[services.NAME]`: defaults, every probe type, and one clear sentence for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliad.config import load_config
from reliad.config.services import PROBE_TYPES
from reliad.errors import ConfigError
from reliad.ledger.probes import TYPES

GOOD = """
state_dir = "state"

[services.shop]
interval = "30s"
objective = 99.5
maintenance = [{ cron = "0 3 * * sun", duration = "1h", reason = "weekly updates" }]
probes = [
  { type = "http", url = "https://shop.example/health", contains = "ok", timeout = "5s" },
  { type = "tcp", address = "127.0.0.1:6379", name = "redis" },
  { type = "command", command = ["/usr/local/bin/queue-ok"] },
  { type = "systemd", unit = "nginx.service" },
]

[services.db]
class = "software"
probes = [
  { type = "postgres", host = "127.0.0.1", user = "monitor", password_file = "pg.pw" },
  { type = "mariadb", host = "127.0.0.1", user = "root" },
]

[services.storage]
failures_to_open = 1
successes_to_close = 1
probes = [{ type = "raid", mdstat = "mdstat" }, { type = "disk", path = "/", min_free_percent = 15 }]
"""


def load(tmp_path: Path, text: str):
    cfg = tmp_path / "reliad.toml"
    cfg.write_text(text)
    cfg.chmod(0o600)
    return load_config(cfg)


def test_every_probe_type_has_its_keys_and_its_probe() -> None:
    assert PROBE_TYPES.keys() == TYPES.keys()


def test_services_with_defaults(tmp_path: Path) -> None:
    c = load(tmp_path, GOOD)
    shop, db, storage = c.services["shop"], c.services["db"], c.services["storage"]
    assert (shop.interval, shop.objective, shop.failures_to_open, shop.successes_to_close) == (30, 0.995, 3, 2)
    assert [p.name for p in shop.probes] == ["http https://shop.example/health", "redis",
                                             "command /usr/local/bin/queue-ok", "systemd nginx.service"]
    assert (shop.probes[0].timeout, shop.probes[1].timeout) == (5, 10)
    assert shop.maintenance[0].duration == 3600 and shop.maintenance[0].reason == "weekly updates"
    assert db.probes[0].options["password_file"] == str(tmp_path / "pg.pw")  # a reference, resolved
    assert db.interval == 60 and db.objective == 0.999
    assert [p.cls for p in storage.probes] == ["hardware", "hardware"]
    assert [p.cls for p in db.probes] == ["software", "software"]
    assert storage.probes[0].options["mdstat"] == str(tmp_path / "mdstat")


@pytest.mark.parametrize(("snippet", "message"), [
    ('[services.x]\nprobes = [{ type = "htp", url = "http://a/" }]',
     "services.x.probes[0].type 'htp' is unknown (did you mean 'http'?)"),
    ('[services.x]\nprobes = [{ type = "http" }]', "services.x.probes[0].url is required for a http probe"),
    ('[services.x]\nprobes = [{ type = "http", url = "ftp://a/" }]', "services.x.probes[0].url must start with http"),
    ('[services.x]\nprobes = [{ type = "tcp", address = "localhost" }]', "services.x.probes[0].address must be HOST:PORT"),
    ('[services.x]\nprobes = [{ type = "tcp", address = "a:1", colour = 1 }]', "unknown key services.x.probes[0].'colour'"),
    ('[services.x]\nprobes = [{ type = "postgres", dsn = "postgresql://u:secret@h/db" }]',
     "services.x.probes[0].dsn contains a password; put it in a file and name it in password_file"),
    ('[services.x]\nprobes = [{ type = "postgres", password = "secret" }]', "unknown key services.x.probes[0].'password'"),
    ('[services.x]\nprobes = []', "services.x.probes is required"),
    ('[services.x]\ninterval = "soon"\nprobes = [{ type = "tcp", address = "a:1" }]',
     'services.x.interval must be a duration like "10s"'),
    ('[services.x]\nobjective = 0.999\nprobes = [{ type = "tcp", address = "a:1" }]',
     "services.x.objective is a percentage like 99.9"),
    ('[services.x]\nclass = "network"\nprobes = [{ type = "tcp", address = "a:1" }]',
     "services.x.class must be software or hardware"),
    ('[services.x]\nfailures_to_open = 0\nprobes = [{ type = "tcp", address = "a:1" }]',
     "services.x.failures_to_open must be at least 1"),
    ('[services.x]\nprobes = [{ type = "tcp", address = "a:1" }, { type = "tcp", address = "a:1" }]',
     "two probes are named 'tcp a:1'"),
    ('[services.x]\nmaintenance = [{ cron = "every sunday", duration = "1h" }]\n'
     'probes = [{ type = "tcp", address = "a:1" }]',
     "services.x.maintenance[0].cron 'every sunday' is not a cron expression"),
    ('[services."bad name"]\nprobes = [{ type = "tcp", address = "a:1" }]', "service name 'bad name' may use only"),
])
def test_mistakes_are_one_sentence_naming_the_key(tmp_path: Path, snippet: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        load(tmp_path, f'state_dir = "state"\n{snippet}\n')
    assert message in str(e.value) and str(e.value).startswith(str(tmp_path / "reliad.toml"))
