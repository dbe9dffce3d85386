"""What the database sources share: where their dumps appear in a backup, and running a
dump program whose output streams straight into the repository.

A dump has no place in the filesystem, so it gets a virtual path:
`_reliad/<source-name>/<file>`. The prefix sorts like any other path, so the dumps merge
into the policy's sorted entry stream beside files, and a plain `reliad restore ID DEST`
gives them back as `DEST/_reliad/<source-name>/...`.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import quote

from reliad.config import PolicyConfig, SourceConfig
from reliad.errors import ReliadError
from reliad.redact import register
from reliad.repository.manifest import VIRTUAL_ROOT, sort_key
from reliad.sources.base import SourceItem

_ERR_TAIL = 64 << 10
_PROGRAM = re.compile(r"^(?:pg_\w+|psql|mariadb(?:-dump)?|mysql(?:dump)?):\s*")


def where(policy: PolicyConfig, src: SourceConfig) -> str:
    return f"policy {policy.name!r}, source {src.name!r}"


def select_databases(ctx: str, wanted: list[str], present: list[str], everything: list[str]) -> list[str]:
    """The databases to dump: `everything` for ["all"], else the ones named, each of which must
    exist on the server (checked before any dump starts, so a typo fails the run at once)."""
    if wanted == ["all"]:
        return everything
    missing = [d for d in wanted if d not in present]
    if missing:
        raise ReliadError(f"{ctx}: database {missing[0]!r} does not exist on the server "
                          f"(it has: {', '.join(sorted(present)) or 'none'})")
    return wanted


def virtual_dir(source: str) -> bytes:
    return VIRTUAL_ROOT + b"/" + os.fsencode(source)


def virtual_name(name: str) -> str:
    """A database name as a file name: '/' and other awkward bytes percent-encoded."""
    out = quote(name, safe=" !#$&'()+,;=@[]^_`{}~-.")
    return "%2E" + out[1:] if out.startswith(".") else out


def made_up_stat(mode: int = 0o600, size: int = 0, mtime_ns: int | None = None) -> os.stat_result:
    """Metadata for content that is not a file: owned by us, dated now."""
    t = time.time_ns() if mtime_ns is None else mtime_ns
    sec = t // 10**9
    return os.stat_result((stat.S_IFREG | mode, 0, 0, 1, os.getuid(), os.getgid(), size, sec, sec, sec,
                           t / 1e9, t / 1e9, t / 1e9, t, t, t))


def with_dirs(source: str, files: list[SourceItem]) -> list[SourceItem]:
    """The items of one source in manifest order, led by their two virtual directories."""
    d = made_up_stat(0o700)
    d = os.stat_result((stat.S_IFDIR | 0o700, *tuple(d)[1:10], d.st_atime, d.st_mtime, d.st_ctime,
                        d.st_atime_ns, d.st_mtime_ns, d.st_ctime_ns))
    items = [SourceItem(path=VIRTUAL_ROOT, type="dir", st=d, source=source),
             SourceItem(path=virtual_dir(source), type="dir", st=d, source=source)]
    return items + sorted(files, key=lambda i: sort_key(i.path))


def find_program(names: Sequence[str], package: str, context: str) -> str:
    for n in names:
        path = shutil.which(n)
        if path:
            return path
    raise ReliadError(f"{context}: {' or '.join(names)} is not installed (install the {package} package)")


def first_error(stderr: str) -> str:
    """The line of a client program's stderr that says what went wrong, without its prefix."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    if not lines:
        return "no error message"
    pick = next((ln for ln in lines if "error" in ln.lower()), lines[0])
    pick = _PROGRAM.sub("", pick)
    for prefix in ("error:", "Got error:", "FATAL:"):
        if prefix in pick:
            pick = pick.split(prefix, 1)[1].strip()
    while pick[:1] in ("'", '"') and pick.count(pick[0]) == 1:
        pick = pick[1:]
    return pick.rstrip(".")


def run_client(argv: list[str], env: dict[str, str] | None, context: str, pass_fds: Sequence[int] = (),
               input: bytes | None = None, timeout: float = 120) -> str:
    """Run a short client command (listing databases, checking a target); its stdout."""
    try:
        p = subprocess.run(argv, input=input, capture_output=True, env=env, pass_fds=tuple(pass_fds),
                           timeout=timeout, check=False, stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ReliadError(f"{context}: {os.path.basename(argv[0])} did not answer within {timeout:.0f} s") from None
    if p.returncode != 0:
        raise ReliadError(f"{context}: {first_error(p.stderr.decode('utf-8', 'replace'))}")
    return p.stdout.decode("utf-8", "replace")


def feed_program(content: Iterable[bytes], argv: list[str], env: dict[str, str] | None, what: str,
                 pass_fds: tuple[int, ...] = ()) -> None:
    """Stream a dump into a program's stdin (pg_restore, the mariadb client) without a
    temporary copy; fail with the program's own error message. `pass_fds` are handed to
    the program and closed here."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err, env=env,
                                pass_fds=pass_fds)
        for fd in pass_fds:
            os.close(fd)
        assert proc.stdin is not None
        try:
            for block in content:
                proc.stdin.write(block)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # the program stopped reading: its exit status and message say why
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        rc = proc.wait()
        err.seek(0)
        message = err.read().decode("utf-8", "replace")
    if rc != 0:
        raise ReliadError(f"{what} failed: {first_error(message)}")


_RUNNING: dict[int, set[DumpProcess]] = {}  # dumps being read, by the thread reading them
_RUNNING_LOCK = threading.Lock()


def stop_dumps(thread_id: int, reason: str) -> int:
    """Stop the dump programs a thread is reading, and say why when it fails: a backup that
    waits in a read from a dump (pg_dump waiting for a table lock, a slow server) cannot
    notice a stop request itself, but sees the end of its input once the program is gone,
    and then fails with `reason`. Returns how many were stopped."""
    with _RUNNING_LOCK:
        dumps = list(_RUNNING.get(thread_id, ()))
    for d in dumps:
        d.stop(reason)
    return len(dumps)


class DumpProcess:
    """One dump program run, started when the archiver opens the item.

    Its stdout pipe is the item's content, so the dump streams into the repository as it is
    produced. stderr goes to an anonymous temporary file (small: messages only) so that a
    chatty program can never block on a full pipe. `prepare` runs just before the start
    and returns file descriptors to hand to the child (a password pipe, for example).
    """

    def __init__(self, what: str, argv: list[str], env: dict[str, str] | None,
                 prepare: Callable[[], list[int]] | None = None) -> None:
        self.what = what
        self.argv = argv
        self.env = env
        self.prepare = prepare
        self.proc: subprocess.Popen[bytes] | None = None
        self._err: tempfile._TemporaryFileWrapper[bytes] | None = None
        self._stopped: str | None = None
        self._reader = 0

    def stop(self, reason: str) -> None:
        self._stopped = reason
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    def open(self) -> int:
        fds = self.prepare() if self.prepare else []
        self._err = tempfile.TemporaryFile()  # noqa: SIM115 - closed in finish()
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=self._err, env=self.env, pass_fds=fds)
        except OSError as e:
            raise ReliadError(f"{self.what}: cannot start {self.argv[0]}: {e.strerror}") from None
        finally:
            for fd in fds:
                os.close(fd)
        assert self.proc.stdout is not None
        fd = os.dup(self.proc.stdout.fileno())
        self.proc.stdout.close()
        self._reader = threading.get_ident()
        with _RUNNING_LOCK:
            _RUNNING.setdefault(self._reader, set()).add(self)
        return fd

    def finish(self) -> None:
        assert self.proc is not None and self._err is not None
        rc = self.proc.wait()
        with _RUNNING_LOCK:
            _RUNNING.get(self._reader, set()).discard(self)
        if self._stopped:
            self._err.close()
            raise ReliadError(self._stopped)
        self._err.seek(0)
        err = self._err.read()[-_ERR_TAIL:].decode("utf-8", "replace")
        self._err.close()
        if rc != 0:
            how = f"exit code {rc}" if rc > 0 else f"signal {-rc}"
            raise ReliadError(f"{self.what} failed ({how}): {first_error(err)}; the backup was not recorded")

    def item(self, path: bytes, source: str, head: int = 0) -> SourceItem:
        return SourceItem(path=path, type="file", st=made_up_stat(), source=source, open=self.open,
                          stream=True, finish=self.finish, head=head)


def password_from(src: SourceConfig, context: str) -> str | None:
    """The password in `password_file` (its first line), or None when none is configured."""
    pf = src.options.get("password_file")
    if not pf:
        return None
    try:
        with open(pf, encoding="utf-8") as fh:
            password = fh.readline().rstrip("\r\n")
    except OSError as e:
        raise ReliadError(f"{context}: cannot read password_file {pf}: {e.strerror}") from None
    register(password)  # masked wherever it might be echoed (docs/SECURITY.md)
    return password
