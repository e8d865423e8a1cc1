"""Receipt data (vending.receipt): token grouping, derived units and the ``--json`` form."""

from __future__ import annotations

import doctest
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

import vending.receipt
from sts.errors import FormatError
from vending.receipt import Receipt, ReceiptToken
from vending.tariff import Block, MonthToDate, Tariff, price_money

SAST = timezone(timedelta(hours=2))
WHEN = datetime(2026, 3, 14, 9, 30, tzinfo=SAST)
# A class 2 token from the engine's digits examples; any 20 digits will do here.
DIGITS = "50901894209860263092"


def test_token_grouped_in_fours() -> None:
    token = ReceiptToken(DIGITS, units=150)
    assert token.grouped == "5090 1894 2098 6026 3092"
    assert token.kwh == Decimal("15.0")


@pytest.mark.parametrize("digits", ["5090 1894 2098 6026 3092", "1234", "5090189420986026309x"])
def test_token_must_be_20_plain_digits(digits: str) -> None:
    with pytest.raises(FormatError, match="is not 20 digits without spaces"):
        ReceiptToken(digits)


def test_credit_receipt_to_dict() -> None:
    # 20.00 at 2.00/kWh = 10 kWh, 100 units (see test_vending_tariff).
    tariff = Tariff("Flat", "ZAR", (Block(None, Decimal("2.00")),))
    breakdown = price_money(tariff, Decimal(20), MonthToDate())
    receipt = Receipt(
        transaction_id=42,
        meter_drn="47500150231",
        time=WHEN,
        tokens=(ReceiptToken(DIGITS, units=100),),
        customer="A. Customer",
        client_reference="till-7/0001",
        breakdown=breakdown,
    )
    assert receipt.tariff_name == "Flat"
    assert (receipt.units, receipt.kwh) == (100, Decimal("10.0"))
    data = receipt.to_dict()
    assert json.loads(json.dumps(data)) == data  # plain JSON types only
    assert data["time"] == "2026-03-14T09:30:00+02:00"
    assert data["tokens"] == [
        {
            "label": "Credit",
            "digits": DIGITS,
            "grouped": "5090 1894 2098 6026 3092",
            "units": 100,
            "kwh": "10.0",
        }
    ]
    assert data["breakdown"]["lines"] == [
        {"label": "Energy step 1 at 2.00/kWh", "amount": "20.00", "kwh": "10.0"}
    ]
    assert (data["meter"], data["customer"], data["client_reference"], data["kwh"]) == (
        "47500150231",
        "A. Customer",
        "till-7/0001",
        "10.0",
    )


def test_key_change_receipt_counts_only_credit_units() -> None:
    receipt = Receipt(
        transaction_id="t-9",
        meter_drn="47500150231",
        time=WHEN,
        kind="credit",
        tokens=(
            ReceiptToken("1" * 20, "Key change 1 of 2"),
            ReceiptToken("2" * 20, "Key change 2 of 2"),
            ReceiptToken("3" * 20, units=18_201_624),
            ReceiptToken("4" * 20, units=1),
        ),
    )
    assert receipt.units == 18_201_625
    assert receipt.kwh == Decimal("1820162.5")
    assert receipt.grouped_tokens[0] == "1111 1111 1111 1111 1111"
    assert receipt.lines == ()


def test_management_receipt_has_no_units() -> None:
    receipt = Receipt(
        1, "47500150231", WHEN, (ReceiptToken(DIGITS, "Clear tamper"),), "clear-tamper"
    )
    assert receipt.units is None and receipt.to_dict()["kwh"] is None


def test_time_must_carry_its_offset() -> None:
    with pytest.raises(FormatError, match="has no UTC offset"):
        Receipt(1, "47500150231", datetime(2026, 3, 14, 9, 30), (ReceiptToken(DIGITS),))


def test_a_receipt_has_a_token() -> None:
    with pytest.raises(FormatError, match="are not one or more ReceiptTokens"):
        Receipt(1, "47500150231", WHEN, ())


def test_module_examples_run() -> None:
    result = doctest.testmod(vending.receipt, verbose=False)
    assert result.attempted > 0 and result.failed == 0
