"""A vendor's reports: cash-up by operator for a day, and sales by day.

The cash-up says what each operator of a vendor sold, reversed and refunded on one
UTC day and the cash each should hand in (sold less reversed and refunded), and how
the vendor's float moved that day: opening balance, top-ups, adjustments, net sales,
closing balance.
By construction ``opening + top_ups + adjustments - net sales == closing``;
:attr:`CashUp.balanced` checks it against the float's own movements.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, func, select

from vending.backend import Backend
from vending.errors import NotFoundError, VendingError
from vending.models import Transaction, scaled_to_decimal
from vending.vendor_models import FloatMovement, Operator, TransactionParty, Vendor
from vending.vendors import ADJUSTMENT, TOPUP, amount_text

#: The kind of a refund's transaction (made by vending.refunds).
CREDIT_NOTE = "credit-note"

#: The longest period a sales report covers.
MAX_REPORT_DAYS = 366


def _money(value: Any) -> Decimal:
    # SUM over a ScaledDecimal comes back typed on some engines and raw on others.
    return value if isinstance(value, Decimal) else scaled_to_decimal(value)


@dataclass(frozen=True)
class SalesLine:
    """Sales of one operator (cash-up) or one day (sales report)."""

    key: str
    sales: int
    sold: Decimal
    reversals: int
    reversed: Decimal
    refunds: int = 0
    refunded: Decimal = Decimal(0)

    @property
    def net(self) -> Decimal:
        return self.sold - self.reversed - self.refunded

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "sales": self.sales,
            "sold": amount_text(self.sold),
            "reversals": self.reversals,
            "reversed": amount_text(self.reversed),
            "refunds": self.refunds,
            "refunded": amount_text(self.refunded),
            "net": amount_text(self.net),
        }


@dataclass(frozen=True)
class CashUp:
    vendor: str
    day: date
    operators: tuple[SalesLine, ...]
    opening: Decimal
    top_ups: Decimal
    adjustments: Decimal
    closing: Decimal

    @property
    def net_sales(self) -> Decimal:
        return sum((line.net for line in self.operators), Decimal(0))

    @property
    def balanced(self) -> bool:
        """The float's movements agree with the sales recorded for the day."""
        return self.opening + self.top_ups + self.adjustments - self.net_sales == self.closing

    def to_dict(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "day": self.day.isoformat(),
            "operators": [
                {**line.to_dict(), "operator": line.key, "cash_due": amount_text(line.net)}
                for line in self.operators
            ],
            "net_sales": amount_text(self.net_sales),
            "float": {
                "opening": amount_text(self.opening),
                "top_ups": amount_text(self.top_ups),
                "adjustments": amount_text(self.adjustments),
                "closing": amount_text(self.closing),
                "balanced": self.balanced,
            },
        }


def _sales_query(group: Any) -> Select[Any]:
    t = Transaction.__table__
    p = TransactionParty.__table__
    return (
        select(
            group.label("key"),
            func.count().filter(t.c.kind == "credit").label("sales"),
            func.sum(case((t.c.kind == "credit", t.c.money), else_=0)).label("sold"),
            func.count().filter(t.c.kind == "reversal").label("reversals"),
            func.sum(case((t.c.kind == "reversal", t.c.money), else_=0)).label("reversed"),
            func.count().filter(t.c.kind == CREDIT_NOTE).label("refunds"),
            func.sum(case((t.c.kind == CREDIT_NOTE, t.c.money), else_=0)).label("refunded"),
        )
        .select_from(p.join(t, t.c.id == p.c.transaction_id))
        .where(t.c.kind.in_(("credit", "reversal", CREDIT_NOTE)))
        .group_by(group)
        .order_by(group)
    )


def _line(row: Any) -> SalesLine:
    return SalesLine(
        str(row.key),
        row.sales,
        _money(row.sold),
        row.reversals,
        -_money(row.reversed),
        row.refunds,
        -_money(row.refunded),
    )


def _vendor_id(backend: Backend, name: str) -> tuple[int, str]:
    with backend.read_sessions() as session:
        row = session.execute(
            select(Vendor.id, Vendor.name).where(Vendor.name == name.strip())
        ).first()
    if row is None:
        raise NotFoundError(f"vendor {name!r} does not exist")
    return row.id, row.name


def cashup(backend: Backend, vendor: str | int, day: date) -> CashUp:
    """The cash-up of vendor ``vendor`` (name or id) for UTC day ``day``."""
    if isinstance(vendor, int):
        vendor_id, name = vendor, ""
    else:
        vendor_id, name = _vendor_id(backend, vendor)
    p = TransactionParty.__table__
    o = Operator.__table__
    m = FloatMovement.__table__
    operators = _sales_query(func.coalesce(o.c.name, "(none)")).outerjoin(
        o, o.c.id == p.c.operator_id
    )
    operators = operators.where(p.c.vendor_id == vendor_id, p.c.day == day)

    def last_balance(before: bool) -> Any:
        bound = m.c.day < day if before else m.c.day <= day
        return (
            select(m.c.balance_after)
            .where(m.c.vendor_id == vendor_id, bound)
            .order_by(m.c.id.desc())
            .limit(1)
        )

    def moved(kind: str) -> Any:
        return select(func.sum(m.c.amount)).where(
            m.c.vendor_id == vendor_id, m.c.day == day, m.c.kind == kind
        )

    with backend.read_sessions() as session:
        connection = session.connection()
        if not name:
            name = connection.execute(
                select(Vendor.name).where(Vendor.id == vendor_id)
            ).scalar_one()
        lines = tuple(_line(row) for row in connection.execute(operators))
        opening = connection.execute(last_balance(before=True)).scalar()
        closing = connection.execute(last_balance(before=False)).scalar()
        top_ups = connection.execute(moved(TOPUP)).scalar()
        adjustments = connection.execute(moved(ADJUSTMENT)).scalar()
    return CashUp(
        name,
        day,
        lines,
        _money(opening),
        _money(top_ups),
        _money(adjustments),
        _money(closing),
    )


def sales_by_day(backend: Backend, vendor_id: int, since: date, until: date) -> list[SalesLine]:
    """The vendor's sales per UTC day from ``since`` to ``until`` (at most a year)."""
    if until < since:
        raise VendingError(f"report period ends ({until}) before it starts ({since})")
    if (until - since).days >= MAX_REPORT_DAYS:
        raise VendingError(
            f"report period {since} to {until} is longer than {MAX_REPORT_DAYS} days"
        )
    p = TransactionParty.__table__
    query = _sales_query(p.c.day).where(
        p.c.vendor_id == vendor_id, p.c.day >= since, p.c.day <= until
    )
    with backend.read_sessions() as session:
        return [_line(row) for row in session.connection().execute(query)]
