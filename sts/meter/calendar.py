"""The TOU activity calendar, shaped like DLMS/COSEM class 20 with a class 11 special
days table: which tariff rate (1-8) applies at each local instant.

The tables, as in class 20:

- *day profiles* (``day_id`` 0-255): up to 24 switching times, each a local
  time of day and the rate that starts there. The first must start at 00:00
  (decision: a day never inherits the rate of the day before, so each day
  reads on its own);
- *week profiles* (a name): the day profile for each weekday, Monday first;
- *seasons* (up to 12, a name): from a month and day each year, a week
  profile. The season in force on a date is the one with the latest start on
  or before it, wrapping round to the last season of the year before.

Special days (class 11, up to 200 entries, each with an index): a date spec
and the day profile that replaces the week profile's on a matching date.
A spec is a date whose parts may be ``*`` (any), or a weekday:

    ``2026-12-25``  one-off          ``*-12-25``  every year
    ``*-*-01``      every month      ``{"weekday": 6}``  every week (Sunday)
    ``*-*-*``       every day

When several entries match a date, the most specific wins (one-off, then
yearly, monthly, weekly, daily), then the lowest index (decision: DLMS leaves
overlapping entries to the utility; this rule lets a one-off Christmas on a
Sunday beat a weekly Sunday entry).

A *passive* set of seasons, week and day profiles waits with an activation
time; from that instant it replaces the active set (class 20's
``activate_passive_calendar``). Without any calendar every instant is rate 1,
so the per-rate registers always add up to the totals.

Times are the meter's local wall clock, so a DST change moves the switching
instants with the clock: on a 23-hour spring day a 00:00-07:00 night rate
lasts 6 hours. A switching time inside the skipped hour takes effect when
the wall clock has passed it (02:30 in a 02:00->03:00 jump starts at 03:30).

    >>> cal = ActivityCalendar.from_dict({
    ...     "active": {"name": "std", "seasons": [{"name": "all", "start": "01-01", "week": "w"}],
    ...                "weeks": [{"name": "w", "days": [1, 1, 1, 1, 1, 1, 1]}],
    ...                "days": [{"id": 1,
    ...                          "switches": [["00:00", 1], ["07:00", 2], ["23:00", 1]]}]}})
    >>> from datetime import datetime
    >>> cal.rate_at(datetime(2026, 5, 4, 6, 59)), cal.rate_at(datetime(2026, 5, 4, 7, 0))
    (1, 2)
"""

from __future__ import annotations

import calendar as _gregorian
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from sts.errors import FormatError
from sts.meter import strict
from sts.meter.localtime import LocalCalendar
from sts.meter.obis import MAX_RATES

MAX_SEASONS = 12
MAX_WEEKS = 12
MAX_DAY_PROFILES = 32
MAX_SWITCHES = 24
MAX_SPECIAL_DAYS = 200
NO_ACTIVATION = None


def _hhmm(text: Any, path: str) -> int:
    """Minutes past midnight of 'HH:MM'."""
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        raise FormatError(f"{path} is {text!r}; expected a time 'HH:MM'")
    hours, minutes = text[:2], text[3:]
    if not (hours.isdigit() and minutes.isdigit()) or int(hours) > 23 or int(minutes) > 59:
        raise FormatError(f"{path} is {text!r}; expected a time 00:00-23:59")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True)
class DayProfile:
    """Switching times (minute of the local day, rate) in rising order, the first at 00:00."""

    day_id: int
    switches: tuple[tuple[int, int], ...]

    def rate_at(self, minute: int) -> int:
        rate = self.switches[0][1]
        for start, r in self.switches:
            if start > minute:
                break
            rate = r
        return rate

    def next_switch(self, minute: int) -> int | None:
        """The first switching minute after ``minute`` (None: none left today)."""
        for start, _ in self.switches:
            if start > minute:
                return start
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.day_id,
            "switches": [[f"{m // 60:02d}:{m % 60:02d}", r] for m, r in self.switches],
        }

    @classmethod
    def from_dict(cls, data: Any, path: str) -> DayProfile:
        d = strict.obj(data, path, ("id", "switches"))
        day_id = strict.as_int(d["id"], f"{path}.id", 0, 255)
        items = strict.as_list(d["switches"], f"{path}.switches", MAX_SWITCHES)
        switches = []
        for i, item in enumerate(items):
            where = f"{path}.switches[{i}]"
            if not isinstance(item, list) or len(item) != 2:
                raise FormatError(f"{where} is {item!r}; expected ['HH:MM', rate]")
            switches.append((_hhmm(item[0], where), strict.as_int(item[1], where, 1, MAX_RATES)))
        if not switches or switches[0][0] != 0:
            raise FormatError(f"{path}.switches must start at 00:00")
        for (a, _), (b, _) in pairwise(switches):
            if b <= a:
                raise FormatError(f"{path}.switches must be in rising order of time")
        return cls(day_id, tuple(switches))


@dataclass(frozen=True)
class WeekProfile:
    name: str
    days: tuple[int, ...]  # day_id for Monday ... Sunday

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "days": list(self.days)}

    @classmethod
    def from_dict(cls, data: Any, path: str) -> WeekProfile:
        d = strict.obj(data, path, ("name", "days"))
        name = strict.as_str(d["name"], f"{path}.name", 32)
        days = strict.as_list(d["days"], f"{path}.days", 7)
        if len(days) != 7:
            raise FormatError(f"{path}.days has {len(days)} entries; expected 7 (Monday first)")
        return cls(
            name, tuple(strict.as_int(v, f"{path}.days[{i}]", 0, 255) for i, v in enumerate(days))
        )


@dataclass(frozen=True)
class Season:
    name: str
    month: int
    day: int
    week: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "start": f"{self.month:02d}-{self.day:02d}", "week": self.week}

    @classmethod
    def from_dict(cls, data: Any, path: str) -> Season:
        d = strict.obj(data, path, ("name", "start", "week"))
        start = d["start"]
        if not isinstance(start, str) or len(start) != 5 or start[2] != "-":
            raise FormatError(f"{path}.start is {start!r}; expected 'MM-DD'")
        try:
            date(2000, int(start[:2]), int(start[3:]))  # a leap year: 02-29 is a valid start
        except ValueError:
            raise FormatError(f"{path}.start is {start!r}; expected a real 'MM-DD'") from None
        return cls(
            strict.as_str(d["name"], f"{path}.name", 32),
            int(start[:2]),
            int(start[3:]),
            strict.as_str(d["week"], f"{path}.week", 32),
        )


@dataclass(frozen=True)
class CalendarTables:
    """One set of seasons, week profiles and day profiles (the active or the passive one)."""

    name: str
    seasons: tuple[Season, ...]
    weeks: dict[str, WeekProfile]
    days: dict[int, DayProfile]

    def season_on(self, day: date) -> Season:
        key = (day.month, day.day)
        chosen = self.seasons[-1]  # wraps from the year before
        for season in self.seasons:
            if (season.month, season.day) <= key:
                chosen = season
        return chosen

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seasons": [s.to_dict() for s in self.seasons],
            "weeks": [w.to_dict() for w in self.weeks.values()],
            "days": [d.to_dict() for d in self.days.values()],
        }

    @classmethod
    def from_dict(cls, data: Any, path: str) -> CalendarTables:
        d = strict.obj(data, path, ("name", "seasons", "weeks", "days"))
        seasons = [
            Season.from_dict(s, f"{path}.seasons[{i}]")
            for i, s in enumerate(strict.as_list(d["seasons"], f"{path}.seasons", MAX_SEASONS))
        ]
        if not seasons:
            raise FormatError(f"{path}.seasons is empty; expected 1 to {MAX_SEASONS} seasons")
        seasons.sort(key=lambda s: (s.month, s.day))
        weeks = {}
        for i, w in enumerate(strict.as_list(d["weeks"], f"{path}.weeks", MAX_WEEKS)):
            week = WeekProfile.from_dict(w, f"{path}.weeks[{i}]")
            if week.name in weeks:
                raise FormatError(f"{path}.weeks[{i}] repeats the name {week.name!r}")
            weeks[week.name] = week
        days = {}
        for i, p in enumerate(strict.as_list(d["days"], f"{path}.days", MAX_DAY_PROFILES)):
            profile = DayProfile.from_dict(p, f"{path}.days[{i}]")
            if profile.day_id in days:
                raise FormatError(f"{path}.days[{i}] repeats the id {profile.day_id}")
            days[profile.day_id] = profile
        for season in seasons:
            if season.week not in weeks:
                raise FormatError(
                    f"{path}.seasons: season {season.name!r} names week "
                    f"{season.week!r}, which is not defined"
                )
        for week in weeks.values():
            for day_id in week.days:
                if day_id not in days:
                    raise FormatError(
                        f"{path}.weeks: week {week.name!r} names day profile {day_id}, "
                        "which is not defined"
                    )
        return cls(strict.as_str(d["name"], f"{path}.name", 32), tuple(seasons), weeks, days)


@dataclass(frozen=True)
class SpecialDay:
    """One class 11 entry: a date spec (None = any) or a weekday, and its day profile."""

    index: int
    year: int | None
    month: int | None
    day: int | None
    weekday: int | None  # 0 Monday ... 6 Sunday; only on its own (weekly)
    day_id: int

    @property
    def specificity(self) -> int:
        """4 one-off, 3 yearly, 2 monthly, 1 weekly, 0 daily."""
        if self.weekday is not None:
            return 1
        if self.year is not None:
            return 4
        if self.month is not None:
            return 3
        return 2 if self.day is not None else 0

    def matches(self, on: date) -> bool:
        if self.weekday is not None:
            return on.weekday() == self.weekday
        return (
            (self.year is None or self.year == on.year)
            and (self.month is None or self.month == on.month)
            and (self.day is None or self.day == on.day)
        )

    def to_dict(self) -> dict[str, Any]:
        if self.weekday is not None:
            return {"index": self.index, "weekday": self.weekday, "day_id": self.day_id}
        parts = (
            "*" if self.year is None else f"{self.year:04d}",
            "*" if self.month is None else f"{self.month:02d}",
            "*" if self.day is None else f"{self.day:02d}",
        )
        return {"index": self.index, "date": "-".join(parts), "day_id": self.day_id}

    @classmethod
    def from_dict(cls, data: Any, path: str) -> SpecialDay:
        d = strict.obj(data, path, ("index", "day_id"), ("date", "weekday"))
        index = strict.as_int(d["index"], f"{path}.index", 0, 65535)
        day_id = strict.as_int(d["day_id"], f"{path}.day_id", 0, 255)
        if ("date" in d) == ("weekday" in d):
            raise FormatError(f"{path} needs exactly one of 'date' and 'weekday'")
        if "weekday" in d:
            return cls(
                index,
                None,
                None,
                None,
                strict.as_int(d["weekday"], f"{path}.weekday", 0, 6),
                day_id,
            )
        text = d["date"]
        parts = text.split("-") if isinstance(text, str) else []
        if len(parts) != 3 or not all(p == "*" or (p.isascii() and p.isdigit()) for p in parts):
            raise FormatError(f"{path}.date is {text!r}; expected 'YYYY-MM-DD' with '*' parts")
        year, month, day = (None if p == "*" else int(p) for p in parts)
        if year is not None and (month is None or day is None):
            raise FormatError(f"{path}.date {text!r}: a one-off date needs month and day")
        if month is not None and day is None:
            raise FormatError(f"{path}.date {text!r}: a yearly date needs its day")
        if (day is not None and not 1 <= day <= 31) or (month is not None and not 1 <= month <= 12):
            raise FormatError(f"{path}.date {text!r} has no such month or day")
        if day is not None and month is not None:
            last = _gregorian.monthrange(2000 if year is None else year, month)[1]
            if day > last:
                raise FormatError(f"{path}.date {text!r} is not a date")
        return cls(index, year, month, day, None, day_id)


class ActivityCalendar:
    """Active and passive tables, the passive activation time, and the special days."""

    def __init__(
        self,
        active: CalendarTables | None = None,
        passive: CalendarTables | None = None,
        activate_at: datetime | None = None,
        special_days: tuple[SpecialDay, ...] = (),
    ) -> None:
        self.active = active
        self.passive = passive
        self.activate_at = activate_at
        self.special_days = tuple(sorted(special_days, key=lambda s: (-s.specificity, s.index)))
        self._activate_s = None if activate_at is None else int(activate_at.timestamp())
        for tables in (active, passive):
            if tables is not None:
                self._check_days(tables)

    def _check_days(self, tables: CalendarTables) -> None:
        for special in self.special_days:
            if special.day_id not in tables.days:
                raise FormatError(
                    f"special day {special.index} names day profile {special.day_id}, "
                    f"which calendar {tables.name!r} does not define"
                )

    @property
    def configured(self) -> bool:
        return self.active is not None

    def activation_due(self, t: int) -> bool:
        return self._activate_s is not None and t >= self._activate_s

    def activate_passive(self) -> CalendarTables | None:
        """Make the passive tables active (class 20 ``activate_passive_calendar``)."""
        if self.passive is not None:
            self.active = self.passive
        self.passive = None
        self.activate_at = None
        self._activate_s = None
        return self.active

    def day_profile(self, on: date) -> DayProfile | None:
        tables = self.active
        if tables is None:
            return None
        for special in self.special_days:
            if special.matches(on):
                return tables.days[special.day_id]
        week = tables.weeks[tables.season_on(on).week]
        return tables.days[week.days[on.weekday()]]

    def rate_at(self, local: datetime) -> int:
        """The rate in force at a local wall-clock time."""
        profile = self.day_profile(local.date())
        if profile is None:
            return 1
        return profile.rate_at(local.hour * 60 + local.minute)

    def span(self, cal: LocalCalendar, t: int) -> tuple[int, int]:
        """(rate at epoch second ``t``, epoch second of the next possible change after t)."""
        if self.activation_due(t):
            self.activate_passive()
        local = cal.local(t)
        today = local.date()
        minute = local.hour * 60 + local.minute
        profile = self.day_profile(today)
        midnight = cal.at(today + timedelta(days=1))
        change = midnight
        if profile is not None:
            rate = profile.rate_at(minute)
            nxt = profile.next_switch(minute)
            if nxt is not None:
                at = cal.at(today, nxt)
                if t < at < midnight:
                    change = at
        else:
            rate = 1
        if self._activate_s is not None and t < self._activate_s < change:
            change = self._activate_s
        return rate, change

    def to_dict(self) -> dict[str, Any]:
        return {
            "active": None if self.active is None else self.active.to_dict(),
            "passive": None if self.passive is None else self.passive.to_dict(),
            "activate_at": None if self.activate_at is None else self.activate_at.isoformat(),
            "special_days": [s.to_dict() for s in sorted(self.special_days, key=lambda s: s.index)],
        }

    @classmethod
    def from_dict(cls, data: Any, path: str = "calendar") -> ActivityCalendar:
        d = strict.obj(data, path, (), ("active", "passive", "activate_at", "special_days"))
        active = d.get("active")
        passive = d.get("passive")
        when = d.get("activate_at")
        if when is not None:
            try:
                activate = datetime.fromisoformat(strict.as_str(when, f"{path}.activate_at"))
            except ValueError:
                activate = None
            if activate is None or activate.tzinfo is None:
                raise FormatError(
                    f"{path}.activate_at is {when!r}; expected an ISO time with offset"
                )
        else:
            activate = None
        if passive is not None and activate is None:
            raise FormatError(f"{path}.passive needs an activate_at time")
        items = strict.as_list(d.get("special_days", []), f"{path}.special_days", MAX_SPECIAL_DAYS)
        specials = tuple(
            SpecialDay.from_dict(s, f"{path}.special_days[{i}]") for i, s in enumerate(items)
        )
        if len({s.index for s in specials}) != len(specials):
            raise FormatError(f"{path}.special_days repeats an index")
        return cls(
            None if active is None else CalendarTables.from_dict(active, f"{path}.active"),
            None if passive is None else CalendarTables.from_dict(passive, f"{path}.passive"),
            activate,
            specials,
        )
