"""Token identifiers (TIDs) and the three STS base dates.

A TID is the number of whole minutes from the base date (00:00 UTC) to the
moment a token was issued, in 24 bits: 0 .. 16,777,215, about 31.9 years. The
base dates are 1993-01-01, 2014-01-01 and 2035-01-01. The last valid minute on
the 1993 base was 2024-11-24 20:15 UTC; at 20:16 the field would wrap to 0,
which is why every 1993-base meter needed a key change (the "TID rollover")::

    >>> from datetime import datetime, timezone
    >>> tid_from_datetime(datetime(2016, 12, 11, 15, 49, tzinfo=timezone.utc), BaseDate.Y1993)
    12593749

Times must be timezone-aware; they are converted to UTC. The vending rule
(:func:`next_tid`) is a pure function of "now" and the meter's last TID.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import IntEnum

from sts.errors import FormatError, RangeError, shown

MAX_TID = (1 << 24) - 1
MINUTES_PER_DAY = 1440
# Minute-of-day 1 (00:01) is never issued by vending systems; 00:02 is used instead.
SKIPPED_MINUTE_OF_DAY = 1


class BaseDate(IntEnum):
    """The STS base dates, by year."""

    Y1993 = 1993
    Y2014 = 2014
    Y2035 = 2035

    @property
    def start(self) -> datetime:
        """The base date's first instant (00:00 UTC on 1 January)."""
        return datetime(int(self), 1, 1, tzinfo=UTC)

    @property
    def code(self) -> str:
        """The two-digit code used in DKGA04 ("93", "14", "35")."""
        return f"{int(self) % 100:02d}"

    @property
    def last_valid_minute(self) -> datetime:
        """The last minute a TID on this base date can express (TID 0xFFFFFF)."""
        return self.start + timedelta(minutes=MAX_TID)

    @property
    def rollover_instant(self) -> datetime:
        """The first minute that no longer fits: the field would wrap to 0 here."""
        return self.start + timedelta(minutes=MAX_TID + 1)

    @classmethod
    def parse(cls, value: int | str) -> BaseDate:
        """A base date from 1993/2014/2035 (int or string) or the codes 93/14/35."""
        text = str(value).strip()
        if len(text) == 2 and text.isdigit():
            text = ("19" if text == "93" else "20") + text
        try:
            return cls(int(text))
        except ValueError:
            raise FormatError(
                f"base date {shown(value)} is not one of 1993, 2014 or 2035"
            ) from None


def _as_utc(when: datetime) -> datetime:
    if when.tzinfo is None or when.tzinfo.utcoffset(when) is None:
        raise FormatError(
            f"time {when.isoformat()} has no timezone; expected a timezone-aware datetime"
        )
    return when.astimezone(UTC)


def tid_from_datetime(when: datetime, base: BaseDate) -> int:
    """The TID of a timezone-aware instant on ``base`` (whole minutes, truncated)."""
    minutes = (_as_utc(when) - base.start) // timedelta(minutes=1)
    if minutes < 0:
        raise RangeError(f"time {when.isoformat()} is before the base date {int(base)}-01-01")
    if minutes > MAX_TID:
        raise RangeError(
            f"time {when.isoformat()} is past the last TID of base date {int(base)} "
            f"({base.last_valid_minute:%Y-%m-%d %H:%M} UTC); the meter needs a key change "
            "to a later base date"
        )
    return minutes


def datetime_from_tid(tid: int, base: BaseDate) -> datetime:
    """The UTC instant a TID stands for."""
    check_tid(tid)
    return base.start + timedelta(minutes=tid)


def check_tid(tid: int) -> int:
    """Return ``tid`` if it fits 24 bits, else raise RangeError."""
    if not isinstance(tid, int) or isinstance(tid, bool) or not 0 <= tid <= MAX_TID:
        raise RangeError(f"TID {shown(tid)} is outside 0..{MAX_TID}")
    return tid


def next_tid(now_tid: int, last_tid: int | None = None, base: BaseDate | None = None) -> int:
    """The TID a vending system issues next to one meter.

    It is the later of "now" and "last TID + 1 minute" (so a burst of tokens
    in one minute gets consecutive TIDs), never minute-of-day 1. ``base`` is
    only used to word the error when the result no longer fits 24 bits.
    """
    candidate = now_tid if last_tid is None else max(now_tid, last_tid + 1)
    if candidate % MINUTES_PER_DAY == SKIPPED_MINUTE_OF_DAY:
        candidate += 1
    if candidate > MAX_TID:
        where = f"base date {int(base)}" if base is not None else "this base date"
        raise RangeError(
            f"next TID {candidate} is past {MAX_TID}, the last TID of {where}; "
            "the meter needs a key change to a later base date"
        )
    return candidate


def vending_tid(when: datetime, base: BaseDate, last_tid: int | None = None) -> int:
    """:func:`next_tid` for a timezone-aware "now"."""
    minutes = (_as_utc(when) - base.start) // timedelta(minutes=1)
    if minutes < 0:
        raise RangeError(f"time {when.isoformat()} is before the base date {int(base)}-01-01")
    return next_tid(minutes, last_tid, base)
