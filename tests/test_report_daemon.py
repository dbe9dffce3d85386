"""The service writes the previous month's report on its own: into state_dir/reports/, in every
configured format and language, once, with an audit record (a real `reliad run`)."""

from __future__ import annotations

import datetime as dt
import json
import socket
from pathlib import Path

from daemon_support import Daemon, config, wait_for

from reliad.report.period import previous_month


def test_the_service_writes_last_months_report_once_and_records_it(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a\n")
    cfg = config(tmp_path, [src], 'full = "off"\nincremental = "off"\ndifferential = "off"',
                 extra='\n[report]\nformats = ["md", "json"]\nlanguages = ["en", "zh-CN"]\ntimezone = "UTC"\n')
    month = previous_month(dt.datetime.now(dt.UTC), dt.UTC)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    first_use = (month.start + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")  # reliad was in use then
    (state / "audit.log").write_text(json.dumps({"seq": 1, "time": first_use, "command": "backup"}) + "\n")
    host = socket.gethostname()
    reports = state / "reports"
    d = Daemon(tmp_path, cfg)
    try:
        done = wait_for("the month's report", lambda: (reports / f"{host}-{month.label}.json").exists(),
                        timeout=600, proc=d)
        assert done
        names = sorted(p.name for p in reports.iterdir())
        assert names == sorted([f"{host}-{month.label}.json", f"{host}-{month.label}.en.md",
                                f"{host}-{month.label}.zh-CN.md"])
        data = json.loads((reports / f"{host}-{month.label}.json").read_text())
        assert data["month"] == month.label and data["host"] == host and len(data["summary"]) == 13
        assert "# Monthly availability report" in (reports / f"{host}-{month.label}.en.md").read_text()
        records = [json.loads(line) for line in (state / "audit.log").read_text().splitlines()]
        wrote = [r for r in records if r.get("command") == "daemon report"]
        assert len(wrote) == 1 and wrote[0]["args"]["month"] == month.label
    finally:
        assert d.stop() == 0
