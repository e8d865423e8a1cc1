"""Tests for the parts of the credit engine: units, tariff, friendly time, local
calendar, alarms, load control, billing records, load profiles and configuration."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal as D

import pytest

from sts.errors import FormatError, RangeError
from sts.meter.alarms import Alarms
from sts.meter.billing import BillingRecords
from sts.meter.config import (
    AlarmConfig,
    AlarmThreshold,
    ChargeKind,
    CreditConfig,
    EmergencyConfig,
    EnergyStep,
    FixedCharge,
    FriendlyConfig,
    Levy,
    LoadControlConfig,
    ServiceChargeStep,
    TariffConfig,
    VatRate,
)
from sts.meter.friendly import NEVER, is_friendly, next_change
from sts.meter.load import LoadControl, RelayReason
from sts.meter.localtime import LocalCalendar, epoch_seconds
from sts.meter.profile import LoadProfile, as_profile, watts
from sts.meter.tariff import MeterTariff
from sts.meter.units import j_to_kwh, kwh_to_j, money_to_units, units_to_money

# -- units -----------------------------------------------------------------------------------------


def test_unit_conversions():
    assert kwh_to_j(D("0.1")) == 360_000  # 0.1 kWh * 3,600,000 J/kWh
    assert j_to_kwh(3_599_999) == D("0.999")  # rounded down, never shows more
    assert money_to_units(D("12.34567")) == 1_234_567
    assert units_to_money(1) == D("0.00001")
    with pytest.raises(RangeError):
        money_to_units(D("0.000001"))
    with pytest.raises(RangeError):
        kwh_to_j(D("0.0000001"))  # 0.36 J


# -- tariff ----------------------------------------------------------------------------------------


def test_tariff_step_prices_and_exact_charging():
    tariff = MeterTariff(
        TariffConfig(steps=(EnergyStep(D(50), D("1.50")), EnergyStep(None, D("2.00"))))
    )
    assert tariff.bounds_j == (180_000_000, None)  # 50 kWh
    assert tariff.step_index(179_999_999) == 0
    assert tariff.step_index(180_000_000) == 1
    # 1 kWh at 1.50 = 150,000 money units; charged as 3,600 one-second pieces of 1,000 J
    carry = 0
    total = 0
    for _ in range(3600):
        units, carry = tariff.charge(1000, 0, carry)
        total += units
    assert (total, carry) == (150_000, 0)
    # the fewest joules that cost 1.50: exactly 1 kWh
    assert tariff.joules_for(150_000, 0, 0) == 3_600_000


def test_tariff_levies_and_vat_per_part():
    config = TariffConfig(
        steps=(EnergyStep(None, D("2.00")),),
        levies=(Levy("a", per_kwh=D("0.05")), Levy("b", percent=D(10))),
        vat=(
            VatRate("energy", D(15), frozenset({ChargeKind.ENERGY})),
            VatRate("levies", D(5), frozenset({ChargeKind.LEVY})),
        ),
    )
    # energy 2.00 * 1.15 = 2.30; levies (0.05 + 10% of 2.00) * 1.05 = 0.25 * 1.05 = 0.2625
    assert MeterTariff(config).price_per_kwh(0) == D("2.5625")


def test_monthly_charges_pick_the_service_step_by_consumption():
    config = TariffConfig(
        steps=(EnergyStep(None, D(1)),),
        service_charge=(
            ServiceChargeStep(D(100), D("10")),
            ServiceChargeStep(D(300), D("25")),
            ServiceChargeStep(None, D("40")),
        ),
        fixed_charges=(FixedCharge("rental", D("7.50")),),
        vat=(VatRate("VAT", D(10), frozenset({ChargeKind.SERVICE})),),
    )
    tariff = MeterTariff(config)
    # 99.999 kWh: first step 10 * 1.10 = 11.00, fixed 7.50 (no VAT on fixed)
    assert tariff.monthly_charges(kwh_to_j(D("99.999"))).total == 1_850_000
    # 100 kWh: second step 25 * 1.10 = 27.50
    assert tariff.monthly_charges(kwh_to_j(D(100))).service == 2_750_000
    assert tariff.monthly_charges(kwh_to_j(D(1000))).service == 4_400_000


def test_tariff_limits_from_the_datasheet():
    step = EnergyStep(None, D(1))
    with pytest.raises(RangeError):
        TariffConfig(steps=(*(EnergyStep(D(i + 1), D(1)) for i in range(10)), step))
    with pytest.raises(RangeError):
        TariffConfig(steps=(step,), levies=tuple(Levy(str(i)) for i in range(6)))
    with pytest.raises(RangeError):
        TariffConfig(
            steps=(step,),
            fixed_charges=(FixedCharge("f", D(1)),) * 4,
        )
    with pytest.raises(RangeError):
        TariffConfig(steps=(step,), vat=(VatRate("v", D(1)),) * 4)
    with pytest.raises(RangeError):
        TariffConfig(steps=(EnergyStep(D(10), D(1)), EnergyStep(D(5), D(2)), step))
    with pytest.raises(RangeError):
        TariffConfig(steps=(EnergyStep(D(10), D(1)),))  # last step needs no bound
    with pytest.raises(RangeError):
        EnergyStep(None, D(0))
    with pytest.raises(FormatError):
        EnergyStep(None, 1.5)  # type: ignore[arg-type]


# -- friendly time and the local calendar ----------------------------------------------------------


def test_friendly_hours_wrap_midnight_and_days_add():
    config = FriendlyConfig(
        hours=(time(18), time(7)),
        weekdays=frozenset({6}),
        special_dates=frozenset({date(2025, 12, 25)}),
    )

    def friendly(*args: int) -> bool:
        return is_friendly(config, datetime(*args, tzinfo=UTC))

    assert friendly(2025, 1, 6, 18, 0) and friendly(2025, 1, 6, 23, 59)
    assert friendly(2025, 1, 7, 0, 0) and friendly(2025, 1, 7, 6, 59)
    assert not friendly(2025, 1, 7, 7, 0) and not friendly(2025, 1, 7, 17, 59)
    assert friendly(2025, 1, 12, 12, 0)  # a Sunday
    assert friendly(2025, 12, 25, 12, 0)  # special day (a Thursday)
    daytime = FriendlyConfig(hours=(time(9, 30), time(11)))
    assert is_friendly(daytime, datetime(2025, 1, 6, 9, 30, tzinfo=UTC))
    assert not is_friendly(daytime, datetime(2025, 1, 6, 11, 0, tzinfo=UTC))


def test_next_friendly_change():
    cal = LocalCalendar("UTC")
    config = FriendlyConfig(hours=(time(18), time(7)))
    t = epoch_seconds(datetime(2025, 1, 6, 12, tzinfo=UTC))
    assert next_change(config, cal, t) == t + 6 * 3600  # 18:00
    t = epoch_seconds(datetime(2025, 1, 6, 20, tzinfo=UTC))
    assert next_change(config, cal, t) == t + 4 * 3600  # midnight comes before 07:00
    assert next_change(FriendlyConfig(), cal, t) == NEVER


def test_friendly_config_limits():
    with pytest.raises(RangeError):
        FriendlyConfig(special_dates=frozenset(date(2025, 1, 1) + timedelta(i) for i in range(201)))
    with pytest.raises(RangeError):
        FriendlyConfig(weekdays=frozenset({7}))
    with pytest.raises(RangeError):
        FriendlyConfig(hours=(time(8), time(8)))


def test_local_calendar_offsets_and_daylight_saving():
    plus2 = LocalCalendar("+02:00")
    t = epoch_seconds(datetime(2025, 1, 6, 21, 30, tzinfo=UTC))  # 23:30 local
    assert plus2.next_midnight(t) == t + 30 * 60
    london = LocalCalendar("Europe/London")
    # 30 March 2025 has 23 hours in London (clocks go forward at 01:00 UTC)
    start = epoch_seconds(datetime(2025, 3, 30, tzinfo=UTC))
    assert london.next_midnight(start) - start == 23 * 3600
    with pytest.raises(FormatError):
        LocalCalendar("Mars/Olympus")
    with pytest.raises(FormatError):
        epoch_seconds(datetime(2025, 1, 1))


# -- alarms ----------------------------------------------------------------------------------------


def test_alarm_levels_and_floors():
    alarms = Alarms(
        AlarmConfig(
            (
                AlarmThreshold(D(10), D(50)),
                AlarmThreshold(D(5), D(20)),
                AlarmThreshold(D(1), D(5)),
            )
        )
    )
    kwh, money = kwh_to_j, money_to_units
    assert alarms.level(kwh(D(11)), 0) == 0
    assert alarms.level(kwh(D(10)), money(D(50))) == 1
    assert alarms.level(kwh(D(3)), money(D(50))) == 1  # money keeps it at level 1
    assert alarms.level(0, money(D(5))) == 3
    assert alarms.energy_floor(kwh(D(10))) == kwh(D(5))  # strictly below
    assert alarms.money_floor(money(D(4))) == 0
    with pytest.raises(RangeError):
        AlarmConfig((AlarmThreshold(D(1), D(1)), AlarmThreshold(D(5), D(1)), AlarmThreshold(0, 0)))


# -- load control ----------------------------------------------------------------------------------


def test_load_control_trips_reconnects_and_locks_out():
    config = LoadControlConfig(
        power_limit_w=2000, reconnect_delay_s=30, lockout_trips=3, lockout_window_s=100
    )
    limiter = LoadControl(config)
    assert not limiter.exceeded(2000) and limiter.exceeded(2001)
    assert limiter.trip(0) is False and limiter.next_timer() == 30
    limiter.expire(29)
    assert limiter.open_reason() is RelayReason.POWER_LIMIT
    limiter.expire(30)
    assert limiter.open_reason() is None
    assert limiter.trip(90) is False
    # the trip at 0 has left the 100 s window by 150: only two trips in it
    assert limiter.trip(150) is False
    assert limiter.trip(180) is True and limiter.locked_until == 180 + 1800
    limiter.expire(1980)
    assert not limiter.locked and limiter.trips == []
    limiter.set_limit(0)
    assert limiter.limit_w is None and not limiter.exceeded(10**6)


# -- billing ---------------------------------------------------------------------------------------


def test_billing_records_are_bounded():
    records = BillingRecords()
    for i in range(40):
        records.close_day(date(2025, 1, 1) + timedelta(i), i)
    for month in range(1, 16):
        records.close_month(2025 + (month - 1) // 12, (month - 1) % 12 + 1, month)
    assert len(records.daily()) == 31 and records.daily()[0].joules == 9
    assert len(records.monthly()) == 13 and records.monthly()[0].joules == 3
    assert BillingRecords.from_dict(records.to_dict()).daily() == records.daily()


# -- load profiles ---------------------------------------------------------------------------------


def test_profiles():
    cal = LocalCalendar("UTC")
    assert watts(D("1499.5")) == 1500 and watts(2.4) == 2 and watts(7) == 7
    with pytest.raises(RangeError):
        watts(-1)
    with pytest.raises(RangeError):
        LoadProfile.daily([1] * 7)  # 86,400 / 7 s is not whole minutes
    quarter = LoadProfile.daily(list(range(96)))
    # 10:20 is in quarter hour 41, which ends at 10:30
    assert quarter.span(cal, 10 * 3600 + 20 * 60, 10**6) == (41, 600)
    ticks = LoadProfile.function(lambda local: 100 * (local.hour // 6))
    # from 05:59:30 the value 0 holds 30 s to the next sample, which is 100
    assert ticks.span(cal, 5 * 3600 + 59 * 60 + 30, 10**6) == (0, 30)
    assert as_profile(1500).span(cal, 0, 99) == (1500, 99)
    assert LoadProfile.from_dict(quarter.to_dict()).span(cal, 0, 10) == (0, 10)
    with pytest.raises(RangeError):
        ticks.to_dict()


# -- configuration ---------------------------------------------------------------------------------


def test_credit_config_round_trip_and_validation():
    config = CreditConfig(
        timezone="Africa/Johannesburg",
        tariff=TariffConfig(
            steps=(EnergyStep(D(50), D("1.2")), EnergyStep(None, D(2))),
            service_charge=(ServiceChargeStep(None, D(30)),),
            fixed_charges=(FixedCharge("network", D("12.5")),),
            levies=(Levy("fuel", D("0.03"), D(1)),),
            vat=(VatRate("VAT", D(15)),),
        ),
        emergency=EmergencyConfig(D(5), True, D("0.5"), D(1)),
        friendly=FriendlyConfig((time(18), time(6, 30)), frozenset({5, 6}), {date(2025, 1, 1)}),
        alarms=AlarmConfig(),
        load_control=LoadControlConfig(4000, 120, 4, 900, None, False),
        energy_max_kwh=D(5000),
        money_max=D(20000),
    )
    assert CreditConfig.from_dict(config.to_dict()) == config
    with pytest.raises(FormatError):
        CreditConfig(timezone="+25:00")
    with pytest.raises(RangeError):
        LoadControlConfig(reconnect_delay_s=0)
    with pytest.raises(RangeError):
        EmergencyConfig(limit_kwh=D(-1))
