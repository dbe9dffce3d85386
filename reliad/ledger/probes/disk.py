"""`disk`: a mount keeps at least `min_free_percent` of its space (psutil) and
`min_free_inodes_percent` of its inodes (statvfs; psutil does not report inodes) free.
A full disk is a hardware-class failure by default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import psutil

from reliad.ledger.probes.base import ProbeFailed, ProbeType

DEFAULT_MIN_FREE = 10.0
DEFAULT_MIN_INODES = 5.0


def check(options: Mapping[str, Any], timeout: float) -> str:
    path = options["path"]
    try:
        usage = psutil.disk_usage(path)
        st = os.statvfs(path)
    except OSError as e:
        raise ProbeFailed(f"cannot read the file system at {path}: {e.strerror}") from None
    free = 100.0 - usage.percent
    inodes = 100.0 * st.f_favail / st.f_files if st.f_files else 100.0  # some file systems have no inode limit
    want, want_inodes = options.get("min_free_percent", DEFAULT_MIN_FREE), options.get("min_free_inodes_percent",
                                                                                       DEFAULT_MIN_INODES)
    if free < want:
        raise ProbeFailed(f"{path}: {free:.1f} % of the space is free, less than {want:g} %")
    if inodes < want_inodes:
        raise ProbeFailed(f"{path}: {inodes:.1f} % of the inodes are free, less than {want_inodes:g} %")
    return f"{free:.1f} % space and {inodes:.1f} % inodes free"


TYPE = ProbeType(name="disk", check=check)
