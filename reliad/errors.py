"""Exceptions that carry the process exit code a user or script should see.

Expected failures are raised as one of these and printed as one sentence by the CLI;
anything else is a bug and keeps its traceback.
"""


class ReliadError(Exception):
    """An operation failed (exit 1)."""

    exit_code = 1


class ConfigError(ReliadError):
    """The configuration or the command line is wrong (exit 2)."""

    exit_code = 2


class RepositoryError(ReliadError):
    """The repository is missing, unreadable or not in a format we understand."""


class NoRepositoryError(RepositoryError):
    """There is no repository where one was expected (not created yet, or its disk is not mounted)."""


class LockError(ReliadError):
    """Another process holds the repository lock."""


class DamageError(ReliadError):
    """A stored object failed its checks (exit 3 when it reaches the CLI)."""

    exit_code = 3
