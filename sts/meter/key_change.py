"""The meter's key change set collector: an explicit state machine.

A meter changes its decoder key only when it holds a complete key change
token (KCT) set: two sections (subclasses 3 and 4) for a 64-bit key, four
(3, 4, 8 and 9) for a 128-bit key. The set size follows the meter's *current*
key, under which every section is encrypted. Sections may come in any order.

States and events (:data:`TRANSITIONS`, ``{state: {event: next_state}}``; an
event a state does not list raises :class:`~sts.errors.StsError`)::

    IDLE        --section-->        COLLECTING   (1st KCT, result 2)
    COLLECTING  --section-->        COLLECTING   (more held, result 3)
    COLLECTING  --last section-->   COMPLETE     (the meter validates and changes key)
    COLLECTING  --timeout-->        IDLE         (the partial set is forgotten)
    COMPLETE    --applied-->        IDLE

Decisions made here:

* **Timeout**: a partial set is kept for :data:`SET_TIMEOUT` (10 minutes of
  meter time) counted from its first section. At 9:59 it can still be
  completed; at 10:00 it is gone, and the section entered then starts a new
  set.
* **The same section twice**: the newer token replaces the held one; the set
  keeps its start time and its count.
* **Result while incomplete**: 1st KCT (2) when one section is held, 2nd KCT
  (3) when two or three are held. Completing the set gives Accept (1) once the
  meter has changed its key.
* A complete set the meter refuses (for example a change to key type 0) is
  not applied; since a rejected token changes nothing, the sections held
  before it stay held.

Each step returns a new frozen :class:`KctCollector`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sts.errors import FunctionError, StsError
from sts.results import ResultCode
from sts.tokens.base import TokenClass
from sts.tokens.block import parse_block
from sts.tokens.keychange import KeyChangeOrder, KeyChangeToken, combine_key_change_set

SET_TIMEOUT = timedelta(minutes=10)
SECTIONS_64 = frozenset({3, 4})
SECTIONS_128 = frozenset({3, 4, 8, 9})


class KctState(StrEnum):
    IDLE = "idle"
    COLLECTING = "collecting"
    COMPLETE = "complete"


class KctEvent(StrEnum):
    SECTION = "section"
    LAST_SECTION = "last section"
    TIMEOUT = "timeout"
    APPLIED = "applied"


TRANSITIONS: dict[KctState, dict[KctEvent, KctState]] = {
    KctState.IDLE: {KctEvent.SECTION: KctState.COLLECTING},
    KctState.COLLECTING: {
        KctEvent.SECTION: KctState.COLLECTING,
        KctEvent.LAST_SECTION: KctState.COMPLETE,
        KctEvent.TIMEOUT: KctState.IDLE,
    },
    KctState.COMPLETE: {KctEvent.APPLIED: KctState.IDLE},
}


def transition(state: KctState, event: KctEvent) -> KctState:
    """The state after ``event``; an event the state does not allow raises StsError."""
    try:
        return TRANSITIONS[state][event]
    except KeyError:
        raise StsError(
            f"key change set: event {event.value!r} is not allowed in state {state.value!r}"
        ) from None


def sections_for(key_bits: int) -> frozenset[int]:
    """The KCT subclasses a meter with a ``key_bits`` key needs for a complete set."""
    return SECTIONS_128 if key_bits == 128 else SECTIONS_64


@dataclass(frozen=True)
class KctCollector:
    """The sections of a set held so far, when the set was started, and the state."""

    state: KctState = KctState.IDLE
    sections: tuple[KeyChangeToken, ...] = ()
    started: datetime | None = None

    @property
    def held(self) -> int:
        return len(self.sections)

    def expire(self, now: datetime) -> KctCollector:
        """The collector at ``now``: a partial set older than the timeout is forgotten."""
        collecting = self.state is KctState.COLLECTING and self.started is not None
        if collecting and now - self.started >= SET_TIMEOUT:  # type: ignore[operator]
            return KctCollector(transition(self.state, KctEvent.TIMEOUT))
        return self

    def add(self, token: KeyChangeToken, now: datetime, key_bits: int) -> KctCollector:
        """The collector with one more section (which must be one the meter's set has)."""
        wanted = sections_for(key_bits)
        if token.subclass not in wanted:
            raise FunctionError(
                f"KCT subclass {token.subclass} is not part of a {key_bits}-bit key change set "
                f"(subclasses {', '.join(str(s) for s in sorted(wanted))})"
            )
        current = self.expire(now)
        kept = tuple(s for s in current.sections if s.subclass != token.subclass)
        sections = (*kept, token)
        complete = {s.subclass for s in sections} == wanted
        event = KctEvent.LAST_SECTION if complete else KctEvent.SECTION
        started = current.started if current.state is KctState.COLLECTING else now
        return KctCollector(transition(current.state, event), sections, started)

    def progress_result(self) -> ResultCode:
        """What the meter answers while the set is incomplete: 1st or 2nd KCT."""
        return ResultCode.FIRST_KCT if self.held == 1 else ResultCode.SECOND_KCT

    def order(self) -> KeyChangeOrder:
        """What the complete set tells the meter (errors of the token layer pass through)."""
        if self.state is not KctState.COMPLETE:
            raise StsError(f"key change set is {self.state.value}, not complete")
        return combine_key_change_set(self.sections)

    def applied(self) -> KctCollector:
        """The collector after the meter has taken the complete set."""
        return KctCollector(transition(self.state, KctEvent.APPLIED))

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "sections": [f"{s.to_block():016X}" for s in self.sections],
            "started": None if self.started is None else self.started.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KctCollector:
        sections = []
        for text in data["sections"]:
            token = parse_block(TokenClass.MANAGEMENT, int(text, 16))
            if not isinstance(token, KeyChangeToken):
                raise StsError(f"held key change section {text} is not a KCT")
            sections.append(token)
        started = data["started"]
        return cls(
            KctState(data["state"]),
            tuple(sections),
            None if started is None else datetime.fromisoformat(started),
        )
