"""Alembic environment and schema versions of the vending ledger."""
