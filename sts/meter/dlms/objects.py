"""The simulated meter's COSEM objects: one table, OBIS code -> object.

Each entry maps an object of the Blue Book (IEC 62056-6-2) onto the existing
:class:`~sts.meter.meter.Meter`; adding a register is one :func:`register`
line in :func:`meter_objects`. Units and scales:

=====================  ==========  ===========================================
object                 OBIS        value
=====================  ==========  ===========================================
clock (IC 8)           0.0.1.0.0   the meter's clock in UTC; SET moves it forward
logical device name    0.0.42.0.0  "STS" + DRN (IC 1, octet-string)
firmware version       1.0.0.2.0   the meter's software version, or the last image activated
association LN (15)    0.0.40.0.0  object list as the association's level sees it
frame counter (IC 1)   0.0.43.1.0  the next invocation counter the server accepts
+A total (IC 3)        1.0.1.8.0   energy delivered, Wh (scaler 0, unit 30 = Wh)
account (IC 111)       0.0.19.0.0  prepayment mode, active; money in cents (scale -2)
credit (IC 112)        0.0.19.10.0 energy wallet, Wh
                       0.0.19.10.1 money wallet, cents
                       0.0.19.10.2 emergency credit, Wh (invoke_credit takes it)
token gateway (115)    0.0.19.40.0 enter(20 digits) -> the keypad's decision
charge (IC 113)        0.0.19.20.0 energy prices; .1 monthly charges (:mod:`.charge`)
disconnect ctrl (70)   0.0.96.3.10 the meter's disconnect control (see below)
+A this day (IC 3)     1.0.1.29.0  energy used since local midnight, Wh
metering (IC 3)        1.0.C.8.E   -A, |A|, Q1-Q4, apparent; +A/-A per rate E 1-8
                       1.0.C.7.0   instantaneous: V, I, neutral I, P, Q, S, PF, f, angle
                                   (:mod:`sts.meter.dlms.registers`)
+A this month (IC 3)   1.0.1.9.0   energy used since the month began, Wh
event code (IC 1)      0.0.96.11.0 the latest event's code (:data:`.logs.EVENT_CODES`)
load profiles (IC 7)   1.0.99.1.E  surveys 1-3 (E 0-2); daily survey 1.0.99.2.0
event logs (IC 7)      0.0.99.98.E fraud, disconnector, power quality, ... (:mod:`.surveys`)
activity calendar (20) 0.0.13.0.0  TOU calendar; special days (11) 0.0.11.0.0 (:mod:`.tou`)
monthly billing (7)    0.0.98.1.0  the 13 closed months: {clock, 1.0.1.9.0 Wh}
standard event log (7) 0.0.99.98.0 the event log: {clock, event code}
push setup (IC 40)     0.0.25.9.0  alarms pushed as DataNotification (:mod:`.push`)
image transfer (18)    0.0.44.0.0  firmware upgrade in blocks, verified (:mod:`.image`)
activation sched (22)  0.0.15.0.2  when a verified image activates
=====================  ==========  ===========================================

A water or gas meter serves this table less the objects only an electricity
meter has, with volume and flow registers, volume load profiles and a monthly
billing profile of its medium in their place (:mod:`sts.meter.dlms.volume`);
:func:`meter_objects` takes the service.

**Profiles.** Each row of the monthly profile is stamped with the local
midnight that closed its month (no deviation given: the meter's local time);
survey and event log rows with their time in UTC. Selective access by range
and by entry works on all of them (:mod:`sts.meter.dlms.profile`).

**Token gateway.** Method 1 ``enter`` takes the token's 20 ASCII digits as an
octet-string and hands them to :meth:`Meter.enter_token` at the request's
time: the same decoder, TID memory, key change sets and lockout as the keypad.
The outcome is kept by the server and read back from attribute 2 (token),
3 (token_time), 4 (token_description: the STS result code with its display
text, then the meter's reason), 5 (token_delivery_method: 0, remote) and 6
(token_status: the IC 115 status code and, as its 8-bit data_value, the STS
result code). The STS result codes map onto IC 115 status codes as
:data:`sts.meter.dlms.payment.GATEWAY_STATUS` gives.

**Disconnect control.** Output state is the relay itself (also opened by
the prepayment engine for no credit, a power limit or tamper); control state
and control mode (0-6, writable by the admin) are the meter's
:class:`~sts.meter.disconnect.DisconnectControl`. remote_disconnect and
remote_reconnect (operator) move it as the mode allows; a command the mode
allows but not from the present state answers temporary-failure, any command
under mode 0 read-write-denied (:mod:`sts.meter.dlms.payment`).
"""

from __future__ import annotations

from sts.meter.dlms import axdr
from sts.meter.dlms.basic import (
    CLOCK,
    UNIT_WH,
    association,
    clock,
    credit_status,
    data,
    register,
    wh,
)
from sts.meter.dlms.charge import charges
from sts.meter.dlms.image import activation_schedule, firmware_version, image_transfer
from sts.meter.dlms.logs import EVENT_CODE, last_event_code, profiles
from sts.meter.dlms.model import (
    Context,
    Level,
    ObjectTable,
)
from sts.meter.dlms.payment import (
    account,
    credits,
    disconnect_control,
    token_gateway,
)
from sts.meter.dlms.push import PUSH_SETUP, check_alarms, push_setup
from sts.meter.dlms.registers import metering_registers
from sts.meter.dlms.surveys import metering_profiles
from sts.meter.dlms.tou import activity_calendar, special_days_table
from sts.meter.dlms.volume import VOLUME, electricity_only, volume_profiles, volume_registers
from sts.meter.service import MeterService

# -- push ---------------------------------------------------------------------------------

LDN = (0, 0, 42, 0, 0, 255)


def _ldn(ctx: Context) -> bytes:
    return axdr.octet_string(b"STS" + ctx.meter.decoder.identity.drn.encode("ascii"))


def _push_values(ctx: Context) -> bytes:
    """The push body: the push setup's name, the device name, the time, the latest event."""
    return axdr.structure(
        axdr.octet_string(bytes(PUSH_SETUP)),
        _ldn(ctx),
        axdr.date_time(ctx.now),
        last_event_code(ctx),
    )


def after_change(ctx: Context) -> None:
    """Run after a request changed the meter: queue a push for any new alarm."""
    check_alarms(ctx, _push_values)


# -- the table ----------------------------------------------------------------------------


def meter_objects(service: MeterService = MeterService.ELECTRICITY) -> ObjectTable:
    """Every object a simulated meter of ``service`` serves."""
    table: ObjectTable
    electricity = service is MeterService.ELECTRICITY

    objects = [
        clock(),
        data(LDN, _ldn, Level.PUBLIC),
        data(
            (1, 0, 0, 2, 0, 255),
            lambda c: axdr.octet_string(firmware_version(c).encode("ascii", "replace")),
            Level.PUBLIC,
        ),
        association(lambda: table),
        data(
            (0, 0, 43, 1, 0, 255),
            lambda c: axdr.double_long_unsigned(c.association["client_ic_next"]),
            Level.PUBLIC,
        ),
        register((1, 0, 1, 8, 0, 255), lambda c: wh(credit_status(c).total_kwh), 0, UNIT_WH),
        *metering_registers(),
        account(),
        *credits(),
        *(charges() if electricity else charges(VOLUME[service])),
        token_gateway(),
        disconnect_control(),
        *profiles(),
        *metering_profiles(),
        activity_calendar(),
        special_days_table(),
        image_transfer(),
        activation_schedule(),
        push_setup(
            [(40, PUSH_SETUP, 1), (1, LDN, 2), (8, CLOCK, 2), (1, EVENT_CODE, 2)], _push_values
        ),
    ]
    if not electricity:
        objects = [o for o in objects if not electricity_only(o.obis)]
        objects[5:5] = volume_registers(service)  # where +A stands on an electricity meter
        objects += volume_profiles(service)
    table = ObjectTable(objects)
    return table

