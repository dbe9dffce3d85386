"""The issue's "new user" path for the ledger: `reliad run` watches a web server and a RAID array,
a real Prometheus loaded with the shipped scrape job and rules scrapes it, the web server is
stopped for a while, ReliadServiceDown and ReliadRaidDegraded fire, and every query of the
dashboard's reliability row answers."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

from ledger_support import Web

from tests.conftest import Reliad, need_program, write_config
from tests.test_monitoring import Prometheus, ReliadService, dashboard_queries, grafana_expand

DEGRADED = "Personalities : [raid1]\nmd0 : active raid1 sdb2[1](F) sda2[0]\n      1046528 blocks super 1.2 [2/1] [U_]\n"


def test_a_web_outage_fires_in_prometheus_and_fills_the_dashboard(tmp_path: Path, src: Path) -> None:
    web = Web()
    (tmp_path / "mdstat").write_text(DEGRADED)
    cfg = write_config(tmp_path / "reliad.toml", [str(src)], extra=f"""
[policies.shop.schedule]
full = "off"
differential = "off"
incremental = "off"
prune = "off"

[services.web]
interval = "1s"
failures_to_open = 2
successes_to_close = 2
probes = [{{ type = "http", url = "http://127.0.0.1:{web.port}/", timeout = "1s" }}]

[services.storage]
interval = "1s"
probes = [{{ type = "raid", mdstat = "mdstat" }}]
""")
    service = ReliadService(Reliad(cfg), tmp_path)
    service.start()
    prom = Prometheus(tmp_path, service.port)
    try:
        prom.wait("web up", lambda: prom.query('reliad_service_up{service="web"} == 1'))
        web.stop()

        def firing(name: str) -> list[dict]:
            return [a for a in prom.api("alerts")["alerts"] if a["state"] == "firing" and a["labels"]["alertname"] == name]

        down = prom.wait("ReliadServiceDown firing for web", lambda: {a["labels"]["service"] for a in
                                                                   firing("ReliadServiceDown")} == {"web", "storage"}
                         and firing("ReliadServiceDown"), limit_s=180)
        raid = prom.wait("ReliadRaidDegraded firing", lambda: firing("ReliadRaidDegraded"))
        assert raid[0]["labels"]["service"] == "storage"
        assert "reliad probe web" in next(a for a in down if a["labels"]["service"] == "web")["annotations"]["description"]
        web.start()
        prom.wait("web restored", lambda: prom.query('reliad_mtrs_seconds{class="software"}'), limit_s=120)
        prom.wait("web up again", lambda: prom.query('reliad_service_up{service="web"} == 1'))
        # what the service serves passes promtool's lint
        scrape = urllib.request.urlopen(f"http://127.0.0.1:{service.port}/metrics", timeout=10).read()
        lint = subprocess.run([need_program("promtool"), "check", "metrics"], input=scrape, capture_output=True)
        assert lint.returncode == 0 and b"reliad_availability_ratio" in scrape, lint.stdout + lint.stderr
        prom.wait("two scrapes of the incident counter",
                  lambda: prom.query('count_over_time(reliad_incidents_total{service="web"}[1m]) >= 2'))
        for title, expr in dashboard_queries(ledger=True):
            assert prom.query(grafana_expand(expr)), f"{title}: no series for {expr}"
        avail = prom.query('reliad_availability_ratio{service="web", window="30d"}')
        assert 0 < float(avail[0]["value"][1]) < 1
    finally:
        prom.stop()
        service.stop()
        web.stop()
