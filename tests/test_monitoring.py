"""The shipped monitoring files against the real tools: promtool checks and unit-tests the alert
rules, and a real Prometheus, configured from the shipped scrape snippet and rules, scrapes a
running reliad, answers every query of the Grafana dashboard, and fires the alert for a backup
that was broken on purpose (the "new user" scenario of docs/MONITORING.md)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT, Reliad, need_program

GRAFANA = REPO_ROOT / "grafana"
RULES = GRAFANA / "alerts" / "reliad-rules.yml"
DASHBOARD = GRAFANA / "dashboards" / "reliad.json"
SCRAPE = GRAFANA / "prometheus-scrape.yml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_alert_rules_pass_promtool() -> None:
    promtool = need_program("promtool")
    check = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    unit = subprocess.run([promtool, "test", "rules", "reliad-rules.test.yml"], cwd=RULES.parent,
                          capture_output=True, text=True)
    assert unit.returncode == 0, unit.stdout + unit.stderr
    # Every alert has a unit test.
    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r}
    tests = yaml.safe_load((RULES.parent / "reliad-rules.test.yml").read_text())["tests"]
    tested = {c["alertname"] for t in tests for c in t["alert_rule_test"]}
    assert alerts == tested
    for rule in (r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]):
        assert "Run first" in rule["annotations"]["description"] or "Run first" in rule["annotations"]["summary"]


def test_grafana_files_are_well_formed() -> None:
    dash = json.loads(DASHBOARD.read_text())
    names = [v["name"] for v in dash["templating"]["list"]]
    assert names[0] == "DS_PROMETHEUS" and dash["templating"]["list"][0]["type"] == "datasource"
    for p in dash["panels"]:
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${DS_PROMETHEUS}", p["title"]
            assert p["targets"], p["title"]
    prov = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "reliad.yaml").read_text())
    assert prov["providers"][0]["type"] == "file"
    promtool = need_program("promtool")
    check = subprocess.run([promtool, "check", "config", str(SCRAPE)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


# ------------------------------------------------------------------------ the real thing
class Prometheus:
    def __init__(self, tmp: Path, reliad_port: int) -> None:
        binary = need_program("prometheus")
        self.port = free_port()
        scrape = yaml.safe_load(SCRAPE.read_text())["scrape_configs"]
        scrape[0]["static_configs"] = [{"targets": [f"127.0.0.1:{reliad_port}"]}]
        scrape[0]["scrape_interval"] = "1s"
        scrape[0]["scrape_timeout"] = "1s"
        cfg = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
               "rule_files": [str(RULES)], "scrape_configs": scrape}
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(cfg))
        self.log = open(tmp / "prometheus.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [binary, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}"], stdout=self.log, stderr=subprocess.STDOUT)
        self.logfile = tmp / "prometheus.log"

    def api(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.loads(r.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.api("query", query=expr)["result"]

    def wait(self, what: str, check: Any, limit_s: float = 60) -> Any:
        """Poll until `check()` returns something truthy; the limit only stops a hung test."""
        deadline = time.monotonic() + limit_s
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited: {self.logfile.read_text()[-2000:]}")
            try:
                got = check()
            except (OSError, ValueError):
                got = None
            if got:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up waiting for {what}")
            time.sleep(0.5)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class ReliadService:
    """`reliad run` as a real subprocess, serving /metrics on a port of the test's choosing."""

    def __init__(self, reliad: Reliad, tmp: Path) -> None:
        self.port = free_port()
        self.tmp = tmp
        cfg = reliad.config
        cfg.write_text(cfg.read_text() + f'\n[metrics]\nlisten = "127.0.0.1:{self.port}"\n')
        self.cmd = [sys.executable, "-m", "reliad", "run", "-c", str(cfg)]
        self.proc: subprocess.Popen | None = None
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        self.log = self.tmp / f"reliad-run-{self.runs}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(self.cmd, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, stdout=out,
                                         stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                assert self.proc.wait(60) == 0, self.log.read_text()
            finally:
                if self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait()


@pytest.fixture
def service(reliad: Reliad, tmp_path: Path) -> Iterator[ReliadService]:
    svc = ReliadService(reliad, tmp_path)
    yield svc
    svc.stop()


LEDGER_ROW = "Reliability ledger"


def dashboard_queries(ledger: bool = False) -> list[tuple[str, str]]:
    """(panel title, query) of the backup rows, or with `ledger` of the reliability ledger's row
    (whose series need configured services; tests/test_ledger_monitoring.py checks those)."""
    dash = json.loads(DASHBOARD.read_text())
    out, in_ledger = [], False
    for p in dash["panels"]:
        if p["type"] == "row":
            in_ledger = p["title"].startswith(LEDGER_ROW)
        if in_ledger != ledger:
            continue
        for t in p.get("targets", []):
            out.append((p["title"], t["expr"]))
    return out


def grafana_expand(expr: str) -> str:
    """What Grafana sends for "All" selected and its interval macros."""
    expr = expr.replace("$__rate_interval", "1m").replace("$__interval", "15s").replace("$__range", "5m")
    return re.sub(r"\$(instance|policy)\b", ".*", expr)





def test_prometheus_scrapes_reliad_runs_the_dashboard_and_fires_alerts(
        reliad: Reliad, src: Path, tmp_path: Path, service: ReliadService) -> None:
    """The new user's path: reliad runs as a service, Prometheus scrapes it with the shipped job
    and rules, a backup is broken on purpose, the dashboard's "Last result" turns red and
    ReliadBackupFailed fires; after a restart of the service the history is still there."""
    from reliad.repository.lock import writer_lock

    need_program("prometheus")  # a skip after service.start() would stop the service mid-start
    # An offline copy whose media is never there: its `attach` command fails, so every backup
    # stays pending for it and the replication panels have something to show.
    cfg = reliad.config.read_text().replace('targets = ["local"]', 'targets = ["local", "usb"]')
    reliad.config.write_text(cfg + '\n[targets.usb]\ntype = "offline"\npath = "usb"\nattach = "false"\n')
    reliad.run("backup", "shop", "--type", "full")
    with writer_lock(tmp_path / "repo", "test holds the lock"):
        reliad.run("backup", "shop", "--type", "full", "--lock-wait", "0.2", expect=1)
    reliad.run("backup", "shop", "--type", "full")
    reliad.run("verify", "--mode", "fast")
    reliad.run("drill", "shop", "--scenario", "general")  # the drill panels need one drill to show
    # Break the backups on purpose: the source directory disappears. The service starts, finds
    # the differential and incremental overdue (only fulls were taken), runs them, and they fail.
    src.rename(tmp_path / "src-moved-away")
    service.start()
    prom = Prometheus(tmp_path, service.port)
    try:
        prom.wait("reliad scraped", lambda: [r for r in prom.query('up{job="reliad"}') if r["value"][1] == "1"])
        failed = prom.wait("a failed scheduled backup",
                           lambda: prom.query('reliad_backup_last_result{result="failed", type!="full"} == 1'))
        broken = {r["metric"]["type"] for r in failed}
        # What the service serves passes promtool's lint (names, units, types, help).
        scrape = urllib.request.urlopen(f"http://127.0.0.1:{service.port}/metrics", timeout=10).read()
        lint = subprocess.run([need_program("promtool"), "check", "metrics"], input=scrape, capture_output=True)
        assert lint.returncode == 0 and b"reliad_backup_last_result" in scrape, lint.stdout + lint.stderr
        # Two scrapes at least after it, so that increase() has its two samples.
        prom.wait("two scrapes", lambda: prom.query('count_over_time(reliad_backup_last_result{result="failed", '
                                                    'type!="full"}[1m]) >= 2'))

        # The dashboard's variables resolve to the policy.
        for var in json.loads(DASHBOARD.read_text())["templating"]["list"][1:]:
            m = re.match(r"label_values\((.*), (\w+)\)$", var["definition"])
            assert m, var["definition"]
            values = {r["metric"].get(m.group(2)) for r in prom.query(grafana_expand(m.group(1)))}
            assert values and None not in values, var["name"]

        # Every query of every panel runs and returns the series it is meant to show.
        for title, expr in dashboard_queries():
            result = prom.query(grafana_expand(expr))
            assert result, f"{title}: no series for {expr}"
            if "$policy" in expr:
                assert {r["metric"].get("policy") for r in result} == {"shop"}, (title, expr, result)
        pending = {r["metric"]["target"]: float(r["value"][1]) for r in prom.query(
            "reliad_replication_pending_backups")}
        assert pending == {"usb": 2}, pending  # the two fulls; the failed runs never reach replication
        lag = prom.query('reliad_replication_lag_seconds{target="usb"}')
        assert float(lag[0]["value"][1]) > 0
        next_runs = prom.query("reliad_scheduler_next_run_timestamp_seconds")
        assert {r["metric"]["type"] for r in next_runs} == {"full", "differential", "incremental"}

        # The "Last result" panel shows the broken types as failed (red) and the full as OK.
        last = {r["metric"]["type"]: r["value"][1] for r in prom.query(grafana_expand(
            next(e for t, e in dashboard_queries() if t == "Last result")))}
        assert last["full"] == "0" and all(last[t] == "1" for t in broken), last

        # The failed backup fires its alert; the fresh full keeps the age alert quiet.
        def firing() -> list[dict[str, Any]]:
            return [a for a in prom.api("alerts")["alerts"] if a["state"] == "firing"]

        alerts = prom.wait("ReliadBackupFailed firing", lambda: {a["labels"]["type"] for a in firing()} >= broken
                           and firing())
        assert {a["labels"]["alertname"] for a in alerts} == {"ReliadBackupFailed"}
        assert {(a["labels"]["policy"], a["labels"]["type"]) for a in alerts} == {("shop", t) for t in broken}
        assert "reliad list shop --json" in alerts[0]["annotations"]["description"]
        assert not [a for a in prom.api("alerts")["alerts"] if a["labels"]["alertname"] == "ReliadBackupTooOld"]

        # Restart: while the service is down the ReliadDown rule matches; once it is back, the
        # last success and the last results come from the catalog, not from zero.
        def full_success() -> float:
            return float(prom.query('reliad_backup_last_success_timestamp_seconds{type="full"}')[0]["value"][1])

        before = full_success()
        service.stop()
        prom.wait("ReliadDown pending", lambda: [a for a in prom.api("alerts")["alerts"]
                                                 if a["labels"]["alertname"] == "ReliadDown"])
        service.start()
        prom.wait("reliad scraped again", lambda: [r for r in prom.query('up{job="reliad"}') if r["value"][1] == "1"])
        assert full_success() == before
        last = {r["metric"]["type"]: r["value"][1] for r in prom.query(
            'reliad_backup_last_result{result="ok"}')}
        assert last["full"] == "1" and all(last[t] == "0" for t in broken), last
    finally:
        prom.stop()
