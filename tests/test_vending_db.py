"""The vending database: created and upgraded by Alembic only, errors that name the URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import vending.vendor_models  # noqa: F401  (the vendor tables, in Base.metadata)
from vending.db import (
    current_revision,
    head_revision,
    make_engine,
    open_database,
    redact,
    sqlite_file,
    sqlite_url,
    upgrade,
)
from vending.errors import StorageError
from vending.models import Base


def test_a_fresh_sqlite_file_is_created_once(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()  # no folder is made for a URL (tests/test_startup_db.py)
    url = sqlite_url(tmp_path / "sub" / "vending.sqlite")
    first = open_database(url)
    first.dispose()
    second = open_database(url)
    second.dispose()
    assert (first.created, second.created) == (True, False)
    assert first.location == str(tmp_path / "sub" / "vending.sqlite")
    assert (tmp_path / "sub" / "vending.sqlite").is_file()


def test_the_schema_alembic_builds_is_the_models_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


@pytest.mark.parametrize("empty_database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_database_without_schema_must_be_upgraded_first(empty_database_url: str) -> None:
    with pytest.raises(StorageError, match="sts db upgrade"):
        open_database(empty_database_url, create=False)
    engine = make_engine(empty_database_url)
    try:
        assert upgrade(engine) == (None, head_revision())
        assert upgrade(engine) == (head_revision(), head_revision())
    finally:
        engine.dispose()
    opened = open_database(empty_database_url, create=False)
    opened.dispose()
    assert opened.created is False


def test_an_unreachable_server_is_named_without_its_password() -> None:
    url = "postgresql://vendor:s3cret@127.0.0.1:1/ledger"
    with pytest.raises(StorageError, match="cannot reach the database") as caught:
        open_database(url)
    assert "s3cret" not in str(caught.value)
    assert "vendor:***@127.0.0.1:1/ledger" in str(caught.value)


def test_a_url_that_is_not_a_url_is_refused() -> None:
    with pytest.raises(StorageError, match="not a SQLAlchemy URL"):
        open_database("just some words")


def test_url_helpers() -> None:
    assert redact("postgresql://a:b@h/d") == "postgresql://a:***@h/d"
    assert sqlite_file("sqlite:////tmp/x.sqlite") == Path("/tmp/x.sqlite")
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("postgresql://h/d") is None
