"""Reports over the ledger: sales by day and by meter, migration progress, chain check.

Sales count credit vends and their reversals (a reversal's negative amounts
cancel the vend it reverses); days are UTC calendar days. Money is what was
charged (tendered less change); kWh are those bought, free basic units apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select

from vending import ledger, ledger_check, migration
from vending.backend import Backend
from vending.errors import VendingError
from vending.models import Meter, Transaction, scaled_to_decimal

_SALES_KINDS = ("credit", "reversal")


@dataclass(frozen=True)
class Sales:
    """Sales in one group (a day or a meter)."""

    key: str
    vends: int
    reversals: int
    money: Decimal
    energy_kwh: Decimal
    free_kwh: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "vends": self.vends,
            "reversals": self.reversals,
            "money": ledger.amount_text(self.money),
            "energy_kwh": ledger.amount_text(self.energy_kwh),
            "free_kwh": ledger.amount_text(self.free_kwh),
        }


def _sales(backend: Backend, group: Any, since: date | None, until: date | None) -> list[Sales]:
    if since is not None and until is not None and until < since:
        raise VendingError(f"report period ends ({until}) before it starts ({since})")
    t = Transaction.__table__
    query = (
        select(
            group.label("key"),
            func.count().filter(t.c.kind == "credit").label("vends"),
            func.count().filter(t.c.kind == "reversal").label("reversals"),
            func.sum(case((t.c.kind.in_(_SALES_KINDS), t.c.money), else_=0)).label("money"),
            func.sum(t.c.energy).label("energy"),
            func.sum(t.c.free_energy).label("free"),
        )
        .select_from(t.join(Meter.__table__, Meter.__table__.c.id == t.c.meter_id))
        .where(t.c.kind.in_(_SALES_KINDS))
        .group_by(group)
        .order_by(group)
    )
    if since is not None:
        query = query.where(t.c.day >= since)
    if until is not None:
        query = query.where(t.c.day <= until)
    with backend.read_sessions() as session:
        rows = session.connection().execute(query).all()
    return [
        Sales(
            str(row.key),
            row.vends,
            row.reversals,
            _money(row.money),
            _money(row.energy),
            _money(row.free),
        )
        for row in rows
    ]


def _money(value: Any) -> Decimal:
    # SUM over a ScaledDecimal comes back typed on some engines and raw on others.
    if isinstance(value, Decimal):
        return value
    return scaled_to_decimal(value)


def sales_by_day(
    backend: Backend, since: date | None = None, until: date | None = None
) -> list[Sales]:
    return _sales(backend, Transaction.__table__.c.day, since, until)


def sales_by_meter(
    backend: Backend, since: date | None = None, until: date | None = None
) -> list[Sales]:
    return _sales(backend, Meter.__table__.c.drn, since, until)


def migration_progress(
    backend: Backend, name: str | None = None
) -> list[migration.MigrationProgress]:
    if name is not None:
        return [migration.progress(backend, name)]
    return migration.all_progress(backend)


def verify_ledger(backend: Backend) -> ledger_check.LedgerCheck:
    """Verify the keyed chain and what it records (vending.ledger_check.verify)."""
    return ledger_check.verify(backend)
