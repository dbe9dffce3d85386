"""One line per event on stderr, `key=value` fields; journald stores stderr as is."""

from __future__ import annotations

import logging
import os
import sys

from reliad.redact import RedactingFilter

STAMPED = "%(asctime)s %(levelname)s %(name)s %(message)s"
BARE = "%(levelname)s %(name)s %(message)s"


def under_journald() -> bool:
    """Whether stderr is the journal, which stamps every line itself. systemd sets
    JOURNAL_STREAM=DEVICE:INODE for a service whose stderr it connected to the journal; as
    systemd.exec(5) advises, the pair is compared with stderr's own, so a process that inherited
    the variable but writes to a terminal or a file (`reliad run 2>log` from a unit's shell)
    still stamps its lines."""
    value = os.environ.get("JOURNAL_STREAM", "")
    dev, _, ino = value.partition(":")
    if not (dev.isdigit() and ino.isdigit()):
        return False
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


def setup_logging(verbose: int = 0, daemon: bool = False) -> None:
    """The service logs events at INFO; commands only warnings unless -v. Lines carry their
    time except in the journal, which adds its own."""
    level = logging.DEBUG if verbose > 1 else logging.INFO if (verbose or daemon) else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    fmt = BARE if daemon and under_journald() else STAMPED
    handler.setFormatter(logging.Formatter(fmt, "%Y-%m-%dT%H:%M:%S%z"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # tzlocal narrates its look-up of the host's time zone (for cron schedules) at DEBUG: not an
    # event of reliad's, and -vv must still show a failing command's error as its one sentence.
    logging.getLogger("tzlocal").setLevel(logging.INFO)
