"""The meter's bounded event log: what happened, when, and why.

Every relay change, token decision, key change, alarm, emergency credit and
tamper is recorded as an :class:`Event`. The log keeps the newest
``capacity`` events (default 200); older ones fall off, as in a real meter.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

DEFAULT_CAPACITY = 200


class EventKind(StrEnum):
    """What an event is about."""

    TOKEN_ACCEPTED = "token accepted"
    TOKEN_REJECTED = "token rejected"
    KEY_CHANGED = "key changed"
    RELAY_OPENED = "relay opened"
    RELAY_CLOSED = "relay closed"
    CREDIT_LOW = "credit low"
    CREDIT_EXHAUSTED = "credit exhausted"
    EMERGENCY_CREDIT = "emergency credit taken"
    POWER_LIMIT_EXCEEDED = "power limit exceeded"
    TAMPER = "tamper"
    TAMPER_CLEARED = "tamper cleared"
    CREDIT_CLEARED = "credit cleared"
    SETTING_CHANGED = "setting changed"
    LOCKOUT = "keypad locked"
    TEST = "test or display"


@dataclass(frozen=True)
class Event:
    """One entry of the event log."""

    at: datetime
    kind: EventKind
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"at": self.at.isoformat(), "kind": self.kind.value, "detail": self.detail}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        return cls(datetime.fromisoformat(data["at"]), EventKind(data["kind"]), data["detail"])


class EventLog:
    """The newest ``capacity`` events, oldest first."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, events: list[Event] | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"event log capacity {capacity} must be at least 1")
        self.capacity = capacity
        self._events: deque[Event] = deque(events or (), maxlen=capacity)

    def record(self, at: datetime, kind: EventKind, detail: str = "") -> Event:
        event = Event(at, kind, detail)
        self._events.append(event)
        return event

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def latest(self, count: int = 10) -> list[Event]:
        """The newest ``count`` events, newest last."""
        return list(self._events)[-count:]

    def of_kind(self, kind: EventKind) -> list[Event]:
        return [event for event in self._events if event.kind is kind]

    def to_dict(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "events": [e.to_dict() for e in self._events]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EventLog:
        return cls(data["capacity"], [Event.from_dict(e) for e in data["events"]])
