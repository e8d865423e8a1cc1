"""A water or gas meter's COSEM objects: volume, flow and their profiles in m3, no electricity.

A water or gas simulated meter (:mod:`sts.meter.service`) keeps its volume in
the credit engine's unit register with one m3 where an electricity meter has
one kWh. Its object list is the electricity meter's less every object that
only an electricity meter has, plus the registers and profiles of its medium:

=====================  ================  =========================================
object                 OBIS              value
=====================  ================  =========================================
volume (IC 3)          8.0.1.0.0.255     water: accumulated volume, current value,
                                         0.001 m3 (scaler -3, unit 13 = m3)
                       7.0.3.0.0.255     gas: forward absolute meter volume, index
                                         at metering conditions (unconverted), same
flow rate (IC 3)       8.0.2.0.0.255     water: flow rate, current value,
                                         0.001 m3/h (scaler -3, unit 15 = m3/h)
                       7.0.43.0.0.255    gas: flow rate, instantaneous, current
                                         value at metering conditions, same
load profile (IC 7)    8.0.99.1.0.255    water: {clock, 8.0.1.0.0.255}, survey 1's
                                         rows at its capture period
                       7.0.99.1.0.255    gas: {clock, 7.0.3.0.0.255}, same
                       8/7.0.99.1.1.255  the same from surveys 2 and 3 (E 1, 2)
                       8/7.0.99.1.2.255
daily profile (IC 7)   8/7.0.99.2.0.255  the same from the daily survey: one row at
                                         each local midnight
monthly billing (IC 7) 8.0.98.1.0.255    water: {clock, 8.0.1.0.0.255}, one row per
                                         closed month (the last 13): the volume
                                         index at the month's close
                       7.0.98.1.0.255    gas: {clock, 7.0.3.0.0.255}, same
=====================  ================  =========================================

The codes (facts of the standards): value group A is the medium, 7 gas, 8
cold water (9 hot water, not used here). Water's value group C is 1
accumulated volume, 2 flow rate, with D 0 the current value and E 0 the total
(EN 13757-1); gas's C 3 is the forward absolute meter volume, D 0 its index at
metering conditions (unconverted, as against D 2 at base conditions) and
C 43 D 0 the instantaneous flow rate at metering conditions (DLMS UA Blue
Book, value group C and D codes for gas). Units are the Blue Book's unit
enumeration: 13 m3, 15 m3/h.

The profiles' codes. Value group C 99 is "data profile objects" with D 1 "load
profile with recording period 1", and C 98 "list objects" with D 1 "data of
billing period, scheme 1" (profile generic, IC 7), in the Blue Book's tables of
each medium as for abstract and electricity objects: Blue Book Part 1 Ed. 16,
tables 64 (gas data profiles, 7.b.99.1.e), 71 (water data profiles, 8.b.99.1.e),
63 (gas list objects, 7.b.98.1.e) and 70 (water list objects, 8.b.98.1.e), as an
index of the Blue Book's OBIS tables gives them; EN 13757-1 names C 99 "data
profile objects" for water. B 0 (no channel), E 0 the first profile, F 255
(IC 7, as 0.0.98.1.0.255 and 1.0.99.1.0.255 on the electricity side). So the
load profile is 8.0.99.1.0.255 / 7.0.99.1.0.255. Some gas meters use
7.0.99.99.E instead (code reading A2 and EI6 gas meters names 7.0.99.99.1-4
their half-hourly, hourly, daily and monthly profiles): a vendor family's or
companion specification's choice, not the Blue Book's general table, so not
taken here. The billing profile is the medium's own 8.0.98.1.0.255 /
7.0.98.1.0.255 (decision: its column is a register of the medium, which value
group A names; the abstract 0.0.98.1.0.255 stays the electricity meter's, so
a head-end tells the two apart by name).

**Load profiles.** Survey 1 (:mod:`sts.meter.survey`; its electricity twin is
1.0.99.1.0.255) read through its +A total channel 1.0.1.8.0.255, which on
these meters is the volume in litres = 0.001 m3 (one m3 is kept where a kWh
would be): each row is the capture time in UTC and the volume then, long64
as the volume register itself. Capture period, entries in use and capacity
are survey 1's. A meter without survey 1, or whose survey 1 does not capture
+A total, has an empty profile (no capture objects, period 0, no rows), as
an unconfigured survey has. Surveys 2 and 3 and the daily survey are read the
same way, at the codes the electricity side gives them with A the medium's
(E 1 and 2 count the further surveys, D 2 is "load profile with recording
period 2": :mod:`sts.meter.dlms.surveys` explains those decisions).

**Billing profile: the index, not the month's use** (decision from the
standards). Both media code their billing values as meter indexes: the Blue
Book's gas value group D gives historical values per billing period only as
an *index* (D 24-26 "values relative to billing period 1, index, historical",
the index differences D 27-32 being the current and last periods only), and
EN 13757-1's water D 2 "set date value" and D 3 "billing date value" are of
C 1, the accumulated volume. A water or gas head-end bills the difference
between two closes, as meter readers do; an index also keeps a missed or
lost row harmless, the next close's index covering it. The column is the
volume register, captured at the close (each month's close is the local
midnight that began the next, without a deviation, as the electricity
meter's monthly rows). The engine keeps each closed month's use and the
volume delivered since the making, in exact joules; the index at a month's
close is worked back from the volume now less the month in progress and every
later closed month.

The flow is the meter's standing load read as m3/h
(:func:`sts.meter.service.load_flow`), and 0 while the valve is shut (the
relay open). The volume is what the meter has delivered since it was made.

**Left out** on water and gas: total +A 1.0.1.8.0 and every energy and
instantaneous register (:mod:`sts.meter.dlms.registers`), +A this day and this
month (1.0.1.29.0, 1.0.1.9.0), the monthly billing profile over +A
(0.0.98.1.0: its medium's own 8/7.0.98.1.0 takes its place), the load
surveys and the daily survey as such (1.0.99.1.E, 1.0.99.2.0, whose columns
are electricity registers; their volume is served as 8/7.0.99.1.E and
8/7.0.99.2.0) and the power quality
event log (0.0.99.98.4, 0.0.96.11.4). A GET, SET or ACTION on any of them
answers object-undefined, as for any object the meter does not have.

**Kept**: the clock, the logical device name, the firmware identifier
(1.0.0.2.0, which the image transfer reports), the association, the frame
counter, the account (IC 111), the credits (IC 112: the volume wallet and
emergency credit in 0.001 m3 where an electricity meter has Wh, the money
wallet in cents), the charges (IC 113: the unit charge's commodity is the
volume register, prices per m3), the token gateway (IC 115), the disconnect
control (IC 70: its output state is the valve, true = open), the event logs
but power quality, the activity calendar and special days, the push setup and
the image transfer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time

from dlms_cosem.time import datetime_to_bytes

from sts.meter.billing import MONTHLY_RECORDS
from sts.meter.dlms import axdr
from sts.meter.dlms.basic import credit_status, register, wh
from sts.meter.dlms.model import Context, CosemObject, Obis
from sts.meter.dlms.profile import CLOCK_COLUMN, Column, LazyRow, Row, profile_generic
from sts.meter.dlms.surveys import lazy_rows, survey_profile
from sts.meter.obis import ObisCode
from sts.meter.service import MeterService
from sts.meter.survey import Survey

UNIT_M3 = 13
UNIT_M3_PER_H = 15

VOLUME: dict[MeterService, Obis] = {
    MeterService.WATER: (8, 0, 1, 0, 0, 255),  # EN 13757-1: water, accumulated volume, current
    MeterService.GAS: (7, 0, 3, 0, 0, 255),  # Blue Book: gas, forward absolute volume, index
}
FLOW: dict[MeterService, Obis] = {
    MeterService.WATER: (8, 0, 2, 0, 0, 255),  # EN 13757-1: water, flow rate, current value
    MeterService.GAS: (7, 0, 43, 0, 0, 255),  # Blue Book: gas, flow rate, instantaneous
}
LOAD_PROFILE: dict[MeterService, Obis] = {
    MeterService.WATER: (8, 0, 99, 1, 0, 255),  # water, data profile, recording period 1
    MeterService.GAS: (7, 0, 99, 1, 0, 255),  # gas, data profile, recording period 1
}
BILLING_PROFILE: dict[MeterService, Obis] = {
    MeterService.WATER: (8, 0, 98, 1, 0, 255),  # water, data of billing period, scheme 1
    MeterService.GAS: (7, 0, 98, 1, 0, 255),  # gas, data of billing period, scheme 1
}
SURVEY_VOLUME = ObisCode.parse("1.0.1.8.0.255")
"""The survey channel a volume profile reads: +A total, kept in litres (one m3 per kWh)."""
_J_PER_LITRE = 3600  # one Wh of the unit register is one litre

ELECTRICITY_ONLY_ABSTRACT: frozenset[Obis] = frozenset(
    {
        (0, 0, 98, 1, 0, 255),  # monthly billing profile: its column is +A this month
        (0, 0, 99, 98, 4, 255),  # power quality event log
        (0, 0, 96, 11, 4, 255),  # and its event code
    }
)
"""Objects of value group A = 0 that only an electricity meter has."""

FIRMWARE: Obis = (1, 0, 0, 2, 0, 255)


def electricity_only(obis: Obis) -> bool:
    """True for an object a water or gas meter leaves out (see the module docstring)."""
    if obis == FIRMWARE:
        return False
    return obis[0] == 1 or obis in ELECTRICITY_ONLY_ABSTRACT


def _volume_litres(ctx: Context) -> int:
    return wh(credit_status(ctx).total_kwh)  # one m3 is kept where a kWh would be


def _flow_litres_per_hour(ctx: Context) -> int:
    s = credit_status(ctx)
    return s.demand_w if s.relay_closed else 0  # 1 W of standing load = 0.001 m3/h


def _with_volume(survey: Survey | None) -> Survey | None:
    """The survey when it captures the volume (+A total), else None (an empty profile)."""
    if survey is not None and SURVEY_VOLUME in survey.config.channels:
        return survey
    return None


def _nth_survey(number: int) -> Callable[[Context], Survey | None]:
    def find(ctx: Context) -> Survey | None:
        surveys = ctx.meter.metering.surveys
        return _with_volume(surveys[number] if number < len(surveys) else None)

    return find


def _daily_survey(ctx: Context) -> Survey | None:
    return _with_volume(ctx.meter.metering.daily_survey)


def _load_profile(
    obis: Obis, service: MeterService, find: Callable[[Context], Survey | None]
) -> CosemObject:
    """A survey's rows as {clock, the volume register}: the +A channel read as litres."""
    columns = [CLOCK_COLUMN, Column(3, VOLUME[service], 2)]

    def rows(survey: Survey) -> list[LazyRow]:
        at = survey.config.channels.index(SURVEY_VOLUME)
        return lazy_rows(survey, lambda raw: (axdr.long64(raw[at]),))

    return survey_profile(obis, find, lambda _s: columns, rows)


def load_profiles(service: MeterService) -> list[Obis]:
    """The volume profiles of surveys 1-3 (D 1, E 0-2) and of the daily survey (D 2)."""
    a = LOAD_PROFILE[service][0]
    return [(a, 0, 99, 1, e, 255) for e in range(3)] + [(a, 0, 99, 2, 0, 255)]


def _month_close(year: int, month: int) -> datetime:
    """The local midnight that closed a month: the first of the next month."""
    return datetime.combine(date(year + month // 12, month % 12 + 1, 1), time())


def _billing_rows(ctx: Context) -> list[Row]:
    """One row per closed month: its close and the volume index then, in litres.

    The engine keeps each closed month's use and the volume delivered since the meter
    was made, both in exact joules; the index at a month's close is the volume now less
    the month in progress and every later closed month, worked back from the newest.
    """
    state = ctx.meter.engine.state
    index_j = state.ledger.delivered_j - state.month_j
    rows = []
    for record in reversed(ctx.meter.engine.billing.monthly()):
        when = _month_close(record.year, record.month)
        stamp = axdr.octet_string(datetime_to_bytes(when))  # no deviation: local time
        rows.append(Row(when, (stamp, axdr.long64(index_j // _J_PER_LITRE))))
        index_j -= record.joules
    rows.reverse()
    return rows


def _billing_profile(service: MeterService) -> CosemObject:
    return profile_generic(
        BILLING_PROFILE[service],
        [CLOCK_COLUMN, Column(3, VOLUME[service], 2)],
        _billing_rows,
        capture_period=0,
        capacity=MONTHLY_RECORDS,
    )


def volume_profiles(service: MeterService) -> list[CosemObject]:
    """The volume profiles of the three surveys and the daily survey, then the monthly
    billing profile, of a water or gas meter."""
    *surveys, daily = load_profiles(service)
    objects = [_load_profile(obis, service, _nth_survey(i)) for i, obis in enumerate(surveys)]
    objects.append(_load_profile(daily, service, _daily_survey))
    return [*objects, _billing_profile(service)]


def volume_registers(service: MeterService) -> list[CosemObject]:
    """The volume and flow registers of a water or gas meter."""
    return [
        register(VOLUME[service], _volume_litres, -3, UNIT_M3, encode=axdr.long64),
        register(FLOW[service], _flow_litres_per_hour, -3, UNIT_M3_PER_H),
    ]


__all__ = [
    "BILLING_PROFILE",
    "FLOW",
    "LOAD_PROFILE",
    "UNIT_M3",
    "UNIT_M3_PER_H",
    "VOLUME",
    "electricity_only",
    "load_profiles",
    "volume_profiles",
    "volume_registers",
]
