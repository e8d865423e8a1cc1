"""The meter's local calendar: its time zone, local days and minutes of the day.

The credit engine keeps its clock as whole seconds since the Unix epoch (UTC)
and turns them into local time only where the local calendar matters: friendly
hours and days, daily and monthly billing, load profiles that follow the clock.
The zone is either a fixed offset (``"+02:00"``, ``"-05:30"``, ``"UTC"``) or an
IANA zone name (``"Africa/Johannesburg"``) whose offset may change with
daylight saving time::

    >>> cal = LocalCalendar("+02:00")
    >>> cal.local(0).isoformat()
    '1970-01-01T02:00:00+02:00'
    >>> cal.next_midnight(0) // 3600
    22
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sts.errors import FormatError

_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


def parse_zone(zone: str) -> tzinfo:
    """A tzinfo for a fixed offset ``[+-]HH:MM``, ``UTC``/``Z``, or an IANA zone name."""
    if zone in ("UTC", "Z"):
        return UTC
    match = _OFFSET.match(zone)
    if match:
        sign, hours, minutes = match.groups()
        offset = timedelta(hours=int(hours), minutes=int(minutes))
        if offset >= timedelta(hours=24):
            raise FormatError(f"time zone offset {zone!r} is not below 24 hours")
        return timezone(-offset if sign == "-" else offset)
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise FormatError(
            f"time zone {zone!r} is neither an offset like '+02:00' nor a known zone name"
        ) from None


def epoch_seconds(when: datetime) -> int:
    """Whole seconds since the epoch of a timezone-aware datetime (fractions dropped)."""
    if not isinstance(when, datetime) or when.tzinfo is None or when.utcoffset() is None:
        raise FormatError(f"time {when!r} has no timezone; the meter needs timezone-aware times")
    return int(when.timestamp() // 1)


class LocalCalendar:
    """Conversions between the engine's epoch seconds and the meter's local time."""

    def __init__(self, zone: str) -> None:
        self.zone = zone
        self.tz = parse_zone(zone)

    def local(self, t: int) -> datetime:
        """The local, timezone-aware datetime of epoch second ``t``."""
        return datetime.fromtimestamp(t, self.tz)

    def at(self, day: date, minute: int = 0) -> int:
        """Epoch second of local ``day`` at ``minute`` past local midnight."""
        hour, minute = divmod(minute, 60)
        base = datetime(day.year, day.month, day.day, tzinfo=self.tz)
        if hour == 24:
            base += timedelta(days=1)
            hour = 0
        return int(base.replace(hour=hour, minute=minute).timestamp())

    def next_midnight(self, t: int) -> int:
        """Epoch second of the first local midnight after ``t``."""
        return self.at(self.local(t).date() + timedelta(days=1))
