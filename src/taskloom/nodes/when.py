"""When a `self_schedule` node continues: an ISO-8601 time or duration, or a short relative
phrase ("in 10 minutes", "2h"), read without a model. Anything else is for a model to turn
into one of these first.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_ISO_DURATION = re.compile(
    r"P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?",
    re.IGNORECASE,
)
_RELATIVE = re.compile(r"(?:in\s+)?(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>[a-z]+)", re.IGNORECASE)
_UNITS = {
    "seconds": ("s", "sec", "secs", "second", "seconds"),
    "minutes": ("m", "min", "mins", "minute", "minutes"),
    "hours": ("h", "hr", "hrs", "hour", "hours"),
    "days": ("d", "day", "days"),
    "weeks": ("w", "week", "weeks"),
}
_UNIT_OF = {alias: unit for unit, aliases in _UNITS.items() for alias in aliases}


def parse_when(text: str, now: datetime) -> datetime | None:
    """The moment `text` names, in UTC; None when it takes a model to understand it."""
    text = text.strip()
    if not text:
        return None
    moment = _iso_time(text)
    if moment is not None:
        return moment
    delay = _iso_duration(text) or _relative(text)
    return None if delay is None else now + delay


def _iso_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    # a time with no offset is taken as UTC: the server's zone must not change its meaning
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso_duration(text: str) -> timedelta | None:
    match = _ISO_DURATION.fullmatch(text)
    if match is None or not any(match.groupdict().values()) or text.upper().endswith("T"):
        return None
    parts = {name: float(value) for name, value in match.groupdict().items() if value}
    return timedelta(**parts)


def _relative(text: str) -> timedelta | None:
    match = _RELATIVE.fullmatch(text)
    if match is None:
        return None
    unit = _UNIT_OF.get(match["unit"].lower())
    return None if unit is None else timedelta(**{unit: float(match["amount"])})
