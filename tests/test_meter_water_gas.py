"""Simulated water and gas meters: their tokens, volume register, flow and valve.

Tokens come from the public compliance vectors (STS 531-1 CTSA01 steps 3 and 5:
0.1 m3 of water and of gas under the CTSA meter's key) or are made by the token
engine under that key. Every expected figure is worked by hand in the comments.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

import sts
from sts.errors import FormatError, StsError
from sts.meter import state as meter_state
from sts.meter.config import CreditConfig, EnergyStep, TariffConfig
from sts.meter.events import EventKind
from sts.meter.load import RelayReason
from sts.meter.meter import Meter
from sts.results import ResultCode as R
from sts.tokens import (
    ClearCredit,
    CreditKind,
    CurrencyCredit,
    MeterTestToken,
    Register,
    SetWaterMeterFactor,
    TestControl,
    TransferCredit,
)

CTSA_DRN = "00000000000"
CTSA_DK = "E653341F9D5BF36F"
CREDIT_01KWH = "23716100501183194197"  # CTSA01 step 1: electricity 0.1 kWh, TID 5871715
WATER_01M3 = "42502136492215507402"  # CTSA01 step 3: water 0.1 m3, TID 5871725
GAS_01M3 = "67586531586639825066"  # CTSA01 step 5: gas 0.1 m3, TID 5871735
MADE = datetime(2004, 1, 1, tzinfo=UTC)  # TID 4017 days * 1440 = 5,784,480 (1993 base)
T = datetime(2004, 6, 1, 12, 0, tzinfo=UTC)
TID = 5_900_000  # after the manufacture TID


def meter_for(service: str, tariff: TariffConfig | None = None) -> Meter:
    return Meter.manufacture(
        drn=CTSA_DRN,
        key=sts.DecoderKey.from_hex(CTSA_DK),
        manufactured=MADE,
        sgc=123456,
        base_date=1993,
        config=CreditConfig(service=service, tariff=tariff),
    )


def made(token: sts.Token) -> str:
    return sts.encode(token, sts.DecoderKey.from_hex(CTSA_DK))


def units(kind: CreditKind, count: int, tid: int = TID) -> str:
    return made(TransferCredit.for_units(kind, count, tid, 3))


def money(kind: CreditKind, units_1e5: int, tid: int = TID) -> str:
    return made(CurrencyCredit.for_amount(kind, units_1e5, tid))


@pytest.mark.parametrize(("service", "vector"), [("water", WATER_01M3), ("gas", GAS_01M3)])
def test_the_compliance_vector_of_its_service_credits_a_tenth_of_a_cubic_metre(
    service: str, vector: str
) -> None:
    meter = meter_for(service)
    outcome = meter.enter_token(vector, T)
    assert outcome.result is R.ACCEPT
    assert outcome.display[:3] == ("Accept", "+0.1 m3", "Volume 0.100 m3")
    assert meter.short_code("1") == ["Volume 0.100 m3"]
    assert meter.status().to_dict()["unit"] == "m3"


@pytest.mark.parametrize(
    ("service", "foreign"),
    [
        ("water", CREDIT_01KWH),
        ("water", GAS_01M3),
        ("gas", WATER_01M3),
        ("gas", CREDIT_01KWH),
        ("electricity", WATER_01M3),
        ("electricity", GAS_01M3),
    ],
)
def test_another_services_credit_is_function_and_changes_nothing(
    service: str, foreign: str
) -> None:
    meter = meter_for(service)
    outcome = meter.enter_token(foreign, T)
    assert outcome.result is R.FUNCTION  # 8, what the decoder answers any subclass it lacks
    assert meter.status().credit.energy_kwh == 0
    assert meter.decoder.tids.newest == 5_784_480  # only the manufacture TID


def test_two_and_a_half_cubic_metres_then_one_m3_per_hour_for_half_an_hour() -> None:
    meter = meter_for("water")
    # 2.5 m3 = 25 units of 0.1 m3 in the token's amount field
    token = units(CreditKind.WATER, 25)
    assert sts.decode(token, sts.DecoderKey.from_hex(CTSA_DK)).units == 25
    assert meter.enter_token(token, T).display[1] == "+2.5 m3"
    meter.advance_flow(T + timedelta(minutes=30), Decimal("1"))
    # 1 m3/h for 0.5 h = 0.5 m3 drawn: 2.5 - 0.5 = 2.0 m3
    assert meter.status().credit.energy_kwh == Decimal("2.000")
    assert meter.short_code("3") == ["Total 0.500 m3"]


def test_the_valve_closes_when_the_volume_runs_out_with_an_event() -> None:
    meter = meter_for("gas")
    meter.enter_token(units(CreditKind.GAS, 5), T)  # 0.5 m3
    meter.advance_flow(T + timedelta(hours=1), Decimal("2"))
    # 0.5 m3 at 2 m3/h lasts 0.25 h: the valve (relay) closes at 12:15
    credit = meter.status().credit
    assert (credit.energy_kwh, credit.relay_closed) == (Decimal("0.000"), False)
    assert credit.relay_reason is RelayReason.NO_CREDIT
    opened = [e for e in meter.events.latest(50) if e.kind is EventKind.RELAY_OPENED]
    assert [e.at for e in opened] == [T + timedelta(minutes=15)]
    assert credit.total_kwh == Decimal("0.500")


def test_a_flow_on_an_electricity_meter_is_refused() -> None:
    meter = meter_for("electricity")
    with pytest.raises(FormatError, match="electricity meter"):
        meter.advance_flow(T, Decimal("1"))


def test_a_flow_past_its_bound_is_refused_before_the_clock_moves() -> None:
    meter = meter_for("water")
    with pytest.raises(StsError, match="flow 100001 m3/h is above the limit of 100000 m3/h"):
        meter.advance_flow(T, Decimal("100001"))
    assert meter.clock == MADE


def test_the_volume_register_overflows_where_vending_splits() -> None:
    meter = meter_for("water")
    # 9,000,000 units: e=3, m = ceil((9,000,000 - 1,818,624) / 1000) = 7182, which decodes
    # to 7182 * 1000 + 1,818,624 = 9,000,624 units = 900,062.4 m3
    assert meter.enter_token(units(CreditKind.WATER, 9_000_000), T).result is R.ACCEPT
    assert meter.status().credit.energy_kwh == Decimal("900062.400")
    # the same again would hold 1,800,124.8 m3, past the register's 999,999.9
    second = meter.enter_token(units(CreditKind.WATER, 9_000_000, TID + 1), T)
    assert second.result is R.OVERFLOW
    assert meter.status().credit.energy_kwh == Decimal("900062.400")


def test_water_currency_tokens_buy_volume_at_the_meters_tariff() -> None:
    tariff = TariffConfig(steps=(EnergyStep(None, Decimal("20.00")),))  # 20.00 per m3
    meter = meter_for("water", tariff)
    refused = meter.enter_token(money(CreditKind.ELECTRICITY_CURRENCY, 5_000_000), T)
    assert refused.result is R.FUNCTION
    accepted = meter.enter_token(money(CreditKind.WATER_CURRENCY, 5_000_000, TID + 1), T)
    assert accepted.result is R.ACCEPT
    # 5,000,000 units of 0.00001: e=3, m = ceil((5,000,000 - 1,818,624) / 1000) = 3182,
    # which decodes to 3,182,000 + 1,818,624 = 5,000,624 units = 50.00624 (rounded up)
    assert meter.status().credit.money == Decimal("50.00624")
    meter.advance_flow(T + timedelta(hours=1), Decimal("1"))
    # 1 m3 at 20.00: 50.00624 - 20.00 = 30.00624
    assert meter.status().credit.money == Decimal("30.00624")


def test_clear_credit_names_the_water_registers() -> None:
    tariff = TariffConfig(steps=(EnergyStep(None, Decimal("20.00")),))
    meter = meter_for("water", tariff)
    meter.enter_token(units(CreditKind.WATER, 30), T)
    meter.enter_token(money(CreditKind.WATER_CURRENCY, 1_000_000, TID + 1), T)
    electricity = meter.enter_token(made(ClearCredit(1, TID + 2, int(Register.ELECTRICITY))), T)
    assert electricity.result is R.FUNCTION
    water = meter.enter_token(made(ClearCredit(1, TID + 3, int(Register.WATER))), T)
    assert (water.result, water.display) == (R.ACCEPT, ("Accept", "Cleared volume wallet"))
    credit = meter.status().credit
    # 1,000,000 units: e=2, m = ceil((1,000,000 - 180,224) / 100) = 8198 -> 1,000,024 = 10.00024
    assert (credit.energy_kwh, credit.money) == (Decimal("0.000"), Decimal("10.00024"))
    meter.enter_token(made(ClearCredit(1, TID + 4, int(Register.WATER_CURRENCY))), T)
    assert meter.status().credit.money == Decimal("0.00000")


def test_the_water_meter_factor_stays_unsupported() -> None:
    meter = meter_for("water")
    outcome = meter.enter_token(made(SetWaterMeterFactor(1, TID, 5)), T)
    assert outcome.result is R.FUNCTION


def test_the_total_display_of_a_test_token_is_in_cubic_metres() -> None:
    meter = meter_for("gas")
    meter.enter_token(GAS_01M3, T)
    meter.advance_flow(T + timedelta(minutes=6), Decimal("1"))  # 0.1 m3 in 0.1 h
    token = MeterTestToken(0, int(TestControl.TOTAL_ENERGY), 0)
    outcome = meter.enter_token(sts.encode(token), T + timedelta(minutes=6))
    assert outcome.display[1:] == ("Total 0.100 m3",)


def test_the_service_survives_the_state_file(tmp_path) -> None:
    meter = meter_for("gas")
    meter.enter_token(GAS_01M3, T)
    path = tmp_path / "gas.json"
    meter_state.save(meter, path)
    again = meter_state.load(path)
    assert (again.service.value, again.short_code("1")) == ("gas", ["Volume 0.100 m3"])


def test_a_state_file_without_a_service_is_an_electricity_meter(tmp_path) -> None:
    document = meter_state.to_document(meter_for("electricity"))
    del document["meter"]["credit"]["config"]["service"]
    loaded = meter_state.from_document(document)
    assert loaded.service.value == "electricity"
    assert loaded.enter_token(CREDIT_01KWH, T).display[1] == "+0.1 kWh"


def test_an_unknown_service_in_a_state_file_is_refused_with_its_path() -> None:
    document = meter_state.to_document(meter_for("water"))
    document["meter"]["credit"]["config"]["service"] = "steam"
    with pytest.raises(FormatError, match=r"service.*steam"):
        meter_state.from_document(json.loads(json.dumps(document)))


def test_the_keypad_screen_shows_the_volume_wallet_in_cubic_metres() -> None:
    from sts.meter.keypad_app import indicators

    meter = meter_for("water")
    meter.enter_token(WATER_01M3, T)
    assert indicators(meter.status())["wallets"] == ("Wallets: 0.100 m3, money 0.00", "")


def test_a_key_change_set_works_on_a_water_meter_as_on_electricity() -> None:
    # CTSA05 step 1: the two KCTs move the CTSA meter to TI 2, whose decoder key is
    # 060B8643C59A27F1 (sts-reference 9.2); water credit under it is then accepted.
    meter = meter_for("water")
    first = meter.enter_token("51638423060042734509", T)
    second = meter.enter_token("15361891762113502242", T)
    assert (first.result, second.result) == (R.FIRST_KCT, R.ACCEPT)
    assert meter.decoder.keys.ti == 2
    token = sts.encode(
        TransferCredit.for_units(CreditKind.WATER, 10, TID, 3),
        sts.DecoderKey.from_hex("060B8643C59A27F1"),
    )
    assert meter.enter_token(token, T).display[1:3] == ("+1.0 m3", "Volume 1.000 m3")
