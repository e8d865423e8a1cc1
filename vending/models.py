"""SQLAlchemy 2 ORM classes of the vending database, mapped onto vending.tables.

The tables themselves (columns, keys, indexes, the stored types) are defined once,
as Core ``Table`` objects, in :mod:`vending.tables`, which describes each of them;
each class here names its table (``__table__``) and adds the relationships the
services that work with ORM objects use (registration, reports, reversals). The
vend path works on the tables alone and does not import this module.

The vendor, operator and float tables (schema 0004) are on the same ``Base`` in
:mod:`vending.vendor_models`, which only the code that uses them imports (a vend
from the CLI does not): ``Base.metadata`` (= ``vending.tables.metadata``) holds
them once that module is imported, as the migrations' environment and the
whole-schema tests do.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy.orm import DeclarativeBase, Mapped, relationship
from sqlalchemy.types import JSON

from vending import tables
from vending.tables import (
    AMOUNT_SCALE,
    NAMING,
    ScaledDecimal,
    UtcDateTime,
    scaled_to_decimal,
)

__all__ = [
    "AMOUNT_SCALE",
    "NAMING",
    "Base",
    "Customer",
    "KeyChangeOrderRecord",
    "LedgerEntry",
    "LedgerHead",
    "MasterKeyCheck",
    "Meter",
    "MigrationBatch",
    "ScaledDecimal",
    "SupplyGroup",
    "TariffRecord",
    "TokenRecord",
    "Transaction",
    "UtcDateTime",
    "VendingKeyRecord",
    "scaled_to_decimal",
]


class Base(DeclarativeBase):
    metadata = tables.metadata
    # For the classes declared with columns of their own (vending.vendor_models).
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        Decimal: ScaledDecimal,
        datetime: UtcDateTime,
        dict[str, Any]: JSON,
    }


class SupplyGroup(Base):
    __table__ = tables.supply_groups

    sgc: Mapped[int]
    name: Mapped[str]
    created_at: Mapped[datetime]


class VendingKeyRecord(Base):
    """A vending key, sealed; ``sealed`` is only ever opened by vending.keystore."""

    __table__ = tables.vending_keys

    id: Mapped[int]
    label: Mapped[str]
    sgc: Mapped[int]
    krn: Mapped[int]
    kt: Mapped[int]
    dkga: Mapped[str]
    base_date: Mapped[int | None]
    bits: Mapped[int]
    sealed: Mapped[bytes]
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return (
            f"VendingKeyRecord(label={self.label!r}, sgc={self.sgc}, krn={self.krn}, "
            f"kt={self.kt}, dkga={self.dkga!r}, <sealed>)"
        )


class Customer(Base):
    __table__ = tables.customers

    id: Mapped[int]
    name: Mapped[str]
    debt: Mapped[Decimal]
    created_at: Mapped[datetime]
    free_units_kwh: Mapped[Decimal | None]


class TariffRecord(Base):
    __table__ = tables.tariffs

    id: Mapped[int]
    name: Mapped[str]
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Meter(Base):
    __table__ = tables.meters

    id: Mapped[int]
    drn: Mapped[str]
    pan: Mapped[str]
    sgc: Mapped[int]
    krn: Mapped[int]
    kt: Mapped[int]
    ti: Mapped[int]
    ea: Mapped[str]
    dkga: Mapped[str]
    base_date: Mapped[int]
    ken: Mapped[int]
    vending_key_id: Mapped[int]
    tariff_id: Mapped[int | None]
    customer_id: Mapped[int | None]
    last_tid: Mapped[int | None]
    key_revision: Mapped[int]
    created_at: Mapped[datetime]
    service: Mapped[str]
    token_kind: Mapped[str]

    vending_key: Mapped[VendingKeyRecord] = relationship(lazy="joined", innerjoin=True)
    tariff: Mapped[TariffRecord | None] = relationship(lazy="joined")
    customer: Mapped[Customer | None] = relationship(lazy="joined")


class Transaction(Base):
    """One vend (or management, test, key change hand-out, reversal): the unit of work."""

    __table__ = tables.transactions

    id: Mapped[int]
    client_reference: Mapped[str | None]
    fingerprint: Mapped[str]
    kind: Mapped[str]
    meter_id: Mapped[int]
    money: Mapped[Decimal]
    energy: Mapped[Decimal]
    free_energy: Mapped[Decimal]
    fixed_charges: Mapped[Decimal]
    debt_recovered: Mapped[Decimal]
    details: Mapped[dict[str, Any]]
    reverses_id: Mapped[int | None]
    key_change_order_id: Mapped[int | None]
    day: Mapped[date]
    created_at: Mapped[datetime]

    meter: Mapped[Meter] = relationship()
    reverses: Mapped[Transaction | None] = relationship(remote_side=[tables.transactions.c.id])
    tokens: Mapped[list[TokenRecord]] = relationship(
        order_by="TokenRecord.position", back_populates="transaction"
    )


class TokenRecord(Base):
    __table__ = tables.tokens

    id: Mapped[int]
    transaction_id: Mapped[int]
    meter_id: Mapped[int]
    key_revision: Mapped[int]
    position: Mapped[int]
    tid: Mapped[int | None]
    token_class: Mapped[int]
    subclass: Mapped[int]
    digits: Mapped[str]
    units: Mapped[int | None]
    description: Mapped[str]

    transaction: Mapped[Transaction] = relationship(back_populates="tokens")


class MigrationBatch(Base):
    """A bulk key change: meters of one SGC and KRN moved to a new KRN and base date."""

    __table__ = tables.migration_batches

    id: Mapped[int]
    name: Mapped[str]
    sgc: Mapped[int]
    from_krn: Mapped[int]
    to_krn: Mapped[int]
    to_base_date: Mapped[int]
    ken: Mapped[int]
    created_at: Mapped[datetime]


class KeyChangeOrderRecord(Base):
    """A meter's move to a new key; its KCT set is handed out with the meter's next vend."""

    __table__ = tables.key_change_orders

    id: Mapped[int]
    meter_id: Mapped[int]
    batch_id: Mapped[int | None]
    status: Mapped[str]
    from_key_revision: Mapped[int]
    from_krn: Mapped[int]
    from_base_date: Mapped[int]
    to_sgc: Mapped[int]
    to_krn: Mapped[int]
    to_kt: Mapped[int]
    to_ti: Mapped[int]
    to_ea: Mapped[str]
    to_base_date: Mapped[int]
    ken: Mapped[int]
    rollover: Mapped[bool]
    to_vending_key_id: Mapped[int]
    kct_digits: Mapped[str]
    created_at: Mapped[datetime]
    issued_at: Mapped[datetime | None]

    meter: Mapped[Meter] = relationship()


class LedgerEntry(Base):
    """One ledger entry: a canonical-JSON body chained by HMAC-SHA256 to the entry before."""

    __table__ = tables.ledger_entries

    seq: Mapped[int]
    transaction_id: Mapped[int | None]
    created_at: Mapped[datetime]
    body: Mapped[str]
    prev_hash: Mapped[str]
    hash: Mapped[str]


class LedgerHead(Base):
    """The chain's head: the last entry's number and hash (one row, id 1)."""

    __table__ = tables.ledger_head

    id: Mapped[int]
    seq: Mapped[int]
    hash: Mapped[str]
    prev: Mapped[str]
    legacy_seq: Mapped[int]


class MasterKeyCheck(Base):
    """The master key's check value (vending.keystore.check_value): one row, id 1."""

    __table__ = tables.master_key_check

    id: Mapped[int]
    value: Mapped[str]
    created_at: Mapped[datetime]
