"""Decimal amounts as people type them: one parser for money, kWh, m3 and debt.

Every decimal a user or a Python caller gives (a payment, a kWh figure, a
tariff price, a debt) goes through :func:`parse_amount` with an
:class:`AmountRule` that says what the amount is, how many digits may follow
the point and the bounds it must lie within. Text must be plain ASCII: digits
with an optional sign and decimal point, like ``150``, ``12.50`` or ``-3``. So
``1e15``, ``1_000``, Arabic-Indic or other non-ASCII digits, ``inf`` and ``nan`` are
refused, as the token and meter-number parsers refuse them, and a long string
is refused by its length before any arithmetic::

    >>> MONEY = AmountRule("payment", places=2, high=Decimal(1000))
    >>> parse_amount("12.50", MONEY)
    Decimal('12.50')
    >>> parse_amount("1e3", MONEY)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sts.errors.FormatError: payment '1e3' is not written as a plain decimal; ...

Decimals and ints from Python are taken by value (floats are refused: they
cannot hold 0.1 exactly). Bounds are checked on the exact value, so a
1e400 payment is refused as being above the limit, never rounded or overflowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sts.errors import FormatError, RangeError, StsError, shown

#: The longest amount accepted as text: far more digits than any bound needs.
MAX_TEXT = 40

_PLAIN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_SCIENTIFIC = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?", re.ASCII)
_EXPECTED = "expected ASCII digits with an optional decimal point, like 150 or 12.50"


@dataclass(frozen=True)
class AmountRule:
    """What an amount is and where it must lie.

    ``what`` names it in messages ("payment", "energy"), ``unit`` follows the
    figures ("kWh"). ``places`` is the most digits allowed after the point
    (None: any). ``low`` and ``high`` are inclusive bounds, except that
    ``above_low`` makes the low bound exclusive ("above 0").
    """

    what: str
    high: Decimal
    low: Decimal = Decimal(0)
    above_low: bool = False
    places: int | None = None
    unit: str = ""

    def figure(self, value: Decimal) -> str:
        """A figure with the rule's unit, for messages."""
        text = f"{value:f}" if abs(value.adjusted()) < 30 else f"{value}"
        return f"{text} {self.unit}" if self.unit else text


def _from_text(text: str, what: str, error: type[StsError], exponent: bool = False) -> Decimal:
    stripped = text.strip()
    if len(stripped) > MAX_TEXT:
        raise error(
            f"{what} {shown(text)} is too long for an amount; expected at most {MAX_TEXT} "
            "characters"
        )
    if not (_SCIENTIFIC if exponent else _PLAIN).fullmatch(stripped):
        try:
            number = Decimal(stripped)
        except (InvalidOperation, ValueError):
            raise error(f"{what} {shown(text)} is not a number; {_EXPECTED}") from None
        if not number.is_finite():
            raise error(f"{what} {shown(text)} is not a finite number; {_EXPECTED}")
        raise error(f"{what} {shown(text)} is not written as a plain decimal; {_EXPECTED}")
    return Decimal(stripped)


def to_decimal(
    value: object, what: str, error: type[StsError] = FormatError, exponent: bool = False
) -> Decimal:
    """A finite Decimal from plain ASCII decimal text, an int or a Decimal; no bounds.

    ``exponent`` also accepts ASCII scientific notation ('1.5E+3'), as stored data
    written by ``str(Decimal)`` may hold; what people type never needs it.
    """
    if isinstance(value, str):
        return _from_text(value, what, error, exponent)
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        hint = " (parse JSON with parse_float=Decimal)" if isinstance(value, float) else ""
        raise error(f"{what} {shown(value)} is not a Decimal, whole number or decimal string{hint}")
    number = Decimal(value)
    if not number.is_finite():
        raise error(f"{what} {shown(value)} is not a finite number")
    return number


def check_amount(
    number: Decimal,
    rule: AmountRule,
    error: type[StsError] = RangeError,
) -> Decimal:
    """``number`` if it lies within ``rule``'s bounds and places; else ``error``."""
    what = rule.what
    if number < rule.low or (rule.above_low and number == rule.low):
        relation = "above" if rule.above_low else "at least"
        low = "zero" if rule.low == 0 else rule.figure(rule.low)
        raise error(f"{what} {rule.figure(number)} is not {relation} {low}")
    if number > rule.high:
        raise error(f"{what} {rule.figure(number)} is above the limit of {rule.figure(rule.high)}")
    exponent = number.as_tuple().exponent
    if rule.places is not None and isinstance(exponent, int) and -exponent > rule.places:
        step = Decimal(1).scaleb(-rule.places)
        if number != number.quantize(step):
            raise error(
                f"{what} {rule.figure(number)} has more than {rule.places} decimal places; "
                f"expected a multiple of {step}"
            )
    return number


def parse_amount(value: object, rule: AmountRule, error: type[StsError] | None = None) -> Decimal:
    """The amount ``value`` stands for, checked for form, finiteness, places and bounds.

    ``error`` is the class raised for every refusal (default: FormatError for
    the form, RangeError for the bounds).
    """
    number = to_decimal(value, rule.what, error or FormatError)
    return check_amount(number, rule, error or RangeError)
