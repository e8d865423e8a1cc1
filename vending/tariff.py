"""Tariff arithmetic: a payment turned into kWh, and kWh turned into the money owed.

Pure functions over :class:`~decimal.Decimal`; no float ever touches money. A
:class:`Tariff` has monthly step blocks (the price of a kWh depends on how many
kWh the meter has already bought this calendar month), fixed monthly charges,
a debt-recovery share, VAT, levies and free basic units. The caller says where
the meter stands this month with a :class:`MonthToDate` (summed from its
ledger) and gets back a :class:`Breakdown` whose lines add up to the tendered
amount to the cent, plus the :class:`MonthToDate` to expect after the vend.

Money to units (:func:`price_money`), in this order:

1. **Fixed monthly charges**, on the first vend of the month only. A payment
   that does not exceed them is refused (:class:`PaymentError`).
2. **Debt recovery**: ``debt_recovery_percent`` of what remains, rounded to the
   cent, capped at the debt outstanding.
3. **VAT and levies.** What remains is *energy money including VAT and levies*:
   in prepaid vending the customer's money is VAT-inclusive. Both VAT and each
   levy are percentages of the energy's net price, so the net price is
   ``remaining / (1 + (vat + levies) / 100)``.
4. **Energy** through the step blocks, starting at the month's kWh so far. The
   kWh are rounded *down* to 0.1 kWh (one token unit): the utility never gives
   more than was paid for.
5. **Free basic units**: whatever is left of the month's allowance, added to
   the token once per month. They do not count towards the step blocks.

What the customer is charged is exactly the receipt's lines, each a
rounded amount: each step's ``kWh x price``, then VAT and each levy on the sum
of those, every one rounded to the currency's minor unit with ROUND_HALF_UP.
The kWh sold is the largest multiple of 0.1 kWh whose lines fit the energy
money (so against unrounded arithmetic the sale is right to within half a
minor unit per line). What is left over, less than the price of 0.1 kWh, is
the **change** line, so no money is lost or created::

    Steps 0-50 kWh at 1.50, above at 2.00; fixed 12.50; debt 10 %; VAT 15 %.
    40 kWh bought this month, 100.00 debt outstanding, pay 200.00:

    Service charge                                      12.50
    Debt recovery 10%              10 % of 187.50       18.75
    Energy step 1 (0-50 kWh) at 1.50/kWh     10.0 kWh   15.00
    Energy step 2 (above 50 kWh) at 2.00/kWh 65.8 kWh  131.60
    VAT 15%                        15 % of 146.60       21.99
    Change                         168.75 - 168.59       0.16
                                                       200.00  = 75.8 kWh, 758 units

    (168.75 / 1.15 = 146.74 net buys 75.87 kWh; 75.9 kWh would be 168.82.)

Units to money (:func:`price_units`) uses the same lines for a given kWh, and a
debt share chosen so that paying the total back through :func:`price_money`
recovers the same debt and buys at least the same kWh.

A token carries at most 18,201,624 units (1,820,162.4 kWh), and a meter's
energy register holds less (999,999.9 kWh on the simulated meter):
:func:`split_units` splits a larger amount into tokens of at most the tariff's
``max_token_kwh`` that each encode exactly, and a vend above the tariff's
``max_vend_kwh`` is refused before any token is made. Every figure a tariff
holds lies within the bounds of :mod:`vending.limits`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal, localcontext
from itertools import pairwise
from typing import Any

from sts.amounts import AmountRule, check_amount, to_decimal
from sts.errors import RangeError, shown
from sts.tokens.amount import (
    MANTISSA_BITS,
    MANTISSA_LIMIT,
    MAX_AMOUNT,
    MAX_EXPONENT,
    decode_amount,
    decode_currency,
    encode_currency,
)
from vending import limits
from vending.errors import AmountTooHigh, AmountTooLow, NoFreeUnitsDue, PaymentError, VendingError
from vending.kinds import Service, parse_service

MAX_BLOCKS = 10
MAX_FIXED_CHARGES = 20
MAX_LEVIES = 20
#: The most tokens one vend may be split into (max_vend_kwh / max_token_kwh).
MAX_TOKENS_PER_VEND = 100
NAME_LENGTH = 100  # = the tariffs.name column (vending.models.TariffRecord)
UNIT_KWH = Decimal("0.1")  # one token unit
ZERO = Decimal(0)
HUNDRED = Decimal(100)

# ISO 4217 minor units where they are not 2 (the usual case).
_MINOR_UNITS = {
    **dict.fromkeys(
        (
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}

# Enough digits for any money and kWh figure a vend can meet; rounding of the
# figures themselves is always explicit (quantize), never by the context.
_CONTEXT = Context(prec=50, rounding=ROUND_HALF_UP)


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency``: 0.01 for most, 1 for UGX, 0.001 for KWD."""
    return Decimal(1).scaleb(-_MINOR_UNITS.get(currency, 2))


def _number(value: object, what: str, error: type[VendingError] = VendingError) -> Decimal:
    """A finite Decimal from a Decimal, int or ASCII decimal string; floats are refused."""
    return to_decimal(value, what, error, exponent=True)


def _bounded(value: object, rule: AmountRule, what: str | None = None) -> Decimal:
    """A finite Decimal within ``rule`` (vending.limits), named ``what`` in messages."""
    if what is not None:
        rule = AmountRule(what, rule.high, rule.low, rule.above_low, rule.places, rule.unit)
    return check_amount(_number(value, rule.what), rule, VendingError)


def _ceiling(value: Decimal, rule: AmountRule) -> None:
    """Refuse a value above the rule's limit before arithmetic that its size would break."""
    if value > rule.high:
        raise VendingError(
            f"{rule.what} {rule.figure(value)} is above the limit of {rule.figure(rule.high)}"
        )


def _name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise VendingError(f"{what} {shown(value)} is empty; expected a name")
    return limits.check_text(value, what, NAME_LENGTH, strip=False)


def _percent_text(percent: Decimal) -> str:
    return f"{percent.normalize():f}%"


def _check_tenths(value: Decimal, what: str) -> None:
    if value != value.quantize(UNIT_KWH, rounding=ROUND_FLOOR):
        raise VendingError(f"{what} {value} kWh is not a whole number of 0.1 kWh units")


@dataclass(frozen=True)
class Block:
    """One monthly step: kWh up to ``up_to_kwh`` this month cost ``price_per_kwh`` each.

    ``up_to_kwh`` is the cumulative monthly kWh where the step ends; ``None``
    (only on the last step) means it has no end.
    """

    up_to_kwh: Decimal | None
    price_per_kwh: Decimal

    def __post_init__(self) -> None:
        if self.up_to_kwh is not None:
            end = _number(self.up_to_kwh, "step end")
            if end <= 0:
                raise VendingError(f"step end {end} kWh is not above 0 kWh")
            _ceiling(end, limits.STEP_END)
            _check_tenths(end, "step end")
            object.__setattr__(self, "up_to_kwh", _bounded(end, limits.STEP_END))
        price = _number(self.price_per_kwh, "price per kWh")
        if price <= 0:
            raise VendingError(f"price per kWh {price} is not above 0")
        object.__setattr__(self, "price_per_kwh", _bounded(price, limits.PRICE))


@dataclass(frozen=True)
class FixedCharge:
    """A charge per month, taken once, from the month's first vend."""

    name: str
    amount: Decimal

    def __post_init__(self) -> None:
        _name(self.name, "fixed charge name")
        what = f"fixed charge {self.name!r} amount"
        amount = _number(self.amount, what)
        if amount <= 0:
            raise VendingError(f"fixed charge {self.name!r} amount {amount} is not above 0")
        object.__setattr__(self, "amount", _bounded(amount, limits.CHARGE, what))


@dataclass(frozen=True)
class Levy:
    """A levy: a percentage of the energy's net price, like VAT."""

    name: str
    percent: Decimal

    def __post_init__(self) -> None:
        _name(self.name, "levy name")
        percent = _number(self.percent, f"levy {self.name!r} percent")
        if not 0 <= percent <= HUNDRED:
            raise VendingError(f"levy {self.name!r} percent {percent} is not between 0 and 100")
        object.__setattr__(self, "percent", percent)


@dataclass(frozen=True)
class Tariff:
    """How a meter's money becomes kWh. Lists given for the tuples are accepted."""

    name: str
    currency: str
    blocks: tuple[Block, ...]
    fixed_charges: tuple[FixedCharge, ...] = ()
    debt_recovery_percent: Decimal = ZERO
    vat_percent: Decimal = ZERO
    levies: tuple[Levy, ...] = ()
    free_units_kwh: Decimal = ZERO
    max_vend_kwh: Decimal = limits.DEFAULT_MAX_VEND_KWH
    max_token_kwh: Decimal = limits.DEFAULT_MAX_TOKEN_KWH
    service: str = Service.ELECTRICITY.value

    def __post_init__(self) -> None:
        _name(self.name, "tariff name")
        object.__setattr__(self, "service", parse_service(self.service).value)
        if not (
            isinstance(self.currency, str)
            and len(self.currency) == 3
            and self.currency.isascii()
            and self.currency.isalpha()
            and self.currency.isupper()
        ):
            raise VendingError(
                f"currency {self.currency!r} is not an ISO 4217 code; expected 3 capital letters"
            )
        blocks = _tuple_of(self.blocks, Block, "step block")
        if not 1 <= len(blocks) <= MAX_BLOCKS:
            raise VendingError(f"tariff has {len(blocks)} step blocks; expected 1 to {MAX_BLOCKS}")
        ends = [b.up_to_kwh for b in blocks]
        if ends[-1] is not None:
            raise VendingError(
                f"last step ends at {ends[-1]} kWh; the last step must have no end (None)"
            )
        for number, (end, after) in enumerate(pairwise(ends), start=1):
            if end is None:
                raise VendingError(f"step {number} has no end but is not the last step")
            if after is not None and after <= end:
                raise VendingError(
                    f"step {number + 1} ends at {after} kWh, not after step {number} "
                    f"({end} kWh); step ends must increase"
                )
        fixed = _tuple_of(self.fixed_charges, FixedCharge, "fixed charge")
        if len(fixed) > MAX_FIXED_CHARGES:
            raise VendingError(
                f"tariff has {len(fixed)} fixed charges; expected at most {MAX_FIXED_CHARGES}"
            )
        cent = minor_unit(self.currency)
        for charge in fixed:
            if charge.amount != charge.amount.quantize(cent):
                raise VendingError(
                    f"fixed charge {charge.name!r} amount {charge.amount} has more decimals "
                    f"than {self.currency} allows ({cent})"
                )
        levies = _tuple_of(self.levies, Levy, "levy")
        if len(levies) > MAX_LEVIES:
            raise VendingError(f"tariff has {len(levies)} levies; expected at most {MAX_LEVIES}")
        debt = _number(self.debt_recovery_percent, "debt recovery percent")
        if not 0 <= debt < HUNDRED:
            raise VendingError(
                f"debt recovery percent {debt} is not between 0 and 100 (100 excluded)"
            )
        vat = _number(self.vat_percent, "VAT percent")
        if not 0 <= vat <= HUNDRED:
            raise VendingError(f"VAT percent {vat} is not between 0 and 100")
        free = _number(self.free_units_kwh, "free basic units")
        if free < 0:
            raise VendingError(f"free basic units {free} kWh is negative")
        _ceiling(free, limits.FREE_UNITS)
        _check_tenths(free, "free basic units")
        free = _bounded(free, limits.FREE_UNITS)
        per_vend = _bounded(self.max_vend_kwh, limits.VEND_KWH)
        per_token = _bounded(self.max_token_kwh, limits.TOKEN_KWH)
        if per_vend > per_token * MAX_TOKENS_PER_VEND:
            raise VendingError(
                f"maximum kWh per vend {per_vend} kWh would take more than "
                f"{MAX_TOKENS_PER_VEND} tokens of {per_token} kWh; expected at most "
                f"{per_token * MAX_TOKENS_PER_VEND} kWh"
            )
        for name, value in (
            ("blocks", blocks),
            ("fixed_charges", fixed),
            ("levies", levies),
            ("debt_recovery_percent", debt),
            ("vat_percent", vat),
            ("free_units_kwh", free),
            ("max_vend_kwh", per_vend),
            ("max_token_kwh", per_token),
        ):
            object.__setattr__(self, name, value)

    @property
    def minor_unit(self) -> Decimal:
        return minor_unit(self.currency)

    @property
    def unit(self) -> str:
        """The unit the tariff prices: kWh for electricity, m3 for water and gas."""
        return Service(self.service).unit

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; every number is a decimal string.

        The per-vend and per-token limits appear only when they differ from the
        defaults, so a tariff stored before they existed reads back the same.
        """
        limits_set = {
            name: str(value)
            for name, value, default in (
                ("max_vend_kwh", self.max_vend_kwh, limits.DEFAULT_MAX_VEND_KWH),
                ("max_token_kwh", self.max_token_kwh, limits.DEFAULT_MAX_TOKEN_KWH),
            )
            if value != default
        }
        # Written only for water and gas, so an electricity tariff stored before
        # schema 0005 reads back (and digests) the same.
        if self.service != Service.ELECTRICITY:
            limits_set["service"] = self.service
        return {
            "name": self.name,
            "currency": self.currency,
            "blocks": [
                {
                    "up_to_kwh": None if b.up_to_kwh is None else str(b.up_to_kwh),
                    "price_per_kwh": str(b.price_per_kwh),
                }
                for b in self.blocks
            ],
            "fixed_charges": [
                {"name": c.name, "amount": str(c.amount)} for c in self.fixed_charges
            ],
            "debt_recovery_percent": str(self.debt_recovery_percent),
            "vat_percent": str(self.vat_percent),
            "levies": [{"name": v.name, "percent": str(v.percent)} for v in self.levies],
            "free_units_kwh": str(self.free_units_kwh),
            **limits_set,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tariff:
        """The tariff :meth:`to_dict` wrote. Numbers may be strings, ints or Decimals.

        Only ``name``, ``currency`` and ``blocks`` are required.
        """
        if not isinstance(data, Mapping):
            raise VendingError(f"tariff data {shown(data)} is not a mapping")
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise VendingError(
                f"tariff data has unknown keys {', '.join(unknown)}; expected {', '.join(known)}"
            )
        missing = [k for k in ("name", "currency", "blocks") if k not in data]
        if missing:
            raise VendingError(f"tariff data lacks {', '.join(missing)}")
        return cls(
            name=data["name"],
            currency=data["currency"],
            blocks=tuple(
                Block(_item(b, "up_to_kwh", "step block"), _item(b, "price_per_kwh", "step block"))
                for b in _list(data["blocks"], "blocks")
            ),
            fixed_charges=tuple(
                FixedCharge(_item(c, "name", "fixed charge"), _item(c, "amount", "fixed charge"))
                for c in _list(data.get("fixed_charges", []), "fixed_charges")
            ),
            debt_recovery_percent=data.get("debt_recovery_percent", ZERO),
            vat_percent=data.get("vat_percent", ZERO),
            levies=tuple(
                Levy(_item(v, "name", "levy"), _item(v, "percent", "levy"))
                for v in _list(data.get("levies", []), "levies")
            ),
            free_units_kwh=data.get("free_units_kwh", ZERO),
            max_vend_kwh=data.get("max_vend_kwh", limits.DEFAULT_MAX_VEND_KWH),
            max_token_kwh=data.get("max_token_kwh", limits.DEFAULT_MAX_TOKEN_KWH),
            service=data.get("service", Service.ELECTRICITY.value),
        )


def _tuple_of(items: object, kind: type, what: str) -> tuple[Any, ...]:
    if not isinstance(items, Iterable) or isinstance(items, str | bytes):
        raise VendingError(f"{what}s {shown(items)} is not a sequence")
    result = tuple(items)
    for item in result:
        if not isinstance(item, kind):
            raise VendingError(f"{what} {shown(item)} is not a {kind.__name__}")
    return result


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise VendingError(f"tariff {what} {shown(value)} is not a list")
    return list(value)


def _item(entry: object, key: str, what: str) -> Any:
    if not isinstance(entry, Mapping) or key not in entry:
        raise VendingError(f"{what} {shown(entry)} lacks {key!r}")
    return entry[key]


@dataclass(frozen=True)
class MonthToDate:
    """Where a meter stands in the current calendar month, before a vend.

    ``kwh_this_month`` counts bought kWh only (free units do not move the
    steps); it and ``free_units_given`` are sums of token amounts, so whole
    0.1 kWh units. ``debt_outstanding`` is the customer's whole debt, not per
    month, in the tariff's currency.
    """

    kwh_this_month: Decimal = ZERO
    fixed_charges_paid: bool = False
    free_units_given: Decimal = ZERO
    debt_outstanding: Decimal = ZERO

    def __post_init__(self) -> None:
        for name in ("kwh_this_month", "free_units_given", "debt_outstanding"):
            value = _number(getattr(self, name), name.replace("_", " "))
            if value < 0:
                raise VendingError(f"{name.replace('_', ' ')} {value} is negative")
            if name != "debt_outstanding":
                _check_tenths(value, name.replace("_", " "))
            object.__setattr__(self, name, value)
        if not isinstance(self.fixed_charges_paid, bool):
            raise VendingError(f"fixed charges paid {self.fixed_charges_paid!r} is not a bool")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kwh_this_month": str(self.kwh_this_month),
            "fixed_charges_paid": self.fixed_charges_paid,
            "free_units_given": str(self.free_units_given),
            "debt_outstanding": str(self.debt_outstanding),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MonthToDate:
        return cls(
            kwh_this_month=data["kwh_this_month"],
            fixed_charges_paid=data["fixed_charges_paid"],
            free_units_given=data["free_units_given"],
            debt_outstanding=data["debt_outstanding"],
        )


@dataclass(frozen=True)
class Line:
    """One receipt line: a label, an amount of money, and the kWh it stands for if any."""

    label: str
    amount: Decimal
    kwh: Decimal | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "amount": str(self.amount),
            "kwh": None if self.kwh is None else str(self.kwh),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Line:
        kwh = data.get("kwh")
        return cls(
            data["label"],
            _number(data["amount"], "line amount"),
            None if kwh is None else _number(kwh, "line kWh"),
        )


@dataclass(frozen=True)
class Breakdown:
    """What a vend charged and gave. ``sum(line.amount for line in lines) == tendered``.

    ``energy_money`` is the energy's net price (the step lines), before VAT and
    levies. ``change`` is tendered money not spent because kWh are sold in
    0.1 kWh units; the vending point hands it back. ``energy_kwh`` was bought;
    ``free_kwh`` is the free basic allowance added to this token.
    """

    tariff_name: str
    currency: str
    tendered: Decimal
    lines: tuple[Line, ...]
    fixed_charges: Decimal
    debt_recovered: Decimal
    energy_money: Decimal
    vat: Decimal
    levies: Decimal
    change: Decimal
    energy_kwh: Decimal
    free_kwh: Decimal
    month_after: MonthToDate = field(default_factory=MonthToDate)
    #: The unit of ``energy_kwh`` and ``free_kwh`` (kWh, or m3 for water and gas).
    unit: str = "kWh"
    #: For a currency token: the money it carries (what the meter's money wallet gains).
    currency_credit: Decimal | None = None

    @property
    def kwh(self) -> Decimal:
        """All kWh the token carries: bought plus free."""
        return self.energy_kwh + self.free_kwh

    @property
    def units(self) -> int:
        """Token units (0.1 kWh) for :attr:`kwh`; may exceed one token (see split_units)."""
        return int(self.kwh.scaleb(1))

    @property
    def charged(self) -> Decimal:
        """What the customer paid for: the tendered amount less the change."""
        return self.tendered - self.change

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; money and kWh as decimal strings, plus ``kwh`` and ``units``."""
        return {
            "tariff_name": self.tariff_name,
            "currency": self.currency,
            "tendered": str(self.tendered),
            "lines": [line.to_dict() for line in self.lines],
            "fixed_charges": str(self.fixed_charges),
            "debt_recovered": str(self.debt_recovered),
            "energy_money": str(self.energy_money),
            "vat": str(self.vat),
            "levies": str(self.levies),
            "change": str(self.change),
            "energy_kwh": str(self.energy_kwh),
            "free_kwh": str(self.free_kwh),
            "kwh": str(self.kwh),
            "units": self.units,
            "month_after": self.month_after.to_dict(),
            "unit": self.unit,
            "currency_credit": None if self.currency_credit is None else str(self.currency_credit),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Breakdown:
        """The breakdown :meth:`to_dict` wrote (``kwh`` and ``units`` are recomputed)."""
        money = {
            name: _number(data[name], name.replace("_", " "))
            for name in (
                "tendered",
                "fixed_charges",
                "debt_recovered",
                "energy_money",
                "vat",
                "levies",
                "change",
                "energy_kwh",
                "free_kwh",
            )
        }
        return cls(
            tariff_name=data["tariff_name"],
            currency=data["currency"],
            lines=tuple(Line.from_dict(line) for line in data["lines"]),
            month_after=MonthToDate.from_dict(data["month_after"]),
            unit=data.get("unit", "kWh"),
            currency_credit=(
                None
                if data.get("currency_credit") is None
                else _number(data["currency_credit"], "currency credit")
            ),
            **money,
        )


# --- the arithmetic ---------------------------------------------------------


@dataclass(frozen=True)
class _Energy:
    """The charge for a given number of units: step lines, VAT, levies."""

    units: int
    steps: tuple[Line, ...]
    net: Decimal
    levies: tuple[Line, ...]
    vat: Line | None
    total: Decimal


def _step_label(tariff: Tariff, index: int) -> str:
    block = tariff.blocks[index]
    start = ZERO if index == 0 else tariff.blocks[index - 1].up_to_kwh
    if len(tariff.blocks) == 1:
        where = ""
    elif block.up_to_kwh is None:
        where = f" (above {start} kWh)"
    else:
        where = f" ({start}-{block.up_to_kwh} kWh)"
    unit = tariff.unit
    where = where.replace("kWh", unit)
    what = "Energy" if tariff.service == Service.ELECTRICITY else tariff.service.capitalize()
    return f"{what} step {index + 1}{where} at {block.price_per_kwh}/{unit}"


def _energy(tariff: Tariff, start_kwh: Decimal, units: int) -> _Energy:
    """The lines for ``units`` bought from ``start_kwh`` this month, each rounded."""
    cent = tariff.minor_unit
    left = Decimal(units).scaleb(-1)
    position = start_kwh
    steps = []
    for index, block in enumerate(tariff.blocks):
        if left <= 0:
            break
        end = block.up_to_kwh
        if end is not None and position >= end:
            continue
        take = (left if end is None else min(left, end - position)).quantize(UNIT_KWH)
        amount = (take * block.price_per_kwh).quantize(cent, ROUND_HALF_UP)
        steps.append(Line(_step_label(tariff, index), amount, take))
        position += take
        left -= take
    net = sum((line.amount for line in steps), ZERO).quantize(cent)
    levies = tuple(
        Line(
            f"{levy.name} {_percent_text(levy.percent)}",
            (net * levy.percent / HUNDRED).quantize(cent, ROUND_HALF_UP),
        )
        for levy in tariff.levies
    )
    vat = None
    if tariff.vat_percent:
        vat = Line(
            f"VAT {_percent_text(tariff.vat_percent)}",
            (net * tariff.vat_percent / HUNDRED).quantize(cent, ROUND_HALF_UP),
        )
    total = net + sum((line.amount for line in levies), ZERO) + (vat.amount if vat else ZERO)
    return _Energy(units, tuple(steps), net, levies, vat, total)


def _kwh_for_net(tariff: Tariff, start_kwh: Decimal, net: Decimal) -> Decimal:
    """Exact (unrounded) kWh that ``net`` money buys through the steps from ``start_kwh``."""
    kwh = ZERO
    position = start_kwh
    for block in tariff.blocks:
        end = block.up_to_kwh
        if end is not None and position >= end:
            continue
        if end is None or net <= (end - position) * block.price_per_kwh:
            return kwh + net / block.price_per_kwh
        kwh += end - position
        net -= (end - position) * block.price_per_kwh
        position = end
    raise AssertionError("unreachable: the last step has no end")


def _most_units_within(tariff: Tariff, start_kwh: Decimal, budget: Decimal) -> _Energy:
    """The largest number of units whose charge (lines, VAT, levies) fits ``budget``.

    The charge grows with the units, so: start from the exact estimate, gallop
    to a bracket [fits, does not fit], and halve it.
    """
    rate = 1 + (tariff.vat_percent + sum((v.percent for v in tariff.levies), ZERO)) / HUNDRED
    estimate = int(
        _kwh_for_net(tariff, start_kwh, budget / rate).scaleb(1).to_integral_value(ROUND_FLOOR)
    )
    best = _energy(tariff, start_kwh, estimate)
    if best.total <= budget:
        low, high, step = estimate, estimate + 1, 1
        while (trial := _energy(tariff, start_kwh, high)).total <= budget:
            best, low = trial, high
            step *= 2
            high = estimate + step
    else:
        high, step = estimate, 1
        low = max(0, estimate - step)
        while (trial := _energy(tariff, start_kwh, low)).total > budget:
            high = low
            step *= 2
            low = max(0, estimate - step)
        best = trial
    while high - low > 1:
        middle = (low + high) // 2
        trial = _energy(tariff, start_kwh, middle)
        if trial.total <= budget:
            best, low = trial, middle
        else:
            high = middle
    return best


def _debt_for_energy(
    energy_total: Decimal, percent: Decimal, outstanding: Decimal, cent: Decimal
) -> Decimal:
    """The debt share to add to a by-units sale so :func:`price_money` takes the same.

    By money, debt = round(percent x (debt + energy)), capped. Rounding lets a
    short run of cents satisfy that; the smallest is taken (the customer pays
    least). With b = percent/100 and D = energy x b / (1 - b), the share c
    satisfies it exactly when (1 - b)(D - c) rounds to 0, that is when
    c > D - half a cent / (1 - b).
    """
    if not percent or not outstanding:
        return ZERO
    share = percent / HUNDRED
    exact = energy_total * share / (1 - share)
    threshold = exact - cent / 2 / (1 - share)
    candidate = max(ZERO, threshold.quantize(cent, ROUND_FLOOR) + cent)

    def takes(c: Decimal) -> Decimal:
        return ((energy_total + c) * share).quantize(cent, ROUND_HALF_UP)

    # Guard the closed form against the last digit of the divisions above.
    while takes(candidate) > candidate:
        candidate += cent
    while candidate > 0 and takes(candidate - cent) <= candidate - cent:
        candidate -= cent
    return min(candidate, outstanding)


def _money(value: object, currency: str, what: str) -> Decimal:
    amount = _number(value, what, PaymentError)
    if amount > limits.MAX_MONEY:
        raise AmountTooHigh(
            f"{what} {shown(amount)} {currency} is above the limit of {limits.MAX_MONEY} "
            f"{currency} per vend"
        )
    cent = minor_unit(currency)
    if amount != amount.quantize(cent, ROUND_HALF_UP):
        raise PaymentError(f"{what} {amount} has more decimals than {currency} allows ({cent})")
    return amount.quantize(cent)


def _fixed_lines(tariff: Tariff, month: MonthToDate) -> tuple[Line, ...]:
    if month.fixed_charges_paid:
        return ()
    cent = tariff.minor_unit
    return tuple(Line(c.name, c.amount.quantize(cent)) for c in tariff.fixed_charges)


def _free_kwh(tariff: Tariff, month: MonthToDate) -> Decimal:
    remaining = tariff.free_units_kwh - month.free_units_given
    return max(ZERO, remaining).quantize(UNIT_KWH, ROUND_FLOOR)


def _check_month(tariff: Tariff, month: MonthToDate) -> None:
    if not isinstance(tariff, Tariff):
        raise VendingError(f"tariff {tariff!r} is not a Tariff")
    if not isinstance(month, MonthToDate):
        raise VendingError(f"month to date {month!r} is not a MonthToDate")
    cent = tariff.minor_unit
    if month.debt_outstanding != month.debt_outstanding.quantize(cent, ROUND_HALF_UP):
        raise VendingError(
            f"debt outstanding {month.debt_outstanding} has more decimals than "
            f"{tariff.currency} allows ({cent})"
        )


def _breakdown(
    tariff: Tariff,
    month: MonthToDate,
    tendered: Decimal,
    fixed: tuple[Line, ...],
    debt: Decimal,
    energy: _Energy,
) -> Breakdown:
    cent = tariff.minor_unit
    lines = list(fixed)
    if debt:
        lines.append(Line(f"Debt recovery {_percent_text(tariff.debt_recovery_percent)}", debt))
    lines.extend(energy.steps)
    lines.extend(energy.levies)
    if energy.vat is not None:
        lines.append(energy.vat)
    free = _free_kwh(tariff, month)
    if free:
        lines.append(Line(f"Free basic {tariff.service}", ZERO.quantize(cent), free))
    fixed_total = sum((line.amount for line in fixed), ZERO).quantize(cent)
    change = tendered - fixed_total - debt - energy.total
    if change:
        lines.append(Line("Change", change))
    energy_kwh = Decimal(energy.units).scaleb(-1)
    return Breakdown(
        tariff_name=tariff.name,
        currency=tariff.currency,
        tendered=tendered,
        lines=tuple(lines),
        fixed_charges=fixed_total,
        debt_recovered=debt.quantize(cent),
        energy_money=energy.net,
        vat=energy.vat.amount if energy.vat else ZERO.quantize(cent),
        levies=sum((line.amount for line in energy.levies), ZERO).quantize(cent),
        change=change,
        energy_kwh=energy_kwh,
        free_kwh=free,
        unit=tariff.unit,
        month_after=MonthToDate(
            kwh_this_month=month.kwh_this_month + energy_kwh,
            fixed_charges_paid=True,
            free_units_given=month.free_units_given + free,
            debt_outstanding=month.debt_outstanding - debt,
        ),
    )


def _check_vend_size(tariff: Tariff, kwh: Decimal, what: str) -> None:
    if kwh > tariff.max_vend_kwh:
        unit = tariff.unit
        raise AmountTooHigh(
            f"{what} {kwh:f} {unit}, above the limit of {tariff.max_vend_kwh} {unit} per vend of "
            f"tariff {tariff.name!r}"
        )


def _charges_first(
    tariff: Tariff, money: Decimal, month: MonthToDate
) -> tuple[Decimal, tuple[Line, ...], Decimal, Decimal]:
    """What a payment pays before anything else, for :func:`price_money` and
    :func:`price_currency`: (tendered, the month's fixed charge lines, what is left
    after them, the debt-recovery share of that). Refuses a payment that is not above
    zero or does not cover the fixed charges. Runs in the caller's decimal context."""
    _check_month(tariff, month)
    tendered = _money(money, tariff.currency, "payment")
    currency = tariff.currency
    if tendered <= 0:
        raise PaymentError(f"payment {tendered} {currency} is not above zero")
    fixed = _fixed_lines(tariff, month)
    # Each fixed line is already in the currency's minor unit, so their sum is too.
    fixed_total = sum((line.amount for line in fixed), ZERO).quantize(tariff.minor_unit)
    if tendered <= fixed_total:
        raise AmountTooLow(
            f"payment {tendered} {currency} does not cover the monthly fixed charges "
            f"of {fixed_total} {currency}"
        )
    after_fixed = tendered - fixed_total
    share = (after_fixed * tariff.debt_recovery_percent / HUNDRED).quantize(
        tariff.minor_unit, ROUND_HALF_UP
    )
    return tendered, fixed, after_fixed, min(share, month.debt_outstanding)


def price_money(tariff: Tariff, money: Decimal, month: MonthToDate) -> Breakdown:
    """What ``money`` buys on ``tariff`` for a meter at ``month``: every line, kWh and units.

    Raises :class:`PaymentError` for money that is not positive, has more
    decimals than the currency, does not exceed the fixed charges due, or buys
    less than 0.1 kWh.
    """
    with localcontext(_CONTEXT):
        tendered, fixed, after_fixed, debt = _charges_first(tariff, money, month)
        currency = tariff.currency
        energy = _most_units_within(tariff, month.kwh_this_month, after_fixed - debt)
        breakdown = _breakdown(tariff, month, tendered, fixed, debt, energy)
        _check_vend_size(tariff, breakdown.kwh, f"payment {tendered} {currency} buys")
        if breakdown.units == 0:
            raise AmountTooLow(
                f"payment {tendered} {currency} buys less than 0.1 kWh after "
                f"{tendered - after_fixed + debt} {currency} of charges and debt"
            )
        return breakdown


def price_units(tariff: Tariff, kwh: Decimal, month: MonthToDate) -> Breakdown:
    """The money owed for ``kwh`` bought on ``tariff`` by a meter at ``month``.

    The breakdown has no change: ``tendered`` is the amount to ask for. Paying
    exactly that through :func:`price_money` buys at least the same kWh and
    recovers the same debt. ``kwh`` must be a positive multiple of 0.1 kWh.
    """
    with localcontext(_CONTEXT):
        _check_month(tariff, month)
        wanted = _number(kwh, "energy", PaymentError)
        if wanted <= 0:
            raise PaymentError(f"energy {wanted} kWh is not above zero")
        _check_vend_size(tariff, wanted, "energy")
        if wanted != wanted.quantize(UNIT_KWH, ROUND_FLOOR):
            raise PaymentError(f"energy {wanted} kWh is not a whole number of 0.1 kWh units")
        _check_vend_size(tariff, wanted + _free_kwh(tariff, month), "energy")
        energy = _energy(tariff, month.kwh_this_month, int(wanted.scaleb(1)))
        fixed = _fixed_lines(tariff, month)
        fixed_total = sum((line.amount for line in fixed), ZERO)
        cent = tariff.minor_unit
        debt = _debt_for_energy(
            energy.total, tariff.debt_recovery_percent, month.debt_outstanding, cent
        )
        tendered = (fixed_total + debt + energy.total).quantize(cent)
        return _breakdown(tariff, month, tendered, fixed, debt, energy)


def price_currency(tariff: Tariff, money: Decimal, month: MonthToDate) -> Breakdown:
    """What ``money`` puts on a currency token (class 0 subclass 4-6) on ``tariff``.

    A meter in currency mode prices its energy (or water, gas) itself, from its money
    wallet, at its own tariff; so the vend takes only what the meter cannot: the
    month's fixed charges (on the month's first vend) and the debt-recovery share,
    as :func:`price_money` does. The rest is the currency credit. The token's amount
    field (5-bit exponent, 14-bit mantissa, sts-reference 3) holds most amounts only
    approximately; like every STS amount it is rounded *up*, in the customer's
    favour, and :attr:`Breakdown.currency_credit` is what the token carries, so what
    the meter's wallet gains: 100.00 becomes 100.00624 (e=3, m=8182).
    Free basic units are not added; they come as their own unit token (vending.vend).
    """
    with localcontext(_CONTEXT):
        tendered, fixed, after_fixed, debt = _charges_first(tariff, money, month)
        currency = tariff.currency
        credit = after_fixed - debt
        if credit <= 0:
            raise AmountTooLow(
                f"payment {tendered} {currency} leaves nothing for the meter after "
                f"{tendered - credit} {currency} of charges and debt"
            )
        carried = currency_carried(credit)
        lines = list(fixed)
        if debt:
            lines.append(Line(f"Debt recovery {_percent_text(tariff.debt_recovery_percent)}", debt))
        lines.append(Line(f"Currency credit (token carries {carried:f})", credit))
        zero = ZERO.quantize(tariff.minor_unit)
        return Breakdown(
            tariff_name=tariff.name,
            currency=currency,
            tendered=tendered,
            lines=tuple(lines),
            fixed_charges=tendered - after_fixed,
            debt_recovered=debt,
            energy_money=zero,
            vat=zero,
            levies=zero,
            change=zero,
            energy_kwh=ZERO.quantize(UNIT_KWH),
            free_kwh=ZERO.quantize(UNIT_KWH),
            unit=currency,
            currency_credit=carried,
            month_after=MonthToDate(
                kwh_this_month=month.kwh_this_month,
                fixed_charges_paid=True,
                free_units_given=month.free_units_given,
                debt_outstanding=month.debt_outstanding - debt,
            ),
        )


def currency_carried(money: Decimal) -> Decimal:
    """What a currency token for ``money`` carries: rounded up to the amount field's step."""
    scaled = Decimal(money).scaleb(5)
    units = int(scaled.to_integral_value(ROUND_CEILING))
    se, amount = encode_currency(units)
    return Decimal(decode_currency(se, amount)[1]).scaleb(-5)


def free_units_due(tariff: Tariff, month: MonthToDate) -> Decimal:
    """The free basic units (in the tariff's unit) still due to a meter this month."""
    with localcontext(_CONTEXT):
        _check_month(tariff, month)
        return _free_kwh(tariff, month)


def price_free_units(tariff: Tariff, month: MonthToDate) -> Breakdown:
    """The breakdown of a free basic units token: no money, the month's allowance left.

    Raises :class:`NoFreeUnitsDue` when the tariff grants none or the month's were given.
    """
    with localcontext(_CONTEXT):
        _check_month(tariff, month)
        due = _free_kwh(tariff, month)
        if due <= 0:
            granted = tariff.free_units_kwh
            why = (
                f"tariff {tariff.name!r} grants no free basic units"
                if not granted
                else f"this month's {granted} {tariff.unit} of free basic units were given already"
            )
            raise NoFreeUnitsDue(f"no free units due: {why}")
        cent = tariff.minor_unit
        zero = ZERO.quantize(cent)
        return Breakdown(
            tariff_name=tariff.name,
            currency=tariff.currency,
            tendered=zero,
            lines=(Line(f"Free basic {tariff.service}", zero, due),),
            fixed_charges=zero,
            debt_recovered=zero,
            energy_money=zero,
            vat=zero,
            levies=zero,
            change=zero,
            energy_kwh=ZERO.quantize(UNIT_KWH),
            free_kwh=due,
            unit=tariff.unit,
            month_after=replace(month, free_units_given=month.free_units_given + due),
        )


# --- tokens larger than one can carry ---------------------------------------


def _largest_exact_at_most(units: int) -> int:
    """The largest amount ``<= units`` that the 16-bit amount field encodes exactly."""
    for exponent in range(MAX_EXPONENT, -1, -1):
        base = decode_amount(exponent << MANTISSA_BITS)  # what mantissa 0 stands for
        if units >= base:
            step = 10**exponent
            mantissa = min((units - base) // step, MANTISSA_LIMIT - 1)
            return base + mantissa * step
    raise AssertionError("unreachable: exponent 0 starts at 0")


def split_units(
    units: int, max_units: int = MAX_AMOUNT, max_tokens: int = MAX_TOKENS_PER_VEND + 4
) -> list[int]:
    """Split ``units`` (0.1 kWh) over tokens that each carry their share exactly.

    Amount coding rounds up, so a share like 16,385 units would credit 16,394.
    Each chunk here is a value the amount field holds exactly: full tokens of
    the largest exact amount not above ``max_units`` (a meter's register, at
    most one token's 18,201,624 units), then the largest exact amount not above
    the rest, then what is left (under 1,000 units, always exact). The chunks
    sum to ``units``; the count is at most a few more than the fewest possible,
    and an amount that would need more than ``max_tokens`` chunks is refused
    before any is made.

    >>> split_units(18_201_625)
    [18201624, 1]

    A register of 999,999.9 kWh takes at most 9,999,624 units exactly on one
    token (exponent 3: 1,818,624 + 8,181 x 1000)::

    >>> split_units(20_000_000, max_units=9_999_999)
    [9999624, 9999624, 752]
    """
    if not isinstance(units, int) or isinstance(units, bool):
        raise RangeError(f"units {shown(units)} is not a whole number")
    if units < 1:
        raise RangeError(f"units {units} is below 1; there is nothing to put on a token")
    if not isinstance(max_units, int) or not 1 <= max_units <= MAX_AMOUNT:
        raise RangeError(f"units per token {shown(max_units)} is not in 1..{MAX_AMOUNT}")
    full = _largest_exact_at_most(max_units)
    if units // full > max_tokens:
        raise RangeError(
            f"{units} units would take more than {max_tokens} tokens of {full} units; "
            "expected a smaller amount"
        )
    chunks = []
    left = units
    while left > full:
        chunks.append(full)
        left -= full
    while left:
        chunk = _largest_exact_at_most(left)
        chunks.append(chunk)
        left -= chunk
    return chunks
