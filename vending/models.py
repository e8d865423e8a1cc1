"""SQLAlchemy 2 ORM models of the vending database.

The tables, in the order a vend touches them:

- ``supply_groups``: a supply group code (SGC) and its name.
- ``vending_keys``: a vending key, sealed with AES-GCM under the master key (the
  database never holds a key in the clear), with the SGC, KRN, key type and DKGA
  it serves, and for DKGA02 keys the base date they were issued for.
- ``customers`` and ``tariffs`` (a tariff is the JSON of ``vending.tariff.Tariff``).
- ``meters``: DRN, MeterPAN and the key parameters (SGC, KRN, KT, TI, EA, DKGA,
  base date, KEN), the tariff and customer, the last TID issued and the *key
  revision*, a counter that goes up by one at every key change; its service
  (electricity, water, gas) and token kind (units or currency).
- ``transactions``: one row per vend, management token, test token, key change
  hand-out or reversal, with the client reference (unique; a reversal has none
  and names the vend it reverses by id), a fingerprint of the request for
  idempotency, amounts and the tariff breakdown.
- ``tokens``: every token handed out, unique per (meter, key revision, TID).
- ``key_change_orders`` and ``migration_batches``: key changes waiting for a
  meter's next vend, one per (meter, key revision they start from).
- ``ledger_entries`` and ``ledger_head``: the append-only, keyed hash chain
  (vending.ledger); ``master_key_check``: a MAC of a fixed label under the master
  key, which tells a wrong master key at once (vending.keystore.check_value).

The vendor, operator and float tables (schema 0004) are on the same ``Base`` in
:mod:`vending.vendor_models`, which only the code that uses them imports (a vend
from the CLI does not): ``Base.metadata`` holds them once that module is imported,
as the migrations' environment and the whole-schema tests do.

Amounts are stored as whole multiples of 0.00001 (``ScaledDecimal``) so sums in
SQL are exact on SQLite as on PostgreSQL; times are stored in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import JSON, TypeDecorator

from vending.errors import VendingError

#: Amounts are stored as integers of this many decimal places.
AMOUNT_SCALE = 5
_QUANTUM = Decimal(1).scaleb(-AMOUNT_SCALE)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class ScaledDecimal(TypeDecorator[Decimal]):
    """A Decimal stored exactly as a BIGINT count of 0.00001."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        scaled = Decimal(value).scaleb(AMOUNT_SCALE)
        if scaled != scaled.to_integral_value():
            raise VendingError(
                f"amount {value} has more than {AMOUNT_SCALE} decimal places; "
                "expected a multiple of 0.00001"
            )
        return int(scaled)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(value) * _QUANTUM).quantize(_QUANTUM)


def scaled_to_decimal(value: int | None) -> Decimal:
    """A raw SUM() of a ScaledDecimal column as a Decimal (0 for None)."""
    return (Decimal(value or 0) * _QUANTUM).quantize(_QUANTUM)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored in UTC (naive on SQLite) and read back aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise VendingError(f"time {value.isoformat()} has no timezone; expected UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        Decimal: ScaledDecimal,
        datetime: UtcDateTime,
        dict[str, Any]: JSON,
    }


class SupplyGroup(Base):
    __tablename__ = "supply_groups"

    sgc: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime]


class VendingKeyRecord(Base):
    """A vending key, sealed; ``sealed`` is only ever opened by vending.keystore."""

    __tablename__ = "vending_keys"
    __table_args__ = (UniqueConstraint("sgc", "krn", "kt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(100), unique=True)
    sgc: Mapped[int] = mapped_column(ForeignKey("supply_groups.sgc"))
    krn: Mapped[int]
    kt: Mapped[int]
    dkga: Mapped[str] = mapped_column(String(2))
    base_date: Mapped[int | None]
    bits: Mapped[int]
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return (
            f"VendingKeyRecord(label={self.label!r}, sgc={self.sgc}, krn={self.krn}, "
            f"kt={self.kt}, dkga={self.dkga!r}, <sealed>)"
        )


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    debt: Mapped[Decimal] = mapped_column(default=Decimal(0))  # outstanding, recovered by vends
    created_at: Mapped[datetime]
    # Free basic units a month granted to this customer instead of the tariff's
    # (schema 0005); None: the tariff's ``free_units_kwh``.
    free_units_kwh: Mapped[Decimal | None]


class TariffRecord(Base):
    __tablename__ = "tariffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Meter(Base):
    __tablename__ = "meters"
    __table_args__ = (Index("ix_meters_sgc_krn", "sgc", "krn"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    drn: Mapped[str] = mapped_column(String(13), unique=True)
    pan: Mapped[str] = mapped_column(String(18), unique=True)
    sgc: Mapped[int] = mapped_column(ForeignKey("supply_groups.sgc"))
    krn: Mapped[int]
    kt: Mapped[int]
    ti: Mapped[int]
    ea: Mapped[str] = mapped_column(String(2))
    dkga: Mapped[str] = mapped_column(String(2))
    base_date: Mapped[int]
    ken: Mapped[int]
    vending_key_id: Mapped[int] = mapped_column(ForeignKey("vending_keys.id"))
    tariff_id: Mapped[int | None] = mapped_column(ForeignKey("tariffs.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    last_tid: Mapped[int | None]
    key_revision: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    # What the meter measures and what its credit tokens carry (schema 0005): see
    # vending.kinds. Meters registered before 0005 are electricity/units.
    service: Mapped[str] = mapped_column(String(16), server_default="electricity")
    token_kind: Mapped[str] = mapped_column(String(16), server_default="units")

    vending_key: Mapped[VendingKeyRecord] = relationship(lazy="joined", innerjoin=True)
    tariff: Mapped[TariffRecord | None] = relationship(lazy="joined")
    customer: Mapped[Customer | None] = relationship(lazy="joined")


class Transaction(Base):
    """One vend (or management, test, key change hand-out, reversal): the unit of work."""

    __tablename__ = "transactions"
    __table_args__ = (
        # A vend sums its meter's amounts this month (vending.vend.month_to_date) from
        # this index alone.
        Index(
            "ix_transactions_meter_day_sums",
            "meter_id",
            "day",
            "energy",
            "free_energy",
            "fixed_charges",
        ),
        Index("ix_transactions_day", "day"),
        # A vend is reversed at most once; the index leaves out the many rows with no
        # reversal (so an ordinary vend does not write to it). Migration 0001 makes it
        # partial on PostgreSQL too (postgresql_where); naming that here would load the
        # whole PostgreSQL dialect (every driver's module) on every SQLite command, and
        # autogenerate does not compare an index's WHERE clause.
        Index(
            "uq_transactions_reverses_id",
            "reverses_id",
            unique=True,
            sqlite_where=text("reverses_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for a reversal: client references and reversals never share a namespace.
    client_reference: Mapped[str | None] = mapped_column(String(100), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    money: Mapped[Decimal] = mapped_column(default=Decimal(0))
    # Bought and free basic quantities in the meter's unit: kWh, or m3 for water and gas
    # (vending.kinds); a currency token's credit is money, not energy (0 here).
    energy: Mapped[Decimal] = mapped_column(default=Decimal(0))  # kWh bought
    free_energy: Mapped[Decimal] = mapped_column(default=Decimal(0))  # free basic kWh given
    fixed_charges: Mapped[Decimal] = mapped_column(default=Decimal(0))
    debt_recovered: Mapped[Decimal] = mapped_column(default=Decimal(0))
    details: Mapped[dict[str, Any]]
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id"))
    key_change_order_id: Mapped[int | None] = mapped_column(ForeignKey("key_change_orders.id"))
    day: Mapped[date] = mapped_column(Date)  # UTC calendar day, for reports
    created_at: Mapped[datetime]

    meter: Mapped[Meter] = relationship()
    reverses: Mapped[Transaction | None] = relationship(remote_side=[id])
    tokens: Mapped[list[TokenRecord]] = relationship(
        order_by="TokenRecord.position", back_populates="transaction"
    )


class TokenRecord(Base):
    __tablename__ = "tokens"
    __table_args__ = (
        UniqueConstraint("meter_id", "key_revision", "tid"),
        Index("ix_tokens_transaction", "transaction_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("transactions.id"))
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    key_revision: Mapped[int]
    position: Mapped[int]
    tid: Mapped[int | None]
    token_class: Mapped[int]
    subclass: Mapped[int]
    digits: Mapped[str] = mapped_column(String(20))
    units: Mapped[int | None]  # 0.1 kWh carried by a credit token
    description: Mapped[str] = mapped_column(String(200))

    transaction: Mapped[Transaction] = relationship(back_populates="tokens")


class MigrationBatch(Base):
    """A bulk key change: meters of one SGC and KRN moved to a new KRN and base date."""

    __tablename__ = "migration_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    sgc: Mapped[int]
    from_krn: Mapped[int]
    to_krn: Mapped[int]
    to_base_date: Mapped[int]
    ken: Mapped[int]
    created_at: Mapped[datetime]


class KeyChangeOrderRecord(Base):
    """A meter's move to a new key; its KCT set is handed out with the meter's next vend."""

    __tablename__ = "key_change_orders"
    __table_args__ = (
        UniqueConstraint("meter_id", "from_key_revision"),
        Index("ix_key_change_orders_batch_status", "batch_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("migration_batches.id"))
    status: Mapped[str] = mapped_column(String(16))  # pending, issued
    from_key_revision: Mapped[int]
    from_krn: Mapped[int]
    from_base_date: Mapped[int]
    to_sgc: Mapped[int]
    to_krn: Mapped[int]
    to_kt: Mapped[int]
    to_ti: Mapped[int]
    to_ea: Mapped[str] = mapped_column(String(2))
    to_base_date: Mapped[int]
    ken: Mapped[int]
    rollover: Mapped[bool] = mapped_column(Boolean)
    to_vending_key_id: Mapped[int] = mapped_column(ForeignKey("vending_keys.id"))
    kct_digits: Mapped[str] = mapped_column(String(100))  # the set, space-separated
    created_at: Mapped[datetime]
    issued_at: Mapped[datetime | None]

    meter: Mapped[Meter] = relationship()


class LedgerEntry(Base):
    """One ledger entry: a canonical-JSON body chained by HMAC-SHA256 to the entry before."""

    __tablename__ = "ledger_entries"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id"), unique=True)
    created_at: Mapped[datetime]
    body: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class LedgerHead(Base):
    """The chain's head: the last entry's number and hash (one row, id 1)."""

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    prev: Mapped[str] = mapped_column(String(64))  # the hash before ``hash``
    # Entries 1..legacy_seq were chained by unkeyed SHA-256 before schema 0003.
    legacy_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class MasterKeyCheck(Base):
    """The master key's check value (vending.keystore.check_value): one row, id 1."""

    __tablename__ = "master_key_check"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
