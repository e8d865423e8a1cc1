"""Vending backend: meters, vending keys, tariffs and the SQL ledger."""
