"""Friendly time: the local hours, weekdays and special days in which the relay
is never opened for lack of credit.

A moment is friendly when its local date is a special day, or its weekday is
a friendly weekday, or its local time of day lies in the friendly hours
(start included, end excluded; an end before the start wraps past midnight)::

    >>> from datetime import datetime, time, timezone
    >>> from sts.meter.config import FriendlyConfig
    >>> evenings = FriendlyConfig(hours=(time(18), time(7)))
    >>> is_friendly(evenings, datetime(2025, 3, 5, 6, 59, tzinfo=timezone.utc))
    True
    >>> is_friendly(evenings, datetime(2025, 3, 5, 7, 0, tzinfo=timezone.utc))
    False

:func:`next_change` gives the next moment friendliness may change, so the
credit engine can treat everything in between as one stretch.
"""

from __future__ import annotations

from datetime import datetime

from sts.meter.config import FriendlyConfig
from sts.meter.localtime import LocalCalendar

NEVER = 1 << 62
"""An epoch second later than any the engine will reach."""


def _minute(moment: datetime) -> int:
    return moment.hour * 60 + moment.minute


def is_friendly(config: FriendlyConfig, local: datetime) -> bool:
    """True when the local moment is in friendly time."""
    if local.weekday() in config.weekdays or local.date() in config.special_dates:
        return True
    if config.hours is None:
        return False
    start, end = (_minute(t) for t in config.hours)
    minute = _minute(local)
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def next_change(config: FriendlyConfig, calendar: LocalCalendar, t: int) -> int:
    """The first epoch second after ``t`` at which friendliness may change (or NEVER)."""
    if not config.configured:
        return NEVER
    local = calendar.local(t)
    candidates = [calendar.next_midnight(t)]
    if config.hours is not None:
        for moment in config.hours:
            at = calendar.at(local.date(), _minute(moment))
            if at > t:
                candidates.append(at)
    return min(candidates)
