"""Vending on SQLite and PostgreSQL: tokens, TIDs, idempotency, money, splitting, reversal.

Expected tokens come from the public STS compliance tests (the meter and key of
CTSA03/CTSA20, decoder key E653341F9D5BF36F); TIDs and tariff figures are worked
by hand in the comments.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from conftest import (
    TEST_MASTER_KEY,
    VECTOR_DK,
    VECTOR_DRN,
    Clock,
    FixedBits,
    register_vector_meter,
)
from sqlalchemy import func, select

import sts
from sts.tokens.credit import TransferCredit
from sts.tokens.management import ClearCredit, ClearTamper, Register, SetPowerLimit
from sts.tokens.meter_test import MeterTestToken, TestControl
from vending import registry, vend
from vending.backend import Backend
from vending.db import Database
from vending.errors import (
    ConflictError,
    KeyChangeNeeded,
    NotFoundError,
    PaymentError,
)
from vending.models import LedgerEntry, TokenRecord, Transaction
from vending.tariff import Block, FixedCharge, Tariff

DK = sts.DecoderKey.from_hex(VECTOR_DK)
# 2024-03-01 08:00 UTC on the 1993 base: 11,382 days (31 years with 7 leap days, then
# January and February 2024) and 480 minutes: 11382 * 1440 + 480.
MARCH_TID = 16_390_560


def rows(database: Database, model: type) -> int:
    with database.read_sessions() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def transaction_entries(database: Database) -> int:
    """Ledger entries of transactions (the ledger also records meters, keys, tariffs...)."""
    with database.read_sessions() as session:
        return session.execute(
            select(func.count()).where(LedgerEntry.transaction_id.is_not(None))
        ).scalar_one()


def decoded(receipt_token_digits: str) -> sts.Token:
    return sts.decode(receipt_token_digits, DK)


def test_units_vend_gives_the_published_ctsa20_token(database: Database) -> None:
    # CTSA20 step 2A: 16,383.4 kWh, TID 5988122, RND 5 -> 3692 4780 2408 4102 4731.
    clock = Clock(datetime(1993, 1, 1, tzinfo=UTC) + timedelta(minutes=5_988_122))
    backend = Backend.open(database, TEST_MASTER_KEY, clock, FixedBits(5))
    register_vector_meter(backend)
    receipt = vend.vend_credit(backend, VECTOR_DRN, units="16383.4", reference="ctsa20-2a")
    assert [t.digits for t in receipt.tokens] == ["36924780240841024731"]
    assert receipt.units == 163_834


def test_power_limit_token_matches_the_published_example(database: Database) -> None:
    # README / demo: 1000 W, TID 5910301 (2004-03-28 09:01 UTC), RND 5.
    clock = Clock(datetime(2004, 3, 28, 9, 1, tzinfo=UTC))
    backend = Backend.open(database, TEST_MASTER_KEY, clock, FixedBits(5))
    register_vector_meter(backend)
    receipt = vend.set_power_limit(backend, VECTOR_DRN, 1000)
    assert receipt.tokens[0].digits == "50901894209860263092"
    assert receipt.kind == "power-limit"


def test_tids_follow_the_clock_and_step_by_a_minute_within_one(
    backend: Backend, vector_meter: str, clock: Clock
) -> None:
    first = vend.vend_credit(backend, vector_meter, units="10")
    second = vend.vend_credit(backend, vector_meter, units="10")
    clock.advance(minutes=5)
    third = vend.vend_credit(backend, vector_meter, units="10")
    tids = [decoded(r.tokens[0].digits).tid for r in (first, second, third)]  # type: ignore[attr-defined]
    assert tids == [MARCH_TID, MARCH_TID + 1, MARCH_TID + 5]


def test_minute_one_of_the_day_is_skipped(
    backend: Backend, vector_meter: str, clock: Clock
) -> None:
    clock.now = datetime(2024, 3, 2, 0, 1, tzinfo=UTC)  # day 11,383, minute 1 -> minute 2
    receipt = vend.clear_tamper(backend, vector_meter)
    token = decoded(receipt.tokens[0].digits)
    assert isinstance(token, ClearTamper)
    assert token.tid == 11_383 * 1440 + 2


def test_an_exhausted_base_date_needs_a_key_change_and_writes_nothing(
    backend: Backend, database: Database, vector_meter: str, clock: Clock
) -> None:
    clock.now = datetime(2024, 11, 24, 20, 15, tzinfo=UTC)  # TID 0xFFFFFF, the last one
    last = vend.vend_credit(backend, vector_meter, units="1")
    assert decoded(last.tokens[0].digits).tid == 0xFFFFFF  # type: ignore[attr-defined]
    with pytest.raises(KeyChangeNeeded, match="needs a key change"):
        vend.vend_credit(backend, vector_meter, units="1")
    clock.advance(minutes=1)
    with pytest.raises(KeyChangeNeeded, match="needs a key change"):
        vend.vend_credit(backend, vector_meter, units="1")
    assert rows(database, Transaction) == 1
    assert transaction_entries(database) == 1


def test_a_tid_past_the_key_expiry_number_is_refused(backend: Backend) -> None:
    # MARCH_TID >> 16 is 250 (16,390,560 / 65,536 = 250.1): KEN 249 has expired.
    register_vector_meter(backend, ken=249)
    with pytest.raises(KeyChangeNeeded, match="KEN 249"):
        vend.vend_credit(backend, VECTOR_DRN, units="1")


def test_same_reference_returns_the_same_tokens(
    backend: Backend, database: Database, vector_meter: str, clock: Clock
) -> None:
    first = vend.vend_credit(backend, vector_meter, units="25.5", reference="pos-1/0001")
    clock.advance(minutes=3)
    again = vend.vend_credit(backend, vector_meter, units="25.50", reference="pos-1/0001")
    assert again.tokens == first.tokens
    assert again.time == first.time
    assert rows(database, TokenRecord) == 1


def test_same_reference_with_other_details_is_a_conflict(
    backend: Backend, database: Database, vector_meter: str
) -> None:
    vend.vend_credit(backend, vector_meter, units="25.5", reference="pos-1/0002")
    with pytest.raises(ConflictError, match="pos-1/0002"):
        vend.vend_credit(backend, vector_meter, units="30", reference="pos-1/0002")
    with pytest.raises(ConflictError):
        vend.clear_tamper(backend, vector_meter, reference="pos-1/0002")
    assert rows(database, Transaction) == 1


def test_more_than_one_token_can_carry_is_split(backend: Backend, vector_meter: str) -> None:
    # One token carries at most 18,201,624 units, but the meter's register holds
    # 999,999.9 kWh (the default for a meter without a tariff), so tokens carry at most
    # the largest exact amount below 9,999,999 units: 1,818,624 + 8,181 x 1000 = 9,999,624.
    # 18,201,625 - 9,999,624 = 8,202,001 -> 1,818,624 + 6,383 x 1000 = 8,201,624, then 377.
    receipt = vend.vend_credit(backend, vector_meter, units="1820162.5")
    tokens = [decoded(t.digits) for t in receipt.tokens]
    assert [t.units for t in tokens] == [9_999_624, 8_201_624, 377]  # type: ignore[attr-defined]
    assert [t.tid for t in tokens] == [  # type: ignore[attr-defined]
        MARCH_TID,
        MARCH_TID + 1,
        MARCH_TID + 2,
    ]
    assert receipt.units == 18_201_625


HOME = Tariff(
    name="Home",
    currency="ZAR",
    blocks=(Block(Decimal(50), Decimal("1.50")), Block(None, Decimal("2.00"))),
    fixed_charges=(FixedCharge("Service charge", Decimal("12.50")),),
    vat_percent=Decimal(15),
)


@pytest.fixture
def home_meter(backend: Backend) -> str:
    registry.add_tariff(backend, HOME)
    return register_vector_meter(backend, tariff="Home")


def test_money_vend_uses_the_month_so_far(backend: Backend, home_meter: str, clock: Clock) -> None:
    # 200.00: service 12.50 leaves 187.50; 50 kWh at 1.50 (75.00) and 44.0 kWh at 2.00
    # (88.00) make 163.00 net + 24.45 VAT = 187.45; 44.1 kWh would cost 187.68. Change 0.05.
    first = vend.vend_credit(backend, home_meter, money="200.00")
    assert first.breakdown is not None
    assert [(line.label.split(" (")[0], line.amount) for line in first.breakdown.lines] == [
        ("Service charge", Decimal("12.50")),
        ("Energy step 1", Decimal("75.00")),
        ("Energy step 2", Decimal("88.00")),
        ("VAT 15%", Decimal("24.45")),
        ("Change", Decimal("0.05")),
    ]
    assert decoded(first.tokens[0].digits).units == 940  # type: ignore[attr-defined]
    # Same month, 94 kWh bought: no service charge, all at 2.00. 43.4 kWh = 86.80 + 13.02
    # VAT = 99.82 (43.5 kWh would be 100.05).
    clock.advance(days=3)
    second = vend.vend_credit(backend, home_meter, money="100")
    assert second.breakdown is not None
    assert second.breakdown.fixed_charges == 0
    assert second.units == 434
    # April: the service charge is due again and the steps start over.
    clock.now = datetime(2024, 4, 1, 6, 0, tzinfo=UTC)
    third = vend.vend_credit(backend, home_meter, money="200.00")
    assert third.units == 940


def test_money_below_the_fixed_charges_is_refused(
    backend: Backend, database: Database, home_meter: str
) -> None:
    with pytest.raises(PaymentError, match=r"12\.50"):
        vend.vend_credit(backend, home_meter, money="12.50")
    assert rows(database, Transaction) == 0
    assert transaction_entries(database) == 0


@pytest.mark.parametrize("money", ["0", "-5", "abc"])
def test_zero_negative_or_garbled_money_is_refused(
    backend: Backend, database: Database, home_meter: str, money: str
) -> None:
    with pytest.raises(PaymentError, match="payment"):
        vend.vend_credit(backend, home_meter, money=money)
    assert rows(database, Transaction) == 0


def test_money_for_a_meter_without_tariff_is_refused(backend: Backend, vector_meter: str) -> None:
    with pytest.raises(NotFoundError, match="no tariff"):
        vend.vend_credit(backend, vector_meter, money="50")


def test_unknown_meter_and_bad_check_digit(backend: Backend, vector_meter: str) -> None:
    with pytest.raises(NotFoundError, match="47500150231"):
        vend.vend_credit(backend, "47500150231", units="1")
    with pytest.raises(sts.ChecksumError, match="check digit"):
        vend.vend_credit(backend, "47500150232", units="1")


def test_management_and_test_tokens_are_recorded_like_vends(
    backend: Backend, database: Database, vector_meter: str
) -> None:
    cleared = vend.clear_credit(backend, vector_meter, Register.ELECTRICITY)
    token = decoded(cleared.tokens[0].digits)
    assert isinstance(token, ClearCredit) and token.register is Register.ELECTRICITY
    limit = decoded(vend.set_phase_unbalance(backend, vector_meter, 2000).tokens[0].digits)
    assert limit.watts == 2000  # type: ignore[attr-defined]
    # The class 1 "show the KRN" token for manufacturer 00, as published by Eskom.
    shown = vend.meter_test(backend, vector_meter, control=int(TestControl.KEY_REVISION))
    assert shown.tokens[0].digits == "18446744073843772416"
    assert isinstance(sts.decode(shown.tokens[0].digits), MeterTestToken)
    assert transaction_entries(database) == 3


def test_reprint_returns_the_stored_tokens(
    backend: Backend, vector_meter: str, clock: Clock
) -> None:
    sold = vend.vend_credit(backend, vector_meter, units="12.5", reference="r-1")
    clock.advance(minutes=10)
    assert vend.reprint(backend, reference="r-1").tokens == sold.tokens
    assert vend.reprint(backend, drn=vector_meter).tokens == sold.tokens
    with pytest.raises(NotFoundError):
        vend.reprint(backend, reference="no-such")


def test_reversal_is_a_compensating_entry(
    backend: Backend, database: Database, home_meter: str
) -> None:
    vend.vend_credit(backend, home_meter, money="200.00", reference="sale-1")
    reversal = vend.reverse(backend, "sale-1")
    assert reversal.money == Decimal("-199.95")  # charged: 200.00 less 0.05 change
    assert reversal.energy_kwh == Decimal("-94")
    again_reversed = vend.reverse(backend, "sale-1")  # again: the same reversal, so marked
    assert again_reversed.already and not reversal.already
    assert dataclasses.replace(again_reversed, already=False) == reversal
    assert rows(database, Transaction) == 2
    assert transaction_entries(database) == 2
    # The month is back where it was: the service charge is due again.
    again = vend.vend_credit(backend, home_meter, money="200.00", reference="sale-2")
    assert again.units == 940


def test_reversal_is_refused_after_a_later_token(
    backend: Backend, database: Database, vector_meter: str
) -> None:
    vend.vend_credit(backend, vector_meter, units="5", reference="sale-1")
    vend.clear_tamper(backend, vector_meter)
    with pytest.raises(ConflictError, match="later"):
        vend.reverse(backend, "sale-1")
    assert rows(database, Transaction) == 2


def test_a_token_decodes_as_credit_under_the_meter_key(backend: Backend, vector_meter: str) -> None:
    token = decoded(vend.vend_credit(backend, vector_meter, units="0.1").tokens[0].digits)
    assert isinstance(token, TransferCredit)
    assert (token.units, token.tid) == (1, MARCH_TID)


def test_power_limit_rounds_up_like_the_amount_field(backend: Backend, vector_meter: str) -> None:
    # 20,000 W is above 16,383, so the field steps by 10 from 16,384: 20,004 W.
    receipt = vend.set_power_limit(backend, vector_meter, 20_000)
    token = decoded(receipt.tokens[0].digits)
    assert isinstance(token, SetPowerLimit) and token.watts == 20_004
    assert receipt.tokens[0].label == "Power limit 20004 W"
