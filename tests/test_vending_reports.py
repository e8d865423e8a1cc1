"""Sales reports by day and by meter, with reversals subtracted."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from conftest import TEST_MASTER_KEY, VECTOR_SGC, Clock, register_vector_meter

from vending import ledger_check, registry, reports, vend
from vending.backend import Backend
from vending.db import open_database, sqlite_file
from vending.errors import StorageError, VendingError
from vending.tariff import Block, FixedCharge, Tariff

HOME = Tariff(
    name="Home",
    currency="ZAR",
    blocks=(Block(Decimal(50), Decimal("1.50")), Block(None, Decimal("2.00"))),
    fixed_charges=(FixedCharge("Service charge", Decimal("12.50")),),
    vat_percent=Decimal(15),
)
OTHER = "47500150231"


@pytest.fixture
def sales(backend: Backend, clock: Clock) -> Backend:
    """1 March: 200.00 (charged 199.95, 94 kWh) and 100.00 (99.82, 43.4 kWh) to one meter.
    2 March: 200.00 to another meter (199.95, 94 kWh), then reversed; 5 kWh by units."""
    registry.add_tariff(backend, HOME)
    meter = register_vector_meter(backend, tariff="Home")
    registry.add_meter(backend, OTHER, VECTOR_SGC, krn=1, base_date=1993, tariff="Home")
    vend.vend_credit(backend, meter, money="200.00")
    vend.vend_credit(backend, meter, money="100.00")
    clock.advance(days=1)
    vend.vend_credit(backend, OTHER, money="200.00", reference="other-1")
    vend.reverse(backend, "other-1")
    vend.clear_tamper(backend, meter)  # not a sale
    return backend


def test_sales_by_day(sales: Backend) -> None:
    first, second = reports.sales_by_day(sales)
    assert (first.key, first.vends, first.reversals) == ("2024-03-01", 2, 0)
    assert (first.money, first.energy_kwh) == (Decimal("299.77"), Decimal("137.4"))
    assert (second.key, second.vends, second.reversals) == ("2024-03-02", 1, 1)
    assert (second.money, second.energy_kwh) == (0, 0)
    assert second.to_dict()["money"] == "0.00"


def test_sales_by_meter_and_period(sales: Backend) -> None:
    by_meter = {s.key: s for s in reports.sales_by_meter(sales)}
    assert by_meter["00000000000"].money == Decimal("299.77")
    assert by_meter[OTHER].vends == 1 and by_meter[OTHER].money == 0
    only_second = reports.sales_by_meter(sales, since=date(2024, 3, 2))
    assert [s.key for s in only_second] == [OTHER]
    with pytest.raises(VendingError, match="ends"):
        reports.sales_by_day(sales, since=date(2024, 3, 2), until=date(2024, 3, 1))


def test_verify_through_reports(sales: Backend) -> None:
    result = reports.verify_ledger(sales)
    assert result.ok and result.transactions == 5


# VAT worked by hand (15% on energy, the service charge untaxed): 1 March, 200.00 pays
# 12.50 + 163.00 net energy (50 kWh at 1.50, 44 kWh at 2.00) + 24.45 VAT = 199.95; 100.00
# pays 43.4 kWh at 2.00 = 86.80 + 13.02 VAT = 99.82. VAT 37.47 that day; the 2 March vend
# (VAT 24.45) is reversed the same day, so that day's VAT is 0.


def test_sales_have_vat_levies_and_totals(sales: Backend) -> None:
    report = reports.sales(sales, "day")
    first, second = report.rows
    assert (first.vat, first.levies, first.currency) == (Decimal("37.47"), 0, "ZAR")
    assert (second.vat, second.money) == (0, 0)
    (total,) = report.totals
    assert (total.key, total.vends, total.reversals) == ("total", 3, 1)
    assert (total.money, total.vat, total.energy_kwh) == (
        Decimal("299.77"),
        Decimal("37.47"),
        Decimal("137.4"),
    )
    assert total.to_dict()["levies"] == "0.00"


def test_sales_by_month(sales: Backend) -> None:
    (march,) = reports.sales(sales, "month").rows
    assert (march.key, march.vends, march.reversals) == ("2024-03", 3, 1)
    assert (march.money, march.vat) == (Decimal("299.77"), Decimal("37.47"))


def test_levies_are_reported_apart_from_vat(backend: Backend) -> None:
    # The demo's tariff: 250.00 pays 15.00 service, 200.84 net energy, 2% levy 4.02 and
    # 15% VAT 30.13 (on energy and levy), 0.01 change (worked by hand in test_vending_cli).
    from vending import demo

    registry.add_tariff(backend, demo.DEMO_TARIFF)
    meter = register_vector_meter(backend, tariff=demo.DEMO_TARIFF.name)
    vend.vend_credit(backend, meter, money="250.00")
    (row,) = reports.sales(backend, "meter").rows
    assert (row.money, row.vat, row.levies) == (
        Decimal("249.99"),
        Decimal("30.13"),
        Decimal("4.02"),
    )


def test_sales_grouping_is_checked(sales: Backend) -> None:
    with pytest.raises(VendingError, match="expected one of day, month, meter"):
        reports.sales(sales, "week")


# --- a database that will not let the report read -------------------------------------------


@contextmanager
def _read_blocked(url: str) -> Iterator[None]:
    """Another connection holding the database so that no one else may read it: SQLite's
    exclusive locking mode (taken while no other connection is open), or PostgreSQL's
    ACCESS EXCLUSIVE locks on the tables the reports and verify stream."""
    path = sqlite_file(url)
    if path is not None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("PRAGMA locking_mode=EXCLUSIVE")
        other.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    engine = sa.create_engine(sa.engine.make_url(url).set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(
                "LOCK TABLE transactions, ledger_entries IN ACCESS EXCLUSIVE MODE"
            )
            yield
            connection.rollback()
    finally:
        engine.dispose()


def test_a_lock_timeout_is_a_storage_error_from_every_report(
    database_url: str, sales: Backend, clock: Clock
) -> None:
    if sqlite_file(database_url) is not None:
        options: dict[str, object] = {"connect_args": {"timeout": 0.1}}
    else:
        options = {"connect_args": {"options": "-c lock_timeout=100"}}
    database = open_database(database_url, **options)
    impatient = Backend.open(database, TEST_MASTER_KEY, clock, random.Random(7))
    calls = {
        "sales": lambda: reports.sales(impatient, "month"),
        "sales_by_day": lambda: reports.sales_by_day(impatient),
        "sales_by_meter": lambda: reports.sales_by_meter(impatient),
        "verify_ledger": lambda: reports.verify_ledger(impatient),
        "verify": lambda: ledger_check.verify(impatient),
        "take_checkpoint": lambda: ledger_check.take_checkpoint(impatient),
    }
    try:
        assert reports.verify_ledger(impatient).ok  # working before the lock
        for each in (sales.database, database):
            each.dispose()  # SQLite: no connection open while the lock is taken
        with _read_blocked(database_url):
            for name, call in calls.items():
                with pytest.raises(StorageError, match=r"busy|failed") as caught:
                    call()
                assert not isinstance(caught.value, sa.exc.SQLAlchemyError), name
                assert caught.value.__cause__ is None, name
        assert reports.sales(impatient, "month").totals  # and working again after
    finally:
        database.dispose()
