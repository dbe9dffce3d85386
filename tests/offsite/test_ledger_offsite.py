"""The ledger goes offsite with the backups and comes back after the host is lost (issue 13,
point 7): exported into the local repository, replicated to the bucket (sealed like everything
else there), restored from the bucket alone with `reliad ledger restore`."""

from __future__ import annotations

import socket
from pathlib import Path

from reliad.ledger.store import Ledger

from .seaweed import lose_the_host

DRILL = {"id": "drill-1", "policy": "shop", "scenario": "general", "backup_id": "b", "started_at": "2026-03-01T10:00:00Z",
         "finished_at": "2026-03-01T10:20:00Z", "verdict": "PASS", "recovery_time_s": 1200, "objective_s": 3600,
         "completeness": 1.0, "phases": [], "reasons": []}


def test_the_ledger_survives_the_loss_of_the_host(offsite, tmp_path: Path, weed, bucket: str) -> None:
    offsite.json("backup", "shop", "--type", "full")
    service = '\n[services.web]\nprobes = [{ type = "tcp", address = "127.0.0.1:9" }]\n'
    offsite.config.write_text(offsite.config.read_text() + service)
    offsite.run("incident", "add", "--service", "web", "--class", "hardware", "--start", "2026-03-04T02:10:00Z",
                "--end", "2026-03-04T05:40:00Z", "--cause", "disk controller burnt out")
    with Ledger(tmp_path / "state") as led:
        led.add_drill(DRILL)
    for _ in range(4):
        stored = offsite.json("ledger", "export")["stored"]
    host = socket.gethostname()
    assert list(stored) == ["local"] and stored["local"].startswith(f"ledger/{host}/")
    local_copies = sorted(p.name for p in (tmp_path / "repo" / "ledger" / host).iterdir())
    assert len(local_copies) == 3  # the oldest is dropped
    offsite.run("replicate", "--target", "offsite")
    client = weed.client()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="web01/ledger/")["Contents"]]
    assert sorted(k.rsplit("/", 1)[1] for k in keys) == local_copies
    body = client.get_object(Bucket=bucket, Key=keys[-1])["Body"].read()
    assert b"SQLite format 3" not in body and b"disk controller" not in body  # sealed like the backups

    # The host is lost; the configuration, the S3 credentials and the key kept elsewhere survive.
    lose_the_host(tmp_path, offsite.config)
    res = offsite.json("ledger", "restore", "--target", "offsite")
    assert (res["incidents"], res["drills"], res["replaced"]) == (1, 1, None)
    assert res["object"] == f"ledger/{host}/{local_copies[-1]}"
    (inc,) = offsite.json("incidents")["incidents"]
    assert (inc["class"], inc["cause"], inc["start"]) == ("hardware", "disk controller burnt out", "2026-03-04T02:10:00Z")
    with Ledger(tmp_path / "state") as led:
        assert led.drills() == [DRILL]

    # A second restore keeps the ledger it replaces beside it, never overwrites it.
    again = offsite.json("ledger", "restore", "--target", "offsite")
    assert again["replaced"] and Path(again["replaced"]).exists()
    # A target with no copy says so and changes nothing.
    proc = offsite.run("ledger", "restore", "--target", "offsite", "--host", "no-such-host", expect=1)
    assert "holds no copy of the ledger of host 'no-such-host'" in proc.stderr
