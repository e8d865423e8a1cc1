"""Charges (IC 113) over TCP through dlms-cosem's client, from the meter's own tariff.

The meter's tariff: 1.50 per kWh up to 50 kWh a month, then 2.00; TOU rate 2 priced
0.75; a monthly service charge of 10.00 and a fixed "rental" of 5.25. It is given
2,000.42624 of money credit (a 2,000 currency token, rounded in the customer's favour)
and runs at 1 kW through January 2004: 744 kWh, 50 x 1.50 + 694 x 2.00 = 1,463.00 for
energy (no calendar: every kWh in rate 1, so the rate 2 price is never used); when
January closes the monthly charges take 10.00 + 5.25 = 15.25. Worked by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from dlms_cosem.client import ActionError

from sts import DecoderKey, encode
from sts.meter.config import (
    CreditConfig,
    EnergyStep,
    FixedCharge,
    ServiceChargeStep,
    TariffConfig,
)
from sts.meter.dlms.charge import price_scale
from sts.meter.metering import Metering
from sts.tokens import CreditKind
from sts.tokens.credit import CurrencyCredit
from tests.dlms_support import CTSA_DK, make_device, make_meter, method, served
from tests.dlms_support import attribute as attr

ENERGY = (113, "0.0.19.20.0.255")
MONTHLY = (113, "0.0.19.20.1.255")


def entry(index: str, value: int) -> bytes:
    return bytes.fromhex("0202 0902") + index.encode() + b"\x10" + value.to_bytes(2, "big")


def test_price_scale_worked_by_hand():
    assert price_scale([Decimal("1.50"), Decimal(2)]) == (-4, [15_000, 20_000])
    assert price_scale([Decimal(10), Decimal("5.25")]) == (-3, [10_000, 5_250])
    assert price_scale([Decimal("0.12345")]) == (-5, [12_345])
    # 1.234567 is exact at no scale a long holds: 12,345.67 at -4, rounded half up
    assert price_scale([Decimal("1.234567")]) == (-4, [12_346])


@pytest.fixture
def server():
    tariff = TariffConfig(
        steps=(EnergyStep(Decimal(50), Decimal("1.50")), EnergyStep(None, Decimal(2))),
        service_charge=(ServiceChargeStep(None, Decimal(10)),),
        fixed_charges=(FixedCharge("rental", Decimal("5.25")),),
    )
    meter = make_meter(
        config=CreditConfig(tariff=tariff),
        metering=Metering.from_settings({"rate_prices": {"2": "0.75"}}),
    )
    money = CurrencyCredit.for_amount(CreditKind.ELECTRICITY_CURRENCY, 2000 * 100_000, 5_871_800)
    assert meter.enter_token(encode(money, DecoderKey.from_hex(CTSA_DK))).text == "Accept"
    meter.advance(datetime(2004, 2, 1, tzinfo=UTC), load=1000)
    with served(make_device(meter)) as s:
        yield s


def test_energy_and_monthly_charges(server):
    with server.client("lls", b"reader-1").session() as c:
        assert c.get(attr(*ENERGY, 2)) == bytes.fromhex("05 00023B7C")  # 146,300 cents
        assert c.get(attr(*ENERGY, 3)) == bytes.fromhex("1600")  # consumption based
        assert c.get(attr(*ENERGY, 5)) == (
            # scaling {commodity 3: per kWh, price -4}, commodity +A attribute 2
            bytes.fromhex("0203 0202 0F03 0FFC 0203 120003 09060100010800FF 0F02 0103")
            + entry("S1", 15_000)
            + entry("S2", 20_000)
            + entry("R2", 7_500)
        )
        assert c.get(attr(*MONTHLY, 2)) == bytes.fromhex("05 000005F5")  # 1,525 cents
        assert c.get(attr(*MONTHLY, 3)) == bytes.fromhex("1601")  # time based
        assert c.get(attr(*MONTHLY, 5)) == (
            bytes.fromhex("0203 0202 0F00 0FFD 0203 120000 0906000000000000 0F00 0102")
            + entry("V1", 10_000)
            + entry("F1", 5_250)
        )
        # the account lists both charges (attribute 10, charge_reference_list)
        assert c.get(attr(111, "0.0.19.0.0.255", 10)) == bytes.fromhex(
            "0102 0906 0000131400FF 0906 0000131401FF"
        )
    with (
        server.client("lls", b"admin-3").session() as c,
        pytest.raises(ActionError, match="OBJECT_UNAVAILABLE"),
    ):
        c.action(method(*ENERGY, 1), bytes.fromhex("0F00"))  # read only: no methods


def test_an_energy_only_meter_has_empty_charge_tables():
    with served(make_device()) as s, s.client("lls", b"reader-1").session() as c:
        assert c.get(attr(*ENERGY, 5)).endswith(bytes.fromhex("0100"))
        assert c.get(attr(*ENERGY, 2)) == bytes.fromhex("05 00000000")
