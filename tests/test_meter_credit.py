"""Scenario tests for the meter's credit engine, one rule per test.

Each test is written like a conformance step list: set up, act, and compare
the registers with figures worked out by hand in the comments. Times are UTC
unless the test sets a zone; 2025-01-06 is a Monday.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal as D

import pytest

from sts.errors import FormatError, FunctionError, RangeError, RegisterOverflowError
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
from sts.meter.credit import CreditEngine, EmergencyResult
from sts.meter.events import EventKind
from sts.meter.load import RelayReason
from sts.meter.profile import LoadProfile
from sts.results import ResultCode
from sts.tokens.credit import CreditKind

UNITS = CreditKind.ELECTRICITY
MONEY = CreditKind.ELECTRICITY_CURRENCY


def at(hour: int, minute: int = 0, day: int = 6, month: int = 1, second: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, second, tzinfo=UTC)


def flat(price: str) -> TariffConfig:
    return TariffConfig(steps=(EnergyStep(None, D(price)),))


def quiet_alarms() -> AlarmConfig:
    """Thresholds at zero so alarms stay out of the way of other rules."""
    return AlarmConfig((AlarmThreshold(D(0), D(0)),) * 3)


def engine(start: datetime, **options: object) -> CreditEngine:
    options.setdefault("alarms", quiet_alarms())
    return CreditEngine.new(start, CreditConfig(**options))  # type: ignore[arg-type]


def relay_events(meter: CreditEngine) -> list[tuple[datetime, EventKind, str]]:
    wanted = {EventKind.RELAY_OPENED, EventKind.RELAY_CLOSED}
    return [(e.at, e.kind, e.detail) for e in meter.events if e.kind in wanted]


# -- energy wallet ---------------------------------------------------------------------------------


def test_energy_wallet_10_kwh_less_2_kw_for_3_hours_leaves_4_kwh():
    meter = engine(at(9))
    receipt = meter.apply_credit(UNITS, 100, at(9))  # 100 units of 0.1 kWh
    assert receipt.to_wallet == D(10) and receipt.energy_kwh == D(10)
    meter.advance(at(12), 2000)
    # 2000 W * 3 h = 6 kWh; 10 - 6 = 4
    status = meter.status()
    assert status.energy_kwh == D(4)
    assert status.totals.energy_kwh == D(6)
    assert status.relay_closed and status.relay_reason is RelayReason.CREDIT
    assert status.power_w == 2000


def test_relay_opens_at_the_second_the_energy_wallet_empties():
    meter = engine(at(9))
    meter.apply_credit(UNITS, 10, at(9))  # 1 kWh
    meter.advance(at(10), 2000)
    # 1 kWh at 2 kW lasts 3,600,000 J / 2000 W = 1800 s: empty at 09:30:00
    status = meter.status()
    assert status.energy_kwh == 0 and status.totals.energy_kwh == D(1)
    assert not status.relay_closed and status.relay_reason is RelayReason.NO_CREDIT
    assert status.power_w == 0 and status.demand_w == 2000
    assert relay_events(meter)[-1] == (at(9, 30), EventKind.RELAY_OPENED, "no credit")
    exhausted = meter.events.of_kind(EventKind.CREDIT_EXHAUSTED)
    assert [e.at for e in exhausted] == [at(9, 30)]


def test_an_odd_load_empties_the_wallet_at_the_rounded_up_second():
    meter = engine(at(9))
    meter.apply_credit(UNITS, 1, at(9))  # 0.1 kWh = 360,000 J
    meter.advance(at(10), 7000)
    # 360,000 J / 7000 W = 51.43 s: the relay opens at 52 s, having delivered exactly 360,000 J
    assert relay_events(meter)[-1][0] == at(9, 0, second=52)
    assert meter.state.ledger.delivered_j == 360_000


# -- money wallet and tariff -----------------------------------------------------------------------


def test_money_pays_once_the_energy_wallet_is_empty():
    meter = engine(at(9), tariff=flat("2.00"))
    meter.apply_credit(UNITS, 10, at(9))  # 1 kWh
    meter.apply_credit(MONEY, D(10), at(9))
    meter.advance(at(10), 2000)
    # 2 kWh used: the first 1 kWh from the energy wallet, the second bought for 2.00
    status = meter.status()
    assert status.energy_kwh == 0
    assert status.money == D("8.00")
    assert status.totals.from_energy_wallet_kwh == D(1)
    assert status.totals.from_money_kwh == D(1)


def test_two_step_tariff_crossing_the_step_boundary():
    tariff = TariffConfig(steps=(EnergyStep(D(50), D("1.50")), EnergyStep(None, D("2.00"))))
    meter = engine(at(9), tariff=tariff)
    meter.apply_credit(MONEY, D(100), at(9))
    assert meter.status().price_per_kwh == D("1.50")
    meter.advance(at(15, day=7), 2000)
    # 30 h at 2 kW = 60 kWh: 50 kWh * 1.50 = 75.00 and 10 kWh * 2.00 = 20.00; 100 - 95 = 5
    status = meter.status()
    assert status.money == D("5.00")
    assert status.month_kwh == D(60)
    assert status.price_per_kwh == D("2.00")
    assert status.totals.money_for_energy == D("95.00")


def test_money_runs_out_inside_the_second_step():
    tariff = TariffConfig(steps=(EnergyStep(D(50), D("1.50")), EnergyStep(None, D("2.00"))))
    meter = engine(at(0), tariff=tariff)
    meter.apply_credit(MONEY, D(100), at(0))
    meter.advance(at(12, day=7), 2000)
    # 75.00 buys 50 kWh, the other 25.00 buys 12.5 kWh at 2.00: 62.5 kWh in 31.25 h,
    # so the relay opens at 07:15 on the 7th
    assert meter.status().money == 0
    assert meter.status().totals.energy_kwh == D("62.5")
    assert relay_events(meter)[-1] == (at(7, 15, day=7), EventKind.RELAY_OPENED, "no credit")


def test_levies_and_vat_are_added_to_the_energy_price():
    tariff = TariffConfig(
        steps=(EnergyStep(None, D("1.00")),),
        levies=(Levy("fuel", per_kwh=D("0.10")), Levy("municipal", percent=D(2))),
        vat=(VatRate("VAT", D(15), frozenset({ChargeKind.ENERGY, ChargeKind.LEVY})),),
    )
    meter = engine(at(9), tariff=tariff)
    meter.apply_credit(MONEY, D(100), at(9))
    # levies: 0.10 + 2% of 1.00 = 0.12; (1.00 + 0.12) * 1.15 = 1.288 per kWh
    assert meter.status().price_per_kwh == D("1.288")
    meter.advance(at(14), 2000)
    # 10 kWh * 1.288 = 12.88; 100 - 12.88 = 87.12
    assert meter.status().money == D("87.12")


def test_month_end_charges_service_step_and_fixed_charges_with_vat():
    tariff = TariffConfig(
        steps=(EnergyStep(None, D("1.00")),),
        service_charge=(ServiceChargeStep(D(100), D(20)), ServiceChargeStep(None, D(50))),
        fixed_charges=(FixedCharge("network", D(10)), FixedCharge("meter", D(5))),
        vat=(VatRate("VAT", D(15), frozenset({ChargeKind.SERVICE, ChargeKind.FIXED})),),
    )
    meter = engine(at(12, day=31), tariff=tariff)
    meter.apply_credit(MONEY, D(200), at(12, day=31))
    meter.advance(at(1, day=1, month=2), 2000)
    # January: 12 h * 2 kW = 24 kWh at 1.00 = 24.00 (no VAT on energy here)
    # month end: service step for 24 kWh (< 100) 20 * 1.15 = 23.00, fixed 15 * 1.15 = 17.25
    # February 00:00-01:00: 2 kWh = 2.00.  200 - 24 - 23 - 17.25 - 2 = 133.75
    status = meter.status()
    assert status.money == D("133.75")
    assert status.totals.charges == D("40.25")
    assert status.month_kwh == D(2)


def test_month_rollover_restarts_the_tariff_steps():
    tariff = TariffConfig(steps=(EnergyStep(D(10), D("1.00")), EnergyStep(None, D("3.00"))))
    meter = engine(at(12, day=31), tariff=tariff)
    meter.apply_credit(MONEY, D(100), at(12, day=31))
    meter.advance(at(0, day=1, month=2), 2000)
    # 24 kWh in January: 10 * 1.00 + 14 * 3.00 = 52.00; 100 - 52 = 48
    assert meter.status().money == D(48)
    assert meter.status().price_per_kwh == D("1.00")
    meter.advance(at(1, day=1, month=2), 2000)
    # 2 kWh in February, back in step 1: 2.00
    assert meter.status().money == D(46)
    assert [(r.year, r.month, r.kwh) for r in meter.billing.monthly()] == [(2025, 1, D(24))]


def test_unpaid_month_charges_become_debt_repaid_first_from_the_next_currency_token():
    tariff = TariffConfig(steps=(EnergyStep(None, D(1)),), fixed_charges=(FixedCharge("f", D(30)),))
    meter = engine(at(12, day=31), tariff=tariff)
    meter.apply_credit(MONEY, D(10), at(12, day=31))
    meter.advance(at(0, day=1, month=2), 0)
    # 30.00 due, 10.00 in the wallet: 20.00 becomes debt
    assert meter.status().money == 0 and meter.status().debt_money == D(20)
    receipt = meter.apply_credit(MONEY, D(50), at(0, day=1, month=2))
    assert (receipt.repaid_debt, receipt.to_wallet, receipt.money) == (D(20), D(30), D(30))
    assert meter.status().debt_money == 0


def test_negative_currency_token_takes_money_out_but_never_below_zero():
    meter = engine(at(9), tariff=flat("1"))
    meter.apply_credit(MONEY, D(30), at(9))
    assert meter.check_credit(MONEY, D(-25)) is None
    assert meter.apply_credit(MONEY, D(-25), at(9)).money == D(5)
    assert meter.check_credit(MONEY, D("-5.5")) is ResultCode.RANGE


# -- refusals --------------------------------------------------------------------------------------


def test_credit_refusals_overflow_range_function():
    meter = engine(at(9), tariff=flat("1"), energy_max_kwh=D(100), money_max=D(1000))
    meter.apply_credit(UNITS, 900, at(9))  # 90 kWh
    assert meter.check_credit(UNITS, 100) is None  # 90 + 10 = 100, the maximum
    assert meter.check_credit(UNITS, 101) is ResultCode.OVERFLOW  # 100.1 kWh
    assert meter.check_credit(UNITS, -1) is ResultCode.RANGE
    assert meter.check_credit(MONEY, D(1000)) is None
    assert meter.check_credit(MONEY, D("1000.00001")) is ResultCode.OVERFLOW
    assert meter.check_credit(MONEY, D("0.000001")) is ResultCode.RANGE  # finer than 0.00001
    assert meter.check_credit(MONEY, D(-1)) is ResultCode.RANGE  # wallet would go negative
    assert meter.check_credit(CreditKind.WATER, 10) is ResultCode.FUNCTION
    assert meter.check_credit(CreditKind.GAS_CURRENCY, D(1)) is ResultCode.FUNCTION
    with pytest.raises(RegisterOverflowError) as refused:
        meter.apply_credit(UNITS, 101, at(9))
    assert refused.value.result_code is ResultCode.OVERFLOW
    assert meter.status().energy_kwh == D(90)


def test_energy_only_meter_refuses_currency_credit_with_function():
    meter = engine(at(9))
    assert meter.check_credit(MONEY, D(10)) is ResultCode.FUNCTION
    with pytest.raises(FunctionError):
        meter.apply_credit(MONEY, D(10), at(9))


# -- emergency credit ------------------------------------------------------------------------------


def test_emergency_credit_taken_when_empty_and_repaid_from_the_next_token():
    meter = engine(at(9), emergency=EmergencyConfig(limit_kwh=D(5)))
    meter.apply_credit(UNITS, 10, at(9))  # 1 kWh
    assert meter.take_emergency_credit(at(9)) is EmergencyResult.CREDIT_AVAILABLE
    meter.advance(at(10), 1000)  # 1 kWh at 1 kW: empty at 10:00
    assert not meter.status().relay_closed
    assert meter.take_emergency_credit(at(10)) is EmergencyResult.GRANTED
    status = meter.status()
    assert status.relay_closed and status.relay_reason is RelayReason.EMERGENCY
    meter.advance(at(12), 1000)  # 2 kWh on emergency credit
    assert meter.status().emergency_used_kwh == D(2)
    assert meter.take_emergency_credit(at(12)) is EmergencyResult.ALREADY_ACTIVE
    receipt = meter.apply_credit(UNITS, 100, at(12))  # 10 kWh
    # 2 kWh repay the emergency credit, 8 kWh go to the wallet
    assert (receipt.repaid_emergency, receipt.repaid_debt, receipt.to_wallet) == (D(2), 0, D(8))
    status = meter.status()
    assert status.energy_kwh == D(8)
    assert not status.emergency_active and status.emergency_used_kwh == 0
    assert [e.at for e in meter.events.of_kind(EventKind.EMERGENCY_CREDIT)] == [at(10)]


def test_emergency_credit_runs_out_at_its_limit_and_must_be_repaid_before_another():
    meter = engine(at(9), emergency=EmergencyConfig(limit_kwh=D(5)))
    assert meter.take_emergency_credit(at(10)) is EmergencyResult.GRANTED
    meter.advance(at(17), 1000)
    # 5 kWh at 1 kW: the relay opens at 15:00
    assert relay_events(meter)[-1] == (at(15), EventKind.RELAY_OPENED, "no credit")
    assert meter.status().totals.emergency_kwh == D(5)
    receipt = meter.apply_credit(UNITS, 30, at(17))  # 3 kWh, all of it repays
    assert (receipt.repaid_emergency, receipt.to_wallet) == (D(3), 0)
    assert not meter.status().relay_closed
    assert meter.take_emergency_credit(at(17)) is EmergencyResult.NOT_REPAID
    receipt = meter.apply_credit(UNITS, 50, at(17))  # 5 kWh: 2 repay, 3 to the wallet
    assert (receipt.repaid_emergency, receipt.to_wallet) == (D(2), D(3))
    assert meter.status().relay_closed


def test_automatic_emergency_credit_keeps_the_relay_closed_until_its_limit():
    meter = engine(at(9), emergency=EmergencyConfig(limit_kwh=D(2), automatic=True))
    meter.apply_credit(UNITS, 10, at(9))  # 1 kWh
    meter.advance(at(13), 1000)
    # 1 kWh from the wallet (to 10:00), 2 kWh emergency (to 12:00), then the relay opens
    assert [(e.at, e.detail) for e in meter.events.of_kind(EventKind.EMERGENCY_CREDIT)] == [
        (at(10), "2 kWh taken automatically")
    ]
    assert relay_events(meter)[-1] == (at(12), EventKind.RELAY_OPENED, "no credit")
    assert meter.status().totals.energy_kwh == D(3)


def test_emergency_credit_repaid_from_a_currency_token_at_the_step_price():
    meter = engine(at(9), tariff=flat("2.00"), emergency=EmergencyConfig(limit_kwh=D(5)))
    assert meter.take_emergency_credit(at(9)) is EmergencyResult.GRANTED
    meter.advance(at(12), 1000)  # 3 kWh on emergency credit
    receipt = meter.apply_credit(MONEY, D(20), at(12))
    # 3 kWh * 2.00 = 6.00 repays it; 14.00 to the wallet
    assert (receipt.repaid_emergency, receipt.to_wallet, receipt.money) == (D(6), D(14), D(14))


def test_no_emergency_credit_on_a_meter_without_it():
    meter = engine(at(9))
    assert meter.take_emergency_credit(at(9)) is EmergencyResult.NOT_OFFERED
    assert not meter.status().relay_closed


# -- friendly time ---------------------------------------------------------------------------------


def test_friendly_hours_keep_the_relay_closed_and_make_debt():
    meter = engine(at(16), friendly=FriendlyConfig(hours=(time(18), time(7))))
    meter.apply_credit(UNITS, 10, at(16))  # 1 kWh
    meter.advance(at(8, day=7), 1000)
    # 16-17 h: the 1 kWh; 17 h: relay opens; 18 h: friendly, relay closes;
    # 18:00-07:00 = 13 h * 1 kW = 13 kWh of debt; 07:00: relay opens
    assert relay_events(meter) == [
        (at(16), EventKind.RELAY_CLOSED, "credit"),
        (at(17), EventKind.RELAY_OPENED, "no credit"),
        (at(18), EventKind.RELAY_CLOSED, "friendly time"),
        (at(7, day=7), EventKind.RELAY_OPENED, "no credit"),
    ]
    assert meter.status().debt_kwh == D(13)
    receipt = meter.apply_credit(UNITS, 200, at(8, day=7))  # 20 kWh
    assert (receipt.repaid_debt, receipt.to_wallet) == (D(13), D(7))
    assert meter.status().relay_closed and meter.status().debt_kwh == 0
    # 6 January: 1 kWh (16-17 h) + 6 kWh (18-24 h)
    assert [(r.day, r.kwh) for r in meter.billing.daily()] == [(date(2025, 1, 6), D(7))]


def test_friendly_weekdays_and_special_dates():
    friendly = FriendlyConfig(
        weekdays=frozenset({5, 6}), special_dates=frozenset({date(2025, 1, 8)})
    )
    meter = engine(at(0, day=7), friendly=friendly)
    assert not meter.status().friendly  # Tuesday
    meter.advance(at(0, day=8), 500)
    assert meter.status().friendly and meter.status().relay_closed  # special date
    meter.advance(at(0, day=9), 500)
    assert not meter.status().relay_closed  # Thursday again
    meter.advance(at(0, day=11), 500)  # Saturday
    assert meter.status().relay_reason is RelayReason.FRIENDLY
    meter.advance(at(0, day=13), 500)  # through Sunday to Monday 00:00
    # debt: 8 January 24 h + Saturday and Sunday 48 h, all at 500 W = 36 kWh
    assert meter.status().debt_kwh == D(36)
    assert not meter.status().relay_closed


def test_friendly_hours_follow_the_meters_time_zone():
    meter = CreditEngine.new(
        at(15),
        CreditConfig(timezone="+02:00", friendly=FriendlyConfig(hours=(time(18), time(7)))),
    )
    assert not meter.status().friendly  # 17:00 local
    meter.advance(at(16, 30), 0)  # 18:30 local
    assert meter.status().friendly
    assert meter.status().at == datetime(2025, 1, 6, 18, 30, tzinfo=timezone(timedelta(hours=2)))


# -- alarms ----------------------------------------------------------------------------------------


def test_low_credit_alarms_are_raised_once_per_crossing():
    levels = AlarmConfig(
        (AlarmThreshold(D(10), D(0)), AlarmThreshold(D(5), D(0)), AlarmThreshold(D(1), D(0)))
    )
    meter = engine(at(0), alarms=levels)
    meter.apply_credit(UNITS, 120, at(0))  # 12 kWh
    assert meter.status().alarm_level == 0
    meter.advance(at(14), 1000)
    # at 1 kW: 10 kWh left at 02:00, 5 kWh at 07:00, 1 kWh at 11:00, empty at 12:00
    low = [(e.at, e.detail[:7]) for e in meter.events.of_kind(EventKind.CREDIT_LOW)]
    assert low == [(at(2), "level 1"), (at(7), "level 2"), (at(11), "level 3")]
    assert meter.status().alarm_level == 3
    meter.apply_credit(UNITS, 200, at(14))  # 20 kWh: above every level again
    assert meter.status().alarm_level == 0
    meter.advance(at(0, day=7), 1000)  # 10 h: 10 kWh left at midnight
    assert [e.at for e in meter.events.of_kind(EventKind.CREDIT_LOW)][3:] == [at(0, day=7)]
    assert meter.status().alarm_level == 1


def test_alarm_needs_both_wallets_low():
    levels = AlarmConfig(
        (AlarmThreshold(D(10), D(20)), AlarmThreshold(D(5), D(10)), AlarmThreshold(D(1), D(2)))
    )
    meter = engine(at(0), alarms=levels, tariff=flat("1"))
    meter.apply_credit(MONEY, D(25), at(0))
    meter.apply_credit(UNITS, 20, at(0))  # 2 kWh: energy is low, money is not
    assert meter.status().alarm_level == 0
    meter.advance(at(7), 1000)
    # 2 kWh from the energy wallet (to 02:00), then 1.00 per kWh: 20.00 left at 07:00
    assert meter.status().money == D(20)
    assert [e.at for e in meter.events.of_kind(EventKind.CREDIT_LOW)] == [at(7)]


# -- load control ----------------------------------------------------------------------------------


def test_power_limit_trips_reconnects_after_the_delay_and_locks_out():
    control = LoadControlConfig(
        reconnect_delay_s=60, lockout_trips=3, lockout_window_s=600, lockout_s=1800
    )
    meter = engine(at(9), load_control=control)
    meter.apply_credit(UNITS, 1000, at(9))
    meter.set_power_limit(3000, at(9))
    meter.advance(at(9, 32), 3500)
    # trips at 09:00, 09:01 and 09:02 (each 60 s reconnect); the third within 600 s locks
    # the relay out for 1800 s, to 09:32
    assert relay_events(meter)[1:] == [
        (at(9), EventKind.RELAY_OPENED, "power limit"),
        (at(9, 1), EventKind.RELAY_CLOSED, "credit"),
        (at(9, 1), EventKind.RELAY_OPENED, "power limit"),
        (at(9, 2), EventKind.RELAY_CLOSED, "credit"),
        (at(9, 2), EventKind.RELAY_OPENED, "power limit lock-out"),
        (at(9, 32), EventKind.RELAY_CLOSED, "credit"),
    ]
    assert [e.at for e in meter.events.of_kind(EventKind.POWER_LIMIT_EXCEEDED)] == [
        at(9),
        at(9, 1),
        at(9, 2),
    ]
    assert meter.status().totals.energy_kwh == 0
    meter.advance(at(10, 32), 3000)  # at the limit is allowed: 3 kWh in the hour
    assert meter.status().totals.energy_kwh == D(3)


def test_lockout_ends_with_a_new_power_limit():
    control = LoadControlConfig(power_limit_w=1000, lockout_trips=1, lockout_s=None)
    meter = engine(at(9), load_control=control)
    meter.apply_credit(UNITS, 100, at(9))
    meter.advance(at(12), 1500)
    status = meter.status()
    assert status.power_lockout and status.relay_reason is RelayReason.POWER_LOCKOUT
    meter.set_power_limit(2000, at(12))
    assert meter.status().relay_closed and meter.status().power_limit_w == 2000
    meter.advance(at(13), 1500)
    assert meter.status().totals.energy_kwh == D("1.5")


def test_tamper_opens_the_relay_where_configured():
    meter = engine(at(9))
    meter.apply_credit(UNITS, 100, at(9))
    meter.set_tamper(at(10), "terminal cover opened")
    assert meter.status().relay_reason is RelayReason.TAMPER
    meter.advance(at(11), 1000)
    meter.clear_tamper(at(11))
    meter.advance(at(12), 1000)
    # only 11:00-12:00 delivered: 1 kWh
    assert meter.status().totals.energy_kwh == D(1)
    assert relay_events(meter)[1:] == [
        (at(10), EventKind.RELAY_OPENED, "tamper"),
        (at(11), EventKind.RELAY_CLOSED, "credit"),
    ]
    kept = engine(at(9), load_control=LoadControlConfig(open_on_tamper=False))
    kept.apply_credit(UNITS, 100, at(9))
    kept.set_tamper(at(9), "magnet")
    assert kept.status().tamper and kept.status().relay_closed


def test_phase_unbalance_limit_is_stored():
    meter = engine(at(9))
    meter.set_phase_unbalance_limit(2500, at(9))
    assert meter.status().phase_unbalance_limit_w == 2500
    assert meter.events.of_kind(EventKind.SETTING_CHANGED)[-1].detail == (
        "phase unbalance limit 2500 W"
    )


# -- clear credit ----------------------------------------------------------------------------------


def test_clear_credit_empties_the_named_register():
    meter = engine(at(9), tariff=flat("1"))
    meter.apply_credit(UNITS, 50, at(9))
    meter.apply_credit(MONEY, D(40), at(9))
    meter.clear_credit(4, at(9))
    assert (meter.status().energy_kwh, meter.status().money) == (D(5), 0)
    meter.apply_credit(MONEY, D(40), at(9))
    meter.clear_credit(0, at(9))
    assert (meter.status().energy_kwh, meter.status().money) == (0, D(40))
    meter.clear_credit(0xFFFF, at(9))
    assert (meter.status().energy_kwh, meter.status().money) == (0, 0)
    assert not meter.status().relay_closed
    assert len(meter.events.of_kind(EventKind.CREDIT_CLEARED)) == 3
    for register in (1, 5, 0x1234):
        with pytest.raises(FunctionError):
            meter.clear_credit(register, at(9))


# -- billing ---------------------------------------------------------------------------------------


def test_billing_keeps_31_daily_and_13_monthly_records():
    zone = timezone(timedelta(hours=2))
    start = datetime(2025, 1, 1, tzinfo=zone)
    meter = CreditEngine.new(start, CreditConfig(timezone="+02:00"))
    meter.apply_credit(UNITS, 110_000, start)  # 11,000 kWh
    meter.advance(datetime(2026, 3, 5, tzinfo=zone), 1000)
    # 1 kW all day: 24 kWh a local day
    daily = meter.billing.daily()
    assert len(daily) == 31
    assert (daily[0].day, daily[-1].day) == (date(2026, 2, 2), date(2026, 3, 4))
    assert {r.kwh for r in daily} == {D(24)}
    monthly = meter.billing.monthly()
    assert len(monthly) == 13
    assert [(m.year, m.month) for m in (monthly[0], monthly[-1])] == [(2025, 2), (2026, 2)]
    assert monthly[0].kwh == D(28 * 24) and monthly[-2].kwh == D(31 * 24)
    assert meter.status().month_kwh == D(4 * 24)


# -- load profiles ---------------------------------------------------------------------------------


def test_daily_profile_and_function_of_time():
    meter = engine(at(0))
    meter.apply_credit(UNITS, 10_000, at(0))
    meter.advance(at(0, day=7), [1000] * 12 + [2000] * 12)
    # 12 h * 1 kW + 12 h * 2 kW = 36 kWh
    assert meter.status().totals.energy_kwh == D(36)
    meter.advance(at(0, day=8), lambda local: 600 if local.hour < 12 else 1200)
    # 12 h * 0.6 kW + 12 h * 1.2 kW = 21.6 kWh
    assert meter.status().totals.energy_kwh == D("57.6")
    # the load last sampled (1200 W) stays as the standing load
    meter.advance(at(1, day=8), None)
    assert meter.status().totals.energy_kwh == D("58.8")


def test_operations_later_than_the_clock_run_the_standing_load_first():
    meter = engine(at(9))
    meter.apply_credit(UNITS, 100, at(9))
    meter.advance(at(10), LoadProfile.constant(1000))
    meter.apply_credit(UNITS, 10, at(12))  # 10:00-12:00 at 1 kW first
    # 10 - 1 - 2 + 1 = 8 kWh
    assert meter.status().energy_kwh == D(8)


def test_the_clock_never_runs_backwards_and_needs_a_time_zone():
    meter = engine(at(9))
    meter.advance(at(10), 0)
    with pytest.raises(RangeError):
        meter.advance(at(9), 0)
    with pytest.raises(FormatError):
        meter.advance(datetime(2025, 1, 6, 11), 0)
    with pytest.raises(RangeError):
        meter.advance(at(11), -5)


# -- persistence -----------------------------------------------------------------------------------


def test_state_round_trips_through_json_mid_scenario():
    config = CreditConfig(
        tariff=TariffConfig(steps=(EnergyStep(D(5), D("1.10")), EnergyStep(None, D("1.70")))),
        emergency=EmergencyConfig(limit_kwh=D(3)),
        friendly=FriendlyConfig(
            hours=(time(18), time(7)), special_dates=frozenset({date(2025, 2, 1)})
        ),
        load_control=LoadControlConfig(power_limit_w=2500, lockout_trips=5),
    )
    meter = CreditEngine.new(at(9), config)
    meter.apply_credit(MONEY, D("7.5"), at(9))
    meter.apply_credit(UNITS, 13, at(9))
    meter.advance(at(20), 1800)
    meter.advance(at(20, 30), 3000)  # tripped, waiting to reconnect
    meter.take_emergency_credit(at(20, 30))
    text = json.dumps(meter.to_dict())
    copy = CreditEngine.from_dict(json.loads(text))
    assert copy.status() == meter.status()
    assert copy.to_dict() == meter.to_dict()
    for engine_ in (meter, copy):
        engine_.advance(at(12, day=9), [900] * 18 + [2200] * 6)
        engine_.apply_credit(UNITS, 40, at(12, day=9))
        engine_.advance(at(0, day=12), 1500)
    assert copy.status() == meter.status()
    assert copy.billing.daily() == meter.billing.daily()


def test_a_year_of_steps_and_month_charges_at_a_constant_load():
    tariff = TariffConfig(
        steps=(EnergyStep(D(350), D("1.80")), EnergyStep(None, D("2.40"))),
        service_charge=(ServiceChargeStep(D(500), D(50)), ServiceChargeStep(None, D(120))),
        fixed_charges=(FixedCharge("network", D(25)),),
        vat=(VatRate("VAT", D(15)),),
    )
    zone = timezone(timedelta(hours=2))
    start = datetime(2025, 1, 1, tzinfo=zone)
    meter = CreditEngine.new(start, CreditConfig(timezone="+02:00", tariff=tariff))
    meter.apply_credit(MONEY, D(50_000), start)
    meter.advance(datetime(2026, 1, 1, tzinfo=zone), 1200)
    # 1.2 kW is 28.8 kWh a day; every month passes 500 kWh, so the service step is 120.
    # 31 days, 892.8 kWh: (350 * 1.80 + 542.8 * 2.40) * 1.15 = 1932.72 * 1.15 = 2222.628
    # 30 days, 864.0 kWh: (630 + 514.0 * 2.40) * 1.15 = 1863.60 * 1.15 = 2143.14
    # 28 days, 806.4 kWh: (630 + 456.4 * 2.40) * 1.15 = 1725.36 * 1.15 = 1984.164
    # energy: 7 * 2222.628 + 4 * 2143.14 + 1984.164 = 26115.12
    # charges: 12 months * (120 + 25) * 1.15 = 12 * 166.75 = 2001.00
    # 50000 - 26115.12 - 2001 = 21883.88
    status = meter.status()
    assert status.money == D("21883.88")
    assert status.totals.charges == D("2001")
    assert status.totals.energy_kwh == D("10512")  # 365 * 28.8
    assert len(meter.billing.monthly()) == 12
