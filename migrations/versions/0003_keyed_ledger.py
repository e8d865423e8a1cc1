"""A ledger that resists a database writer: the keyed chain, reversals outside the client
reference namespace, and the master key's check value.

- ``ledger_head.legacy_seq``: entries 1..legacy_seq were chained by the unkeyed SHA-256
  rule of schemas 0001-0002. The upgrade sets it to the number of entries already
  written; every later entry is chained by HMAC-SHA256 under a key derived from the
  master key (vending.ledger), continuing from the last unkeyed hash, so the first
  keyed entry also seals the unkeyed entries before it. A new database has none.
- ``transactions.client_reference`` may be NULL, and is NULL for every reversal: a
  reversal names the vend it reverses by ``reverses_id``, so no client reference can
  collide with one. Unkeyed entries of reversals still say "reversal:" + the reference
  cut to 100 characters, and vending.ledger rebuilds that text to check them.
- ``master_key_check``: one row holding vending.keystore.check_value of the master key
  the vending keys are sealed under (written by the first command that has the key).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "master_key_check",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_master_key_check")),
    )
    with op.batch_alter_table("ledger_head", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("legacy_seq", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.execute("UPDATE ledger_head SET legacy_seq = seq")
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.alter_column(
            "client_reference", existing_type=sa.String(length=100), nullable=True
        )
    op.execute("UPDATE transactions SET client_reference = NULL WHERE kind = 'reversal'")


def downgrade() -> None:
    op.execute(
        "UPDATE transactions SET client_reference = 'reversal:' || "
        "substr((SELECT o.client_reference FROM transactions o "
        "WHERE o.id = transactions.reverses_id), 1, 91) WHERE kind = 'reversal'"
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.alter_column(
            "client_reference", existing_type=sa.String(length=100), nullable=False
        )
    with op.batch_alter_table("ledger_head", schema=None) as batch_op:
        batch_op.drop_column("legacy_seq")
    op.drop_table("master_key_check")
