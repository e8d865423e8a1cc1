"""The bounds a simulated meter keeps, in one place.

The meter refuses work that would take it past these, and its state file is
refused when it holds anything past them (:mod:`sts.meter.state_schema`), so
every state the meter can reach can be saved and loaded again:

* **Clock.** From 1993-01-01 00:00 UTC (the first base date) to before
  2066-11-24 20:16 UTC, where TIDs on the last base date (2035) run out. No
  STS token can name a moment outside it.
* **Load.** At most :data:`MAX_LOAD_W` (100 MW) of demand: far above any
  metered supply, low enough that a lifetime of it stays countable.
* **Running totals** (joules, money units) are at most :data:`MAX_COUNTER`
  (10^24). The meter cannot reach it inside its clock range (100 MW for 74
  years is 2.3 * 10^17 J; one maximal money token a minute is 5 * 10^22
  units), and a Decimal of it still fits the default 28-digit context.
* **Texts** the meter stores: a tamper reason at most :data:`MAX_REASON`
  characters, an event's detail at most :data:`MAX_DETAIL` (what an event
  quotes of a rejected entry is cut to a prefix; see :func:`clip`).
"""

from __future__ import annotations

from datetime import datetime

from sts.errors import RangeError
from sts.tokens.tid import BaseDate

CLOCK_FIRST = BaseDate.Y1993.start
CLOCK_END = BaseDate.Y2035.rollover_instant
EPOCH_FIRST = int(CLOCK_FIRST.timestamp())
EPOCH_END = int(CLOCK_END.timestamp())

MAX_LOAD_W = 100_000_000
MAX_COUNTER = 10**24
MAX_REASON = 100
MAX_DETAIL = 300
CLIP_AT = 40


def check_time(when: datetime, what: str = "time") -> datetime:
    """``when`` (timezone-aware) if it is inside the meter's clock range, else RangeError."""
    if not CLOCK_FIRST <= when < CLOCK_END:
        raise RangeError(
            f"{what} {when.isoformat()} is outside the meter's clock range "
            f"{CLOCK_FIRST:%Y-%m-%d} to before {CLOCK_END:%Y-%m-%d %H:%M} UTC"
        )
    return when


def check_load(watts: int) -> int:
    """``watts`` if it is a demand the meter can carry, else RangeError."""
    if watts > MAX_LOAD_W:
        raise RangeError(f"load {watts:,} W is above the meter's {MAX_LOAD_W:,} W")
    return watts


def clip(text: str, limit: int = CLIP_AT) -> str:
    """``text`` cut to ``limit`` characters (marked with '...') for quoting in a record."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
