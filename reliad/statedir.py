"""The state directory (catalog, audit log, generated key files): private to the service user."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from reliad.errors import ConfigError

log = logging.getLogger(__name__)


def ensure_state_dir(path: Path) -> Path:
    """Create the state directory 0700, or tighten an existing one we own to 0700.

    systemd's StateDirectory= and a plain mkdir both default to 0755, which would let every
    local user read the catalog and the audit log; fixing that quietly is kinder than refusing.
    One owned by somebody else is refused, since its owner could loosen it again.
    """
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = path.stat()
    except OSError as e:
        raise ConfigError(f"cannot create the state directory {path}: {e.strerror}") from None
    if st.st_mode & 0o077:
        if st.st_uid != os.geteuid():
            raise ConfigError(f"state directory {path} is owned by uid {st.st_uid} and open to other users "
                              f"(mode {st.st_mode & 0o777:04o}); make it 0700 and owned by the reliad user")
        os.chmod(path, 0o700)
        log.warning("event=state_dir_tightened path=%s old_mode=%04o new_mode=0700", path, st.st_mode & 0o777)
    return path
