"""Vendors, operators, float movements, transaction parties and advices (the HTTP service).

A vendor holds a float that sales reduce; operators of a vendor authenticate with API
keys stored as SHA-256; every transaction made for a vendor names its vendor and
operator. See vending.vendor_models.

Revision ID: 0004
Revises: 0002 (to be chained after 0003 at merge)
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vendors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("credit_limit", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vendors")),
        sa.UniqueConstraint("name", name=op.f("uq_vendors_name")),
    )
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendors.id"], name=op.f("fk_operators_vendor_id_vendors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("key_id", name=op.f("uq_operators_key_id")),
        sa.UniqueConstraint("vendor_id", "name", name=op.f("uq_operators_vendor_id_name")),
    )
    op.create_table(
        "float_movements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_float_movements_operator_id_operators")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_float_movements_transaction_id_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendors.id"], name=op.f("fk_float_movements_vendor_id_vendors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_float_movements")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_float_movements_transaction_id")),
    )
    op.create_index(
        "ix_float_movements_vendor_day", "float_movements", ["vendor_id", "day"], unique=False
    )
    op.create_table(
        "transaction_parties",
        sa.Column("transaction_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_transaction_parties_operator_id_operators"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_transaction_parties_transaction_id_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendors.id"], name=op.f("fk_transaction_parties_vendor_id_vendors")
        ),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_transaction_parties")),
    )
    op.create_index(
        "ix_transaction_parties_vendor_day",
        "transaction_parties",
        ["vendor_id", "day"],
        unique=False,
    )
    op.create_index(
        "ix_transaction_parties_operator", "transaction_parties", ["operator_id"], unique=False
    )
    op.create_table(
        "advices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_advices_operator_id_operators")
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendors.id"], name=op.f("fk_advices_vendor_id_vendors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advices")),
        sa.UniqueConstraint(
            "vendor_id", "client_id", "kind", name=op.f("uq_advices_vendor_id_client_id_kind")
        ),
    )


def downgrade() -> None:
    op.drop_table("advices")
    op.drop_index("ix_transaction_parties_operator", table_name="transaction_parties")
    op.drop_index("ix_transaction_parties_vendor_day", table_name="transaction_parties")
    op.drop_table("transaction_parties")
    op.drop_index("ix_float_movements_vendor_day", table_name="float_movements")
    op.drop_table("float_movements")
    op.drop_table("operators")
    op.drop_table("vendors")
