"""One line per event on stderr, `key=value` fields; journald stores stderr as is."""

from __future__ import annotations

import logging
import sys

from reliad.redact import RedactingFilter


def setup_logging(verbose: int = 0, daemon: bool = False) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if (verbose or daemon) else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    fmt = "%(levelname)s %(name)s %(message)s" if daemon else "%(asctime)s %(levelname)s %(name)s %(message)s"
    handler.setFormatter(logging.Formatter(fmt, "%Y-%m-%dT%H:%M:%S"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # tzlocal narrates its look-up of the host's time zone (for cron schedules) at DEBUG: not an
    # event of reliad's, and -vv must still show a failing command's error as its one sentence.
    logging.getLogger("tzlocal").setLevel(logging.INFO)
