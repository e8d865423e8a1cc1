"""One definition of each table (issue 8): vending.tables holds the Core tables, the ORM
classes of vending.models and vending.vendor_models are mapped onto them, and importing
the tables loads no ORM (the vend path works on them alone)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

import vending.vendor_models
from vending import models, tables

ROOT = Path(__file__).resolve().parent.parent

CORE_TABLES = {
    "supply_groups",
    "vending_keys",
    "customers",
    "tariffs",
    "meters",
    "transactions",
    "tokens",
    "migration_batches",
    "key_change_orders",
    "ledger_entries",
    "ledger_head",
    "master_key_check",
}
VENDOR_TABLES = {"vendors", "operators", "float_movements", "transaction_parties", "advices"}


def test_the_orm_classes_are_mapped_onto_the_core_tables() -> None:
    assert models.Base.metadata is tables.metadata
    mapped = {
        cls.__table__.name: cls.__table__
        for cls in (
            models.SupplyGroup,
            models.VendingKeyRecord,
            models.Customer,
            models.TariffRecord,
            models.Meter,
            models.Transaction,
            models.TokenRecord,
            models.MigrationBatch,
            models.KeyChangeOrderRecord,
            models.LedgerEntry,
            models.LedgerHead,
            models.MasterKeyCheck,
        )
    }
    assert set(mapped) == CORE_TABLES
    for name, table in mapped.items():
        assert table is tables.metadata.tables[name], name
        assert table is getattr(tables, name), name
    # Every column of a table is an attribute of its class, under the column's name.
    for cls in (models.Meter, models.Transaction, models.KeyChangeOrderRecord):
        assert set(inspect(cls).columns.keys()) == set(cls.__table__.c.keys())


def test_the_metadata_holds_the_vendor_tables_once_their_module_is_imported() -> None:
    assert vending.vendor_models.Vendor.__table__ is tables.metadata.tables["vendors"]
    assert set(tables.metadata.tables) == CORE_TABLES | VENDOR_TABLES


def test_importing_the_tables_loads_no_orm() -> None:
    probe = (
        "import sys, vending.tables\n"
        "print(sorted(m for m in sys.modules if m.startswith(('sqlalchemy.orm', "
        "'vending.models'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
