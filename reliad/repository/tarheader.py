"""Tar headers for a full backup's stream, fast for the common case.

`tarfile.TarInfo.tobuf` costs tens of microseconds per call, which is most of the time a
backup of many small files spends per file. Nearly every entry has an ASCII path of at most
100 bytes and numbers that fit the octal fields, and then the PAX header tarfile writes is
exactly one ustar block; `header` builds that block directly, byte for byte what tarfile
writes, and hands everything else (long or non-ASCII names, huge numbers) to tarfile.
"""

from __future__ import annotations

import os
import tarfile

_NUL = b"\0"
_MAGIC = tarfile.POSIX_MAGIC  # b"ustar\x0000"
_MAGIC_SUM = sum(_MAGIC)
_OWNER_NAMES = bytes(64)  # uname and gname, left empty as reliad's TarInfo leaves them
_PREFIX_PAD = bytes(155 + 12)  # prefix (unused by PAX format) and the block's padding
_DEVICES = (tarfile.CHRTYPE, tarfile.BLKTYPE)
_NO_DEVICE = bytes(16)  # devmajor and devminor stay empty for other types
_MAX7 = 8**7
_MAX11 = 8**11


def header(name: bytes, type_: bytes, mode: int, uid: int, gid: int, size: int, mtime: int,
           linkname: bytes = b"", devmajor: int = 0, devminor: int = 0) -> bytes:
    """One member's header as `tarfile` writes it in PAX_FORMAT for the path `name`
    (raw bytes, as `os.fsdecode` and utf-8/surrogateescape round-trip them)."""
    if type_ == tarfile.DIRTYPE and not name.endswith(b"/"):
        name += b"/"
    if (len(name) <= 100 and len(linkname) <= 100 and name.isascii() and linkname.isascii()
            and 0 <= uid < _MAX7 and 0 <= gid < _MAX7 and 0 <= size < _MAX11 and 0 <= mtime < _MAX11
            and 0 <= devmajor < _MAX7 and 0 <= devminor < _MAX7):
        nums = b"%07o\0%07o\0%07o\0%011o\0%011o\0" % (mode & 0o7777, uid, gid, size, mtime)
        dev = b"%07o\0%07o\0" % (devmajor, devminor) if type_ in _DEVICES else _NO_DEVICE
        # the checksum counts its own field as 8 spaces (256); NUL padding adds nothing
        chk = 256 + sum(name) + sum(nums) + type_[0] + sum(linkname) + _MAGIC_SUM + sum(dev)
        return b"".join((name.ljust(100, _NUL), nums, b"%06o\0 " % chk, type_, linkname.ljust(100, _NUL), _MAGIC,
                         _OWNER_NAMES, dev, _PREFIX_PAD))
    ti = tarfile.TarInfo(os.fsdecode(name))
    ti.type, ti.mode, ti.uid, ti.gid, ti.size, ti.mtime = type_, mode, uid, gid, size, mtime
    ti.linkname, ti.devmajor, ti.devminor = os.fsdecode(linkname), devmajor, devminor
    return ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
