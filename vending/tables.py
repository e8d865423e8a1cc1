"""The vending database's tables, as SQLAlchemy Core ``Table`` objects: the one definition.

The ORM classes of :mod:`vending.models` are mapped onto these tables, and the
vendor tables of :mod:`vending.vendor_models` join the same :data:`metadata`, so
the migrations' environment (and Alembic's autogenerate) sees one schema. The
vend path (vending.vend, vending.tids, vending.keychange, vending.ledger) works
on these tables alone: importing this module loads SQLAlchemy's core but not
``sqlalchemy.orm``, whose import and mapper set-up cost a command-line vend a
noticeable share of its start-up (issue 8).

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

Amounts are stored as whole multiples of 0.00001 (:class:`ScaledDecimal`) so sums
in SQL are exact on SQLite as on PostgreSQL; times are stored in UTC
(:class:`UtcDateTime`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
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


metadata = MetaData(naming_convention=NAMING)


# Column helpers, in the declarative defaults the schema was first written with: NOT
# NULL unless said otherwise.
def _id() -> Column[Any]:
    return Column("id", Integer, primary_key=True)


def _int(name: str, *args: Any, nullable: bool = False, **kwargs: Any) -> Column[Any]:
    return Column(name, Integer, *args, nullable=nullable, **kwargs)


def _str(name: str, length: int, nullable: bool = False, **kwargs: Any) -> Column[Any]:
    return Column(name, String(length), nullable=nullable, **kwargs)


def _time(name: str, nullable: bool = False) -> Column[Any]:
    return Column(name, UtcDateTime(), nullable=nullable)


def _amount(name: str, nullable: bool = False, **kwargs: Any) -> Column[Any]:
    return Column(name, ScaledDecimal(), nullable=nullable, **kwargs)


supply_groups = Table(
    "supply_groups",
    metadata,
    Column("sgc", Integer, primary_key=True, autoincrement=False),
    _str("name", 100, default=""),
    _time("created_at"),
)

#: A vending key, sealed; ``sealed`` is only ever opened by vending.keystore.
vending_keys = Table(
    "vending_keys",
    metadata,
    _id(),
    _str("label", 100, unique=True),
    _int("sgc", ForeignKey("supply_groups.sgc")),
    _int("krn"),
    _int("kt"),
    _str("dkga", 2),
    _int("base_date", nullable=True),
    _int("bits"),
    Column("sealed", LargeBinary, nullable=False),
    _time("created_at"),
    _time("retired_at", nullable=True),
    UniqueConstraint("sgc", "krn", "kt"),
)

customers = Table(
    "customers",
    metadata,
    _id(),
    _str("name", 200, unique=True),
    _amount("debt", default=Decimal(0)),  # outstanding, recovered by vends
    _time("created_at"),
    # Free basic units a month granted to this customer instead of the tariff's
    # (schema 0005); None: the tariff's ``free_units_kwh``.
    _amount("free_units_kwh", nullable=True),
)

tariffs = Table(
    "tariffs",
    metadata,
    _id(),
    _str("name", 100, unique=True),
    Column("definition", JSON, nullable=False),
    _time("created_at"),
)

meters = Table(
    "meters",
    metadata,
    _id(),
    _str("drn", 13, unique=True),
    _str("pan", 18, unique=True),
    _int("sgc", ForeignKey("supply_groups.sgc")),
    _int("krn"),
    _int("kt"),
    _int("ti"),
    _str("ea", 2),
    _str("dkga", 2),
    _int("base_date"),
    _int("ken"),
    _int("vending_key_id", ForeignKey("vending_keys.id")),
    _int("tariff_id", ForeignKey("tariffs.id"), nullable=True),
    _int("customer_id", ForeignKey("customers.id"), nullable=True),
    _int("last_tid", nullable=True),
    _int("key_revision", default=1),
    _time("created_at"),
    # What the meter measures and what its credit tokens carry (schema 0005): see
    # vending.kinds. Meters registered before 0005 are electricity/units.
    _str("service", 16, server_default="electricity"),
    _str("token_kind", 16, server_default="units"),
    Index("ix_meters_sgc_krn", "sgc", "krn"),
)

#: One vend (or management, test, key change hand-out, reversal): the unit of work.
transactions = Table(
    "transactions",
    metadata,
    _id(),
    # None for a reversal: client references and reversals never share a namespace.
    _str("client_reference", 100, nullable=True, unique=True),
    _str("fingerprint", 64),
    _str("kind", 32),
    _int("meter_id", ForeignKey("meters.id")),
    _amount("money", default=Decimal(0)),
    # Bought and free basic quantities in the meter's unit: kWh, or m3 for water and gas
    # (vending.kinds); a currency token's credit is money, not energy (0 here).
    _amount("energy", default=Decimal(0)),  # kWh bought
    _amount("free_energy", default=Decimal(0)),  # free basic kWh given
    _amount("fixed_charges", default=Decimal(0)),
    _amount("debt_recovered", default=Decimal(0)),
    Column("details", JSON, nullable=False),
    _int("reverses_id", ForeignKey("transactions.id"), nullable=True),
    _int("key_change_order_id", ForeignKey("key_change_orders.id"), nullable=True),
    Column("day", Date, nullable=False),  # UTC calendar day, for reports
    _time("created_at"),
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

tokens = Table(
    "tokens",
    metadata,
    _id(),
    _int("transaction_id", ForeignKey("transactions.id")),
    _int("meter_id", ForeignKey("meters.id")),
    _int("key_revision"),
    _int("position"),
    _int("tid", nullable=True),
    _int("token_class"),
    _int("subclass"),
    _str("digits", 20),
    _int("units", nullable=True),  # 0.1 kWh carried by a credit token
    _str("description", 200),
    UniqueConstraint("meter_id", "key_revision", "tid"),
    Index("ix_tokens_transaction", "transaction_id"),
)

#: A bulk key change: meters of one SGC and KRN moved to a new KRN and base date.
migration_batches = Table(
    "migration_batches",
    metadata,
    _id(),
    _str("name", 100, unique=True),
    _int("sgc"),
    _int("from_krn"),
    _int("to_krn"),
    _int("to_base_date"),
    _int("ken"),
    _time("created_at"),
)

#: A meter's move to a new key; its KCT set is handed out with the meter's next vend.
key_change_orders = Table(
    "key_change_orders",
    metadata,
    _id(),
    _int("meter_id", ForeignKey("meters.id")),
    _int("batch_id", ForeignKey("migration_batches.id"), nullable=True),
    _str("status", 16),  # pending, issued
    _int("from_key_revision"),
    _int("from_krn"),
    _int("from_base_date"),
    _int("to_sgc"),
    _int("to_krn"),
    _int("to_kt"),
    _int("to_ti"),
    _str("to_ea", 2),
    _int("to_base_date"),
    _int("ken"),
    Column("rollover", Boolean, nullable=False),
    _int("to_vending_key_id", ForeignKey("vending_keys.id")),
    _str("kct_digits", 100),  # the set, space-separated
    _time("created_at"),
    _time("issued_at", nullable=True),
    UniqueConstraint("meter_id", "from_key_revision"),
    Index("ix_key_change_orders_batch_status", "batch_id", "status"),
)

#: One ledger entry: a canonical-JSON body chained by HMAC-SHA256 to the entry before.
ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    _int("transaction_id", ForeignKey("transactions.id"), nullable=True, unique=True),
    _time("created_at"),
    Column("body", Text, nullable=False),
    _str("prev_hash", 64),
    _str("hash", 64),
)

#: The chain's head: the last entry's number and hash (one row, id 1).
ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    _str("hash", 64),
    _str("prev", 64),  # the hash before ``hash``
    # Entries 1..legacy_seq were chained by unkeyed SHA-256 before schema 0003.
    Column("legacy_seq", BigInteger, nullable=False, default=0),
)

#: The master key's check value (vending.keystore.check_value): one row, id 1.
master_key_check = Table(
    "master_key_check",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    _str("value", 64),
    _time("created_at"),
)
