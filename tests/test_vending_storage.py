"""The storage layer under the vend: how SQLite transactions begin, and schema revision 0002."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import TEST_MASTER_KEY, VECTOR_DRN, Clock, register_vector_meter
from sqlalchemy import func, select, text

import vending.vendor_models  # noqa: F401  (the vendor tables, in Base.metadata)
from vending import vend
from vending.backend import Backend
from vending.db import (
    Database,
    current_revision,
    head_revision,
    make_engine,
    open_database,
    redact,
    sqlite_url,
    upgrade,
)
from vending.errors import StorageError
from vending.models import Base, Transaction


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    opened = open_database(sqlite_url(tmp_path / "vending.sqlite"))
    try:
        yield opened
    finally:
        opened.dispose()


def test_a_sqlite_write_transaction_holds_the_write_lock_from_its_start(
    sqlite_db: Database,
) -> None:
    database, path = sqlite_db, sqlite_db.location
    with database.sessions.begin() as session:
        session.execute(text("SELECT 1"))  # a read, no write yet
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # free again once committed
    other.execute("ROLLBACK")
    other.close()


def test_a_sqlite_reader_keeps_its_snapshot_and_does_not_block_a_vend(
    sqlite_db: Database,
) -> None:
    database = sqlite_db
    backend = Backend.open(database, TEST_MASTER_KEY, Clock(), random.Random(1))
    register_vector_meter(backend)
    count = select(func.count()).select_from(Transaction)
    with database.read_sessions() as session:
        assert session.execute(count).scalar_one() == 0
        vend.vend_credit(backend, VECTOR_DRN, units="1", reference="during-a-report")
        assert session.execute(count).scalar_one() == 0  # one transaction: one snapshot
    with database.read_sessions() as session:
        assert session.execute(count).scalar_one() == 1


def test_only_pythons_sqlite3_driver_is_accepted(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="names SQLite driver 'pysqlcipher'"):
        make_engine(f"sqlite+pysqlcipher:///{tmp_path / 'x.sqlite'}")


def test_sqlite_urls_are_shown_as_given(sqlite_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "vending.sqlite"
    assert redact(sqlite_db.engine.url) == f"sqlite:///{path}"
    assert sqlite_db.location == str(path)


@pytest.mark.parametrize("empty_database_url", ["sqlite", "postgresql"], indirect=True)
def test_revision_0002_upgrades_a_0001_database(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        assert upgrade(engine, "0001") == (None, "0001")
        assert upgrade(engine, "0002") == ("0001", "0002")
        assert current_revision(engine) == "0002"
        assert upgrade(engine) == ("0002", head_revision())
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
