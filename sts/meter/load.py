"""Load control: the relay's reasons, and maximum power limiting with lock-out.

The relay is closed unless something opens it. What opens it, most important
first: tamper (where configured), a power-limit lock-out, a power-limit trip
waiting for its reconnection, and no credit outside friendly time. When it is
closed the reason says what keeps it closed: credit, friendly time or
emergency credit.

:class:`LoadControl` is the power limiter's state machine::

    normal --demand > limit--> tripped --reconnect delay--> normal
    tripped (N-th trip within the window) --> locked --lock-out time or new limit--> normal

    >>> from sts.meter.config import LoadControlConfig
    >>> limiter = LoadControl(LoadControlConfig(power_limit_w=3000, reconnect_delay_s=60,
    ...                                         lockout_trips=2, lockout_window_s=600))
    >>> limiter.exceeded(3001), limiter.trip(0), limiter.open_reason()
    (True, False, <RelayReason.POWER_LIMIT: 'power limit'>)
    >>> limiter.expire(60); limiter.open_reason() is None
    True
    >>> limiter.trip(60), limiter.open_reason()
    (True, <RelayReason.POWER_LOCKOUT: 'power limit lock-out'>)
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sts.meter.config import LoadControlConfig
from sts.meter.friendly import NEVER


class RelayReason(StrEnum):
    """Why the relay is in the state it is in."""

    CREDIT = "credit"
    FRIENDLY = "friendly time"
    EMERGENCY = "emergency credit"
    NO_CREDIT = "no credit"
    POWER_LIMIT = "power limit"
    POWER_LOCKOUT = "power limit lock-out"
    TAMPER = "tamper"
    POSTPAID = "postpaid"
    DISCONNECTED = "disconnected"
    OVER_CURRENT = "over current"
    OVER_CURRENT_LOCKOUT = "over-current lock-out"
    ABNORMAL_VOLTAGE = "abnormal voltage"
    MALFUNCTION = "malfunction"
    POWER_FAILURE = "power failure"
    FIRE = "fire"
    CURRENT_IMBALANCE = "current imbalance"

    @property
    def opens(self) -> bool:
        """True for the reasons that hold the relay open."""
        return self in _OPENING


_OPENING = frozenset(
    {
        RelayReason.NO_CREDIT,
        RelayReason.POWER_LIMIT,
        RelayReason.POWER_LOCKOUT,
        RelayReason.TAMPER,
        RelayReason.DISCONNECTED,
        RelayReason.OVER_CURRENT,
        RelayReason.OVER_CURRENT_LOCKOUT,
        RelayReason.ABNORMAL_VOLTAGE,
        RelayReason.MALFUNCTION,
        RelayReason.POWER_FAILURE,
        RelayReason.FIRE,
        RelayReason.CURRENT_IMBALANCE,
    }
)


class LoadControl:
    """Maximum power limit, trips, timed reconnection and lock-out."""

    def __init__(
        self,
        config: LoadControlConfig,
        limit_w: int | None = None,
        unbalance_limit_w: int | None = None,
        trips: list[int] | None = None,
        reconnect_at: int | None = None,
        locked: bool = False,
        locked_until: int | None = None,
    ) -> None:
        self.config = config
        self.limit_w = config.power_limit_w if limit_w is None else limit_w or None
        self.unbalance_limit_w = unbalance_limit_w
        self.trips: list[int] = list(trips or ())
        self.reconnect_at = reconnect_at
        self.locked = locked
        self.locked_until = locked_until

    def exceeded(self, watts: int) -> bool:
        """True when a demand of ``watts`` is above the limit."""
        return self.limit_w is not None and watts > self.limit_w

    def trip(self, t: int) -> bool:
        """Record a trip at ``t``; True when it locks the relay out."""
        config = self.config
        self.trips = [at for at in self.trips if at > t - config.lockout_window_s]
        self.trips.append(t)
        if len(self.trips) >= config.lockout_trips:
            self.locked = True
            self.locked_until = None if config.lockout_s is None else t + config.lockout_s
            self.reconnect_at = None
            return True
        self.reconnect_at = t + config.reconnect_delay_s
        return False

    def set_limit(self, watts: int) -> None:
        """A new maximum power limit (0: none); it also ends a trip or lock-out."""
        self.limit_w = watts or None
        self.reset()

    def reset(self) -> None:
        """Forget trips, pending reconnection and lock-out."""
        self.trips = []
        self.reconnect_at = None
        self.locked = False
        self.locked_until = None

    def expire(self, t: int) -> None:
        """Let timers that are due at ``t`` run out."""
        if self.reconnect_at is not None and self.reconnect_at <= t:
            self.reconnect_at = None
        if self.locked and self.locked_until is not None and self.locked_until <= t:
            self.reset()

    def next_timer(self) -> int:
        """The epoch second of the next timer (NEVER when none runs)."""
        if self.reconnect_at is not None:
            return self.reconnect_at
        if self.locked and self.locked_until is not None:
            return self.locked_until
        return NEVER

    def open_reason(self) -> RelayReason | None:
        if self.locked:
            return RelayReason.POWER_LOCKOUT
        if self.reconnect_at is not None:
            return RelayReason.POWER_LIMIT
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "limit_w": self.limit_w or 0,
            "unbalance_limit_w": self.unbalance_limit_w,
            "trips": list(self.trips),
            "reconnect_at": self.reconnect_at,
            "locked": self.locked,
            "locked_until": self.locked_until,
        }

    @classmethod
    def from_dict(cls, config: LoadControlConfig, data: dict[str, Any]) -> LoadControl:
        limiter = cls(config, **{k: v for k, v in data.items() if k != "limit_w"})
        limiter.limit_w = data["limit_w"] or None
        return limiter
