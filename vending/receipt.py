"""Receipt data: what a customer's slip shows for one vend, ready for rendering or JSON.

A :class:`Receipt` holds the meter, the customer, the tariff's breakdown (every
line, the kWh and units), the tokens in the order they must be entered (key
change tokens first, then credit), the client reference, the time with its UTC
offset and the transaction id. :meth:`Receipt.to_dict` is the ``--json`` form;
rendering is the CLI's job.

Tokens are kept as 20 plain digits; :attr:`ReceiptToken.grouped` is the form a
customer types, in groups of four::

    >>> ReceiptToken("50901894209860263092").grouped
    '5090 1894 2098 6026 3092'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sts.errors import FormatError
from sts.tokens.digits import TOKEN_DIGITS
from vending.tariff import Breakdown, Line


@dataclass(frozen=True)
class ReceiptToken:
    """One token on a receipt: its 20 digits, what it is, and the units it carries if credit."""

    digits: str
    label: str = "Credit"
    units: int | None = None

    def __post_init__(self) -> None:
        if not (
            isinstance(self.digits, str)
            and len(self.digits) == TOKEN_DIGITS
            and self.digits.isascii()
            and self.digits.isdigit()
        ):
            raise FormatError(
                f"receipt token {self.digits!r} is not {TOKEN_DIGITS} digits without spaces"
            )

    @property
    def grouped(self) -> str:
        """The digits in groups of four."""
        return " ".join(self.digits[i : i + 4] for i in range(0, TOKEN_DIGITS, 4))

    @property
    def kwh(self) -> Decimal | None:
        return None if self.units is None else Decimal(self.units).scaleb(-1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "digits": self.digits,
            "grouped": self.grouped,
            "units": self.units,
            "kwh": None if self.kwh is None else str(self.kwh),
        }


@dataclass(frozen=True)
class Receipt:
    """Everything a vend's slip shows. ``time`` must carry its UTC offset.

    ``kind`` names the transaction (``"credit"``, ``"clear-credit"``,
    ``"key-change"``, ``"test"``, ...). ``breakdown`` is present for credit
    bought through a tariff.
    """

    transaction_id: int | str
    meter_drn: str
    time: datetime
    tokens: tuple[ReceiptToken, ...]
    kind: str = "credit"
    customer: str | None = None
    tariff_name: str | None = None
    client_reference: str | None = None
    breakdown: Breakdown | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.time, datetime) or self.time.utcoffset() is None:
            raise FormatError(f"receipt time {self.time!r} has no UTC offset; expected one")
        tokens = tuple(self.tokens)
        if not tokens or not all(isinstance(t, ReceiptToken) for t in tokens):
            raise FormatError(f"receipt tokens {self.tokens!r} are not one or more ReceiptTokens")
        object.__setattr__(self, "tokens", tokens)
        if self.tariff_name is None and self.breakdown is not None:
            object.__setattr__(self, "tariff_name", self.breakdown.tariff_name)

    @property
    def lines(self) -> tuple[Line, ...]:
        return () if self.breakdown is None else self.breakdown.lines

    @property
    def units(self) -> int | None:
        """Units credited: from the breakdown, else the sum over credit tokens, else None
        (a currency token carries money, not units: its breakdown's ``currency_credit``)."""
        if self.breakdown is not None and self.breakdown.currency_credit is None:
            return self.breakdown.units
        carried = [t.units for t in self.tokens if t.units is not None]
        return sum(carried) if carried else None

    @property
    def kwh(self) -> Decimal | None:
        units = self.units
        return None if units is None else Decimal(units).scaleb(-1)

    @property
    def grouped_tokens(self) -> tuple[str, ...]:
        return tuple(t.grouped for t in self.tokens)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: money and kWh as decimal strings, time as ISO 8601 with offset."""
        return {
            "transaction_id": self.transaction_id,
            "kind": self.kind,
            "meter": self.meter_drn,
            "customer": self.customer,
            "tariff": self.tariff_name,
            "client_reference": self.client_reference,
            "time": self.time.isoformat(),
            "units": self.units,
            "kwh": None if self.kwh is None else str(self.kwh),
            "tokens": [t.to_dict() for t in self.tokens],
            "breakdown": None if self.breakdown is None else self.breakdown.to_dict(),
        }
