"""Commands a policy runs around its backup, for example to take an LVM or btrfs snapshot
before and drop it after:

    [policies.shop.hooks]
    before = ["lvcreate -s -n shop-snap -L 5G vg0/shop"]
    after = ["lvremove -y vg0/shop-snap"]
    timeout = "5m"          # per command

Each command runs through /bin/sh in its own process group (a timeout kills the whole
group, children included), with RELIAD_POLICY, RELIAD_BACKUP_TYPE and, for `after`
commands, RELIAD_STATUS (ok or failed) in its environment. A failing `before` command fails
the run with its output in the error; `after` commands run even when the backup failed.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from typing import Any

from reliad.config import PolicyConfig, parse_seconds
from reliad.errors import ReliadError

log = logging.getLogger(__name__)
_SHOWN = 2000  # characters of a failing command's output kept in the error


def _tail(output: str) -> str:
    text = " ".join(output.split())
    return text if len(text) <= _SHOWN else "..." + text[-_SHOWN:]


def run_command(command: str | list[str] | tuple[str, ...], env: dict[str, str],
                timeout: float) -> tuple[int | None, str]:
    """Run a command (a string through /bin/sh, a list as is) in its own process group; its exit
    code (None when it was killed after `timeout` seconds) and its output, shortened. A program
    that does not exist gives 127, as the shell would."""
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env={**os.environ, **env}, start_new_session=True)
    except OSError as e:
        return 127, f"{argv[0]}: {e.strerror}"
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return None, _tail(out.decode("utf-8", "replace"))
    return proc.returncode, _tail(out.decode("utf-8", "replace"))


def run_hook(policy: PolicyConfig, phase: str, command: str, env: dict[str, str]) -> None:
    """Run one command; raise ReliadError naming it, its exit and its output when it fails."""
    timeout = parse_seconds(policy.options.get("hooks", {}).get("timeout", "5m"))
    log.info("event=hook_start policy=%s phase=%s command=%r", policy.name, phase, command)
    rc, out = run_command(command, env, timeout)
    if rc is None:
        raise ReliadError(f"policy {policy.name!r}: {phase} hook {command!r} did not finish within "
                          f"{timeout:g} s and was killed; output: {out or '(none)'}")
    if rc != 0:
        how = f"exit code {rc}" if rc > 0 else f"signal {-rc}"
        raise ReliadError(f"policy {policy.name!r}: {phase} hook {command!r} failed ({how}); output: "
                          f"{out or '(none)'}")
    log.info("event=hook_done policy=%s phase=%s command=%r", policy.name, phase, command)


def run_before(policy: PolicyConfig, backup_type: str) -> None:
    """Every `before` command in order; the first failure stops them and fails the run."""
    env = {"RELIAD_POLICY": policy.name, "RELIAD_BACKUP_TYPE": backup_type}
    for command in _commands(policy, "before"):
        run_hook(policy, "before", command, env)


def run_after(policy: PolicyConfig, backup_type: str, status: str) -> list[str]:
    """Every `after` command, even when one fails (each may release something different);
    returns the failures as sentences."""
    env = {"RELIAD_POLICY": policy.name, "RELIAD_BACKUP_TYPE": backup_type, "RELIAD_STATUS": status}
    failures = []
    for command in _commands(policy, "after"):
        try:
            run_hook(policy, "after", command, env)
        except ReliadError as e:
            log.error("event=hook_failed policy=%s phase=after error=%r", policy.name, str(e))
            failures.append(str(e))
    return failures


def _commands(policy: PolicyConfig, phase: str) -> list[Any]:
    return list(policy.options.get("hooks", {}).get(phase, []))
