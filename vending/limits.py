"""The bounds of everything a vending caller can type, checked before any work.

Every amount has a ceiling and every text a length, so that no input can make
a vend run for minutes, hold the database's write lock meanwhile, overflow a
column, or store what one engine accepts and the other refuses. Each refusal is
one sentence naming the value and the limit. The figures:

========================  ==========================================================
payment                   above 0, at most :data:`MAX_MONEY` (and the currency's places)
energy (vend by units)    above 0, at most :data:`MAX_VEND_KWH_LIMIT`, in 0.1 kWh
per vend                  ``Tariff.max_vend_kwh`` (default :data:`DEFAULT_MAX_VEND_KWH`)
per token                 ``Tariff.max_token_kwh`` (default :data:`DEFAULT_MAX_TOKEN_KWH`,
                          the simulated meter's energy register maximum, so a token
                          vending splits off never overflows an empty default meter)
price per kWh             :data:`MIN_PRICE` to :data:`MAX_PRICE`, at most 6 places
fixed charge              above 0, at most :data:`MAX_CHARGE`
free basic units          0 to :data:`MAX_FREE_KWH`
step end                  above 0, at most :data:`MAX_STEP_KWH`
customer debt             0 to :data:`MAX_DEBT`, at most 2 places
========================  ==========================================================

Money is stored as whole 0.00001s in a 64-bit column (vending.models), so the
money ceilings keep every sum far inside it. A meter without a tariff is vended
by units under the default per-vend and per-token limits.

Text (names, labels, client references) must fit its column
(:func:`check_text`, lengths read from vending.models) and hold no control
characters: PostgreSQL refuses a NUL where SQLite would store it, so both are
refused here, before the database sees them.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal

from sts.amounts import AmountRule
from sts.errors import shown
from vending.errors import VendingError

MAX_MONEY = Decimal(1_000_000_000_000)  # 10^12 in the currency's main unit, per vend
DEFAULT_MAX_VEND_KWH = Decimal(2_000_000)
MAX_VEND_KWH_LIMIT = Decimal(100_000_000)  # the largest per-vend limit a tariff may set
DEFAULT_MAX_TOKEN_KWH = Decimal("999999.9")  # = sts.meter.config.DEFAULT_ENERGY_MAX_KWH
MIN_TOKEN_KWH = Decimal("0.1")
MAX_TOKEN_KWH = Decimal("1820162.4")  # 18,201,624 units: one token's amount field
MIN_PRICE = Decimal("0.000001")
MAX_PRICE = Decimal(1_000_000)
MAX_CHARGE = Decimal(1_000_000_000)
MAX_FREE_KWH = Decimal(1_000_000)
MAX_STEP_KWH = Decimal(1_000_000_000)
MAX_DEBT = Decimal(1_000_000_000_000)

PAYMENT = AmountRule("payment", MAX_MONEY, above_low=True)
ENERGY = AmountRule("energy", MAX_VEND_KWH_LIMIT, above_low=True, places=1, unit="kWh")
DEBT = AmountRule("debt", MAX_DEBT, places=2)
PRICE = AmountRule("price per kWh", MAX_PRICE, low=MIN_PRICE, places=6)
CHARGE = AmountRule("fixed charge amount", MAX_CHARGE, above_low=True)
FREE_UNITS = AmountRule("free basic units", MAX_FREE_KWH, places=1, unit="kWh")
STEP_END = AmountRule("step end", MAX_STEP_KWH, above_low=True, places=1, unit="kWh")
VEND_KWH = AmountRule(
    "maximum kWh per vend", MAX_VEND_KWH_LIMIT, low=MIN_TOKEN_KWH, places=1, unit="kWh"
)
TOKEN_KWH = AmountRule(
    "maximum kWh per token", MAX_TOKEN_KWH, low=MIN_TOKEN_KWH, places=1, unit="kWh"
)

#: Unicode categories refused in stored text: control characters (NUL among them) and
#: lone surrogates, which UTF-8 (PostgreSQL) cannot hold.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs"})


def column_length(column: object) -> int:
    """The declared length of a String column (``Customer.__table__.c.name``)."""
    length = getattr(getattr(column, "type", None), "length", None)
    if not isinstance(length, int):
        raise TypeError(f"{column!r} is not a String column with a length")
    return length


def check_text(value: object, what: str, max_length: int, strip: bool = True) -> str:
    """``value`` (stripped) if it is non-empty text of at most ``max_length`` characters
    with no control characters; otherwise a VendingError naming it."""
    if not isinstance(value, str):
        raise VendingError(f"{what} {shown(value)} is not text")
    text = value.strip() if strip else value
    if not text:
        raise VendingError(f"{what} {shown(value)} is empty; expected a name")
    if len(text) > max_length:
        raise VendingError(
            f"{what} {shown(text)} is {len(text)} characters long; expected at most {max_length}"
        )
    bad = next((ch for ch in text if unicodedata.category(ch) in _REFUSED_CATEGORIES), None)
    if bad is not None:
        raise VendingError(
            f"{what} {shown(text)} contains the control character U+{ord(bad):04X}; "
            "expected printable text"
        )
    return text
