"""A restore's data on disk: written back while the restore runs, and confirmed when it ends.

A restore that reports its files restored while they are still only in the page cache has
not restored them: a power cut in the next half minute leaves them empty or short (ext4
allocates blocks at writeback). So a restore ends by syncing every file system it wrote to,
and a write error the kernel reports there is a restore error. Left to that end, the sync
writes the whole restore at once while the cores wait; a thread that syncs the same file
systems every quarter second while the restore runs lets the disk write what the writers
made while the main thread decodes the next frames (docs/PERFORMANCE.md, "Restore").

`syncfs` writes back the whole file system, other programs' dirty pages included: on a file
system that a busy database shares, the restore makes its writes go out sooner, not more.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading

log = logging.getLogger(__name__)
INTERVAL = 0.25  # seconds between background syncs
_libc = ctypes.CDLL(None, use_errno=True)
_syncfs = getattr(_libc, "syncfs", None)  # Linux and glibc/musl; os has no syncfs


def syncfs(fd: int) -> None:
    """Write back the file system that holds `fd` and wait; OSError if the kernel reports a
    write error on it since `fd` was opened (Linux 5.8 and later report them here)."""
    if _syncfs is None:
        os.sync()  # no error report, but everything written
        return
    if _syncfs(fd) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


class Flusher:
    """Syncs the file systems of a restore's destination in a background thread, and once more
    at `finish`. The destination's own file system is known from the start; a directory the
    restore goes through that lies on another one (a mount point below DEST) is added by
    `watch`, so that what is written there is confirmed too."""

    def __init__(self, root_fd: int) -> None:
        self._fds: dict[int, int] = {}  # st_dev -> our own dup of a directory fd on it
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._errors: dict[int, OSError] = {}  # st_dev -> the first write error reported there
        self.watch(root_fd)
        self._thread = threading.Thread(target=self._run, name="reliad-flush", daemon=True)
        self._thread.start()

    def watch(self, dir_fd: int) -> None:
        """Add the file system of `dir_fd`, a directory the restore writes in, if it is new."""
        dev = os.fstat(dir_fd).st_dev
        if dev not in self._fds:
            with self._lock:
                self._fds[dev] = os.dup(dir_fd)

    def finish(self) -> list[str]:
        """Stop the thread, sync every file system once more and close; one sentence for each
        file system on which the kernel reported a write error, none when all is on disk."""
        self._halt()
        self._sync_all()
        self.close()
        return [f"the restored data could not all be written to disk: {e.strerror or e}"
                for e in self._errors.values()]

    def close(self) -> None:
        """Stop the thread and let go of the file systems (nothing is confirmed)."""
        self._halt()
        with self._lock:
            fds, self._fds = list(self._fds.values()), {}
        for fd in fds:
            os.close(fd)

    def _halt(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(INTERVAL):
            self._sync_all()

    def _sync_all(self) -> None:
        with self._lock:
            fds = list(self._fds.items())
        for dev, fd in fds:
            try:
                syncfs(fd)
            except OSError as e:  # kept for finish: syncfs reports each error once per open file
                log.warning("event=restore_sync_failed dev=%d error=%s", dev, e)
                self._errors.setdefault(dev, e)
