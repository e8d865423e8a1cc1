"""Reports over the ledger: sales by day, month or meter, migration progress, chain check.

Sales count credit vends and their reversals (a reversal's negative amounts
cancel the vend it reverses); days are UTC calendar days. Money is what was
charged (tendered less change); VAT and levies are the taxes within it, read
from each vend's stored breakdown; units are those bought, free basic units
apart. Each group has one row per service and currency, and the report ends
with totals (one per service and currency).

Units are counted per service in the service's unit: kWh for electricity, m3
for water and gas (:mod:`vending.kinds`), never added across services. A
sale's service is that of the class 0 tokens it issued (subclass 0/4
electricity, 1/5 water, 2/6 gas), so a meter whose service was changed since
keeps its earlier sales under the service they were sold as; a reversal counts
under the service of the vend it reverses.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TextIO

from sqlalchemy import func, select

from vending import ledger_check, migration, storage
from vending.backend import Backend
from vending.errors import VendingError
from vending.kinds import Service, TokenKind
from vending.models import Meter, TokenRecord, Transaction, scaled_to_decimal
from vending.render import kwh_text, money_text

_SALES_KINDS = ("credit", "reversal", "free-units")  # free units: a sale with no money
GROUPINGS = ("day", "month", "meter")
CSV_COLUMNS = (
    "group",
    "vends",
    "reversals",
    "currency",
    "money",
    "vat",
    "levies",
    "kwh",
    "free_kwh",
    "service",
    "unit",
    "units",
    "free_units",
)
_SERVICES = tuple(Service)  # the order rows of one group come in


@dataclass(frozen=True)
class Sales:
    """Sales in one group (a day, a month or a meter), of one service, in one currency.

    ``money`` is what was charged (tendered less change: energy, fixed charges,
    debt recovered, VAT and levies); ``vat`` and ``levies`` are the parts of it
    that are taxes. ``currency`` is None where only units were sold (no money).
    ``energy_kwh`` and ``free_kwh`` are the units bought and given free, in the
    service's :attr:`unit` (kWh, or m3 for water and gas).
    """

    key: str
    vends: int
    reversals: int
    money: Decimal
    energy_kwh: Decimal
    free_kwh: Decimal
    vat: Decimal = Decimal(0)
    levies: Decimal = Decimal(0)
    currency: str | None = None
    service: str = Service.ELECTRICITY.value

    @property
    def unit(self) -> str:
        return Service(self.service).unit

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; ``energy_kwh`` and ``free_kwh`` are null on a water or gas row."""
        electricity = self.service == Service.ELECTRICITY
        return {
            "key": self.key,
            "vends": self.vends,
            "reversals": self.reversals,
            "currency": self.currency,
            "money": money_text(self.money, self.currency),
            "vat": money_text(self.vat, self.currency),
            "levies": money_text(self.levies, self.currency),
            "energy_kwh": kwh_text(self.energy_kwh) if electricity else None,
            "free_kwh": kwh_text(self.free_kwh) if electricity else None,
            "service": self.service,
            "unit": self.unit,
            "units": kwh_text(self.energy_kwh),
            "free_units": kwh_text(self.free_kwh),
        }

    def csv_row(self) -> list[str]:
        d = self.to_dict()
        return [
            d["key"],
            str(d["vends"]),
            str(d["reversals"]),
            d["currency"] or "",
            d["money"],
            d["vat"],
            d["levies"],
            d["energy_kwh"] or "",
            d["free_kwh"] or "",
            d["service"],
            d["unit"],
            d["units"],
            d["free_units"],
        ]


@dataclass(frozen=True)
class SalesReport:
    """Sales grouped by day, month or meter, with the totals (one per currency)."""

    by: str
    since: date | None
    until: date | None
    rows: tuple[Sales, ...]
    totals: tuple[Sales, ...]

    @property
    def currencies(self) -> tuple[str, ...]:
        return tuple(sorted({r.currency for r in self.rows if r.currency is not None}))

    @property
    def services(self) -> tuple[str, ...]:
        """The services sold in the period, in :class:`~vending.kinds.Service` order."""
        sold = {r.service for r in self.rows}
        return tuple(s.value for s in _SERVICES if s.value in sold)

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
            "rows": [row.to_dict() for row in self.rows],
            "totals": [total.to_dict() for total in self.totals],
        }


@dataclass
class _Sum:
    vends: int = 0
    reversals: int = 0
    money: Decimal = Decimal(0)
    vat: Decimal = Decimal(0)
    levies: Decimal = Decimal(0)
    energy: Decimal = Decimal(0)
    free: Decimal = Decimal(0)

    def add(self, other: _Sum) -> None:
        self.vends += other.vends
        self.reversals += other.reversals
        self.money += other.money
        self.vat += other.vat
        self.levies += other.levies
        self.energy += other.energy
        self.free += other.free

    def sales(self, key: str, currency: str | None, service: str) -> Sales:
        return Sales(
            key,
            self.vends,
            self.reversals,
            self.money,
            self.energy,
            self.free,
            self.vat,
            self.levies,
            currency,
            service,
        )


_Parts = dict[tuple[str, str | None], _Sum]  # (service, currency) -> sums


def _merged(key: str, parts: _Parts) -> list[Sales]:
    """One row per service and currency, services in their order."""
    rows = []
    for service in _SERVICES:
        mine = {c: part for (s, c), part in parts.items() if s == service}
        if mine:
            rows.extend(_merged_currencies(key, mine, service.value))
    return rows


def _merged_currencies(key: str, parts: dict[str | None, _Sum], service: str) -> list[Sales]:
    """One row per currency; units sold without money join the (single) currency's row."""
    currencies = sorted(c for c in parts if c is not None)
    if len(currencies) <= 1:
        total = _Sum()
        for part in parts.values():
            total.add(part)
        return [total.sales(key, currencies[0] if currencies else None, service)]
    rows = {c: parts[c] for c in currencies}
    if None in parts:
        rows[currencies[0]].add(parts[None])
    return [rows[c].sales(key, c, service) for c in currencies]


def _tax(details: dict[str, Any] | None, name: str) -> Decimal:
    breakdown = (details or {}).get("breakdown") or {}
    return Decimal(str(breakdown.get(name, "0")))


def _currency(details: dict[str, Any] | None) -> str | None:
    breakdown = (details or {}).get("breakdown") or {}
    currency = breakdown.get("currency")
    return str(currency) if currency else None


def sales(
    backend: Backend, by: str = "day", since: date | None = None, until: date | None = None
) -> SalesReport:
    """Credit sold in [since, until] (UTC days), by day, month or meter, with totals.

    A reversal counts in the group of its own day (or meter) and takes away the
    reversed vend's money, VAT, levies and kWh.
    """
    if by not in GROUPINGS:
        raise VendingError(f"sales by {by!r}: expected one of {', '.join(GROUPINGS)}")
    if since is not None and until is not None and until < since:
        raise VendingError(f"report period ends ({until}) before it starts ({since})")
    t = Transaction.__table__
    m = Meter.__table__
    tokens = TokenRecord.__table__
    reversed_ = t.alias("reversed")
    sold = func.coalesce(reversed_.c.id, t.c.id)  # a reversal: the vend it reverses
    subclass = (
        select(func.min(tokens.c.subclass))
        .where(tokens.c.transaction_id == sold, tokens.c.token_class == 0)
        .scalar_subquery()
    )
    query = (
        select(
            t.c.kind,
            t.c.day,
            m.c.drn,
            m.c.service,
            subclass.label("subclass"),
            t.c.money,
            t.c.energy,
            t.c.free_energy,
            t.c.details,
            reversed_.c.details.label("reversed_details"),
        )
        .select_from(
            t.join(m, m.c.id == t.c.meter_id).outerjoin(
                reversed_, reversed_.c.id == t.c.reverses_id
            )
        )
        .where(t.c.kind.in_(_SALES_KINDS))
        .order_by(t.c.id)
    )
    if since is not None:
        query = query.where(t.c.day >= since)
    if until is not None:
        query = query.where(t.c.day <= until)
    groups: dict[str, _Parts] = {}
    with storage.read(backend) as session:
        for row in session.connection().execute(query):
            reversal = row.kind == "reversal"
            details = row.reversed_details if reversal else row.details
            sign = -1 if reversal else 1
            key = {
                "day": lambda r: r.day.isoformat(),
                "month": lambda r: f"{r.day:%Y-%m}",
                "meter": lambda r: r.drn,
            }[by](row)
            service = _service(row.subclass, row.service)
            part = groups.setdefault(key, {}).setdefault((service, _currency(details)), _Sum())
            part.add(
                _Sum(
                    vends=0 if reversal else 1,
                    reversals=1 if reversal else 0,
                    money=_money(row.money),
                    vat=sign * _tax(details, "vat"),
                    levies=sign * _tax(details, "levies"),
                    energy=_money(row.energy),
                    free=_money(row.free_energy),
                )
            )
    rows = [sale for key in sorted(groups) for sale in _merged(key, groups[key])]
    every: _Parts = {}
    for parts in groups.values():
        for which, part in parts.items():
            every.setdefault(which, _Sum()).add(part)
    totals = _merged("total", every) if groups else []
    return SalesReport(by, since, until, tuple(rows), tuple(totals))


def _service(subclass: int | None, registered: str | None) -> str:
    """The service of a sale's credit tokens' subclass; without one, the meter's own."""
    by_subclass = {int(s.credit_kind(TokenKind.UNITS)): s.value for s in Service}
    if subclass is not None and subclass % 4 in by_subclass:  # units 0-2, currency 4-6
        return by_subclass[subclass % 4]
    return registered or Service.ELECTRICITY.value


def write_sales_csv(report: SalesReport, stream: TextIO) -> int:
    """The report as CSV (a header, the rows, then the totals); returns the rows written."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for sale in (*report.rows, *report.totals):
        writer.writerow(sale.csv_row())
    return len(report.rows) + len(report.totals)


def _money(value: Any) -> Decimal:
    # A ScaledDecimal comes back typed on some engines and raw on others.
    if isinstance(value, Decimal):
        return value
    return scaled_to_decimal(value)


def sales_by_day(
    backend: Backend, since: date | None = None, until: date | None = None
) -> list[Sales]:
    return list(sales(backend, "day", since, until).rows)


def sales_by_meter(
    backend: Backend, since: date | None = None, until: date | None = None
) -> list[Sales]:
    return list(sales(backend, "meter", since, until).rows)


def migration_progress(
    backend: Backend, name: str | None = None
) -> list[migration.MigrationProgress]:
    if name is not None:
        return [migration.progress(backend, name)]
    return migration.all_progress(backend)


def verify_ledger(backend: Backend) -> ledger_check.LedgerCheck:
    """Verify the keyed chain and what it records (vending.ledger_check.verify)."""
    return ledger_check.verify(backend)
