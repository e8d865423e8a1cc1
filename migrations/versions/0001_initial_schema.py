"""Initial schema: keys, supply groups, customers, tariffs, meters, transactions,
tokens, key change orders, migration batches and the hash-chained ledger.

Amounts are BIGINT multiples of 0.00001 (vending.models.ScaledDecimal); times are UTC.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("debt", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("name", name=op.f("uq_customers_name")),
    )
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("prev", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_head")),
    )
    op.create_table(
        "migration_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sgc", sa.Integer(), nullable=False),
        sa.Column("from_krn", sa.Integer(), nullable=False),
        sa.Column("to_krn", sa.Integer(), nullable=False),
        sa.Column("to_base_date", sa.Integer(), nullable=False),
        sa.Column("ken", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_migration_batches")),
        sa.UniqueConstraint("name", name=op.f("uq_migration_batches_name")),
    )
    op.create_table(
        "supply_groups",
        sa.Column("sgc", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sgc", name=op.f("pk_supply_groups")),
    )
    op.create_table(
        "tariffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariffs")),
        sa.UniqueConstraint("name", name=op.f("uq_tariffs_name")),
    )
    op.create_table(
        "vending_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("sgc", sa.Integer(), nullable=False),
        sa.Column("krn", sa.Integer(), nullable=False),
        sa.Column("kt", sa.Integer(), nullable=False),
        sa.Column("dkga", sa.String(length=2), nullable=False),
        sa.Column("base_date", sa.Integer(), nullable=True),
        sa.Column("bits", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["sgc"], ["supply_groups.sgc"], name=op.f("fk_vending_keys_sgc_supply_groups")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vending_keys")),
        sa.UniqueConstraint("label", name=op.f("uq_vending_keys_label")),
        sa.UniqueConstraint("sgc", "krn", "kt", name=op.f("uq_vending_keys_sgc_krn_kt")),
    )
    op.create_table(
        "meters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drn", sa.String(length=13), nullable=False),
        sa.Column("pan", sa.String(length=18), nullable=False),
        sa.Column("sgc", sa.Integer(), nullable=False),
        sa.Column("krn", sa.Integer(), nullable=False),
        sa.Column("kt", sa.Integer(), nullable=False),
        sa.Column("ti", sa.Integer(), nullable=False),
        sa.Column("ea", sa.String(length=2), nullable=False),
        sa.Column("dkga", sa.String(length=2), nullable=False),
        sa.Column("base_date", sa.Integer(), nullable=False),
        sa.Column("ken", sa.Integer(), nullable=False),
        sa.Column("vending_key_id", sa.Integer(), nullable=False),
        sa.Column("tariff_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("last_tid", sa.Integer(), nullable=True),
        sa.Column("key_revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_meters_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["sgc"], ["supply_groups.sgc"], name=op.f("fk_meters_sgc_supply_groups")
        ),
        sa.ForeignKeyConstraint(
            ["tariff_id"], ["tariffs.id"], name=op.f("fk_meters_tariff_id_tariffs")
        ),
        sa.ForeignKeyConstraint(
            ["vending_key_id"],
            ["vending_keys.id"],
            name=op.f("fk_meters_vending_key_id_vending_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meters")),
        sa.UniqueConstraint("drn", name=op.f("uq_meters_drn")),
        sa.UniqueConstraint("pan", name=op.f("uq_meters_pan")),
    )
    with op.batch_alter_table("meters", schema=None) as batch_op:
        batch_op.create_index("ix_meters_sgc_krn", ["sgc", "krn"], unique=False)

    op.create_table(
        "key_change_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("from_key_revision", sa.Integer(), nullable=False),
        sa.Column("from_krn", sa.Integer(), nullable=False),
        sa.Column("from_base_date", sa.Integer(), nullable=False),
        sa.Column("to_sgc", sa.Integer(), nullable=False),
        sa.Column("to_krn", sa.Integer(), nullable=False),
        sa.Column("to_kt", sa.Integer(), nullable=False),
        sa.Column("to_ti", sa.Integer(), nullable=False),
        sa.Column("to_ea", sa.String(length=2), nullable=False),
        sa.Column("to_base_date", sa.Integer(), nullable=False),
        sa.Column("ken", sa.Integer(), nullable=False),
        sa.Column("rollover", sa.Boolean(), nullable=False),
        sa.Column("to_vending_key_id", sa.Integer(), nullable=False),
        sa.Column("kct_digits", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["migration_batches.id"],
            name=op.f("fk_key_change_orders_batch_id_migration_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meters.id"], name=op.f("fk_key_change_orders_meter_id_meters")
        ),
        sa.ForeignKeyConstraint(
            ["to_vending_key_id"],
            ["vending_keys.id"],
            name=op.f("fk_key_change_orders_to_vending_key_id_vending_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_change_orders")),
        sa.UniqueConstraint(
            "meter_id",
            "from_key_revision",
            name=op.f("uq_key_change_orders_meter_id_from_key_revision"),
        ),
    )
    with op.batch_alter_table("key_change_orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_key_change_orders_batch_status", ["batch_id", "status"], unique=False
        )

    op.create_table(
        "transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_reference", sa.String(length=100), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("money", sa.BigInteger(), nullable=False),
        sa.Column("energy", sa.BigInteger(), nullable=False),
        sa.Column("free_energy", sa.BigInteger(), nullable=False),
        sa.Column("fixed_charges", sa.BigInteger(), nullable=False),
        sa.Column("debt_recovered", sa.BigInteger(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.Column("key_change_order_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_change_order_id"],
            ["key_change_orders.id"],
            name=op.f("fk_transactions_key_change_order_id_key_change_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meters.id"], name=op.f("fk_transactions_meter_id_meters")
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["transactions.id"],
            name=op.f("fk_transactions_reverses_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
        sa.UniqueConstraint("client_reference", name=op.f("uq_transactions_client_reference")),
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index("ix_transactions_meter_day", ["meter_id", "day"], unique=False)
        batch_op.create_index("ix_transactions_day", ["day"], unique=False)
        batch_op.create_index(
            "uq_transactions_reverses_id",
            ["reverses_id"],
            unique=True,
            sqlite_where=sa.text("reverses_id IS NOT NULL"),
            postgresql_where=sa.text("reverses_id IS NOT NULL"),
        )

    op.create_table(
        "ledger_entries",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_ledger_entries_transaction_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_ledger_entries_transaction_id")),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("key_revision", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("tid", sa.Integer(), nullable=True),
        sa.Column("token_class", sa.Integer(), nullable=False),
        sa.Column("subclass", sa.Integer(), nullable=False),
        sa.Column("digits", sa.String(length=20), nullable=False),
        sa.Column("units", sa.Integer(), nullable=True),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meters.id"], name=op.f("fk_tokens_meter_id_meters")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_tokens_transaction_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint(
            "meter_id", "key_revision", "tid", name=op.f("uq_tokens_meter_id_key_revision_tid")
        ),
    )
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.create_index("ix_tokens_transaction", ["transaction_id"], unique=False)

    # The chain starts from an all-zero hash at entry 0.
    ledger_head = sa.table(
        "ledger_head",
        sa.column("id", sa.Integer),
        sa.column("seq", sa.BigInteger),
        sa.column("hash", sa.String),
        sa.column("prev", sa.String),
    )
    op.bulk_insert(ledger_head, [{"id": 1, "seq": 0, "hash": "0" * 64, "prev": "0" * 64}])


def downgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_tokens_transaction")

    op.drop_table("tokens")
    op.drop_table("ledger_entries")
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index("uq_transactions_reverses_id")
        batch_op.drop_index("ix_transactions_day")
        batch_op.drop_index("ix_transactions_meter_day")

    op.drop_table("transactions")
    with op.batch_alter_table("key_change_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_key_change_orders_batch_status")

    op.drop_table("key_change_orders")
    with op.batch_alter_table("meters", schema=None) as batch_op:
        batch_op.drop_index("ix_meters_sgc_krn")

    op.drop_table("meters")
    op.drop_table("vending_keys")
    op.drop_table("tariffs")
    op.drop_table("supply_groups")
    op.drop_table("migration_batches")
    op.drop_table("ledger_head")
    op.drop_table("customers")
