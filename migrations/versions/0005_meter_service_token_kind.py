"""A meter's service (electricity, water, gas) and token kind (units or currency), and a
customer's own free basic units a month.

Existing meters become electricity meters sold unit tokens, which is what every meter
was before: the columns are added NOT NULL with those values as server defaults.
Existing customers get no free units of their own (NULL: their meters' tariffs decide).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meters", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("service", sa.String(length=16), server_default="electricity", nullable=False)
        )
        batch_op.add_column(
            sa.Column("token_kind", sa.String(length=16), server_default="units", nullable=False)
        )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("free_units_kwh", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("free_units_kwh")
    with op.batch_alter_table("meters", schema=None) as batch_op:
        batch_op.drop_column("token_kind")
        batch_op.drop_column("service")
