"""The `image` source: a block device (an LVM or btrfs snapshot, say) or a disk image file.

It is read in large blocks like any file; the archiver asks a block device for its
capacity, and skips the holes of a sparse image file instead of reading them (see
`archiver._read_upto`). Restore writes all-zero blocks as holes, so the restored image is
sparse again. A block device's timestamps say nothing about its content, so it is read in
full every time and deduplicated by chunk against the base backup; an image file is
treated like any file (unchanged size and times: not read again).

A live device changes while it is read: point the source at a snapshot, taken and dropped
by the policy's `before` and `after` hooks.

Item: `_reliad/<source>/<file name of the device or image>`.
"""

from __future__ import annotations

import os
import stat

from reliad.config import PolicyConfig, SourceConfig
from reliad.errors import ReliadError
from reliad.sources.base import SourceItem
from reliad.sources.dump import made_up_stat, virtual_dir, virtual_name, where, with_dirs


def open_image(policy: PolicyConfig, src: SourceConfig, skip_dirs: list[object]) -> list[SourceItem]:
    ctx = where(policy, src)
    dev = src.paths[0]
    try:
        st = os.stat(dev)
    except OSError as e:
        raise ReliadError(f"{ctx}: cannot use image {dev}: {e.strerror}") from None
    if not (stat.S_ISBLK(st.st_mode) or stat.S_ISREG(st.st_mode)):
        raise ReliadError(f"{ctx}: {dev} is neither a block device nor a regular file")
    path = virtual_dir(src.name) + b"/" + os.fsencode(virtual_name(dev.name))

    def open_dev() -> int:
        try:
            return os.open(dev, os.O_RDONLY | os.O_CLOEXEC | os.O_NOATIME)
        except PermissionError:  # O_NOATIME needs ownership
            return os.open(dev, os.O_RDONLY | os.O_CLOEXEC)

    if stat.S_ISBLK(st.st_mode):
        item = SourceItem(path=path, type="file", st=made_up_stat(0o600), source=src.name, open=open_dev,
                          stream=True)
    else:
        item = SourceItem(path=path, type="file", st=st, source=src.name, open=open_dev)
    return with_dirs(src.name, [item])
