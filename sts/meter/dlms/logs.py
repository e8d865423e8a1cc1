"""The meter's records as profiles: monthly consumption (its billing records) and its
event log, with the +A day and month registers and the event code the log captures.
"""

from __future__ import annotations

from datetime import date, datetime, time

from dlms_cosem.time import datetime_to_bytes

from sts.meter.dlms import axdr
from sts.meter.dlms.basic import UNIT_WH, credit_status, data, register, wh
from sts.meter.dlms.model import (
    Context,
    CosemObject,
)
from sts.meter.dlms.profile import CLOCK_COLUMN, Column, Row, profile_generic
from sts.meter.events import EventKind

EVENT_CODES: dict[EventKind, int] = {
    EventKind.TOKEN_ACCEPTED: 1,
    EventKind.TOKEN_REJECTED: 2,
    EventKind.KEY_CHANGED: 3,
    EventKind.RELAY_OPENED: 4,
    EventKind.RELAY_CLOSED: 5,
    EventKind.CREDIT_LOW: 6,
    EventKind.CREDIT_EXHAUSTED: 7,
    EventKind.EMERGENCY_CREDIT: 8,
    EventKind.POWER_LIMIT_EXCEEDED: 9,
    EventKind.TAMPER: 10,
    EventKind.TAMPER_CLEARED: 11,
    EventKind.CREDIT_CLEARED: 12,
    EventKind.SETTING_CHANGED: 13,
    EventKind.LOCKOUT: 14,
    EventKind.TEST: 15,
}
"""The event code (0.0.96.11.0.255 and the event log) of each kind of event; 255 other."""

EVENT_CODE = (0, 0, 96, 11, 0, 255)
DAY_DELTA = (1, 0, 1, 29, 0, 255)  # +A over the capture period: here the day so far
MONTH_TOTAL = (1, 0, 1, 9, 0, 255)  # +A in the current billing period: the month so far


def _local_midnight(day: date) -> bytes:
    """A capture time at a local midnight: no deviation given (the meter's local time)."""
    return axdr.octet_string(datetime_to_bytes(datetime.combine(day, time())))


def _monthly_rows(ctx: Context) -> list[Row]:
    rows = []
    for record in ctx.meter.engine.billing.monthly():
        closed = date(record.year + record.month // 12, record.month % 12 + 1, 1)
        when = datetime.combine(closed, time())
        rows.append(
            Row(when, (_local_midnight(closed), axdr.double_long_unsigned(record.joules // 3600)))
        )
    return rows


def _event_rows(ctx: Context) -> list[Row]:
    return [
        Row(event.at, (axdr.date_time(event.at), axdr.unsigned(EVENT_CODES.get(event.kind, 255))))
        for event in ctx.meter.events
    ]


def last_event_code(ctx: Context) -> bytes:
    latest = ctx.meter.events.latest(1)
    return axdr.unsigned(EVENT_CODES.get(latest[0].kind, 255) if latest else 0)


def profiles() -> list[CosemObject]:
    """Monthly consumption (the billing records) and the standard event log (the daily
    profile 1.0.99.2.0.255 is the daily survey: :mod:`sts.meter.dlms.surveys`)."""
    return [
        register(DAY_DELTA, lambda c: wh(credit_status(c).today_kwh), 0, UNIT_WH),
        register(MONTH_TOTAL, lambda c: wh(credit_status(c).month_kwh), 0, UNIT_WH),
        data(EVENT_CODE, last_event_code),
        profile_generic(
            (0, 0, 98, 1, 0, 255),
            [CLOCK_COLUMN, Column(3, MONTH_TOTAL, 2)],
            _monthly_rows,
            capture_period=0,
            capacity=13,
        ),
        profile_generic(
            (0, 0, 99, 98, 0, 255),
            [CLOCK_COLUMN, Column(1, EVENT_CODE, 2)],
            _event_rows,
            capture_period=0,
            capacity=lambda c: c.meter.events.capacity,
        ),
    ]
