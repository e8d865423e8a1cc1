"""Tariff arithmetic (vending.tariff): every expected figure is worked by hand in a comment.

Rounding rule under test: each line is rounded to the currency's minor unit
half-up; the kWh sold is the largest multiple of 0.1 kWh whose lines fit the
energy money; the rest is change.
"""

from __future__ import annotations

import doctest
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import vending.tariff
from sts.errors import RangeError
from sts.tokens.amount import MAX_AMOUNT, decode_amount, encode_amount
from vending.errors import PaymentError, VendingError
from vending.tariff import (
    Block,
    Breakdown,
    FixedCharge,
    Levy,
    Line,
    MonthToDate,
    Tariff,
    minor_unit,
    price_money,
    price_units,
    split_units,
)

D = Decimal

# Blocks 0-50 kWh at 1.50, above at 2.00; fixed 12.50 a month; debt 10 %; VAT 15 %.
HOME = Tariff(
    name="Home",
    currency="ZAR",
    blocks=(Block(D(50), D("1.50")), Block(None, D("2.00"))),
    fixed_charges=(FixedCharge("Service charge", D("12.50")),),
    debt_recovery_percent=D(10),
    vat_percent=D(15),
)
STEP1 = "Energy step 1 (0-50 kWh) at 1.50/kWh"
STEP2 = "Energy step 2 (above 50 kWh) at 2.00/kWh"

# The same steps with nothing else.
STEPS = Tariff("Steps", "ZAR", (Block(D(50), D("1.50")), Block(None, D("2.00"))))


def amounts(lines: tuple[Line, ...]) -> list[tuple[str, Decimal, Decimal | None]]:
    return [(line.label, line.amount, line.kwh) for line in lines]


# --- the worked example ---------------------------------------------------------


def test_worked_example_first_vend_of_the_month() -> None:
    # Pay 200.00, 40 kWh already bought this month, 100.00 debt outstanding.
    #   fixed charge                          12.50 -> 187.50 left
    #   debt 10 % of 187.50 = 18.75 (<= 100)  18.75 -> 168.75 for energy incl. VAT
    #   net 168.75 / 1.15 = 146.739...; step 1 has 10 kWh left (40 -> 50) = 15.00,
    #   131.739... / 2.00 = 65.869 kWh -> 65.8 kWh = 131.60; net 146.60
    #   VAT 15 % of 146.60 = 21.99; energy total 168.59 <= 168.75
    #   (75.9 kWh would be 146.80 + 22.02 = 168.82 > 168.75)
    #   change 168.75 - 168.59 = 0.16
    #   12.50 + 18.75 + 15.00 + 131.60 + 21.99 + 0.16 = 200.00
    month = MonthToDate(D(40), False, D(0), D("100.00"))
    b = price_money(HOME, D("200.00"), month)
    assert amounts(b.lines) == [
        ("Service charge", D("12.50"), None),
        ("Debt recovery 10%", D("18.75"), None),
        (STEP1, D("15.00"), D("10.0")),
        (STEP2, D("131.60"), D("65.8")),
        ("VAT 15%", D("21.99"), None),
        ("Change", D("0.16"), None),
    ]
    assert (b.fixed_charges, b.debt_recovered, b.energy_money) == (
        D("12.50"),
        D("18.75"),
        D("146.60"),
    )
    assert (b.vat, b.levies, b.change, b.charged) == (D("21.99"), D(0), D("0.16"), D("199.84"))
    assert (b.energy_kwh, b.free_kwh, b.kwh, b.units) == (D("75.8"), D(0), D("75.8"), 758)
    assert b.month_after == MonthToDate(D("115.8"), True, D(0), D("81.25"))


def test_lines_keep_their_cents_in_text() -> None:
    b = price_money(HOME, D(200), MonthToDate(D(40), False, D(0), D(100)))
    assert [str(line.amount) for line in b.lines] == [
        "12.50",
        "18.75",
        "15.00",
        "131.60",
        "21.99",
        "0.16",
    ]
    assert b.tendered == D("200.00") and str(b.tendered) == "200.00"


# --- steps --------------------------------------------------------------------


def test_crossing_a_step_boundary() -> None:
    # 45 kWh bought: 5 kWh left in step 1 at 1.50 = 7.50; 20.00 / 2.00 = 10 kWh.
    b = price_money(STEPS, D("27.50"), MonthToDate(D(45)))
    assert amounts(b.lines) == [(STEP1, D("7.50"), D("5.0")), (STEP2, D("20.00"), D("10.0"))]
    assert (b.units, b.change) == (150, D(0))
    assert b.month_after.kwh_this_month == D(60)


def test_crossing_two_step_boundaries() -> None:
    # 0-50 at 1.00, 50-100 at 1.50, above at 2.00; 40 kWh bought; pay 100.00:
    # 10 kWh = 10.00, 50 kWh = 75.00, 15.00 / 2.00 = 7.5 kWh: 67.5 kWh.
    three = Tariff(
        "Three",
        "ZAR",
        (Block(D(50), D("1.00")), Block(D(100), D("1.50")), Block(None, D("2.00"))),
    )
    b = price_money(three, D(100), MonthToDate(D(40)))
    assert amounts(b.lines) == [
        ("Energy step 1 (0-50 kWh) at 1.00/kWh", D("10.00"), D("10.0")),
        ("Energy step 2 (50-100 kWh) at 1.50/kWh", D("75.00"), D("50.0")),
        ("Energy step 3 (above 100 kWh) at 2.00/kWh", D("15.00"), D("7.5")),
    ]
    assert b.units == 675


def test_meter_already_past_the_first_step_pays_the_second_price() -> None:
    # 120 kWh bought: all 10.00 at 2.00 = 5.0 kWh.
    b = price_money(STEPS, D(10), MonthToDate(D(120)))
    assert amounts(b.lines) == [(STEP2, D("10.00"), D("5.0"))]


# --- once a month ---------------------------------------------------------------


def test_second_vend_of_the_month_pays_no_fixed_charge() -> None:
    # Fixed charges paid, no debt: 30.00 / 1.15 = 26.087 net / 1.50 = 17.39 kWh -> 17.3
    # 17.3 x 1.50 = 25.95, VAT 3.8925 -> 3.89, 29.84; change 0.16
    # (17.4 kWh: 26.10 + 3.92 = 30.02 > 30.00)
    b = price_money(HOME, D("30.00"), MonthToDate(D(10), True, D(0), D(0)))
    assert amounts(b.lines) == [
        (STEP1, D("25.95"), D("17.3")),
        ("VAT 15%", D("3.89"), None),
        ("Change", D("0.16"), None),
    ]
    assert b.fixed_charges == D(0)


def test_first_vend_of_the_month_pays_the_fixed_charge() -> None:
    # 42.50 - 12.50 = 30.00, then as above: 17.3 kWh.
    b = price_money(HOME, D("42.50"), MonthToDate(D(10), False, D(0), D(0)))
    assert b.lines[0] == Line("Service charge", D("12.50"))
    assert (b.fixed_charges, b.units, b.change) == (D("12.50"), 173, D("0.16"))


FREE = Tariff("Lifeline", "ZAR", (Block(None, D("2.00")),), free_units_kwh=D(50))


def test_free_units_are_added_on_the_first_vend_of_the_month() -> None:
    # 20.00 / 2.00 = 10 kWh bought, plus 50 kWh free: 60 kWh = 600 units.
    b = price_money(FREE, D(20), MonthToDate())
    assert amounts(b.lines) == [
        ("Energy step 1 at 2.00/kWh", D("20.00"), D("10.0")),
        ("Free basic electricity", D("0.00"), D("50.0")),
    ]
    assert (b.energy_kwh, b.free_kwh, b.units) == (D("10.0"), D("50.0"), 600)
    # free kWh do not move the steps
    assert b.month_after == MonthToDate(D("10.0"), True, D(50), D(0))


def test_free_units_are_not_given_twice_in_a_month() -> None:
    b = price_money(FREE, D(20), MonthToDate(D(10), True, D(50), D(0)))
    assert (b.free_kwh, b.units) == (D(0), 100)
    assert all(line.label != "Free basic electricity" for line in b.lines)


def test_free_units_left_over_from_a_partial_allowance() -> None:
    # 20 of 50 kWh given already: 30 kWh more, 100 + 300 units.
    b = price_money(FREE, D(20), MonthToDate(D(10), True, D(20), D(0)))
    assert (b.free_kwh, b.units) == (D("30.0"), 400)


# --- debt -----------------------------------------------------------------------


def test_debt_recovery_is_capped_at_the_debt_outstanding() -> None:
    # 10 % of 187.50 = 18.75 but only 5.00 owed: 182.50 for energy incl. VAT.
    # 81.8 kWh: 15.00 + 71.8 x 2.00 = 158.60, VAT 23.79, 182.39; change 0.11
    # (81.9 kWh: 158.80 + 23.82 = 182.62 > 182.50)
    b = price_money(HOME, D(200), MonthToDate(D(40), False, D(0), D("5.00")))
    assert b.lines[1] == Line("Debt recovery 10%", D("5.00"))
    assert (b.debt_recovered, b.units, b.vat, b.change) == (D("5.00"), 818, D("23.79"), D("0.11"))
    assert b.month_after.debt_outstanding == D(0)


def test_no_debt_line_without_debt() -> None:
    b = price_money(HOME, D(200), MonthToDate(D(40), False, D(0), D(0)))
    assert b.debt_recovered == D(0)
    assert all(not line.label.startswith("Debt") for line in b.lines)


# --- levies and other currencies -------------------------------------------------


def test_levy_and_vat_are_both_on_the_net_energy_price() -> None:
    # 2.00/kWh, levy 2 %, VAT 15 %: 100.00 / 1.17 = 85.47 net -> 42.735 kWh -> 42.7
    # 42.7 x 2.00 = 85.40; levy 1.708 -> 1.71; VAT 12.81; 99.92; change 0.08
    # (42.8 kWh: 85.60 + 1.71 + 12.84 = 100.15 > 100.00)
    levied = Tariff(
        "Levied",
        "ZAR",
        (Block(None, D("2.00")),),
        vat_percent=D(15),
        levies=(Levy("Electricity levy", D(2)),),
    )
    b = price_money(levied, D(100), MonthToDate())
    assert amounts(b.lines) == [
        ("Energy step 1 at 2.00/kWh", D("85.40"), D("42.7")),
        ("Electricity levy 2%", D("1.71"), None),
        ("VAT 15%", D("12.81"), None),
        ("Change", D("0.08"), None),
    ]
    assert (b.levies, b.vat) == (D("1.71"), D("12.81"))


def test_currency_without_cents() -> None:
    # UGX has no minor unit. 250/kWh, VAT 18 %: 10000 / 1.18 = 8474.58 net -> 33.898 kWh
    # 33.8 kWh = 8450, VAT 1521, 9971; change 29 (33.9: 8475 + 1526 = 10001 > 10000)
    ugx = Tariff("Domestic", "UGX", (Block(None, D(250)),), vat_percent=D(18))
    b = price_money(ugx, D(10000), MonthToDate())
    assert [str(line.amount) for line in b.lines] == ["8450", "1521", "29"]
    assert b.units == 338
    with pytest.raises(PaymentError, match=r"10000\.5 has more decimals than UGX"):
        price_money(ugx, D("10000.5"), MonthToDate())


def test_minor_units() -> None:
    assert (minor_unit("ZAR"), minor_unit("UGX"), minor_unit("KWD")) == (
        D("0.01"),
        D(1),
        D("0.001"),
    )


# --- refusals -----------------------------------------------------------------------


def test_payment_below_the_fixed_charges_is_refused() -> None:
    with pytest.raises(
        PaymentError,
        match=r"^payment 5\.00 ZAR does not cover the monthly fixed charges of 12\.50 ZAR$",
    ):
        price_money(HOME, D(5), MonthToDate())


def test_payment_equal_to_the_fixed_charges_is_refused() -> None:
    with pytest.raises(PaymentError, match=r"does not cover the monthly fixed charges of 12\.50"):
        price_money(HOME, D("12.50"), MonthToDate())


def test_the_same_small_payment_is_fine_once_fixed_charges_are_paid() -> None:
    # 5.00 / 1.15 = 4.348 net / 1.50 = 2.899 kWh; by the receipt's lines
    # 2.9 kWh = 4.35 + VAT 0.6525 -> 0.65 = 5.00, which fits exactly.
    b = price_money(HOME, D(5), MonthToDate(D(0), True, D(0), D(0)))
    assert (b.units, b.change) == (29, D(0))


@pytest.mark.parametrize("money", [D(0), D("-1.00"), D(-200)])
def test_payment_must_be_positive(money: Decimal) -> None:
    with pytest.raises(PaymentError, match=rf"payment {money.quantize(D('0.01'))} ZAR is not"):
        price_money(STEPS, money, MonthToDate())


def test_payment_that_buys_less_than_a_unit_is_refused() -> None:
    # 12.51 - 12.50 = 0.01; 0.1 kWh costs 0.15 + VAT 0.02.
    with pytest.raises(PaymentError, match=r"payment 12\.51 ZAR buys less than 0\.1 kWh"):
        price_money(HOME, D("12.51"), MonthToDate())


@pytest.mark.parametrize(
    ("money", "message"),
    [
        (D("200.001"), r"payment 200\.001 has more decimals than ZAR allows \(0\.01\)"),
        (200.0, r"payment 200\.0 is not a Decimal.*parse_float=Decimal"),
        ("abc", r"payment 'abc' is not a number"),
        (D("NaN"), r"is not a finite number"),
    ],
)
def test_bad_money_values(money: object, message: str) -> None:
    with pytest.raises(PaymentError, match=message):
        price_money(STEPS, money, MonthToDate())  # type: ignore[arg-type]


def test_money_as_text_or_whole_number_is_accepted() -> None:
    # 27.50 from 45 kWh, as in test_crossing_a_step_boundary.
    assert price_money(STEPS, "27.50", MonthToDate(D(45))).units == 150  # type: ignore[arg-type]
    assert price_money(STEPS, 20, MonthToDate(D(120))).units == 100  # type: ignore[arg-type]


# --- by units ---------------------------------------------------------------------------


def test_price_units_for_the_worked_example() -> None:
    # 75.8 kWh from 40 kWh: 15.00 + 131.60 + VAT 21.99 = 168.59.
    # Debt share d such that paying it back by money takes d again:
    # 10 % of (168.59 + 18.73) = 18.732 -> 18.73 (18.72 would give 18.731 -> 18.73 != 18.72).
    # 12.50 + 18.73 + 168.59 = 199.82, no change.
    month = MonthToDate(D(40), False, D(0), D(100))
    b = price_units(HOME, D("75.8"), month)
    assert amounts(b.lines) == [
        ("Service charge", D("12.50"), None),
        ("Debt recovery 10%", D("18.73"), None),
        (STEP1, D("15.00"), D("10.0")),
        (STEP2, D("131.60"), D("65.8")),
        ("VAT 15%", D("21.99"), None),
    ]
    assert (b.tendered, b.change, b.units) == (D("199.82"), D(0), 758)
    assert b.month_after == MonthToDate(D("115.8"), True, D(0), D("81.27"))
    # Paying 199.82 by money buys the same.
    again = price_money(HOME, D("199.82"), month)
    assert (again.units, again.debt_recovered, again.change) == (758, D("18.73"), D(0))


def test_price_units_with_capped_debt_and_no_fixed_charge() -> None:
    # 5 kWh at 1.50 + 5 kWh at 2.00 = 17.50, VAT 2.625 -> 2.63; debt share capped at 1.00.
    b = price_units(HOME, D(10), MonthToDate(D(45), True, D(0), D("1.00")))
    assert (b.tendered, b.debt_recovered, b.vat) == (D("21.13"), D("1.00"), D("2.63"))


def test_price_units_adds_free_units() -> None:
    b = price_units(FREE, D(10), MonthToDate())
    assert (b.tendered, b.units) == (D("20.00"), 600)


@pytest.mark.parametrize(
    ("kwh", "message"),
    [
        (D(0), r"energy 0 kWh is not above zero"),
        (D("-1"), r"energy -1 kWh is not above zero"),
        (D("1.05"), r"energy 1\.05 kWh is not a whole number of 0\.1 kWh units"),
    ],
)
def test_price_units_refusals(kwh: Decimal, message: str) -> None:
    with pytest.raises(PaymentError, match=message):
        price_units(HOME, kwh, MonthToDate())


# --- the tariff itself ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"blocks": ()}, r"0 step blocks; expected 1 to 10"),
        (
            {"blocks": (*(Block(D(n), D(1)) for n in range(1, 11)), Block(None, D(1)))},
            "has 11 step",
        ),
        ({"blocks": (Block(D(50), D(1)),)}, r"last step ends at 50 kWh"),
        ({"blocks": (Block(None, D(1)), Block(None, D(2)))}, r"step 1 has no end"),
        (
            {"blocks": (Block(D(50), D(1)), Block(D(50), D(2)), Block(None, D(3)))},
            r"step 2 ends at 50 kWh, not after step 1 \(50 kWh\)",
        ),
        ({"currency": "zar"}, r"currency 'zar' is not an ISO 4217 code"),
        ({"name": " "}, r"tariff name ' ' is empty"),
        ({"debt_recovery_percent": D(100)}, r"debt recovery percent 100 is not between 0 and 100"),
        ({"vat_percent": D(-1)}, r"VAT percent -1 is not between"),
        ({"free_units_kwh": D("0.05")}, r"free basic units 0\.05 kWh is not a whole number"),
        (
            {"fixed_charges": (FixedCharge("Service", D("1.005")),)},
            r"fixed charge 'Service' amount 1\.005 has more decimals than ZAR",
        ),
        ({"vat_percent": 15.0}, r"VAT percent 15\.0 is not a Decimal"),
    ],
)
def test_bad_tariffs_are_refused(changes: dict[str, object], message: str) -> None:
    fields = {**HOME.__dict__, **changes}
    with pytest.raises(VendingError, match=message):
        Tariff(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Block(D(50), D(0)), r"price per kWh 0 is not above 0"),
        (lambda: Block(D(0), D(1)), r"step end 0 kWh is not above 0 kWh"),
        (lambda: Block(D("50.05"), D(1)), r"step end 50\.05 kWh is not a whole number"),
        (lambda: FixedCharge("Meter rent", D(0)), r"'Meter rent' amount 0 is not above 0"),
        (lambda: Levy("Levy", D(101)), r"levy 'Levy' percent 101 is not between 0 and 100"),
        (lambda: MonthToDate(D(-1)), r"kwh this month -1 is negative"),
        (lambda: MonthToDate(D("40.05")), r"kwh this month 40\.05 kWh is not a whole number"),
    ],
)
def test_bad_parts_are_refused(make: object, message: str) -> None:
    with pytest.raises(VendingError, match=message):
        make()  # type: ignore[operator]


def test_tariff_to_dict_and_back() -> None:
    data = HOME.to_dict()
    assert data == {
        "name": "Home",
        "currency": "ZAR",
        "blocks": [
            {"up_to_kwh": "50", "price_per_kwh": "1.50"},
            {"up_to_kwh": None, "price_per_kwh": "2.00"},
        ],
        "fixed_charges": [{"name": "Service charge", "amount": "12.50"}],
        "debt_recovery_percent": "10",
        "vat_percent": "15",
        "levies": [],
        "free_units_kwh": "0",
    }
    assert Tariff.from_dict(data) == HOME


def test_tariff_from_minimal_dict() -> None:
    tariff = Tariff.from_dict(
        {"name": "Flat", "currency": "NGN", "blocks": [{"up_to_kwh": None, "price_per_kwh": 68}]}
    )
    assert tariff == Tariff("Flat", "NGN", (Block(None, D(68)),))


def test_tariff_from_dict_names_unknown_and_missing_keys() -> None:
    with pytest.raises(VendingError, match="unknown keys vat"):
        Tariff.from_dict({**HOME.to_dict(), "vat": "15"})
    with pytest.raises(VendingError, match="lacks blocks"):
        Tariff.from_dict({"name": "X", "currency": "ZAR"})


def test_breakdown_to_dict_and_back() -> None:
    b = price_money(FREE, D(20), MonthToDate())
    data = b.to_dict()
    assert (data["units"], data["kwh"], data["tendered"]) == (600, "60.0", "20.00")
    assert Breakdown.from_dict(data) == b


# --- splitting over tokens ------------------------------------------------------------------


def exact(units: int) -> bool:
    return decode_amount(encode_amount(units)) == units


@pytest.mark.parametrize(
    ("units", "chunks"),
    [
        # one more than a token holds: a full token and 1 unit
        (18_201_625, [18_201_624, 1]),
        # 40,000,000 - 2 x 18,201,624 = 3,596,752; exponent 3 holds 1,818,624 + 1,000 m,
        # so 3,596,624 (m = 1,778) and 128 left.
        (40_000_000, [18_201_624, 18_201_624, 3_596_624, 128]),
        # 16,385 would be coded as 16,394 (exponent 1 steps by 10 from 16,384)
        (16_385, [16_384, 1]),
        # 180,220 lies in the gap between exponent 1 (top 180,214) and 2 (from 180,224)
        (180_220, [180_214, 6]),
        (MAX_AMOUNT, [MAX_AMOUNT]),
        (1, [1]),
    ],
)
def test_split_units(units: int, chunks: list[int]) -> None:
    result = split_units(units)
    assert result == chunks
    assert sum(result) == units
    assert all(exact(chunk) and chunk <= MAX_AMOUNT for chunk in result)


@pytest.mark.parametrize("units", [0, -5])
def test_split_units_refuses_nothing(units: int) -> None:
    with pytest.raises(RangeError, match=f"units {units} is below 1"):
        split_units(units)


@given(st.integers(1, 10 * MAX_AMOUNT))
@settings(deadline=None)  # no time limits in tests
def test_split_units_is_exact_and_near_minimal(units: int) -> None:
    result = split_units(units)
    assert sum(result) == units
    assert all(0 < chunk <= MAX_AMOUNT and exact(chunk) for chunk in result)
    fewest = -(-units // MAX_AMOUNT)
    assert len(result) <= fewest + 1


def test_module_examples_run() -> None:
    result = doctest.testmod(vending.tariff, verbose=False)
    assert result.attempted > 0 and result.failed == 0


# --- properties ---------------------------------------------------------------------------


def cents(low: int, high: int, places: int = 2) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda n: Decimal(n).scaleb(-places))


@st.composite
def tariffs(draw: st.DrawFn) -> Tariff:
    currency = draw(st.sampled_from(["ZAR", "UGX", "KWD"]))
    places = {"ZAR": 2, "UGX": 0, "KWD": 3}[currency]
    ends = sorted(set(draw(st.lists(st.integers(1, 5000), max_size=4))))
    prices = draw(st.lists(cents(1, 5_000_000, 4), min_size=len(ends) + 1, max_size=len(ends) + 1))
    blocks = tuple(
        Block(None if i == len(ends) else Decimal(ends[i]).scaleb(-1), price)
        for i, price in enumerate(prices)
    )
    return Tariff(
        name="Random",
        currency=currency,
        blocks=blocks,
        fixed_charges=tuple(
            FixedCharge(f"Charge {i}", amount)
            for i, amount in enumerate(draw(st.lists(cents(1, 5000, places), max_size=2)))
        ),
        debt_recovery_percent=draw(cents(0, 5000)),
        vat_percent=draw(cents(0, 2500)),
        levies=tuple(
            Levy(f"Levy {i}", percent)
            for i, percent in enumerate(draw(st.lists(cents(0, 500), max_size=2)))
        ),
        free_units_kwh=draw(cents(0, 1000, 1)),
    )


@st.composite
def months(draw: st.DrawFn, places: int) -> MonthToDate:
    return MonthToDate(
        kwh_this_month=draw(cents(0, 10_000, 1)),
        fixed_charges_paid=draw(st.booleans()),
        free_units_given=draw(cents(0, 1000, 1)),
        debt_outstanding=draw(cents(0, 100_000, places)),
    )


def exact_energy_cost(tariff: Tariff, start: Decimal, kwh: Decimal) -> Decimal:
    """Unrounded net price of ``kwh`` from ``start``, walked step by step (test's own)."""
    cost, position, left = Decimal(0), start, kwh
    for block in tariff.blocks:
        room = left if block.up_to_kwh is None else max(Decimal(0), block.up_to_kwh - position)
        take = min(left, room)
        cost += take * block.price_per_kwh
        position += take
        left -= take
    return cost


@given(st.data())
@settings(deadline=None, max_examples=300)  # no time limits in tests
def test_money_is_neither_lost_nor_created(data: st.DataObject) -> None:
    tariff = data.draw(tariffs())
    places = -minor_unit(tariff.currency).as_tuple().exponent
    month = data.draw(months(int(places)))
    money = data.draw(cents(1, 10**9, int(places)))
    cent = minor_unit(tariff.currency)
    rate = 1 + (tariff.vat_percent + sum((v.percent for v in tariff.levies), Decimal(0))) / 100
    start = month.kwh_this_month
    allowance = max(Decimal(0), tariff.free_units_kwh - month.free_units_given)
    try:
        b = price_money(tariff, money, month)
    except PaymentError as exc:
        # Refused only when the money does not exceed the fixed charges due, or
        # when what is left after debt cannot pay for 0.1 kWh and no free units are due,
        # or when it buys more than the tariff's limit per vend.
        due = Decimal(0)
        if not month.fixed_charges_paid:
            due = sum((c.amount for c in tariff.fixed_charges), Decimal(0))
        if money > due:
            share = ((money - due) * tariff.debt_recovery_percent / 100).quantize(cent)
            budget = money - due - min(share, month.debt_outstanding)
            if "limit of" in str(exc):
                bought = tariff.max_vend_kwh - allowance + Decimal("0.1")
                slack = cent * (len(tariff.blocks) + len(tariff.levies) + 3)
                assert exact_energy_cost(tariff, start, bought) * rate <= budget + slack
                return
            assert allowance == 0
            assert exact_energy_cost(tariff, start, Decimal("0.1")) * rate > budget - 2 * cent
        return
    # every line is whole minor units and they add up to the money tendered
    assert sum((line.amount for line in b.lines), Decimal(0)) == money
    assert all(line.amount == line.amount.quantize(cent) for line in b.lines)
    assert b.change >= 0 and 0 <= b.debt_recovered <= month.debt_outstanding
    assert (
        b.fixed_charges + b.debt_recovered + b.energy_money + b.vat + b.levies + b.change == money
    )
    # units: bought kWh in 0.1 kWh, plus what is left of the free allowance
    assert b.free_kwh <= allowance
    assert b.units == int((b.energy_kwh + b.free_kwh) * 10)
    assert b.energy_kwh == b.energy_kwh.quantize(Decimal("0.1"))
    # units never exceed what the money buys (each rounded line may be a minor unit off
    # the unrounded figure), and 0.1 kWh more would not fit
    budget = money - b.fixed_charges - b.debt_recovered
    slack = cent * (len(b.lines) + 1)
    assert exact_energy_cost(tariff, start, b.energy_kwh) * rate <= budget + slack
    assert exact_energy_cost(tariff, start, b.energy_kwh + Decimal("0.1")) * rate > budget - slack
    # the month moves on by what was sold
    assert b.month_after.kwh_this_month == start + b.energy_kwh
    assert b.month_after.debt_outstanding == month.debt_outstanding - b.debt_recovered
    assert b.month_after.fixed_charges_paid


@given(st.data())
@settings(deadline=None, max_examples=300)  # no time limits in tests
def test_paying_the_units_price_buys_those_units(data: st.DataObject) -> None:
    tariff = data.draw(tariffs())
    places = -minor_unit(tariff.currency).as_tuple().exponent
    month = data.draw(months(int(places)))
    kwh = data.draw(cents(1, 200_000, 1))
    quote = price_units(tariff, kwh, month)
    assert quote.change == 0
    assert sum((line.amount for line in quote.lines), Decimal(0)) == quote.tendered
    assume(quote.tendered > quote.fixed_charges)
    paid = price_money(tariff, quote.tendered, month)
    assert paid.debt_recovered == quote.debt_recovered
    assert paid.energy_kwh >= kwh
    assert paid.fixed_charges == quote.fixed_charges
