"""The keypad's wrong-entry lockout: a pure schedule of consecutive rejections.

A meter slows down anyone guessing tokens. After :data:`FREE_REJECTIONS` (3)
consecutive rejected meter-specific entries the keypad locks for 10 s; each
further rejection after the lock has run out locks it again for twice as
long, up to :data:`MAX_LOCK` (1,280 s)::

    rejection   1   2   3    4    5    6     7     8     9     10     11 ...
    locked for  -   -   10s  20s  40s  80s   160s  320s  640s  1280s  1280s

What counts, decided here in one place (the meter applies it):

* a *rejection* is any entry that is not a class 1 token and is refused:
  unreadable digits (Format), class 0 and class 2 tokens with any result other
  than Accept, 1st KCT or 2nd KCT;
* while locked, such entries are answered with Lockout (15) without being
  looked at, and they neither count nor lengthen the lock;
* class 1 (test/display) tokens are always looked at, never count, and do not
  reset the counter, so they cannot be used to unlock the keypad;
* an accepted class 0 or class 2 token (including a held KCT) resets the
  counter. A power cycle would too; the simulated meter has none.

:class:`Lockout` is a frozen value: every step returns a new one, so a caller
can decide first and commit afterwards.

    >>> from datetime import datetime, timezone
    >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> lock = Lockout().after_rejection(t).after_rejection(t).after_rejection(t)
    >>> lock.failures, lock.remaining(t).total_seconds()
    (3, 10.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

FREE_REJECTIONS = 2
"""Rejections that lock nothing; the next one (the third) starts the lockout."""

FIRST_LOCK = timedelta(seconds=10)
MAX_LOCK = timedelta(seconds=1280)


def lock_duration(failures: int) -> timedelta:
    """How long the keypad locks after the ``failures``-th consecutive rejection (0 for 1, 2)."""
    if failures <= FREE_REJECTIONS:
        return timedelta(0)
    doublings = min(failures - FREE_REJECTIONS - 1, 8)  # 10 s * 2**7 is the cap already
    return min(FIRST_LOCK * (1 << doublings), MAX_LOCK)


@dataclass(frozen=True)
class Lockout:
    """Consecutive rejections so far and the instant the current lock ends (if any)."""

    failures: int = 0
    locked_until: datetime | None = None

    def is_locked(self, now: datetime) -> bool:
        """True while a lock is running at ``now``."""
        return self.locked_until is not None and now < self.locked_until

    def remaining(self, now: datetime) -> timedelta:
        """How much of the lock is left at ``now`` (zero when not locked)."""
        if not self.is_locked(now):
            return timedelta(0)
        assert self.locked_until is not None
        return self.locked_until - now

    def after_rejection(self, now: datetime) -> Lockout:
        """The lockout after one more rejected entry at ``now``."""
        failures = self.failures + 1
        duration = lock_duration(failures)
        return Lockout(failures, now + duration if duration else self.locked_until)

    def after_acceptance(self) -> Lockout:
        """An accepted meter-specific token clears the counter and any lock."""
        return Lockout()

    def to_dict(self) -> dict[str, Any]:
        return {
            "failures": self.failures,
            "locked_until": None if self.locked_until is None else self.locked_until.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lockout:
        until = data["locked_until"]
        return cls(int(data["failures"]), None if until is None else datetime.fromisoformat(until))
