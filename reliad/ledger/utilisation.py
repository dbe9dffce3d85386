"""Host utilisation samples for R1: CPU, memory and disk use in percent, network in bytes per
second, taken with psutil once a minute and folded into hourly averages and peaks by the store."""

from __future__ import annotations

import time

import psutil


class Sampler:
    """CPU and network are rates, so each sample covers the time since the previous one."""

    def __init__(self) -> None:
        psutil.cpu_percent(interval=None)  # the first reading only sets the reference point
        self._net = self._net_bytes()
        self._t = time.monotonic()

    @staticmethod
    def _net_bytes() -> int:
        c = psutil.net_io_counters()
        return int(c.bytes_sent + c.bytes_recv) if c else 0

    @staticmethod
    def disk_percent() -> float:
        """The fullest local file system: the one that runs out first is the one that matters."""
        worst = 0.0
        for part in psutil.disk_partitions(all=False):
            try:
                worst = max(worst, psutil.disk_usage(part.mountpoint).percent)
            except OSError:  # a mount that vanished or cannot be read: not this sample's business
                continue
        return worst

    def sample(self) -> dict[str, float]:
        now, net = time.monotonic(), self._net_bytes()
        elapsed = max(now - self._t, 1e-6)
        rate = max(net - self._net, 0) / elapsed
        self._t, self._net = now, net
        return {"cpu": psutil.cpu_percent(interval=None), "memory": psutil.virtual_memory().percent,
                "disk": self.disk_percent(), "network": rate}
