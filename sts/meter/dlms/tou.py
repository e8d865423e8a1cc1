"""The TOU calendar on the server: activity calendar (IC 20, 0.0.13.0.0.255) and special
days table (IC 11, 0.0.11.0.0.255), over :class:`sts.meter.calendar.ActivityCalendar`.

**Reading.** Attributes 2-5 are the active calendar (name, season profiles,
week profiles, day profiles), 6-9 the passive one, 10 the passive calendar's
activation time (all octets FF with deviation 8000: none). A season's start
is a date-time whose year is not given (FFFF: seasons recur every year); a
day profile's actions are {start_time, the tariffication script table
0.0.10.0.100.255, script_selector = the rate 1-8 that starts there}.

**Writing** (admin). The passive attributes 6-10 are written one at a time,
as a head end does. The server keeps what has been written; the meter takes
the passive calendar once its seasons, week profiles and day profiles agree
(every week a season names is defined, every day profile a week names) *and*
it has an activation time. Until then the meter holds no passive calendar
and nothing is scheduled. A value the meter cannot hold (a start time with
seconds, a first switch after 00:00, a rate outside 1-8, more than 12
seasons or 24 switches, a name longer than 32 characters or not ASCII) is
refused with type-unmatched and changes nothing. A year written in a season
start is ignored. An activation time without a deviation is the meter's
local time.

**Activation.** At its activation time the meter makes the passive
calendar active (the credit engine cuts its stretch there, so the rate
registers switch on the second). Method 1 ``activate_passive_calendar``
(admin, data integer 0) does it at once; it answers other-reason when no
whole passive calendar has been written. After activation the passive
calendar is empty.

**Special days** (IC 11 attribute 2, read): {index, date (5 octets: year,
month, day, weekday; FFFF/FF for "any"; a weekly entry gives only the
weekday, 1 Monday ... 7 Sunday), day_id}. Method 1 ``insert`` (an entry; the
same index replaces) and method 2 ``delete`` (an index) are admin; a day_id
that the active or passive calendar does not define is refused
(other-reason).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

from dlms_cosem.dlms_data import (
    AbstractDlmsData,
    DataArray,
    DataStructure,
    OctetStringData,
)
from dlms_cosem.time import datetime_from_bytes

from sts.errors import FormatError
from sts.meter.calendar import (
    ActivityCalendar,
    CalendarTables,
    DayProfile,
    Season,
    SpecialDay,
    WeekProfile,
)
from sts.meter.dlms import axdr
from sts.meter.dlms.errors import DlmsError, TypeUnmatched
from sts.meter.dlms.model import Attribute, Context, CosemObject, Level, Method, cosem_object
from sts.meter.event_logs import Code
from sts.meter.localtime import epoch_seconds

CALENDAR = (0, 0, 13, 0, 0, 255)
SPECIAL_DAYS = (0, 0, 11, 0, 0, 255)
TARIFF_SCRIPTS = bytes((0, 0, 10, 0, 100, 255))
NOT_SPECIFIED = b"\xff" * 9 + b"\x80\x00\xff"
_TABLE_KEYS = ("name", "seasons", "weeks", "days")


# -- encoding the meter's tables ----------------------------------------------------------


def _name(text: str) -> bytes:
    return axdr.octet_string(text.encode("ascii", "replace"))


def _season_start(month: int, day: int) -> bytes:
    return axdr.octet_string(b"\xff\xff" + bytes([month, day, 0xFF, 0, 0, 0, 0]) + b"\x80\x00\x00")


def _tables(tables: dict[str, Any] | None) -> tuple[bytes, bytes, bytes, bytes]:
    """Name, season, week and day profile attributes of a table set in its dict form."""
    if tables is None:
        tables = {"name": "", "seasons": [], "weeks": [], "days": []}
    seasons = axdr.array(
        axdr.structure(
            _name(s["name"]),
            _season_start(int(s["start"][:2]), int(s["start"][3:])),
            _name(s["week"]),
        )
        for s in tables["seasons"]
    )
    weeks = axdr.array(
        axdr.structure(_name(w["name"]), *(axdr.unsigned(d) for d in w["days"]))
        for w in tables["weeks"]
    )
    days = axdr.array(
        axdr.structure(
            axdr.unsigned(d["id"]),
            axdr.array(
                axdr.structure(
                    axdr.octet_string(bytes([int(at[:2]), int(at[3:]), 0, 0])),
                    axdr.octet_string(TARIFF_SCRIPTS),
                    axdr.long_unsigned(rate),
                )
                for at, rate in d["switches"]
            ),
        )
        for d in tables["days"]
    )
    return _name(tables["name"]), seasons, weeks, days


# -- the passive calendar being written ---------------------------------------------------


def _staged(ctx: Context) -> dict[str, Any]:
    """What has been written of the passive calendar (from the meter's own at first)."""
    calendar = ctx.meter.metering.calendar
    staged = ctx.notes.get("passive_calendar")
    if staged is not None and staged["taken"] and calendar.passive is None:
        staged = None  # the meter activated it since: the passive calendar is empty again
    if staged is None:
        passive = calendar.passive
        staged = {
            **(
                passive.to_dict()
                if passive is not None
                else {"name": "", "seasons": [], "weeks": [], "days": []}
            ),
            "activate_at": calendar.activate_at,
            "taken": passive is not None,
        }
        ctx.notes["passive_calendar"] = staged
    return staged


def _whole(staged: dict[str, Any]) -> CalendarTables | None:
    try:
        return CalendarTables.from_dict({k: staged[k] for k in _TABLE_KEYS}, "passive calendar")
    except FormatError:
        return None


def _commit(ctx: Context) -> None:
    """Hand the meter the passive calendar when whole and timed; else hold none."""
    staged = _staged(ctx)
    metering = ctx.meter.metering
    current = metering.calendar
    tables = _whole(staged)
    when = staged["activate_at"]
    ready = tables is not None and when is not None
    try:
        calendar = ActivityCalendar(
            current.active,
            tables if ready else None,
            when if ready else None,
            current.special_days,
        )
    except FormatError as exc:
        raise DlmsError(str(exc)) from None
    metering.set_calendar(calendar)
    staged["taken"] = ready
    ctx.changed = True


def _text(value: AbstractDlmsData, what: str) -> str:
    if not isinstance(value, OctetStringData):
        raise TypeUnmatched(f"{what} is an octet-string")
    raw = bytes(value.value)
    if len(raw) > 32 or not all(0x20 <= b < 0x7F for b in raw):
        raise TypeUnmatched(f"{what} is at most 32 printable ASCII characters")
    return raw.decode("ascii")


def _items(value: AbstractDlmsData, what: str, limit: int) -> list[AbstractDlmsData]:
    if not isinstance(value, DataArray):
        raise TypeUnmatched(f"{what} is an array")
    if len(value.value) > limit:
        raise TypeUnmatched(f"{what} has more than {limit} entries")
    return list(value.value)


def _fields(value: AbstractDlmsData, what: str, count: int) -> list[AbstractDlmsData]:
    if not isinstance(value, DataStructure) or len(value.value) != count:
        raise TypeUnmatched(f"{what} is a structure of {count}")
    return list(value.value)


def _number(value: AbstractDlmsData, what: str, low: int, high: int) -> int:
    number = value.to_python()
    if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
        raise TypeUnmatched(f"{what} is a whole number {low}-{high}")
    return number


def _octets(value: AbstractDlmsData, what: str, size: int) -> bytes:
    if not isinstance(value, OctetStringData) or len(value.value) != size:
        raise TypeUnmatched(f"{what} is an octet-string of {size}")
    return bytes(value.value)


def _check(part: str, items: list[dict[str, Any]]) -> None:
    """Each written entry as the meter would read it (types, ranges, order)."""
    kind = {"seasons": Season, "weeks": WeekProfile, "days": DayProfile}[part]
    for i, item in enumerate(items):
        try:
            kind.from_dict(item, f"{part}[{i}]")
        except FormatError as exc:
            raise TypeUnmatched(str(exc)) from None


def _set_name(ctx: Context, value: AbstractDlmsData) -> None:
    name = _text(value, "the calendar name")
    _staged(ctx)["name"] = name
    _commit(ctx)


def _set_seasons(ctx: Context, value: AbstractDlmsData) -> None:
    seasons = []
    for item in _items(value, "season_profile", 12):
        name, start, week = _fields(item, "a season", 3)
        raw = _octets(start, "season_start", 12)
        seasons.append(
            {
                "name": _text(name, "a season's name"),
                "start": f"{raw[2]:02d}-{raw[3]:02d}",
                "week": _text(week, "a season's week name"),
            }
        )
    _check("seasons", seasons)
    _staged(ctx)["seasons"] = seasons
    _commit(ctx)


def _set_weeks(ctx: Context, value: AbstractDlmsData) -> None:
    weeks = []
    for item in _items(value, "week_profile_table", 12):
        name, *days = _fields(item, "a week profile", 8)
        weeks.append(
            {
                "name": _text(name, "a week's name"),
                "days": [_number(d, "a day_id", 0, 255) for d in days],
            }
        )
    _check("weeks", weeks)
    _staged(ctx)["weeks"] = weeks
    _commit(ctx)


def _set_days(ctx: Context, value: AbstractDlmsData) -> None:
    days = []
    for item in _items(value, "day_profile_table", 32):
        day_id, schedule = _fields(item, "a day profile", 2)
        switches = []
        for action in _items(schedule, "a day schedule", 24):
            start, script, selector = _fields(action, "a day profile action", 3)
            hh, mm, ss, hs = _octets(start, "start_time", 4)
            if hh > 23 or mm > 59 or ss not in (0, 0xFF) or hs not in (0, 0xFF):
                raise TypeUnmatched("start_time is a whole minute hh:mm:00.00")
            if _octets(script, "script_logical_name", 6) != TARIFF_SCRIPTS:
                raise TypeUnmatched("the script is the tariffication script table 0.0.10.0.100.255")
            switches.append([f"{hh:02d}:{mm:02d}", _number(selector, "the rate", 1, 8)])
        days.append({"id": _number(day_id, "a day_id", 0, 255), "switches": switches})
    _check("days", days)
    _staged(ctx)["days"] = days
    _commit(ctx)


def _local_zone(ctx: Context) -> ZoneInfo:
    return ZoneInfo(ctx.meter.engine.config.timezone)


def _set_activation(ctx: Context, value: AbstractDlmsData) -> None:
    raw = _octets(value, "activate_passive_calendar_time", 12)
    if raw[:9] == b"\xff" * 9:
        when = None
    else:
        try:
            parsed, _status = datetime_from_bytes(raw)
        except Exception:
            raise TypeUnmatched("the activation time is not a date-time") from None
        if raw[9:11] == b"\x80\x00":
            when = parsed.replace(tzinfo=_local_zone(ctx))
        else:
            when = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    _staged(ctx)["activate_at"] = when
    _commit(ctx)


def _activate(ctx: Context, _value: AbstractDlmsData | None) -> bytes | None:
    staged = _staged(ctx)
    tables = _whole(staged)
    if tables is None:
        raise DlmsError("no whole passive calendar has been written")
    current = ctx.meter.metering.calendar
    try:
        calendar = ActivityCalendar(tables, None, None, current.special_days)
    except FormatError as exc:
        raise DlmsError(str(exc)) from None
    ctx.meter.metering.set_calendar(calendar)
    ctx.meter.metering.guard.record(
        epoch_seconds(ctx.now), Code.PARAMETER_CHANGED, f"calendar {tables.name!r} activated"
    )
    ctx.notes.pop("passive_calendar", None)
    ctx.changed = True
    return None


def activity_calendar() -> CosemObject:
    def active(index: int):  # type: ignore[no-untyped-def]
        def get(ctx: Context) -> bytes:
            tables = ctx.meter.metering.calendar.active
            return _tables(None if tables is None else tables.to_dict())[index]

        return get

    def passive(index: int):  # type: ignore[no-untyped-def]
        return lambda ctx: _tables(_staged(ctx))[index]

    def activation(ctx: Context) -> bytes:
        when = _staged(ctx)["activate_at"]
        return axdr.octet_string(NOT_SPECIFIED) if when is None else axdr.date_time(when)

    setters = (_set_name, _set_seasons, _set_weeks, _set_days)
    attributes = {2 + i: Attribute(active(i)) for i in range(4)}
    attributes |= {6 + i: Attribute(passive(i), set=setters[i]) for i in range(4)}
    attributes[10] = Attribute(activation, set=_set_activation)
    return cosem_object(CALENDAR, 20, 0, attributes, {1: Method(_activate, Level.ADMIN)})


# -- special days -------------------------------------------------------------------------


def _special_date(special: SpecialDay) -> bytes:
    if special.weekday is not None:
        return b"\xff\xff\xff\xff" + bytes([special.weekday + 1])
    year = 0xFFFF if special.year is None else special.year
    return year.to_bytes(2, "big") + bytes(
        [
            0xFF if special.month is None else special.month,
            0xFF if special.day is None else special.day,
            0xFF,
        ]
    )


def _special_days(ctx: Context) -> bytes:
    entries = sorted(ctx.meter.metering.calendar.special_days, key=lambda s: s.index)
    return axdr.array(
        axdr.structure(
            axdr.long_unsigned(s.index),
            axdr.octet_string(_special_date(s)),
            axdr.unsigned(s.day_id),
        )
        for s in entries
    )


def _replace_special_days(ctx: Context, specials: tuple[SpecialDay, ...]) -> None:
    current = ctx.meter.metering.calendar
    try:
        calendar = ActivityCalendar(current.active, current.passive, current.activate_at, specials)
    except FormatError as exc:
        raise DlmsError(str(exc)) from None
    ctx.meter.metering.set_calendar(calendar)
    ctx.changed = True


def _insert(ctx: Context, value: AbstractDlmsData | None) -> bytes | None:
    if value is None:
        raise TypeUnmatched("insert takes a special day entry")
    index, when, day_id = _fields(value, "a special day entry", 3)
    raw = _octets(when, "specialday_date", 5)
    year, month, day, weekday = int.from_bytes(raw[:2], "big"), raw[2], raw[3], raw[4]
    entry: dict[str, Any] = {
        "index": _number(index, "the index", 0, 65535),
        "day_id": _number(day_id, "the day_id", 0, 255),
    }
    if (year, month, day) == (0xFFFF, 0xFF, 0xFF) and 1 <= weekday <= 7:
        entry["weekday"] = weekday - 1
    else:
        parts = (
            "*" if year == 0xFFFF else f"{year:04d}",
            "*" if month == 0xFF else f"{month:02d}",
            "*" if day == 0xFF else f"{day:02d}",
        )
        entry["date"] = "-".join(parts)
    try:
        special = SpecialDay.from_dict(entry, "special day")
    except FormatError as exc:
        raise TypeUnmatched(str(exc)) from None
    kept = tuple(s for s in ctx.meter.metering.calendar.special_days if s.index != special.index)
    if len(kept) >= 200:
        raise DlmsError("the special days table holds 200 entries")
    _replace_special_days(ctx, (*kept, special))
    return None


def _delete(ctx: Context, value: AbstractDlmsData | None) -> bytes | None:
    if value is None:
        raise TypeUnmatched("delete takes an index")
    index = _number(value, "the index", 0, 65535)
    specials = ctx.meter.metering.calendar.special_days
    kept = tuple(s for s in specials if s.index != index)
    if len(kept) == len(specials):
        raise DlmsError(f"no special day has index {index}")
    _replace_special_days(ctx, kept)
    return None


def special_days_table() -> CosemObject:
    return cosem_object(
        SPECIAL_DAYS,
        11,
        0,
        {2: Attribute(_special_days)},
        {1: Method(_insert, Level.ADMIN), 2: Method(_delete, Level.ADMIN)},
    )
