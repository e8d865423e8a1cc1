"""Token acceptance of the simulated meter, one named scenario per rule.

Each scenario reads like a meter conformance procedure: numbered steps, the
token keyed in, the result code expected and the registers expected after it.
Tokens come from the public compliance vectors (STS 531-1 CTSA01, 05, 06, 09,
11, 26 and the Nectar service tests) or are made by the token engine under a
known decoder key. Expected values are worked by hand from the rules in
DESIGN.md and sts-reference.md sections 10 and 12, never read back from the
meter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

import sts
from sts.errors import FormatError
from sts.meter.config import CreditConfig, EmergencyConfig, EnergyStep, TariffConfig
from sts.meter.meter import Meter
from sts.results import ResultCode as R
from sts.tokens import (
    ClearCredit,
    ClearTamper,
    CreditKind,
    CurrencyCredit,
    KeyChangeOrder,
    MeterTestToken,
    RawToken,
    Register,
    SetPowerLimit,
    SetTariffRate,
    SetWaterMeterFactor,
    TestControl,
    TokenClass,
    TransferCredit,
)
from sts.tokens.keychange import KeyChange1

# The compliance-test meter of STS 531-1-0-02: PAN 600727000000000009 (DRN 00000000000),
# SGC 123456, KRN 1, KT 2, TI 1, DKGA02 under VK ABABABABABABABAB.
CTSA_DRN = "00000000000"
CTSA_DK = "E653341F9D5BF36F"
CTSA_NEW_DK = "060B8643C59A27F1"  # the same meter on TI 2 (CTSA05)
KCT1_TI2 = "51638423060042734509"  # CTSA05 step 1, first section, under CTSA_DK
KCT2_TI2 = "15361891762113502242"  # CTSA05 step 1, second section
CREDIT_01KWH = "23716100501183194197"  # CTSA01 step 1: 0.1 kWh, TID 5871715
WATER_01M3 = "42502136492215507402"  # CTSA01 step 3: water, TID 5871725
GAS_01M3 = "67586531586639825066"  # CTSA01 step 5: gas, TID 5871735
CLEAR_TAMPER = "37037300014464855694"  # CTSA06: ClearTamperCondition, TID 5910360
CLEAR_ALL = "20388873191656671689"  # CTSA09 step 2: ClearCredit 0xFFFF, TID 5911202
SHOW_KRN = "18446744073843772416"  # CTSA11 / Eskom: class 1 sub 0, control bit 3, mfr 00
SHOW_KRN_SUB1 = "01152921539100838034"  # CTSA11 step 4: class 1 sub 1, control bit 3, mfr 0000
SHOW_TI = "36893488147553322496"  # CTSA11 step 5: control bit 4
ALL_TESTS_SUB0 = "56493153725450313471"  # all 36 control bits, mfr 00
PROPRIETARY = "12754194144864505970"  # class 1 subclass 11
MAX_AMOUNT = "42222423067848970276"  # CTSA10 step 9: field FFFF, 1,820,162.4 kWh, TID 5915634
AFTER_ROLLOVER = "09239624803025986815"  # CTSA25 step 9: 0.1 kWh, TID 480, DK B08205E074AFC5D6

# 2004-01-01 00:00 UTC is 4017 days after 1993-01-01: TID 4017 * 1440 = 5,784,480.
MADE = datetime(2004, 1, 1, tzinfo=UTC)
MADE_TID = 5_784_480
T = datetime(2004, 6, 1, 12, 0, tzinfo=UTC)


def make_meter(
    dk: str = CTSA_DK, drn: str = CTSA_DRN, made: datetime = MADE, **options: Any
) -> Meter:
    options.setdefault("sgc", 123456)
    options.setdefault("base_date", 1993)
    return Meter.manufacture(drn=drn, key=sts.DecoderKey.from_hex(dk), manufactured=made, **options)


def credit(dk: str, tid: int, units: int = 10, rnd: int = 3) -> str:
    token = TransferCredit.for_units(CreditKind.ELECTRICITY, units, tid, rnd)
    return sts.encode(token, sts.DecoderKey.from_hex(dk))


def made_with(dk: str, token: sts.Token) -> str:
    return sts.encode(token, sts.DecoderKey.from_hex(dk))


def money(dk: str, tid: int, units_1e5: int, negative: bool = False) -> str:
    kind = CreditKind.ELECTRICITY_CURRENCY
    return made_with(dk, CurrencyCredit.for_amount(kind, units_1e5, tid, negative))


# A meter that sells energy from its money wallet at 2.00 a kWh.
WITH_TARIFF = CreditConfig(tariff=TariffConfig(steps=(EnergyStep(None, Decimal("2.00")),)))


@dataclass(frozen=True)
class Step:
    """One step of a procedure: key in ``token`` at ``at``, expect ``result`` and registers."""

    step: str
    token: str
    result: R
    at: datetime | None = None
    expect: dict[str, Any] = field(default_factory=dict)


def registers(meter: Meter) -> dict[str, Any]:
    """The registers a step may check, read from the meter."""
    keys = meter.decoder.keys
    tids = meter.decoder.tids
    return {
        "dk": keys.key.reveal_hex(),
        "sgc": keys.sgc,
        "krn": keys.krn,
        "kt": keys.kt,
        "ti": keys.ti,
        "ken": keys.ken,
        "base_date": int(keys.base_date),
        "tids": tids.tids,
        "failures": meter.decoder.lockout.failures,
        "locked_until": meter.decoder.lockout.locked_until,
        "kct_held": meter.status().kct_held,
        "energy": meter.status().credit.energy_kwh,
        "money": meter.status().credit.money,
    }


def run(meter: Meter, *steps: Step) -> list[Any]:
    outcomes = []
    for step in steps:
        outcome = meter.enter_token(step.token, step.at)
        assert outcome.result is step.result, (
            f"step {step.step}: expected {step.result.name}, got {outcome.result.name} "
            f"({outcome.detail})"
        )
        found = registers(meter)
        for name, value in step.expect.items():
            assert found[name] == value, f"step {step.step}: {name} is {found[name]!r}"
        outcomes.append(outcome)
    return outcomes


# -- result codes one by one -------------------------------------------------------------


def test_accept_then_used_ctsa01():
    meter = make_meter()
    accepted, _ = run(
        meter,
        Step("A.1", CREDIT_01KWH, R.ACCEPT, T, {"tids": (MADE_TID, 5871715)}),
        Step("A.2", CREDIT_01KWH, R.USED, T, {"tids": (MADE_TID, 5871715), "failures": 1}),
    )
    assert accepted.display == ("Accept", "+0.1 kWh", "Energy 0.100 kWh")
    assert registers(meter)["energy"] == Decimal("0.1")


def test_manufacture_fills_the_tid_memory():
    meter = make_meter()
    assert registers(meter)["tids"] == (MADE_TID,)
    run(meter, Step("M.1", credit(CTSA_DK, MADE_TID), R.USED, T))


def test_old_token_made_before_manufacture():
    # 2005-01-01 is 366 days after MADE: TID 5,784,480 + 527,040 = 6,311,520 > 5,871,715.
    meter = make_meter(made=datetime(2005, 1, 1, tzinfo=UTC))
    run(
        meter,
        Step("O.1", CREDIT_01KWH, R.OLD, datetime(2005, 2, 1, tzinfo=UTC), {"tids": (6_311_520,)}),
    )


def test_key_expired_when_tid_top_bits_pass_ken():
    # TID 5,871,715 >> 16 = 89 (89 * 65,536 = 5,832,704 <= 5,871,715 < 90 * 65,536).
    run(make_meter(ken=88), Step("K.1", CREDIT_01KWH, R.KEY_EXPIRED, T, {"tids": (MADE_TID,)}))
    run(make_meter(ken=89), Step("K.2", CREDIT_01KWH, R.ACCEPT, T))


def test_ddtk_meter_refuses_credit_but_takes_management():
    meter = make_meter(kt=1)
    run(
        meter,
        Step("D.1", CREDIT_01KWH, R.DDTK, T, {"tids": (MADE_TID,)}),
        Step("D.2", CLEAR_TAMPER, R.ACCEPT, T, {"tids": (MADE_TID, 5910360), "failures": 0}),
    )


def test_crc_for_a_wrong_key_and_for_a_typo():
    other_key = "0123456789ABCDEF"
    typo = CREDIT_01KWH[:7] + "9" + CREDIT_01KWH[8:]  # digit 8 changed from 0 to 9 (still class 0)
    run(
        make_meter(),
        Step("C.1", credit(other_key, 5_900_000), R.CRC, T, {"tids": (MADE_TID,)}),
        Step("C.2", typo, R.CRC, T, {"tids": (MADE_TID,), "failures": 2}),
    )


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("1234", "4 digits"),
        ("237161005011831941970", "21 digits"),
        ("2371610050118319419A", "a letter"),
        ("73786976294838206464", "2^66, one above the largest token"),
        ("00000000000402653184", "class 3 (bits 28 and 27 set, nothing else)"),
    ],
)
def test_format(entry, why):
    run(make_meter(), Step(f"F ({why})", entry, R.FORMAT, T, {"failures": 1}))


FUNCTION_CASES = {
    "water credit": WATER_01M3,
    "gas credit": GAS_01M3,
    "time credit": made_with(CTSA_DK, TransferCredit(CreditKind.TIME, 1, 5_900_000, 5)),
    "tariff rate": made_with(CTSA_DK, SetTariffRate(1, 5_900_000, 5)),
    "water meter factor": made_with(CTSA_DK, SetWaterMeterFactor(1, 5_900_000, 5)),
    "clear the water register": made_with(
        CTSA_DK, ClearCredit.for_register(Register.WATER, 5_900_000, 1)
    ),
    "reserved class 2 subclass 10": made_with(CTSA_DK, RawToken(TokenClass.MANAGEMENT, 10, 0x1)),
    "proprietary class 1 subclass 11": PROPRIETARY,
    "currency credit without a tariff": money(CTSA_DK, 5_900_000, 100_004),
}


@pytest.mark.parametrize("what", FUNCTION_CASES)
def test_function_for_what_an_electricity_meter_does_not_have(what):
    run(
        make_meter(),
        Step(f"U.1 {what}", FUNCTION_CASES[what], R.FUNCTION, T, {"tids": (MADE_TID,)}),
        Step("U.2 its TID was not stored", credit(CTSA_DK, 5_900_000), R.ACCEPT, T),
    )


def test_clear_credit_for_a_register_that_does_not_exist_is_range():
    token = made_with(CTSA_DK, ClearCredit(1, 5_900_000, 8))
    run(make_meter(), Step("R.1", token, R.RANGE, T, {"tids": (MADE_TID,)}))


def test_overflow_when_the_energy_wallet_would_pass_its_maximum():
    meter = make_meter(config=CreditConfig(energy_max_kwh=Decimal(100)))
    run(
        meter,
        Step("V.1 60 kWh", credit(CTSA_DK, 5_900_000, 600), R.ACCEPT, T, {"energy": 60}),
        Step(
            "V.2 50 kWh more",
            credit(CTSA_DK, 5_900_001, 500),
            R.OVERFLOW,
            T,
            {"energy": 60, "tids": (MADE_TID, 5_900_000), "failures": 1},
        ),
        Step("V.3 40 kWh fills it", credit(CTSA_DK, 5_900_002, 400), R.ACCEPT, T, {"energy": 100}),
    )


def test_overflow_for_the_largest_amount_ctsa10():
    # 1,820,162.4 kWh is more than the energy wallet holds (999,999.9 kWh by default).
    run(make_meter(), Step("V.0", MAX_AMOUNT, R.OVERFLOW, T, {"energy": 0, "tids": (MADE_TID,)}))


def test_currency_credit_and_range_for_a_debit_below_zero():
    # Currency amounts the field holds exactly (offset + m * 10^e, in 0.00001 units):
    # 1,000,024 = 180,224 + 8,198 * 100 (e = 2) and 2,000,624 = 1,818,624 + 182 * 1,000 (e = 3).
    meter = make_meter(config=WITH_TARIFF)
    credited, *_ = run(
        meter,
        Step("V.4 +10.00024", money(CTSA_DK, 5_900_000, 1_000_024), R.ACCEPT, T),
        Step(
            "V.5 -20.00624",
            money(CTSA_DK, 5_900_001, 2_000_624, negative=True),
            R.RANGE,
            T,
            {"money": Decimal("10.00024"), "tids": (MADE_TID, 5_900_000)},
        ),
        Step(
            "V.6 -10.00024",
            money(CTSA_DK, 5_900_002, 1_000_024, negative=True),
            R.ACCEPT,
            T,
            {"money": 0},
        ),
    )
    assert credited.display == ("Accept", "+10.00024", "Energy 0.000 kWh", "Money 10.00024")


# -- class 1: tests, displays and manufacturer codes -------------------------------------


def test_class_1_displays_of_the_compliance_tests():
    meter = make_meter()
    krn, ti, both = run(
        meter,
        Step("T.1", SHOW_KRN, R.ACCEPT, T),
        Step("T.2", SHOW_TI, R.ACCEPT, T),
        Step("T.3", SHOW_KRN_SUB1, R.ACCEPT, T),
    )
    assert krn.display == ("Accept", "KRN 1")
    assert ti.display == ("Accept", "TI 01")
    assert both.display == ("Accept", "KRN 1")


def test_class_1_all_tests_runs_every_display():
    (outcome,) = run(make_meter(), Step("T.4", ALL_TESTS_SUB0, R.ACCEPT, T))
    lines = outcome.display
    for expected in ("KRN 1", "TI 01", "8888 8888 8888 8888 8888", "Load switch test OK"):
        assert expected in lines


def test_class_1_water_factor_display_is_function():
    token = made_with(CTSA_DK, MeterTestToken(0, TestControl.WATER_FACTOR, 0))
    run(make_meter(), Step("T.5", token, R.FUNCTION, T, {"failures": 0}))


def test_manufacturer_codes_of_a_2_digit_meter():
    meter = make_meter(drn="47500150231")  # manufacturer 47

    def show_krn(variant: int, mfr: int) -> str:
        return sts.encode(MeterTestToken(variant, TestControl.KEY_REVISION, mfr))

    run(
        meter,
        Step("M.1 own code", show_krn(0, 47), R.ACCEPT, T),
        Step("M.2 code 00", show_krn(0, 0), R.ACCEPT, T),
        Step("M.3 another maker", show_krn(0, 48), R.MFR_CODE, T),
        Step("M.4 4-digit subclass, code 0000", show_krn(1, 0), R.ACCEPT, T),
        Step("M.5 4-digit subclass, code 0047", show_krn(1, 47), R.MFR_CODE, T),
        Step("M.6 not counted as wrong entries", SHOW_KRN, R.ACCEPT, T, {"failures": 0}),
    )


def test_manufacturer_codes_of_a_4_digit_meter():
    # DRN 1234 + 00000001 + Luhn digit 2 (doubled from the right: 2+0+0+0+0+0+0+0+8+3+4+1 = 18).
    meter = make_meter(drn="1234000000012")

    def show_ti(variant: int, mfr: int) -> str:
        return sts.encode(MeterTestToken(variant, TestControl.TARIFF_INDEX, mfr))

    run(
        meter,
        Step("M4.1 own code", show_ti(1, 1234), R.ACCEPT, T),
        Step("M4.2 another maker", show_ti(1, 1235), R.MFR_CODE, T),
        Step("M4.3 2-digit subclass, code 00", show_ti(0, 0), R.ACCEPT, T),
        Step("M4.4 2-digit subclass, code 12", show_ti(0, 12), R.MFR_CODE, T),
    )


# -- key change --------------------------------------------------------------------------


def test_ctsa05_key_change_and_credit_under_the_new_key():
    meter = make_meter()
    new_key_credit = credit(CTSA_NEW_DK, 5_900_000)
    run(
        meter,
        Step("K.1", KCT1_TI2, R.FIRST_KCT, T, {"dk": CTSA_DK, "ti": 1, "kct_held": 1}),
        Step("K.2 too early", new_key_credit, R.CRC, T, {"dk": CTSA_DK, "kct_held": 1}),
        Step("K.3", KCT2_TI2, R.ACCEPT, T, {"dk": CTSA_NEW_DK, "ti": 2, "krn": 1, "kt": 2}),
        Step("K.4", new_key_credit, R.ACCEPT, T, {"tids": (MADE_TID, 5_900_000), "failures": 0}),
        Step("K.5 old key", credit(CTSA_DK, 5_900_001), R.CRC, T),
    )
    assert registers(meter)["kct_held"] == 0
    assert registers(meter)["sgc"] == 123456  # a 64-bit set carries no SGC


def test_key_change_sections_in_any_order():
    run(
        make_meter(),
        Step("K.1", KCT2_TI2, R.FIRST_KCT, T, {"dk": CTSA_DK}),
        Step("K.2", KCT1_TI2, R.ACCEPT, T, {"dk": CTSA_NEW_DK, "ti": 2}),
    )


def test_the_same_section_twice_stays_one_section():
    run(
        make_meter(),
        Step("K.1", KCT1_TI2, R.FIRST_KCT, T),
        Step("K.2", KCT1_TI2, R.FIRST_KCT, T, {"kct_held": 1}),
        Step("K.3", KCT2_TI2, R.ACCEPT, T, {"dk": CTSA_NEW_DK}),
    )


def test_partial_set_forgotten_after_ten_minutes():
    started = T
    run(
        make_meter(),
        Step("K.1", KCT1_TI2, R.FIRST_KCT, started),
        Step(
            "K.2 at 10:00",
            KCT2_TI2,
            R.FIRST_KCT,
            started + timedelta(minutes=10),
            {"dk": CTSA_DK, "ti": 1, "kct_held": 1},
        ),
    )
    run(
        make_meter(),
        Step("K.3", KCT1_TI2, R.FIRST_KCT, started),
        Step("K.4 at 9:59", KCT2_TI2, R.ACCEPT, started + timedelta(minutes=9, seconds=59)),
    )


def test_four_token_set_of_a_128_bit_meter():
    # STS 531-1-0-04 CTSA05 step 1: DKGA04/EA11 meter, SGC 123457, TI 1 -> TI 2.
    old = "F94B6ED353C3BFDB113E2D3A7EA3C41D"
    new = "B208834372EF892EF6E04C28593090D4"
    third, fourth = "71464563847088610152", "67904239402617643990"  # public sections
    order = KeyChangeOrder(bytes.fromhex(new), krn=1, kt=2, ti=2, ken=255, sgc=123457)
    first, second = (made_with(old, t) for t in order.tokens()[:2])
    meter = make_meter(dk=old, sgc=123457)
    run(
        meter,
        Step("E.1", fourth, R.FIRST_KCT, T, {"dk": old, "kct_held": 1}),
        Step("E.2", second, R.SECOND_KCT, T, {"dk": old, "kct_held": 2}),
        Step("E.3", third, R.SECOND_KCT, T, {"dk": old, "kct_held": 3, "ti": 1}),
        Step("E.4", first, R.ACCEPT, T, {"dk": new, "ti": 2, "sgc": 123457, "kct_held": 0}),
        Step("E.5", credit(new, 5_900_000), R.ACCEPT, T),
    )


def test_128_bit_sections_on_a_64_bit_meter_are_function():
    section = made_with(CTSA_DK, KeyChangeOrder(bytes(16), 1, 2, 1, sgc=1).tokens()[2])
    run(make_meter(), Step("K.1", section, R.FUNCTION, T, {"kct_held": 0}))


def test_three_token_sets_are_function():
    section = made_with(CTSA_DK, KeyChange1(15, 1, 0, 1, 2, 0x12345678))
    run(make_meter(), Step("K.1", section, R.FUNCTION, T, {"kct_held": 0}))


def test_change_to_key_type_0_is_key_type_error():
    # Nectar service vectors: a KT 0 set under DK EB4AD6D9E42E59F7 (its own key).
    meter = make_meter(dk="EB4AD6D9E42E59F7", drn="47500150231", sgc=46)
    run(
        meter,
        Step("KT.1", "61118509476014644691", R.FIRST_KCT, T),
        Step("KT.2", "29643408183974440183", R.KEY_TYPE, T, {"kt": 2, "kct_held": 1}),
    )


def test_rollover_moves_base_date_and_clears_tid_memory_ctsa26():
    # CTSA26: DKGA04 meter on KRN 4 / base 2014 moves to KRN 5 / base 2035 with RO = 1.
    old, new = "9DC0722C29A6CC0C", "B08205E074AFC5D6"
    made = datetime(2020, 1, 1, 8, 0, tzinfo=UTC)  # 2014 base: TID 3,155,520 (reference 5.1)
    meter = make_meter(dk=old, made=made, sgc=123457, krn=4, base_date=2014)
    at = datetime(2021, 1, 1, tzinfo=UTC)
    run(
        meter,
        Step("RO.1", credit(old, 3_200_000), R.ACCEPT, at, {"tids": (3_155_520, 3_200_000)}),
        Step("RO.2", "44163577485799480640", R.FIRST_KCT, at, {"base_date": 2014}),
        Step(
            "RO.3",
            "26556810679164981397",
            R.ACCEPT,
            at,
            {"dk": new, "krn": 5, "ti": 1, "base_date": 2035, "tids": ()},
        ),
        Step("RO.4 CTSA25 step 9, TID 480", AFTER_ROLLOVER, R.ACCEPT, at, {"tids": (480,)}),
        Step("RO.5", AFTER_ROLLOVER, R.USED, at),
        Step("RO.6 below the stored TID", credit(new, 479), R.OLD, at),
    )


def test_rollover_beyond_the_last_base_date_is_range():
    dk = "0011223344556677"
    made = datetime(2036, 1, 1, tzinfo=UTC)
    order = KeyChangeOrder(bytes.fromhex("8899AABBCCDDEEFF"), 2, 2, 1, rollover=True)
    first, second = (made_with(dk, t) for t in order.tokens())
    meter = make_meter(dk=dk, made=made, base_date=2035)
    run(
        meter,
        Step("RO.7", first, R.FIRST_KCT, made),
        Step("RO.8", second, R.RANGE, made, {"dk": dk, "base_date": 2035, "krn": 1}),
    )


def test_rollover_without_ro_keeps_the_tid_memory():
    run(
        make_meter(),
        Step("K.1", CREDIT_01KWH, R.ACCEPT, T),
        Step("K.2", KCT1_TI2, R.FIRST_KCT, T),
        Step("K.3", KCT2_TI2, R.ACCEPT, T, {"tids": (MADE_TID, 5871715), "base_date": 1993}),
    )


# -- TID memory --------------------------------------------------------------------------


def test_tid_memory_evicts_the_smallest():
    meter = make_meter(tid_memory=3)
    t1, t2, t3, t4 = 5_800_000, 5_800_010, 5_800_020, 5_800_030
    run(
        meter,
        Step("TM.1", credit(CTSA_DK, t2), R.ACCEPT, T, {"tids": (MADE_TID, t2)}),
        Step("TM.2 out of order", credit(CTSA_DK, t1), R.ACCEPT, T, {"tids": (MADE_TID, t1, t2)}),
        Step("TM.3 full: evicts", credit(CTSA_DK, t3), R.ACCEPT, T, {"tids": (t1, t2, t3)}),
        Step("TM.4 below the floor", credit(CTSA_DK, MADE_TID + 5), R.OLD, T),
        Step("TM.5", credit(CTSA_DK, t1), R.USED, T),
        Step("TM.6", credit(CTSA_DK, t4), R.ACCEPT, T, {"tids": (t2, t3, t4)}),
        Step("TM.7 t1 is old now", credit(CTSA_DK, t1), R.OLD, T),
        Step("TM.8 a gap is still new", credit(CTSA_DK, t2 + 1), R.ACCEPT, T),
    )


# -- lockout -----------------------------------------------------------------------------


def test_lockout_schedule_doubles_to_the_cap():
    meter = make_meter()
    wrong = credit("0123456789ABCDEF", 5_900_000)
    at = T
    run(
        meter,
        Step("L.1", wrong, R.CRC, at, {"failures": 1, "locked_until": None}),
        Step("L.2", wrong, R.CRC, at, {"failures": 2, "locked_until": None}),
    )
    for failures, seconds in [(3, 10), (4, 20), (5, 40), (6, 80), (7, 160), (8, 320), (9, 640),
                              (10, 1280), (11, 1280), (12, 1280)]:  # fmt: skip
        until = at + timedelta(seconds=seconds)
        run(meter, Step(f"L.{failures}", wrong, R.CRC, at, {"locked_until": until}))
        run(
            meter,
            Step(f"L.{failures} locked", CREDIT_01KWH, R.LOCKOUT, until - timedelta(seconds=1)),
            Step(f"L.{failures} class 1", SHOW_KRN, R.ACCEPT, until - timedelta(seconds=1)),
        )
        at = until
    run(
        meter,
        Step("L.13 accepted resets", CREDIT_01KWH, R.ACCEPT, at, {"failures": 0}),
        Step("L.14", wrong, R.CRC, at, {"failures": 1, "locked_until": None}),
    )


def test_lockout_does_not_count_entries_while_locked_nor_class_1():
    meter = make_meter()
    wrong = credit("0123456789ABCDEF", 5_900_000)
    run(
        meter,
        *(Step(f"L.{n}", wrong, R.CRC, T) for n in (1, 2, 3)),
        Step("L.4 locked", wrong, R.LOCKOUT, T + timedelta(seconds=5), {"failures": 3}),
        Step("L.5 unreadable", "1234", R.LOCKOUT, T + timedelta(seconds=6), {"failures": 3}),
        Step("L.6 class 1", SHOW_KRN, R.ACCEPT, T + timedelta(seconds=7), {"failures": 3}),
        Step(
            "L.7 bad class 1",
            sts.encode(MeterTestToken(0, 8, 99)),
            R.MFR_CODE,
            T + timedelta(seconds=8),
            {"failures": 3, "locked_until": T + timedelta(seconds=10)},
        ),
        Step("L.8 at 10 s", CREDIT_01KWH, R.ACCEPT, T + timedelta(seconds=10), {"failures": 0}),
    )


def test_held_kct_resets_the_lockout():
    wrong = credit("0123456789ABCDEF", 5_900_000)
    run(
        make_meter(),
        Step("L.1", wrong, R.CRC, T),
        Step("L.2", wrong, R.CRC, T),
        Step("L.3", KCT1_TI2, R.FIRST_KCT, T, {"failures": 0}),
    )


# -- management tokens -------------------------------------------------------------------


def test_management_tokens_are_accepted_once():
    tid = 5_900_000
    limit = made_with(CTSA_DK, SetPowerLimit.for_watts(2500, tid, 1))
    tamper = made_with(CTSA_DK, ClearTamper(2, tid + 1, 0))
    outcomes = run(
        make_meter(),
        Step("G.1", limit, R.ACCEPT, T),
        Step("G.2", limit, R.USED, T),
        Step("G.3", tamper, R.ACCEPT, T),
        Step("G.4", CLEAR_TAMPER, R.ACCEPT, T),
        Step("G.5", CLEAR_ALL, R.ACCEPT, T, {"tids": (MADE_TID, tid, tid + 1, 5910360, 5911202)}),
    )
    assert outcomes[0].display == ("Accept", "Power limit 2500 W")
    assert outcomes[4].display == ("Accept", "Cleared all credit")


def test_clear_credit_empties_the_wallets_ctsa09():
    meter = make_meter()
    run(
        meter,
        Step("G.6", credit(CTSA_DK, 5_900_000, 1234), R.ACCEPT, T, {"energy": Decimal("123.4")}),
        Step("G.7", CLEAR_ALL, R.ACCEPT, T, {"energy": 0, "money": 0}),
    )


def test_power_limit_token_sets_the_limit():
    meter = make_meter()
    token = made_with(CTSA_DK, SetPowerLimit.for_watts(2500, 5_900_000, 1))
    run(meter, Step("G.8", token, R.ACCEPT, T))
    assert meter.status().credit.power_limit_w == 2500
    assert meter.short_code("5") == ["Power limit 2500 W"]


# -- short codes -------------------------------------------------------------------------


def test_short_codes_show_registers():
    meter = make_meter()
    meter.enter_token(CREDIT_01KWH, T)
    assert meter.short_code("1") == ["Energy 0.100 kWh"]
    assert meter.short_code("00") == ["Energy 0.100 kWh", "Money 0.00000"]
    assert meter.short_code("6") == ["KRN 1"]
    assert meter.short_code("7") == ["TI 01"]
    assert meter.short_code("10") == ["Meter 00000000000"]
    assert meter.short_code("11") == ["2004-06-01 12:00"]
    assert meter.short_code("13") == ["SGC 123456", "KT 2 KEN 255"]
    assert meter.short_code("8") == ["Tamper none"]


def test_short_code_shows_the_lockout():
    meter = make_meter()
    wrong = credit("0123456789ABCDEF", 5_900_000)
    for _ in range(3):
        meter.enter_token(wrong, T)
    assert meter.short_code("14", T + timedelta(seconds=2)) == ["Locked 8 s", "3 wrong entries"]
    assert meter.short_code("14", T + timedelta(seconds=10)) == ["Not locked", "3 wrong entries"]


@pytest.mark.parametrize("code", ["55", "1234", "", "1a", "-1"])
def test_unknown_short_codes_are_format_errors(code):
    with pytest.raises(FormatError):
        make_meter().short_code(code)


def test_emergency_credit_by_short_code_is_repaid_from_the_next_token():
    meter = make_meter(config=CreditConfig(emergency=EmergencyConfig(limit_kwh=Decimal(5))))
    assert meter.short_code("99", T) == ["Emergency credit", "5 kWh"]
    assert meter.short_code("99", T) == [
        "No emergency credit",
        "emergency credit is already active",
    ]
    meter.advance(T + timedelta(hours=1), 2000)  # 2 kW for an hour: 2 kWh of emergency credit
    (outcome,) = run(
        meter,
        Step("EC.1 10 kWh", credit(CTSA_DK, 5_900_000, 100), R.ACCEPT, None, {"energy": 8}),
    )
    assert outcome.display == (
        "Accept",
        "+10.0 kWh",
        "Emergency repaid 2.000 kWh",
        "Energy 8.000 kWh",
    )


def test_a_rejected_token_changes_nothing_but_the_lockout_counter():
    meter = make_meter()
    meter.enter_token(KCT1_TI2, T)
    before = registers(meter)
    meter.enter_token(CREDIT_01KWH[:-1] + "0", T)  # a typo: CRC
    after = registers(meter)
    assert after.pop("failures") == 1
    before.pop("failures")
    assert after == before


# -- the machines underneath -------------------------------------------------------------


def test_lock_durations_follow_the_design_schedule():
    from sts.meter.lockout import lock_duration

    expected = [0, 0, 10, 20, 40, 80, 160, 320, 640, 1280, 1280, 1280]
    assert [lock_duration(n).total_seconds() for n in range(1, 13)] == expected
    assert lock_duration(10_000).total_seconds() == 1280


def test_key_change_machine_refuses_events_its_state_does_not_allow():
    from sts.errors import StsError
    from sts.meter.key_change import KctEvent, KctState, transition

    assert transition(KctState.COLLECTING, KctEvent.TIMEOUT) is KctState.IDLE
    with pytest.raises(StsError, match="'timeout' is not allowed in state 'idle'"):
        transition(KctState.IDLE, KctEvent.TIMEOUT)
    with pytest.raises(StsError, match="'section' is not allowed in state 'complete'"):
        transition(KctState.COMPLETE, KctEvent.SECTION)
