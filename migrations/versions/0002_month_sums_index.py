"""Month-to-date sums from the index alone: transactions indexed by meter and day with the
amounts a vend sums (kWh bought, free kWh, fixed charges), replacing the (meter, day) index.

Every credit vend sums its meter's transactions this month; with the amounts in the
index the database reads no table rows for that.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONTH_SUMS = ["meter_id", "day", "energy", "free_energy", "fixed_charges"]


def upgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index("ix_transactions_meter_day_sums", MONTH_SUMS, unique=False)
        batch_op.drop_index("ix_transactions_meter_day")


def downgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index("ix_transactions_meter_day", ["meter_id", "day"], unique=False)
        batch_op.drop_index("ix_transactions_meter_day_sums")
