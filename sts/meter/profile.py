"""Load profiles: the power a household demands, as a function of time.

The credit engine asks a profile one question: *from epoch second ``t``, what
is the demand in whole watts and for how many seconds does it stay so?* Three
kinds answer it:

- a constant load (``LoadProfile.constant(2000)``, or just ``2000``);
- a daily shape (``LoadProfile.daily([...])``): equal slots covering the local
  day, e.g. 24 hourly values, 96 quarter hours or 1440 minutes;
- any function of the local time (``LoadProfile.function(f)``), sampled every
  ``step_s`` seconds (one minute by default) on the local clock's grid.

Watts are rounded to whole watts (a meter's resolution); a negative demand is
a range error. Constant and daily profiles have a JSON form so a meter can keep
its load between commands::

    >>> from sts.meter.localtime import LocalCalendar
    >>> cal = LocalCalendar("UTC")
    >>> LoadProfile.daily([100] * 12 + [2000] * 12).span(cal, 3600 * 11, 86400)
    (100, 3600)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sts.errors import RangeError
from sts.meter.localtime import LocalCalendar

SECONDS_PER_DAY = 86_400

Load = int | float | Decimal


def watts(value: Load) -> int:
    """Whole watts from an int, float or Decimal demand; negative is a range error."""
    if type(value) is int:
        result = value
    elif isinstance(value, Decimal):
        result = int(value.to_integral_value(rounding=ROUND_HALF_EVEN))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result = round(value)
    else:
        raise RangeError(f"load {value!r} is not a number of watts")
    if result < 0:
        raise RangeError(f"load {value} W is negative; expected 0 W or more")
    return result


class LoadProfile:
    """Demand in watts by time: constant, a daily shape, or a function."""

    def __init__(
        self,
        constant: int | None = None,
        daily: tuple[int, ...] | None = None,
        function: Callable[[datetime], Load] | None = None,
        step_s: int = 60,
    ) -> None:
        self._constant = constant
        self._daily = daily
        self._function = function
        self._step = step_s
        self._slot = SECONDS_PER_DAY // len(daily) if daily else 0
        self._last: tuple[int, int] | None = None  # (t, watts) of the last function sample

    @classmethod
    def constant(cls, load: Load) -> LoadProfile:
        return cls(constant=watts(load))

    @classmethod
    def daily(cls, loads: Sequence[Load]) -> LoadProfile:
        values = tuple(watts(v) for v in loads)
        if not values or SECONDS_PER_DAY % len(values) or (SECONDS_PER_DAY // len(values)) % 60:
            raise RangeError(
                f"a daily profile of {len(values)} values does not split the day into whole "
                "minutes; use e.g. 24, 48, 96 or 1440 values"
            )
        return cls(daily=values)

    @classmethod
    def function(cls, function: Callable[[datetime], Load], step_s: int = 60) -> LoadProfile:
        if step_s < 1:
            raise RangeError(f"profile step {step_s} s must be at least 1 s")
        return cls(function=function, step_s=step_s)

    @property
    def storable(self) -> bool:
        """True when the profile has a JSON form (not a function)."""
        return self._function is None

    def span(self, calendar: LocalCalendar, t: int, limit: int) -> tuple[int, int]:
        """(watts at ``t``, seconds it holds, at most ``limit``)."""
        if self._constant is not None:
            return self._constant, limit
        if self._daily is not None:
            local = calendar.local(t)
            second = local.hour * 3600 + local.minute * 60 + local.second
            slot, into = divmod(second, self._slot)
            return self._daily[slot], min(limit, self._slot - into)
        return self._function_span(calendar, t, limit)

    def _function_span(self, calendar: LocalCalendar, t: int, limit: int) -> tuple[int, int]:
        step = self._step
        function = self._function
        assert function is not None
        local = calendar.local
        if self._last is not None and self._last[0] == t:
            load = self._last[1]
        else:
            load = watts(function(local(t)))
        held = step - t % step  # to the next sample on the grid
        while held < limit:
            sample = watts(function(local(t + held)))
            if sample != load:
                self._last = (t + held, sample)
                return load, held
            held += step
        return load, limit

    def to_dict(self) -> dict[str, Any]:
        if self._daily is not None:
            return {"daily": list(self._daily)}
        if self._constant is not None:
            return {"constant": self._constant}
        raise RangeError("a load profile given as a function has no stored form")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoadProfile:
        if "daily" in data:
            return cls.daily(data["daily"])
        return cls.constant(data["constant"])


LoadArgument = Load | Sequence[Load] | Callable[[datetime], Load] | LoadProfile


def as_profile(load: LoadArgument) -> LoadProfile:
    """A LoadProfile from watts, a daily sequence of watts, a function of time, or a profile."""
    if isinstance(load, LoadProfile):
        return load
    if isinstance(load, int | float | Decimal) and not isinstance(load, bool):
        return LoadProfile.constant(load)
    if callable(load):
        return LoadProfile.function(load)
    if isinstance(load, Sequence) and not isinstance(load, str):
        return LoadProfile.daily(load)
    raise RangeError(f"load {load!r} is neither watts, a daily profile nor a function of time")
