"""Generic COSEM object constructors and the meter's basic objects (clock, association).

:func:`data` (IC 1) and :func:`register` (IC 3) make an object from a value
function of the :class:`~sts.meter.dlms.model.Context`; :func:`wh`,
:func:`cents` and :func:`credit_status` are the units and the reading the
meter's other objects share.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from decimal import ROUND_DOWN, Decimal

from dlms_cosem.dlms_data import AbstractDlmsData, OctetStringData
from dlms_cosem.time import datetime_from_bytes

from sts.meter.credit import CreditStatus
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

# Units (IEC 62056-6-2 unit enumeration).
UNIT_CURRENCY = 10
UNIT_W = 27
UNIT_WH = 30

ASSOCIATION = (0, 0, 40, 0, 0, 255)
CLOCK = (0, 0, 1, 0, 0, 255)


def wh(kwh: Decimal) -> int:
    return int((kwh * 1000).to_integral_value(ROUND_DOWN))


def cents(money: Decimal) -> int:
    return int((money * 100).to_integral_value(ROUND_DOWN))


def credit_status(ctx: Context) -> CreditStatus:
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
