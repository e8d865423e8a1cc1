"""Payment metering objects: account (IC 111), credits (IC 112), token gateway (IC 115)
and the disconnect control (IC 70), over the meter's wallets, decoder, relay and
disconnect control (:mod:`sts.meter.disconnect`).

See :mod:`sts.meter.dlms.objects` for the table and the gateway status mapping.
"""

from __future__ import annotations

from collections.abc import Callable

from dlms_cosem.dlms_data import AbstractDlmsData, EnumData, OctetStringData

from sts.errors import FunctionError, StsError
from sts.meter.disconnect import DisconnectControl
from sts.meter.dlms import axdr
from sts.meter.dlms.basic import cents, credit_status, wh
from sts.meter.dlms.charge import CHARGE_OBIS
from sts.meter.dlms.errors import AccessDenied, AccessResult, DlmsError, TypeUnmatched
from sts.meter.dlms.model import (
    Attribute,
    Context,
    CosemObject,
    Handler,
    Level,
    Method,
    Obis,
    cosem_object,
)
from sts.meter.event_logs import Code
from sts.meter.localtime import epoch_seconds
from sts.results import ResultCode

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
CREDIT_OBIS = ((0, 0, 19, 10, 0, 255), (0, 0, 19, 10, 1, 255), (0, 0, 19, 10, 2, 255))


# -- payment metering ---------------------------------------------------------------------


def account() -> CosemObject:
    def mode_and_status(_c: Context) -> bytes:
        return axdr.structure(axdr.enum(2), axdr.enum(2))  # prepayment mode, active

    def in_use(ctx: Context) -> bytes:
        s = credit_status(ctx)
        bits = (1 if s.energy_kwh > 0 else 0) | (2 if s.money > 0 else 0)
        return axdr.unsigned(bits | (4 if s.emergency_active else 0))

    def status_bits(ctx: Context) -> bytes:
        s = credit_status(ctx)
        has_credit = s.energy_kwh > 0 or s.money > 0 or s.emergency_active
        # bit 0 in credit, 1 low credit, 2-5 not used here, 6 out of credit, 7 reserved
        bits = ["1" if has_credit else "0", "1" if s.alarm_level > 0 else "0", "0", "0"]
        bits += ["0", "1" if s.emergency_active else "0", "0" if has_credit else "1", "0"]
        return axdr.bit_string("".join(bits))

    def currency(_c: Context) -> bytes:
        return axdr.structure(axdr.visible_string("currency"), axdr.integer(-2), axdr.enum(2))

    credits = axdr.array(axdr.octet_string(bytes(o)) for o in CREDIT_OBIS)
    charges = axdr.array(axdr.octet_string(bytes(o)) for o in CHARGE_OBIS)
    return cosem_object(
        (0, 0, 19, 0, 0, 255),
        111,
        0,
        {
            2: Attribute(mode_and_status),
            3: Attribute(in_use),
            4: Attribute(status_bits),
            5: Attribute(lambda c: axdr.double_long(cents(credit_status(c).money))),
            8: Attribute(lambda c: axdr.double_long(cents(credit_status(c).debt_money))),
            9: Attribute(lambda _c: credits),
            10: Attribute(lambda _c: charges),
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
        return 3 if credit_status(ctx).energy_kwh > 0 else 4

    def money_status(ctx: Context) -> int:
        s = credit_status(ctx)
        return 4 if s.money <= 0 else (0 if s.energy_kwh > 0 else 3)

    def emergency_amount(ctx: Context) -> int:
        s = credit_status(ctx)
        if s.emergency_active:
            return wh(s.emergency_limit_kwh - s.emergency_used_kwh)
        return wh(s.emergency_limit_kwh) if s.emergency_available else 0

    def emergency_status(ctx: Context) -> int:
        s = credit_status(ctx)
        return 3 if s.emergency_active else (1 if s.emergency_available else 0)

    return [
        _credit_object(
            CREDIT_OBIS[0], 0, 1, lambda c: wh(credit_status(c).energy_kwh), energy_status
        ),
        _credit_object(CREDIT_OBIS[1], 0, 2, lambda c: cents(credit_status(c).money), money_status),
        _credit_object(
            CREDIT_OBIS[2],
            2,
            3,
            emergency_amount,
            emergency_status,
            lambda c: wh(credit_status(c).emergency_limit_kwh),
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
        "status": GATEWAY_STATUS.get(outcome.result, EXECUTION_FAILURE),
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


def _remote(command: str) -> Handler:
    """remote_disconnect / remote_reconnect through the meter's disconnect control."""

    def call(ctx: Context, _value: AbstractDlmsData | None) -> bytes | None:
        if ctx.meter.metering.guard.disconnect.mode == 0:
            raise AccessDenied("control mode 0: the disconnector is not remotely controlled")
        try:
            ctx.meter.relay(command, remote=True, now=ctx.now)
        except FunctionError as exc:  # the mode allows it, but not from this state
            raise DlmsError(str(exc), AccessResult.TEMPORARY_FAILURE) from None
        ctx.changed = True
        return None

    return call


def _set_mode(ctx: Context, value: AbstractDlmsData) -> None:
    mode = value.to_python()
    if not isinstance(value, EnumData) or not 0 <= mode <= 6:
        raise TypeUnmatched("control_mode is an enum 0-6")
    guard = ctx.meter.metering.guard
    before = guard.disconnect
    if mode == before.mode:
        return
    guard.disconnect = DisconnectControl(mode, before.state)
    t = epoch_seconds(ctx.now)
    guard.record(t, Code.PARAMETER_CHANGED, f"disconnect control mode {before.mode} -> {mode}")
    ctx.meter.engine.resettle(t)  # mode 0 connects: the relay follows at once
    ctx.changed = True


def disconnect_control() -> CosemObject:
    """IC 70 over the meter's :class:`~sts.meter.disconnect.DisconnectControl`."""

    def closed(ctx: Context) -> bool:
        return bool(credit_status(ctx).relay_closed)

    def state(ctx: Context) -> int:
        return int(ctx.meter.metering.guard.disconnect.state)

    return cosem_object(
        (0, 0, 96, 3, 10, 255),
        70,
        0,
        {
            2: Attribute(lambda c: axdr.boolean(closed(c))),
            3: Attribute(lambda c: axdr.enum(state(c))),
            4: Attribute(
                lambda c: axdr.enum(c.meter.metering.guard.disconnect.mode), set=_set_mode
            ),
        },
        {
            1: Method(_remote("disconnect"), Level.OPERATOR),
            2: Method(_remote("reconnect"), Level.OPERATOR),
        },
    )
