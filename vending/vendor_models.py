"""SQLAlchemy models of who sells: vendors, their operators, floats and advices.

On the same declarative ``Base`` as :mod:`vending.models` (schema revision 0004):

- ``vendors``: an agent, a bank or a mobile-money operator, with its float
  ``balance`` and a ``credit_limit`` (how far below zero the float may go).
- ``operators``: a person or machine of one vendor, with a role (vend,
  supervise, administer) and an API key stored as its SHA-256 only, looked up
  by a public key id; revoked operators keep their row (``revoked_at``).
- ``float_movements``: the vendor's float ledger, append-only: top-ups,
  adjustments, sales and reversals, each with the balance after it, the
  operator who made it and, for sales and reversals, the transaction.
- ``transaction_parties``: the vendor and operator of every transaction made
  for a vendor (sales, management tokens, reversals), with the vendor's own
  client id; the transaction's details hold the same (chained by its ledger
  entry, vending.ledger_parties).
- ``advices``: confirm and reversal advices a vendor sent, at most one of each
  kind per client id, each with a ledger entry; a reversal advice that arrives
  before its purchase makes the purchase refused when it comes.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vending.models import Base


class Vendor(Base):
    __tablename__ = "vendors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    balance: Mapped[Decimal] = mapped_column(default=Decimal(0))
    credit_limit: Mapped[Decimal] = mapped_column(default=Decimal(0))
    created_at: Mapped[datetime]


class Operator(Base):
    __tablename__ = "operators"
    __table_args__ = (UniqueConstraint("vendor_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"))
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class FloatMovement(Base):
    __tablename__ = "float_movements"
    __table_args__ = (Index("ix_float_movements_vendor_day", "vendor_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    kind: Mapped[str] = mapped_column(String(16))  # topup, adjustment, sale, reversal
    amount: Mapped[Decimal]  # signed: what it added to the float
    balance_after: Mapped[Decimal]
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id"), unique=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime]


class TransactionParty(Base):
    __tablename__ = "transaction_parties"
    __table_args__ = (
        Index("ix_transaction_parties_vendor_day", "vendor_id", "day"),
        Index("ix_transaction_parties_operator", "operator_id"),
    )

    transaction_id: Mapped[int] = mapped_column(
        ForeignKey("transactions.id"), primary_key=True, autoincrement=False
    )
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    client_id: Mapped[str] = mapped_column(String(100))
    day: Mapped[date] = mapped_column(Date)


class Advice(Base):
    __tablename__ = "advices"
    __table_args__ = (UniqueConstraint("vendor_id", "client_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    client_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # confirm, reversal
    created_at: Mapped[datetime]
