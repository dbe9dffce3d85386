"""The reliability ledger inside `reliad run`: the watcher (reliad/ledger/watch.py) starts with
the service, takes the new [services] on reload and stops with it. It runs in threads of its
own, so probes never delay the backup schedule, and stores a copy of the ledger in the local
repositories every hour (replication takes it offsite); a ledger that cannot be opened is logged and
the backups go on (the ReliadLedgerCoverageLow alert reports the missing measurement)."""

from __future__ import annotations

import logging

from reliad.config import Config
from reliad.daemon.protocol import ServiceHost
from reliad.errors import ReliadError
from reliad.ledger import offsite
from reliad.ledger.watch import Watcher

log = logging.getLogger(__name__)


class LedgerAttachment:
    def __init__(self) -> None:
        self.watcher: Watcher | None = None

    def start(self, service: ServiceHost) -> None:
        try:
            self.watcher = Watcher(service.config.state_dir, service.config.services,
                                   export=lambda led: offsite.export(service.config, led))
            self.watcher.start()
        except ReliadError as e:
            self.watcher = None
            log.error("event=ledger_failed error=%r", str(e))

    def reload(self, new: Config) -> None:
        if self.watcher is not None:
            self.watcher.update(new.services)

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None


def attach(service: ServiceHost) -> None:
    ledger = LedgerAttachment()
    service.startup_hooks.append(ledger.start)
    service.reload_hooks.append(ledger.reload)
    service.shutdown_hooks.append(lambda svc: ledger.stop())
