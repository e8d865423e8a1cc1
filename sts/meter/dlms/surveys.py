"""The metering side's records as profiles (IC 7): the load-profile surveys, the daily
survey, and the five event logs of :mod:`sts.meter.event_logs`.

**Surveys.** Survey 1 is the load profile 1.0.99.1.0.255, surveys 2 and 3 are
1.0.99.1.1.255 and 1.0.99.1.2.255 (decision: OBIS value group D = 1 is "load
profile with recording period 1"; IDIS names only the first, so E counts the
further surveys of the same kind). The daily survey is 1.0.99.2.0.255 (IDIS
"load profile 2", recording period 2: one row per local midnight). Each has
the clock as its first capture object, then one IC 3 register (attribute 2)
per channel of the survey, in the survey's order. A row's time is the
capture instant in UTC (a date-time with deviation 0); energy channels are
long64 in whole Wh, varh or VAh, instantaneous channels double-long in the
register's own scaler, as the registers themselves are served. A survey the
meter is not configured with has no capture objects, a capture period of 0
and no rows. ``entries_in_use`` and ``profile_entries`` are the survey's
row count and ring capacity. A water or gas meter serves none of these
surveys; their +A channel is its volume profiles 8.0.99.1.E / 7.0.99.1.E and
8.0.99.2.0 / 7.0.99.2.0 instead (:mod:`sts.meter.dlms.volume`).

**Event logs** (IDIS names, capture objects {clock, event code register}):

==============  ===============  ===============  =============================
log             profile          event code       rows
==============  ===============  ===============  =============================
fraud           0.0.99.98.1.255  0.0.96.11.1.255  the fraud log
disconnector    0.0.99.98.2.255  0.0.96.11.2.255  security-log entries 105-107
power quality   0.0.99.98.4.255  0.0.96.11.4.255  the power-quality log
standard (M22)  0.0.99.98.6.255  0.0.96.11.6.255  power down/up, time synchronised
failure         0.0.99.98.7.255  0.0.96.11.7.255  the failure log
security        0.0.99.98.8.255  0.0.96.11.8.255  the security log
==============  ===============  ===============  =============================

0.0.99.98.0.255 stays the prepayment meter's event log it has always been
(tokens, credit, relay; :mod:`sts.meter.dlms.logs`), whose codes 1-15 would
clash with the Magno's standard codes 1-3: those are served at .6 (decision;
IDIS names no failure or security log, so .7 and .8 are this project's).
The disconnector log is the security log's disconnect-control entries (105
disconnect command, 106 opened by self-protection, 107 reconnected). Codes are
:class:`sts.meter.event_logs.Code` values; each event-code register holds the
latest code of its log (0 when empty).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sts.meter.dlms import axdr
from sts.meter.dlms.basic import data
from sts.meter.dlms.model import Attribute, Context, CosemObject, Level, Obis, cosem_object
from sts.meter.dlms.profile import CLOCK_COLUMN, Column, LazyRow, Row, select
from sts.meter.event_logs import Entry, LogName
from sts.meter.obis import ObisCode
from sts.meter.survey import Survey

SURVEY_OBIS: tuple[Obis, ...] = (
    (1, 0, 99, 1, 0, 255),
    (1, 0, 99, 1, 1, 255),
    (1, 0, 99, 1, 2, 255),
)
DAILY_SURVEY: Obis = (1, 0, 99, 2, 0, 255)
DISCONNECTOR_CODES = frozenset({105, 106, 107})
FIFO = 1


def _utc(t: int) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _columns(survey: Survey) -> list[Column]:
    return [CLOCK_COLUMN, *(_channel_column(code) for code in survey.config.channels)]


def _channel_column(code: ObisCode) -> Column:
    return Column(3, (code.a, code.b, code.c, code.d, code.e, code.f), 2)


def _encoders(survey: Survey) -> list[Callable[[int], bytes]]:
    return [axdr.double_long if c.d == 7 else axdr.long64 for c in survey.config.channels]


def lazy_rows(
    survey: Survey, encode: Callable[[tuple[int, ...]], tuple[bytes, ...]]
) -> list[LazyRow]:
    """The survey's rows, oldest first, each the capture time in UTC then ``encode`` of its
    channel values, encoded only when a selection picks the row."""

    def values(row: tuple[datetime, tuple[int, ...]]) -> tuple[bytes, ...]:
        when, raw = row
        return (axdr.date_time(when), *encode(raw))

    out = []
    for t, raw in survey.rows():
        when = _utc(t)
        out.append(LazyRow(when, (when, raw), values))
    return out


def _rows(survey: Survey) -> list[LazyRow]:
    encoders = _encoders(survey)
    return lazy_rows(survey, lambda raw: tuple(e(v) for e, v in zip(encoders, raw, strict=True)))


def survey_profile(
    obis: Obis,
    find: Callable[[Context], Survey | None],
    columns: Callable[[Survey], list[Column]] = _columns,
    rows: Callable[[Survey], list[LazyRow]] = _rows,
) -> CosemObject:
    """IC 7 over the survey ``find`` gives (None: not configured, an empty profile).

    ``columns`` and ``rows`` are the profile's view of the survey: by default the clock
    and every channel (a water or gas meter's volume profile picks one channel and names
    it as its volume register: :mod:`sts.meter.dlms.volume`)."""

    def buffer(ctx: Context, selector: int | None = None, parameters: object = None) -> bytes:
        survey = find(ctx)
        if survey is None:
            return select([CLOCK_COLUMN], [], selector, parameters)
        return select(columns(survey), rows(survey), selector, parameters)

    def captures(ctx: Context) -> bytes:
        survey = find(ctx)
        picked = [] if survey is None else columns(survey)
        return axdr.array(column.encode() for column in picked)

    def period(ctx: Context) -> bytes:
        survey = find(ctx)
        if survey is None:
            return axdr.double_long_unsigned(0)
        return axdr.double_long_unsigned(86400 if survey.daily else survey.config.period_min * 60)

    def in_use(ctx: Context) -> bytes:
        survey = find(ctx)
        return axdr.double_long_unsigned(0 if survey is None else len(survey))

    def capacity(ctx: Context) -> bytes:
        survey = find(ctx)
        return axdr.double_long_unsigned(0 if survey is None else survey.config.capacity)

    unsorted = Column(0, (0, 0, 0, 0, 0, 0), 0).encode()
    read = Level.READER
    return cosem_object(
        obis,
        7,
        1,
        {
            2: Attribute(buffer, read, selective=buffer),
            3: Attribute(captures, read),
            4: Attribute(period, read),
            5: Attribute(lambda _c: axdr.enum(FIFO), read),
            6: Attribute(lambda _c: unsorted, read),
            7: Attribute(in_use, read),
            8: Attribute(capacity, read),
        },
        read=read,
    )


def _nth_survey(number: int) -> Callable[[Context], Survey | None]:
    def find(ctx: Context) -> Survey | None:
        surveys = ctx.meter.metering.surveys
        return surveys[number] if number < len(surveys) else None

    return find


# -- event logs ---------------------------------------------------------------------------

EventRows = Callable[[Context], Sequence[Entry]]


def _log(name: LogName) -> EventRows:
    return lambda ctx: list(ctx.meter.metering.guard.logs.log(name))


def _disconnector(ctx: Context) -> list[Entry]:
    security = ctx.meter.metering.guard.logs.log(LogName.SECURITY)
    return [entry for entry in security if entry.code in DISCONNECTOR_CODES]


EVENT_LOGS: tuple[tuple[int, EventRows], ...] = (
    (1, _log(LogName.FRAUD)),
    (2, _disconnector),
    (4, _log(LogName.POWER_QUALITY)),
    (6, _log(LogName.STANDARD)),
    (7, _log(LogName.FAILURE)),
    (8, _log(LogName.SECURITY)),
)
"""(E of 0.0.99.98.E.255 and 0.0.96.11.E.255, the entries of that log)."""


def event_log(e: int, entries: EventRows, capacity: Callable[[Context], int]) -> list[CosemObject]:
    """The event code register 0.0.96.11.e.255 and the profile 0.0.99.98.e.255 over it."""
    code_obis: Obis = (0, 0, 96, 11, e, 255)
    columns = [CLOCK_COLUMN, Column(1, code_obis, 2)]

    def rows(ctx: Context) -> list[Row]:
        out = []
        for entry in entries(ctx):
            when = _utc(entry.at)
            out.append(Row(when, (axdr.date_time(when), axdr.long_unsigned(entry.code))))
        return out

    def latest(ctx: Context) -> bytes:
        found = entries(ctx)
        return axdr.long_unsigned(found[-1].code if found else 0)

    def buffer(ctx: Context, selector: int | None = None, parameters: object = None) -> bytes:
        return select(columns, rows(ctx), selector, parameters)

    captures = axdr.array(column.encode() for column in columns)
    unsorted = Column(0, (0, 0, 0, 0, 0, 0), 0).encode()
    read = Level.READER
    return [
        data(code_obis, latest),
        cosem_object(
            (0, 0, 99, 98, e, 255),
            7,
            1,
            {
                2: Attribute(buffer, read, selective=buffer),
                3: Attribute(lambda _c: captures, read),
                4: Attribute(lambda _c: axdr.double_long_unsigned(0), read),
                5: Attribute(lambda _c: axdr.enum(FIFO), read),
                6: Attribute(lambda _c: unsorted, read),
                7: Attribute(lambda c: axdr.double_long_unsigned(len(entries(c))), read),
                8: Attribute(lambda c: axdr.double_long_unsigned(capacity(c)), read),
            },
            read=read,
        ),
    ]


def _log_capacity(ctx: Context) -> int:
    return ctx.meter.metering.guard.logs.log(LogName.STANDARD).capacity


def metering_profiles() -> list[CosemObject]:
    """The three surveys, the daily survey and the Magno's event logs."""
    objects = [survey_profile(obis, _nth_survey(i)) for i, obis in enumerate(SURVEY_OBIS)]
    objects.append(survey_profile(DAILY_SURVEY, lambda c: c.meter.metering.daily_survey))
    for e, entries in EVENT_LOGS:
        objects += event_log(e, entries, _log_capacity)
    return objects
