"""Issue 7 regressions in the vending library, on SQLite and PostgreSQL.

Each case was found by the issue's tests: an amount that made a vend run for
minutes, a number or string that came back as a foreign exception or was stored
on one engine and refused by the other, a lock timeout that leaked SQLAlchemy's
error, and a split that the simulated meter's register could not hold. Each is
now refused with one sentence (the project's own error) before any work, and
nothing is written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from conftest import TEST_MASTER_KEY, VECTOR_DK, VECTOR_SGC, VECTOR_VK, Clock

import sts
from sts.crypto.keys import VendingKey
from sts.meter.config import DEFAULT_ENERGY_MAX_KWH
from sts.meter.meter import Meter as SimulatedMeter
from sts.results import ResultCode
from vending import registry, vend
from vending.backend import Backend
from vending.db import Database, open_database, sqlite_file
from vending.errors import PaymentError, StorageError, VendingError
from vending.models import Customer, LedgerEntry, TariffRecord, Transaction
from vending.tariff import Block, FixedCharge, Tariff

DK = sts.DecoderKey.from_hex(VECTOR_DK)
ZAR = Tariff("Home", "ZAR", (Block(None, Decimal("1.50")),))


def count(database: Database, model: type) -> int:
    with database.read_sessions() as session:
        return session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def nothing_written(database: Database) -> bool:
    """No vend reached the ledger (registering the tariff and meter wrote entries of their own)."""
    with database.read_sessions() as session:
        vend_entries = session.execute(
            sa.select(sa.func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.transaction_id.is_not(None))
        ).scalar_one()
    return count(database, Transaction) == 0 and vend_entries == 0


@pytest.fixture
def home_meter(backend: Backend) -> str:
    from conftest import register_vector_meter

    registry.add_tariff(backend, ZAR)
    return register_vector_meter(backend, tariff="Home")


# --- unbounded work ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("money", "units"),
    [
        ("1000000000000000", None),  # 1e15 as typed digits
        ("1000000000000000000000000000000", None),  # 1e30
        (None, "100000000000000000000"),  # 1e20 kWh
        (Decimal("1e15"), None),
        (None, Decimal("1e20")),
    ],
)
def test_huge_vends_are_refused_by_the_ceiling_naming_the_limit(
    backend: Backend, database: Database, home_meter: str, money: object, units: object
) -> None:
    with pytest.raises(PaymentError, match="above the limit of"):
        vend.vend_credit(backend, home_meter, money=money, units=units)  # type: ignore[arg-type]
    assert nothing_written(database)


def test_the_ceiling_is_checked_before_the_write_lock(
    database_url: str, backend: Backend, home_meter: str
) -> None:
    # Another writer holds the ledger: a vend that had to wait for it would fail with a
    # lock error; one refused for its amount never asks for the lock.
    with _held(database_url):
        with pytest.raises(PaymentError, match="above the limit of 1000000000000"):
            vend.vend_credit(backend, home_meter, money="1000000000000000")
        with pytest.raises(PaymentError, match="above the limit of 100000000 kWh"):
            vend.vend_credit(backend, home_meter, units="100000000000000000000")


def test_a_tariff_price_of_1e_30_is_refused() -> None:
    with pytest.raises(VendingError, match=r"price per kWh 1E-30 is not at least 0\.000001"):
        Block(None, Decimal("1e-30"))


def test_cheap_energy_is_refused_above_the_per_vend_limit(
    backend: Backend, database: Database
) -> None:
    # The cheapest price allowed, 0.000001/kWh: the step line rounds to the cent, so 10.00
    # pays for every kWh whose line rounds to 10.00 or less, below 10.005 / 0.000001 =
    # 10,005,000 kWh: 10,004,999.9 kWh, above the default limit of 2,000,000 kWh.
    from conftest import register_vector_meter

    registry.add_tariff(backend, Tariff("Cheap", "ZAR", (Block(None, Decimal("0.000001")),)))
    drn = register_vector_meter(backend, tariff="Cheap")
    with pytest.raises(
        PaymentError,
        match=r"buys 10004999\.9 kWh, above the limit of 2000000 kWh per vend of tariff 'Cheap'$",
    ):
        vend.vend_credit(backend, drn, money="10")
    assert nothing_written(database)


def test_the_per_vend_limit_is_a_tariff_setting(backend: Backend, database: Database) -> None:
    from conftest import register_vector_meter

    small = Tariff("Small", "ZAR", (Block(None, Decimal(1)),), max_vend_kwh=Decimal(100))
    assert Tariff.from_dict(small.to_dict()) == small
    assert small.to_dict()["max_vend_kwh"] == "100"
    registry.add_tariff(backend, small)
    drn = register_vector_meter(backend, tariff="Small")
    with pytest.raises(
        PaymentError,
        match=r"energy 100\.1 kWh, above the limit of 100 kWh per vend of tariff 'Small'",
    ):
        vend.vend_credit(backend, drn, units="100.1")
    # 100.00 at 1.00/kWh is exactly the limit.
    assert vend.vend_credit(backend, drn, money="100").units == 1000


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (lambda: Block(None, Decimal("1e308")), r"price per kWh 1E\+308 is above the limit"),
        (lambda: Block(Decimal("1e308"), Decimal(1)), r"step end 1E\+308 kWh is above the"),
        (lambda: FixedCharge("Rent", Decimal("1e308")), r"'Rent' amount 1E\+308 is above the"),
        ({"free_units_kwh": Decimal("1e308")}, "free basic units 1E[+]308 kWh is above"),
        ({"max_vend_kwh": Decimal("1e9")}, r"maximum kWh per vend 1000000000 kWh is above"),
        ({"max_token_kwh": Decimal(2_000_000)}, r"maximum kWh per token 2000000 kWh is above"),
        ({"max_vend_kwh": Decimal(1000), "max_token_kwh": Decimal(1)}, "more than 100 tokens"),
        ({"name": "T" * 10_000}, r"'TTTT.*\(10000 characters\) is 10000 characters long"),
        ({"name": "Home\x00"}, "control character U[+]0000"),
    ],
)
def test_tariff_figures_have_bounds(changes: object, message: str) -> None:
    with pytest.raises(VendingError, match=message) as caught:
        if callable(changes):
            changes()
        else:
            Tariff(**{**ZAR.__dict__, **changes})  # type: ignore[arg-type, dict-item]
    assert len(str(caught.value)) < 200


def test_money_with_1e308_or_1e400_or_inf_is_refused_in_one_sentence(
    backend: Backend, database: Database, home_meter: str
) -> None:
    for money in ("1e308", "1e400", "inf", "nan", "1_000", "\u0661\u0660\u0660"):
        with pytest.raises(PaymentError, match="payment") as caught:
            vend.vend_credit(backend, home_meter, money=money)
        assert "\n" not in str(caught.value)
    with pytest.raises(PaymentError, match="above the limit"):
        vend.vend_credit(backend, home_meter, money=Decimal("1e400"))
    with pytest.raises(PaymentError, match=r"energy .* is above the limit"):
        vend.vend_credit(backend, home_meter, units=Decimal("1e308"))
    assert nothing_written(database)


# --- debt ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("debt", "message"),
    [
        ("1e308", "not written as a plain decimal"),
        (Decimal("1e308"), r"debt 1E\+308 is above the limit of 1000000000000"),
        (Decimal("0.000001"), r"debt 0\.000001 has more than 2 decimal places"),
        ("-5", "debt -5 is not at least zero"),
    ],
)
def test_debt_is_bounded_before_the_database(
    backend: Backend, database: Database, debt: object, message: str
) -> None:
    with pytest.raises(PaymentError, match=message):
        registry.set_customer(backend, "Bob", debt)  # type: ignore[arg-type]
    assert count(database, Customer) == 0
    assert registry.set_customer(backend, "Bob", "1000000000000").debt == Decimal(10**12)


# --- text ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("C" * 10_000, r"\(10000 characters\) is 10000 characters long; expected at most 200"),
        ("Bob\x00", "control character U[+]0000"),
        ("Bob\x1b[2J", "control character U[+]001B"),
        ("\ud800", "control character U[+]D800"),
    ],
)
def test_customer_names_are_refused_alike_on_both_engines(
    backend: Backend, database: Database, name: str, message: str
) -> None:
    with pytest.raises(VendingError, match=message):
        registry.set_customer(backend, name)
    assert count(database, Customer) == 0


def test_a_long_or_nul_tariff_name_is_refused_on_both_engines(
    backend: Backend, database: Database
) -> None:
    for name in ("T" * 10_000, "T\x00"):
        with pytest.raises(VendingError, match="tariff name"):
            registry.add_tariff(backend, Tariff(name, "ZAR", ZAR.blocks))
        with pytest.raises(VendingError, match="tariff name"):
            registry.get_tariff(backend, name)
    assert count(database, TariffRecord) == 0


def test_a_1mb_reference_is_not_echoed_whole(
    backend: Backend, database: Database, home_meter: str
) -> None:
    reference = "r" * 1_000_000
    for call in (
        lambda: vend.vend_credit(backend, home_meter, money="50", reference=reference),
        lambda: vend.reprint(backend, reference=reference),
        lambda: vend.reverse(backend, reference),
    ):
        with pytest.raises(VendingError, match=r"\(1000000 characters\)") as caught:
            call()
        assert len(str(caught.value)) < 200
    with pytest.raises(VendingError, match=r"U\+0000"):
        vend.vend_credit(backend, home_meter, money="50", reference="till\x00")
    assert nothing_written(database)


# --- lock timeouts -------------------------------------------------------------------------


@contextmanager
def _held(url: str) -> Iterator[None]:
    """Another writer holding the database: SQLite's write lock, or PostgreSQL's tables."""
    path = sqlite_file(url)
    if path is not None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
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
                "LOCK TABLE meters, customers, transactions IN ACCESS EXCLUSIVE MODE"
            )
            yield
            connection.rollback()
    finally:
        engine.dispose()


@pytest.fixture
def impatient(database_url: str, clock: Clock) -> Iterator[Backend]:
    """A backend that waits a tenth of a second for a lock (the default waits longer)."""
    if sqlite_file(database_url) is not None:
        options: dict[str, object] = {"connect_args": {"timeout": 0.1}}
    else:
        options = {"connect_args": {"options": "-c lock_timeout=100"}}
    database = open_database(database_url, **options)
    try:
        import random

        yield Backend.open(database, TEST_MASTER_KEY, clock, random.Random(7))
    finally:
        database.dispose()


def test_a_lock_timeout_is_a_storage_error_from_every_vending_function(
    database_url: str, backend: Backend, home_meter: str, impatient: Backend
) -> None:
    vend.vend_credit(backend, home_meter, money="50", reference="first")
    calls = {
        "vend_credit": lambda: vend.vend_credit(impatient, home_meter, money="50"),
        "reverse": lambda: vend.reverse(impatient, "first"),
        "set_customer": lambda: registry.set_customer(impatient, "Bob", "10"),
    }
    with _held(database_url):
        for name, call in calls.items():
            with pytest.raises(StorageError, match="nothing was written") as caught:
                call()
            assert not isinstance(caught.value, sa.exc.SQLAlchemyError), name
            assert caught.value.__cause__ is None, name


# --- meter and vending agree ---------------------------------------------------------------


def test_the_default_token_limit_is_the_simulated_meters_register() -> None:
    from vending import limits

    assert limits.DEFAULT_MAX_TOKEN_KWH == DEFAULT_ENERGY_MAX_KWH == Decimal("999999.9")


def test_a_2_000_000_kwh_vend_gives_tokens_the_meter_accepts(
    backend: Backend, clock: Clock
) -> None:
    from conftest import register_vector_meter

    big = Tariff("Big", "ZAR", (Block(None, Decimal(1)),), max_vend_kwh=Decimal(3_000_000))
    registry.add_tariff(backend, big)
    drn = register_vector_meter(backend, tariff="Big")
    receipt = vend.vend_credit(backend, drn, units="2000000")
    # 20,000,000 units at most 9,999,999 a token, each exact in the amount field:
    # 1,818,624 + 8,181 x 1000 = 9,999,624 twice, then 752 (worked in vending.tariff).
    assert [t.units for t in receipt.tokens] == [9_999_624, 9_999_624, 752]
    meter = SimulatedMeter.manufacture(
        drn=drn,
        manufactured=clock.now - timedelta(days=1),
        vending_key=VendingKey.from_hex(VECTOR_VK),
        sgc=VECTOR_SGC,
        base_date=1993,
    )
    first = meter.enter_token(receipt.tokens[0].digits, clock.now + timedelta(minutes=1))
    assert first.result is ResultCode.ACCEPT
    # The old split, 18,201,624 units on one token, overflows the same empty meter.
    old = sts.TransferCredit.for_units(
        sts.CreditKind.ELECTRICITY, 18_201_624, receipt_tid(receipt, 0), 0
    )
    fresh = SimulatedMeter.manufacture(
        drn=drn,
        manufactured=clock.now - timedelta(days=1),
        vending_key=VendingKey.from_hex(VECTOR_VK),
        sgc=VECTOR_SGC,
        base_date=1993,
    )
    digits = sts.encode(old, DK)
    assert fresh.enter_token(digits, clock.now + timedelta(minutes=5)).result is (
        ResultCode.OVERFLOW
    )


def receipt_tid(receipt: object, position: int) -> int:
    token = sts.decode(receipt.tokens[position].digits, DK)  # type: ignore[attr-defined]
    return token.tid  # type: ignore[attr-defined]


def test_a_smaller_register_is_a_tariff_setting(backend: Backend) -> None:
    from conftest import register_vector_meter

    small = Tariff("Small", "ZAR", (Block(None, Decimal(1)),), max_token_kwh=Decimal("99999.9"))
    registry.add_tariff(backend, small)
    drn = register_vector_meter(backend, tariff="Small")
    # 99,999.9 kWh is 999,999 units; the largest exact amount not above it is
    # 180,224 + 8,197 x 100 = 999,924, so 200,000 kWh (2,000,000 units) is
    # 999,924 + 999,924 + 152 units.
    receipt = vend.vend_credit(backend, drn, units="200000")
    assert [t.units for t in receipt.tokens] == [999_924, 999_924, 152]


def test_the_tariff_dict_is_unchanged_for_default_limits() -> None:
    assert "max_vend_kwh" not in ZAR.to_dict() and "max_token_kwh" not in ZAR.to_dict()
