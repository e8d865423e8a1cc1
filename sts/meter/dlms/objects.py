"""The simulated meter's COSEM objects: one table, OBIS code -> object.

Each entry maps an object of the Blue Book (IEC 62056-6-2) onto the existing
:class:`~sts.meter.meter.Meter`; adding a register is one :func:`register`
line in :func:`meter_objects`. Units and scales:

=====================  ==========  ===========================================
object                 OBIS        value
=====================  ==========  ===========================================
clock (IC 8)           0.0.1.0.0   the meter's clock in UTC; SET moves it forward
logical device name    0.0.42.0.0  "STS" + DRN (IC 1, octet-string)
firmware version       1.0.0.2.0   the meter's software version (IC 1)
association LN (15)    0.0.40.0.0  object list as the association's level sees it
frame counter (IC 1)   0.0.43.1.0  the next invocation counter the server accepts
+A total (IC 3)        1.0.1.8.0   energy delivered, Wh (scaler 0, unit 30 = Wh)
account (IC 111)       0.0.19.0.0  prepayment mode, active; money in cents (scale -2)
credit (IC 112)        0.0.19.10.0 energy wallet, Wh
                       0.0.19.10.1 money wallet, cents
                       0.0.19.10.2 emergency credit, Wh (invoke_credit takes it)
token gateway (115)    0.0.19.40.0 enter(20 digits) -> the keypad's decision
disconnect ctrl (70)   0.0.96.3.10 the relay: read only (see below)
+A this day (IC 3)     1.0.1.29.0  energy used since local midnight, Wh
+A this month (IC 3)   1.0.1.9.0   energy used since the month began, Wh
event code (IC 1)      0.0.96.11.0 the code of the latest event (:data:`EVENT_CODES`)
daily profile (IC 7)   1.0.99.2.0  the 31 closed days: {clock, 1.0.1.29.0 Wh}
monthly billing (7)    0.0.98.1.0  the 13 closed months: {clock, 1.0.1.9.0 Wh}
standard event log (7) 0.0.99.98.0 the event log: {clock, event code}
push setup (IC 40)     0.0.25.9.0  alarms pushed as DataNotification (:mod:`.push`)
=====================  ==========  ===========================================

**Profiles.** Each row of the daily and monthly profiles is stamped with the
local midnight that closed its day or month (no deviation given: the meter's
local time); event log rows with the event's time in UTC. Selective access by
range and by entry works on all three (:mod:`sts.meter.dlms.profile`).

**Token gateway.** Method 1 ``enter`` takes the token's 20 ASCII digits as an
octet-string and hands them to :meth:`Meter.enter_token` at the request's
time: the same decoder, TID memory, key change sets and lockout as the keypad.
The outcome is kept by the server and read back from attribute 2 (token),
3 (token_time), 4 (token_description: the STS result code with its display
text, then the meter's reason), 5 (token_delivery_method: 0, remote) and 6
(token_status: the IC 115 status code and, as its 8-bit data_value, the STS
result code). The STS result codes map onto IC 115 status codes as
:data:`GATEWAY_STATUS` gives.

**Disconnect control.** The meter's relay is switched by the prepayment
engine (credit, power limit, tamper), not by command. Output state is the
relay, control state is 1 (connected) or 0 (disconnected), control mode is
0 (none); the methods remote_disconnect and remote_reconnect answer
read-write-denied until the meter has a remotely switchable disconnector.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal

from dlms_cosem.dlms_data import AbstractDlmsData, OctetStringData
from dlms_cosem.time import datetime_from_bytes, datetime_to_bytes

from sts.errors import StsError
from sts.meter.dlms import axdr
from sts.meter.dlms.errors import AccessDenied, DlmsError, TypeUnmatched
from sts.meter.dlms.model import (
    Attribute,
    Context,
    CosemObject,
    Level,
    Method,
    Obis,
    ObjectTable,
    cosem_object,
    object_list,
)
from sts.meter.dlms.profile import CLOCK_COLUMN, Column, Row, profile_generic
from sts.meter.dlms.push import PUSH_SETUP, check_alarms, push_setup
from sts.meter.events import EventKind
from sts.meter.meter import SOFTWARE_VERSION
from sts.results import ResultCode

# Units (IEC 62056-6-2 unit enumeration).
UNIT_CURRENCY = 10
UNIT_W = 27
UNIT_WH = 30

# IC 115 token_status codes.
FORMAT_OK = 0
AUTHENTICATION_OK = 1
VALIDATION_OK = 2
EXECUTION_OK = 3
FORMAT_FAILURE = 4
AUTHENTICATION_FAILURE = 5
VALIDATION_FAILURE = 6
EXECUTION_FAILURE = 7
NOT_YET_PROCESSED = 8

GATEWAY_STATUS: dict[ResultCode, int] = {
    ResultCode.ACCEPT: EXECUTION_OK,
    ResultCode.FIRST_KCT: EXECUTION_OK,
    ResultCode.SECOND_KCT: EXECUTION_OK,
    ResultCode.FORMAT: FORMAT_FAILURE,
    ResultCode.CRC: AUTHENTICATION_FAILURE,  # wrong key or mistyped: it does not decrypt
    ResultCode.DDTK: AUTHENTICATION_FAILURE,  # the meter is still on its default key
    ResultCode.KEY_TYPE: VALIDATION_FAILURE,
    ResultCode.RANGE: VALIDATION_FAILURE,
    ResultCode.FUNCTION: VALIDATION_FAILURE,
    ResultCode.OLD: VALIDATION_FAILURE,
    ResultCode.USED: VALIDATION_FAILURE,
    ResultCode.KEY_EXPIRED: VALIDATION_FAILURE,
    ResultCode.MFR_CODE: VALIDATION_FAILURE,
    ResultCode.OVERFLOW: EXECUTION_FAILURE,  # valid, but the register cannot take it
    ResultCode.LOCKOUT: EXECUTION_FAILURE,  # not processed: the keypad is locked
    ResultCode.NOT_READY: EXECUTION_FAILURE,
}
"""STS result code -> IC 115 token_status code (the STS code itself is in data_value)."""

GATEWAY = (0, 0, 19, 40, 0, 255)
ASSOCIATION = (0, 0, 40, 0, 0, 255)
CREDIT_OBIS = ((0, 0, 19, 10, 0, 255), (0, 0, 19, 10, 1, 255), (0, 0, 19, 10, 2, 255))


def _wh(kwh: Decimal) -> int:
    return int((kwh * 1000).to_integral_value(ROUND_DOWN))


def _cents(money: Decimal) -> int:
    return int((money * 100).to_integral_value(ROUND_DOWN))


def _credit(ctx: Context):  # type: ignore[no-untyped-def]
    return ctx.meter.engine.status()


# -- generic constructors -----------------------------------------------------------------


def data(obis: Obis, value: Callable[[Context], bytes], read: Level = Level.READER) -> CosemObject:
    """IC 1 (Data) whose value attribute is ``value``."""
    return cosem_object(obis, 1, 0, {2: Attribute(value, read=read)}, read=read)


def register(
    obis: Obis,
    value: Callable[[Context], int],
    scaler: int,
    unit: int,
    read: Level = Level.READER,
    encode: Callable[[int], bytes] = axdr.double_long_unsigned,
) -> CosemObject:
    """IC 3 (Register): ``value`` in units of 10**scaler ``unit``."""
    scaler_unit = axdr.structure(axdr.integer(scaler), axdr.enum(unit))
    return cosem_object(
        obis,
        3,
        0,
        {
            2: Attribute(lambda c: encode(value(c)), read=read),
            3: Attribute(lambda _c: scaler_unit, read=read),
        },
        read=read,
    )


# -- clock --------------------------------------------------------------------------------


def _set_clock(ctx: Context, value: AbstractDlmsData) -> None:
    if not isinstance(value, OctetStringData) or len(value.value) != 12:
        raise TypeUnmatched("the clock's time is a 12-octet date-time octet-string")
    raw = bytes(value.value)
    try:
        when, _status = datetime_from_bytes(raw)
    except Exception:
        raise TypeUnmatched("the date-time does not name a time") from None
    if raw[9:11] == b"\x80\x00":
        raise TypeUnmatched("the date-time has no deviation from UTC")
    if when.tzinfo is None:  # dlms-cosem reads deviation 0 (UTC) as no time zone
        when = when.replace(tzinfo=UTC)
    if when < ctx.now:
        raise DlmsError("the meter's clock only moves forward", None)
    ctx.meter.advance(when)
    ctx.now = when
    ctx.changed = True


def clock() -> CosemObject:
    never = axdr.octet_string(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x80\x00\xff")
    return cosem_object(
        (0, 0, 1, 0, 0, 255),
        8,
        0,
        {
            2: Attribute(lambda c: axdr.date_time(c.now), Level.PUBLIC, _set_clock, Level.ADMIN),
            3: Attribute(lambda _c: axdr.long(0), Level.PUBLIC),  # time_zone: UTC
            4: Attribute(lambda _c: axdr.unsigned(0), Level.PUBLIC),  # status: all fine
            5: Attribute(lambda _c: never, Level.PUBLIC),  # daylight_savings_begin
            6: Attribute(lambda _c: never, Level.PUBLIC),  # daylight_savings_end
            7: Attribute(lambda _c: axdr.integer(0), Level.PUBLIC),  # deviation
            8: Attribute(lambda _c: axdr.boolean(False), Level.PUBLIC),  # DST enabled
            9: Attribute(lambda _c: axdr.enum(1), Level.PUBLIC),  # clock_base: crystal
        },
        read=Level.PUBLIC,
    )


# -- association --------------------------------------------------------------------------


def association(table: Callable[[], ObjectTable]) -> CosemObject:
    """IC 15 version 1. Method 1 (reply_to_HLS_authentication) is the server core's own."""

    def partners(ctx: Context) -> bytes:
        a = ctx.association
        return axdr.structure(axdr.integer(a["client_sap"]), axdr.long_unsigned(a["server_sap"]))

    def hls_reply(_ctx: Context, _value: AbstractDlmsData | None) -> bytes | None:
        raise AccessDenied("reply_to_HLS_authentication is only taken while HLS is pending")

    return cosem_object(
        ASSOCIATION,
        15,
        1,
        {
            2: Attribute(
                lambda c: object_list(table(), Level(c.association["level"])), Level.PUBLIC
            ),
            3: Attribute(partners, Level.PUBLIC),
            8: Attribute(lambda _c: axdr.enum(2), Level.PUBLIC),  # associated
        },
        {1: Method(hls_reply, Level.PUBLIC)},
        read=Level.PUBLIC,
    )


# -- payment metering ---------------------------------------------------------------------


def account() -> CosemObject:
    def mode_and_status(_c: Context) -> bytes:
        return axdr.structure(axdr.enum(2), axdr.enum(2))  # prepayment mode, active

    def in_use(ctx: Context) -> bytes:
        s = _credit(ctx)
        bits = (1 if s.energy_kwh > 0 else 0) | (2 if s.money > 0 else 0)
        return axdr.unsigned(bits | (4 if s.emergency_active else 0))

    def status_bits(ctx: Context) -> bytes:
        s = _credit(ctx)
        has_credit = s.energy_kwh > 0 or s.money > 0 or s.emergency_active
        # bit 0 in credit, 1 low credit, 2-5 not used here, 6 out of credit, 7 reserved
        bits = ["1" if has_credit else "0", "1" if s.alarm_level > 0 else "0", "0", "0"]
        bits += ["0", "1" if s.emergency_active else "0", "0" if has_credit else "1", "0"]
        return axdr.bit_string("".join(bits))

    def currency(_c: Context) -> bytes:
        return axdr.structure(axdr.visible_string("currency"), axdr.integer(-2), axdr.enum(2))

    credits = axdr.array(axdr.octet_string(bytes(o)) for o in CREDIT_OBIS)
    return cosem_object(
        (0, 0, 19, 0, 0, 255),
        111,
        0,
        {
            2: Attribute(mode_and_status),
            3: Attribute(in_use),
            4: Attribute(status_bits),
            5: Attribute(lambda c: axdr.double_long(_cents(_credit(c).money))),
            8: Attribute(lambda c: axdr.double_long(_cents(_credit(c).debt_money))),
            9: Attribute(lambda _c: credits),
            15: Attribute(currency),
        },
    )


def _credit_object(
    obis: Obis,
    kind: int,
    priority: int,
    amount: Callable[[Context], int],
    status: Callable[[Context], int],
    limit: Callable[[Context], int] = lambda _c: 0,
    methods: dict[int, Method] | None = None,
) -> CosemObject:
    return cosem_object(
        obis,
        112,
        0,
        {
            2: Attribute(lambda c: axdr.double_long(amount(c))),
            3: Attribute(lambda _c: axdr.enum(kind)),
            4: Attribute(lambda _c: axdr.unsigned(priority)),
            6: Attribute(lambda c: axdr.double_long(limit(c))),
            8: Attribute(lambda c: axdr.enum(status(c))),
        },
        methods,
    )


def _invoke_emergency(ctx: Context, _value: AbstractDlmsData | None) -> bytes | None:
    lines = ctx.meter.short_code("99", now=ctx.now)
    ctx.changed = True
    if lines[0] != "Emergency credit":
        raise DlmsError(f"no emergency credit: {lines[-1]}")
    return None


def credits() -> list[CosemObject]:
    """IC 112 status: 0 enabled, 1 selectable, 3 in use, 4 exhausted; type 0 token, 2 emergency."""

    def energy_status(ctx: Context) -> int:
        return 3 if _credit(ctx).energy_kwh > 0 else 4

    def money_status(ctx: Context) -> int:
        s = _credit(ctx)
        return 4 if s.money <= 0 else (0 if s.energy_kwh > 0 else 3)

    def emergency_amount(ctx: Context) -> int:
        s = _credit(ctx)
        if s.emergency_active:
            return _wh(s.emergency_limit_kwh - s.emergency_used_kwh)
        return _wh(s.emergency_limit_kwh) if s.emergency_available else 0

    def emergency_status(ctx: Context) -> int:
        s = _credit(ctx)
        return 3 if s.emergency_active else (1 if s.emergency_available else 0)

    return [
        _credit_object(CREDIT_OBIS[0], 0, 1, lambda c: _wh(_credit(c).energy_kwh), energy_status),
        _credit_object(CREDIT_OBIS[1], 0, 2, lambda c: _cents(_credit(c).money), money_status),
        _credit_object(
            CREDIT_OBIS[2],
            2,
            3,
            emergency_amount,
            emergency_status,
            lambda c: _wh(_credit(c).emergency_limit_kwh),
            {3: Method(_invoke_emergency, Level.OPERATOR)},
        ),
    ]


def _enter_token(ctx: Context, value: AbstractDlmsData | None) -> bytes | None:
    if not isinstance(value, OctetStringData):
        raise TypeUnmatched("enter takes the token as an octet-string of 20 ASCII digits")
    raw = bytes(value.value)
    if len(raw) != 20 or not raw.isdigit():
        raise TypeUnmatched(f"the token is {len(raw)} octets; expected 20 ASCII digits")
    try:
        outcome = ctx.meter.enter_token(raw.decode("ascii"), now=ctx.now)
    except StsError as exc:  # the meter refused before deciding (e.g. its clock)
        raise DlmsError(str(exc)) from exc
    ctx.changed = True
    ctx.notes["gateway"] = {
        "token": raw,
        "time": outcome.at,
        "description": [
            line.encode("ascii", "replace")[:200]
            for line in (f"STS {int(outcome.result)} {outcome.text}", outcome.detail)
            if line
        ],
        "status": GATEWAY_STATUS[outcome.result],
        "result": int(outcome.result),
    }
    return None


def token_gateway() -> CosemObject:
    def note(ctx: Context) -> dict | None:  # type: ignore[type-arg]
        return ctx.notes.get("gateway")

    def token(ctx: Context) -> bytes:
        n = note(ctx)
        return axdr.octet_string(n["token"] if n else b"")

    def token_time(ctx: Context) -> bytes:
        n = note(ctx)
        return axdr.date_time(n["time"]) if n else axdr.octet_string(b"\xff" * 9 + b"\x80\x00\xff")

    def description(ctx: Context) -> bytes:
        n = note(ctx)
        return axdr.array(axdr.octet_string(line) for line in (n["description"] if n else []))

    def status(ctx: Context) -> bytes:
        n = note(ctx)
        if n is None:
            return axdr.structure(axdr.enum(NOT_YET_PROCESSED), axdr.bit_string(""))
        return axdr.structure(axdr.enum(n["status"]), axdr.bit_string(f"{n['result']:08b}"))

    return cosem_object(
        GATEWAY,
        115,
        0,
        {
            2: Attribute(token),
            3: Attribute(token_time),
            4: Attribute(description),
            5: Attribute(lambda _c: axdr.enum(0)),  # remote, via communication
            6: Attribute(status),
        },
        {1: Method(_enter_token, Level.OPERATOR)},
    )


def disconnect_control() -> CosemObject:
    def refuse(_ctx: Context, _value: AbstractDlmsData | None) -> bytes | None:
        raise AccessDenied("the relay is switched by the prepayment engine, not remotely")

    def closed(ctx: Context) -> bool:
        return bool(_credit(ctx).relay_closed)

    return cosem_object(
        (0, 0, 96, 3, 10, 255),
        70,
        0,
        {
            2: Attribute(lambda c: axdr.boolean(closed(c))),
            3: Attribute(lambda c: axdr.enum(1 if closed(c) else 0)),
            4: Attribute(lambda _c: axdr.enum(0)),
        },
        {1: Method(refuse, Level.ADMIN), 2: Method(refuse, Level.ADMIN)},
    )


# -- profiles -----------------------------------------------------------------------------

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


def _daily_rows(ctx: Context) -> list[Row]:
    rows = []
    for record in ctx.meter.engine.billing.daily():
        closed = record.day + timedelta(days=1)
        when = datetime.combine(closed, time())
        rows.append(
            Row(when, (_local_midnight(closed), axdr.double_long_unsigned(record.joules // 3600)))
        )
    return rows


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


def _last_event_code(ctx: Context) -> bytes:
    latest = ctx.meter.events.latest(1)
    return axdr.unsigned(EVENT_CODES.get(latest[0].kind, 255) if latest else 0)


def profiles() -> list[CosemObject]:
    """Daily and monthly consumption (the billing records) and the standard event log."""
    return [
        register(DAY_DELTA, lambda c: _wh(_credit(c).today_kwh), 0, UNIT_WH),
        register(MONTH_TOTAL, lambda c: _wh(_credit(c).month_kwh), 0, UNIT_WH),
        data(EVENT_CODE, _last_event_code),
        profile_generic(
            (1, 0, 99, 2, 0, 255),
            [CLOCK_COLUMN, Column(3, DAY_DELTA, 2)],
            _daily_rows,
            capture_period=86400,
            capacity=31,
        ),
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


# -- push ---------------------------------------------------------------------------------

LDN = (0, 0, 42, 0, 0, 255)
CLOCK = (0, 0, 1, 0, 0, 255)


def _ldn(ctx: Context) -> bytes:
    return axdr.octet_string(b"STS" + ctx.meter.decoder.identity.drn.encode("ascii"))


def _push_values(ctx: Context) -> bytes:
    """The push body: the push setup's name, the device name, the time, the latest event."""
    return axdr.structure(
        axdr.octet_string(bytes(PUSH_SETUP)),
        _ldn(ctx),
        axdr.date_time(ctx.now),
        _last_event_code(ctx),
    )


def after_change(ctx: Context) -> None:
    """Run after a request changed the meter: queue a push for any new alarm."""
    check_alarms(ctx, _push_values)


# -- the table ----------------------------------------------------------------------------


def meter_objects() -> ObjectTable:
    """Every object the simulated meter serves."""
    table: ObjectTable

    objects = [
        clock(),
        data(LDN, _ldn, Level.PUBLIC),
        data(
            (1, 0, 0, 2, 0, 255),
            lambda _c: axdr.octet_string(SOFTWARE_VERSION.encode("ascii")),
            Level.PUBLIC,
        ),
        association(lambda: table),
        data(
            (0, 0, 43, 1, 0, 255),
            lambda c: axdr.double_long_unsigned(c.association["client_ic_next"]),
            Level.PUBLIC,
        ),
        register((1, 0, 1, 8, 0, 255), lambda c: _wh(_credit(c).total_kwh), 0, UNIT_WH),
        account(),
        *credits(),
        token_gateway(),
        disconnect_control(),
        *profiles(),
        push_setup(
            [(40, PUSH_SETUP, 1), (1, LDN, 2), (8, CLOCK, 2), (1, EVENT_CODE, 2)], _push_values
        ),
    ]
    table = ObjectTable(objects)
    return table
