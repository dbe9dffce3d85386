"""The monthly report inside `reliad run`: on the 1st of each month (in [report] timezone) the
previous month's report is written into state_dir/reports/ in every configured format and
language; the next replication sends it offsite. A month missed while the service was down is
written when it starts again. The service attaches it (reliad/daemon/service.py, ATTACHMENTS);
the report wing knows nothing of the daemon."""

from __future__ import annotations

import logging
import threading

from reliad import audit
from reliad.config import Config
from reliad.daemon.protocol import ServiceHost
from reliad.errors import ReliadError
from reliad.timeutil import utcnow

log = logging.getLogger(__name__)
CHECK_EVERY_S = 600.0  # how often the thread looks whether a month is due (cheap: one stat)


class MonthlyReports:
    def __init__(self, service: ServiceHost) -> None:
        self.service = service
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, name="monthly-report", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=60)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            self.run_once(self.service.config)
            self.stopping.wait(CHECK_EVERY_S)

    def run_once(self, config: Config) -> None:
        """Write the previous month's reports if they are not there yet. A failure is logged and
        recorded in the audit log, and tried again at the next check."""
        from reliad.report.monthly import due_month, write_due

        if not config.report.monthly:
            return
        now = utcnow()
        month = due_month(config, now)
        if month is None:
            return
        try:
            written = write_due(config, now)
        except Exception as e:  # the service outlives a report that could not be made
            if not isinstance(e, ReliadError | OSError):
                log.exception("event=report_failed month=%s", month.label)
            log.error("event=report_failed month=%s error=%r", month.label, str(e))
            audit.record(config.state_dir, "daemon report", args={"month": month.label}, outcome="failed",
                         exit_code=1, error=str(e))
            return
        log.info("event=report_written month=%s files=%d", month.label, len(written))
        audit.record(config.state_dir, "daemon report", args={"month": month.label},
                     details={"files": [p.name for p in written]})


def attach(service: ServiceHost) -> None:
    reports = MonthlyReports(service)
    service.startup_hooks.append(lambda svc: reports.start())
    service.shutdown_hooks.append(lambda svc: reports.stop())
