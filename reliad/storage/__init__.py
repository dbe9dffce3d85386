"""Where repository objects live. Repositories talk to a `Storage`; only this package knows
whether that is a local directory or an object store."""

from reliad.storage.base import ObjectInfo, ObjectLockedError, Storage
from reliad.storage.local import LocalStorage

__all__ = ["LocalStorage", "ObjectInfo", "ObjectLockedError", "Storage"]
