"""The fleet report against a real S3 server: a host's replication leaves its month summary at the
top of the shared bucket, and `reliad report --fleet` renders one platform report from every
host's summary there, without access to the hosts."""

from __future__ import annotations

import copy
import json
import re
import socket
import subprocess
from pathlib import Path

from conftest import Reliad, need_program

from reliad.config import load_config
from reliad.report import model, monthly
from reliad.targets import FLEET_PREFIX, fleet_storage

from .seaweed import Weed


def host_model(host: str, state_dir: Path) -> dict:
    """A month's model of `host`, from the known month's figures."""
    from test_report_render import month_model

    state_dir.mkdir()
    m = copy.deepcopy(month_model(state_dir))
    m["host"] = host
    return m if host == socket.gethostname() else _all_offsite_failed(m)


def _all_offsite_failed(m: dict) -> dict:
    """The second host's month: nothing reached the offsite target (R7 fails there)."""
    for r in m["summary"]:
        if r["clause"] == "R7":
            r.update(verdict="FAIL", reason=model.reason("why.nothing_offsite"), actual=model.reason("actual.local_only"))
    return m


def test_a_hosts_summary_goes_offsite_and_the_fleet_report_reads_every_host(tmp_path: Path, weed: Weed, src: Path,
                                                                            bucket: str) -> None:
    from .seaweed import s3_config

    r = Reliad(s3_config(tmp_path, weed, src, bucket))
    config = load_config(r.config)
    here = socket.gethostname()
    mine = host_model(here, tmp_path / "month-a")
    written = monthly.write_month(mine, config.state_dir / "reports", ("json", "pdf"), ("zh-CN",))
    assert [p.name for p in written] == [f"{here}-2026-11.json", f"{here}-2026-11.zh-CN.pdf"]
    r.run("backup", "shop", "--type", "full")  # its replication carries the reports along

    storage = fleet_storage(config.target("offsite"))
    try:
        names = sorted(o.name for o in storage.list(FLEET_PREFIX))
        assert names == [f"{FLEET_PREFIX}{here}/{p.name}" for p in written]  # at the bucket's top, not under web01/
        assert json.loads(storage.get(f"{FLEET_PREFIX}{here}/{here}-2026-11.json")) == mine
        other = host_model("web02", tmp_path / "month-b")  # what web02's replication left there
        storage.put(f"{FLEET_PREFIX}web02/web02-2026-11.json", json.dumps(other).encode())
    finally:
        storage.close()

    out = r.json("report", "--fleet", "--target", "offsite", "--month", "2026-11", "--format", "pdf", "--lang", "zh-CN",
                 "-o", str(tmp_path / "platform.pdf"))
    assert out["ok"] and out["verdict"] == "FAIL"
    verdicts = {row["clause"] + row["topic"]: row["verdict"] for row in out["summary"]}
    assert verdicts["R7locations"] == "FAIL"  # web02's, the worst of the two
    text = subprocess.run([need_program("pdftotext"), "-layout", str(tmp_path / "platform.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    page_one = re.sub(r"\s+", " ", text.split("\f")[0])
    assert "平台各主机" in page_one and here in page_one and "web02" in page_one
    assert "web02：本月的备份均未复制到异地" in re.sub(r"\s+", "", page_one)  # the row names the host it comes from
    assert f"{here}/shop-web" in text and "web02/shop-web" in text  # every host's services in (b)

    data = json.loads(r.run("report", "--fleet", "--target", "offsite", "--month", "2026-11", "--format", "json",
                            "-o", "-").stdout)
    assert [h["host"] for h in data["hosts"]] == sorted([here, "web02"])


def test_a_fleet_report_of_a_month_no_host_sent_says_so(tmp_path: Path, weed: Weed, src: Path, bucket: str) -> None:
    from .seaweed import s3_config

    r = Reliad(s3_config(tmp_path, weed, src, bucket))
    proc = r.run("report", "--fleet", "--target", "offsite", "--month", "2026-10", expect=1)
    assert "no host has a summary of 2026-10 in the bucket yet" in proc.stderr and "Traceback" not in proc.stderr
    proc = r.run("report", "--fleet", "--month", "2026-10", expect=2)
    assert "--fleet needs --target" in proc.stderr
