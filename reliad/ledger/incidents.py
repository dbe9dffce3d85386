"""What an operator may do to incidents and maintenance windows (`reliad incident ...`,
`reliad maintenance ...`): checked here, below the command line, so that every way in gets the
same rules. Every change lands in the incident's timeline; the command leaves the audit record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reliad.config import Config
from reliad.errors import ConfigError, ReliadError
from reliad.ledger.store import Ledger
from reliad.timeutil import utcnow

CLASSES = ("software", "hardware")


def parse_time(text: str, what: str) -> datetime:
    """An operator's time: ISO 8601 ("2026-03-04T02:10:00Z", "2026-03-04 02:10+01:00", "2026-03-04";
    UTC when no offset is given), "now" or "today" (its midnight, UTC)."""
    if text == "now":
        return utcnow().replace(microsecond=0)
    if text == "today":
        return utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{what} {text!r} is not a time; use ISO 8601 like 2026-03-04T02:10:00Z, now or today") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _known_service(ledger: Ledger, config: Config, service: str) -> None:
    known = set(config.services) | ledger.service_names()
    if service != "*" and service not in known:
        raise ConfigError(f"no service {service!r} in the configuration or the ledger; "
                          f"known: {', '.join(sorted(known)) or 'none'}")


def _check_class(cls: str | None) -> None:
    if cls is not None and cls not in CLASSES:
        raise ConfigError(f"--class must be software or hardware, not {cls!r}")


def _check_order(fields: dict[str, datetime | None], start: datetime) -> None:
    for key in ("detected_at", "repaired_at", "restored_at"):
        t = fields.get(key)
        if t is not None and t < start:
            raise ConfigError(f"{key.replace('_at', '')} time {t:%Y-%m-%dT%H:%M:%SZ} is before the incident's start "
                              f"{start:%Y-%m-%dT%H:%M:%SZ}")


def add(ledger: Ledger, config: Config, *, service: str, cls: str, start: datetime, end: datetime | None,
        **fields: Any) -> dict[str, Any]:
    """An outage seen elsewhere (origin "operator"); with `end`, already restored."""
    if service == "*":
        raise ConfigError("an incident belongs to one service; name it with --service")
    _known_service(ledger, config, service)
    _check_class(cls)
    values = {k: v for k, v in {**fields, "restored_at": end}.items() if v is not None}
    _check_order(values, start)
    iid = ledger.open_incident(service=service, cls=cls, start=start, origin="operator", at=utcnow(), **values)
    return _get(ledger, iid)


def update(ledger: Ledger, iid: int, **fields: Any) -> dict[str, Any]:
    inc = _get(ledger, iid)
    values = {k: v for k, v in fields.items() if v is not None}
    if not values:
        raise ConfigError("nothing to change: give at least one of --class, --start, --detected, --repaired, "
                          "--restored, --cause, --notes")
    _check_class(values.get("class"))
    start = values.get("start") or datetime.fromisoformat(inc["start"].replace("Z", "+00:00"))
    current = {k: datetime.fromisoformat(inc[k].replace("Z", "+00:00")) for k in ("detected_at", "repaired_at",
                                                                                  "restored_at") if inc[k]}
    _check_order({**current, **values}, start)
    return ledger.update_incident(iid, utcnow(), **values)


def close(ledger: Ledger, iid: int, at: datetime) -> dict[str, Any]:
    inc = _get(ledger, iid)
    if inc["restored_at"] is not None:
        raise ReliadError(f"incident {iid} is already closed (restored at {inc['restored_at']})")
    _check_order({"restored_at": at}, datetime.fromisoformat(inc["start"].replace("Z", "+00:00")))
    return ledger.update_incident(iid, utcnow(), kind="restored", restored_at=at)


def _get(ledger: Ledger, iid: int) -> dict[str, Any]:
    inc = ledger.incident(iid)
    if inc is None:
        raise ReliadError(f"there is no incident {iid}; 'reliad incidents' lists them")
    return inc


def add_maintenance(ledger: Ledger, config: Config, *, service: str, start: datetime, end: datetime,
                    reason: str) -> dict[str, Any]:
    _known_service(ledger, config, service)
    if end <= start:
        raise ConfigError(f"--end {end:%Y-%m-%dT%H:%M:%SZ} must be after --start {start:%Y-%m-%dT%H:%M:%SZ}")
    wid = ledger.add_maintenance(service=service, start=start, end=end, reason=reason, at=utcnow())
    return next(m for m in ledger.maintenance() if m["id"] == wid)
