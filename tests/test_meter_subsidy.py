"""Subsidy scenarios (issue 9, datasheet 'Tariff Expense: up to 5 kinds subsidy').

Figures by hand; 1 kW for an hour is 1 kWh.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from sts.errors import FormatError, RangeError
from sts.meter.calendar import ActivityCalendar
from sts.meter.config import (
    ChargeKind,
    CreditConfig,
    EnergyStep,
    FixedCharge,
    ServiceChargeStep,
    TariffConfig,
    VatRate,
)
from sts.meter.metering import Metering, MeteringConfig
from tests.meter_helpers import make_meter, reading

T0 = datetime(2026, 5, 1, tzinfo=UTC)
FLAT_2 = TariffConfig(steps=(EnergyStep(None, D("2.00")),))


def subsidised(tariff: TariffConfig, money: str, *subsidies: dict, **settings: object):
    metering = Metering.from_settings({"subsidies": list(subsidies), **settings})
    return make_meter(T0, money=D(money), config=CreditConfig(tariff=tariff), metering=metering)


def test_free_units_cost_nothing_then_the_step_price_applies():
    # 10 kWh free, then 5 kWh at 2.00 = 10.00: 100 - 10 = 90
    meter = subsidised(FLAT_2, "100", {"kind": "free_units", "kwh": "10"})
    meter.advance(T0 + timedelta(hours=15), 1000)
    assert meter.engine.status().money == D("90.00000")
    assert reading(meter, "1.0.1.8.0.255") == 15_000


def test_free_units_flow_with_an_empty_money_wallet_and_come_back_next_month():
    meter = subsidised(FLAT_2, "0", {"kind": "free_units", "kwh": "5"})
    assert meter.engine.state.relay_closed is True
    meter.advance(T0 + timedelta(hours=8), 1000)
    assert reading(meter, "1.0.1.8.0.255") == 5_000  # the relay opened after the 5 free kWh
    assert meter.engine.state.relay_closed is False
    meter.advance(datetime(2026, 6, 1, 3, tzinfo=UTC))  # June: 5 more free kWh by 05:00
    assert meter.engine.state.relay_closed is True
    meter.advance(datetime(2026, 6, 1, 8, tzinfo=UTC))
    assert reading(meter, "1.0.1.8.0.255") == 10_000


def test_lifeline_per_kwh_and_percent_in_order_with_vat():
    # Steps 2.00 up to 100 kWh, then 3.00; lifeline 50 kWh at 0.50; 0.10 off each kWh,
    # then 10 % off; VAT 15 % on energy. 120 kWh in May:
    #   0-50:   (0.50 - 0.10) * 0.9 * 1.15 = 0.414  x 50 = 20.70
    #   50-100: (2.00 - 0.10) * 0.9 * 1.15 = 1.9665 x 50 = 98.325
    #   100-:   (3.00 - 0.10) * 0.9 * 1.15 = 3.0015 x 20 = 60.03     total 179.055
    tariff = TariffConfig(
        steps=(EnergyStep(D(100), D("2.00")), EnergyStep(None, D("3.00"))),
        vat=(VatRate("VAT", D(15), frozenset({ChargeKind.ENERGY})),),
    )
    meter = subsidised(
        tariff,
        "500",
        {"kind": "lifeline", "kwh": "50", "amount": "0.50"},
        {"kind": "per_kwh", "amount": "0.10"},
        {"kind": "percent", "amount": "10"},
    )
    meter.advance(T0 + timedelta(hours=120), 1000)
    assert meter.engine.status().money == D("320.94500")  # 500 - 179.055


def test_monthly_subsidy_comes_off_the_service_then_fixed_charges():
    # Service 50 + 15 % VAT = 57.50, fixed 10 (no VAT): 67.50 due; 60 off -> 7.50 taken
    tariff = TariffConfig(
        steps=(EnergyStep(None, D("2.00")),),
        service_charge=(ServiceChargeStep(None, D(50)),),
        fixed_charges=(FixedCharge("network", D(10)),),
        vat=(VatRate("VAT", D(15), frozenset({ChargeKind.SERVICE})),),
    )
    meter = subsidised(tariff, "100", {"kind": "monthly", "amount": "60"})
    meter.advance(datetime(2026, 6, 1, 1, tzinfo=UTC), 0)
    assert meter.engine.status().money == D("92.50000")


def test_a_rate_price_never_replaces_the_lifeline():
    # Rate 2 all day priced 5.00; lifeline 10 kWh at 1.00: 10 x 1.00 + 5 x 5.00 = 35.00
    calendar = {
        "active": {
            "name": "r2",
            "seasons": [{"name": "all", "start": "01-01", "week": "w"}],
            "weeks": [{"name": "w", "days": [1] * 7}],
            "days": [{"id": 1, "switches": [["00:00", 2]]}],
        }
    }
    meter = subsidised(
        FLAT_2,
        "100",
        {"kind": "lifeline", "kwh": "10", "amount": "1.00"},
        rate_prices={"2": "5.00"},
        calendar=calendar,
    )
    assert isinstance(meter.metering.calendar, ActivityCalendar)
    meter.advance(T0 + timedelta(hours=15), 1000)
    assert meter.engine.status().money == D("65.00000")


@pytest.mark.parametrize(
    ("subsidies", "message"),
    [
        ([{"kind": "percent", "amount": "1"}] * 6, "at most 5"),
        ([{"kind": "percent", "amount": "1"}] * 2, "once"),
        ([{"kind": "lifeline", "amount": "1"}], "needs kwh"),
        ([{"kind": "percent", "amount": "101"}], "not 0-100"),
        ([{"kind": "voucher", "amount": "1"}], "kind is 'voucher'"),
    ],
)
def test_subsidy_settings_are_checked(subsidies: list, message: str):
    with pytest.raises(FormatError, match=message):
        Metering.from_settings({"subsidies": subsidies})


def test_subsidies_need_a_money_tariff_and_count_towards_the_ten_steps():
    metering = Metering(
        MeteringConfig.from_dict({"subsidies": [{"kind": "percent", "amount": "5"}]})
    )
    with pytest.raises(FormatError, match="need a money tariff"):
        make_meter(T0, metering=metering)
    ten = TariffConfig(
        steps=(*(EnergyStep(D(k * 10), D(k)) for k in range(1, 10)), EnergyStep(None, D(10)))
    )
    with pytest.raises(RangeError, match="11 steps; at most 10"):
        subsidised(ten, "1", {"kind": "free_units", "kwh": "5"})
