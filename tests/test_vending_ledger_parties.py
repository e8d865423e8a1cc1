"""Who sold, in the ledger: a vendor transaction's parties and vendors' advices are chained,
a database writer who changes them is caught by verify, and `sts db adopt` records the rows
an earlier version left out (SQLite and PostgreSQL).

The "Flat" tariff costs 2.00 a kWh and nothing else, so a sale of money M costs the float M.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from click.testing import CliRunner
from conftest import VECTOR_SGC, Clock, register_vector_meter
from sqlalchemy import delete, insert, select, update

from cli import main
from vending import ledger_check, refunds, registry, sales, vend, vendors
from vending.backend import Backend
from vending.db import Database
from vending.models import LedgerEntry, Transaction
from vending.tariff import Block, Tariff
from vending.vendor_models import Advice, FloatMovement, Operator, TransactionParty, Vendor

#: conftest.TEST_MASTER_KEY as STS_MASTER_KEY gives it.
MASTER_HEX = bytes(range(32)).hex()
FLAT = Tariff(name="Flat", currency="ZAR", blocks=(Block(None, Decimal("2.00")),))
LIFELINE = Tariff("Lifeline", "ZAR", (Block(None, Decimal("2.00")),), free_units_kwh=Decimal(50))
_P, _M, _V, _A = (m.__table__ for m in (TransactionParty, FloatMovement, Vendor, Advice))


def _principal(backend: Backend, vendor: str, name: str, role: str) -> vendors.Principal:
    return vendors.authenticate(backend, vendors.add_operator(backend, vendor, name, role).api_key)


def _txn_id(database: Database, reference: str) -> int:
    with database.read_sessions() as session:
        return session.execute(
            select(Transaction.id).where(Transaction.client_reference == reference)
        ).scalar_one()


def _id(database: Database, model: type, name: str) -> int:
    with database.read_sessions() as session:
        return session.execute(select(model.id).where(model.name == name)).scalar_one()  # type: ignore[attr-defined]


def _sql(database: Database, *statements: object) -> None:
    with database.sessions.begin() as session:
        for statement in statements:
            session.execute(statement)  # type: ignore[call-overload]


def _problems(backend: Backend) -> list[str]:
    return list(ledger_check.verify(backend).problems)


@pytest.fixture
def shop(backend: Backend, clock: Clock) -> tuple[Backend, vendors.Principal, vendors.Principal]:
    """Bank (float 500) and Mobile (float 100); Bank's till sold 40.00 as "sale-1" (confirmed)
    and 10.00 as "sale-2"; a shell vend "shell-1" of 10.00."""
    registry.add_tariff(backend, FLAT)
    drn = register_vector_meter(backend, tariff="Flat")
    vend.vend_credit(backend, drn, money="10", reference="shell-1")
    for name, amount in (("Bank", "500"), ("Mobile", "100")):
        vendors.add_vendor(backend, name)
        vendors.top_up(backend, name, amount)
    till = _principal(backend, "Bank", "till-1", "vend")
    boss = _principal(backend, "Bank", "boss", "administer")
    clock.advance(minutes=1)
    sales.purchase(backend, till, "sale-1", drn, money="40")
    sales.confirm(backend, till, "sale-1")
    clock.advance(minutes=1)
    sales.purchase(backend, till, "sale-2", drn, money="10")
    assert ledger_check.verify(backend).ok
    return backend, till, boss


def test_every_vendor_transaction_chains_its_parties(
    shop: tuple[Backend, vendors.Principal, vendors.Principal], database: Database, clock: Clock
) -> None:
    backend, till, boss = shop
    clock.advance(minutes=1)
    sales.reverse(backend, till, "sale-2")  # a reversal
    clock.advance(minutes=1)
    refunds.refund(backend, boss, "sale-1", "5", "short delivery")  # a credit note
    clock.advance(minutes=1)
    sales.management(backend, boss, "test-1", "00000000000", "meter_test")
    registry.add_tariff(backend, LIFELINE)
    registry.add_meter(backend, "01000000008", VECTOR_SGC, krn=1, tariff="Lifeline")
    clock.advance(minutes=1)
    sales.free_units(backend, till, "free-1", "01000000008")
    with database.read_sessions() as session:
        rows = session.execute(
            select(Transaction.kind, Transaction.client_reference, Transaction.details)
            .order_by(Transaction.id)
        ).all()
    seen = [(kind, ref, details.get("parties")) for kind, ref, details in rows]
    bank = "Bank"
    assert seen == [
        ("credit", "shell-1", None),  # not made through a vendor
        ("credit", "v1:sale-1", {"vendor": bank, "operator": "till-1", "client_id": "sale-1"}),
        ("credit", "v1:sale-2", {"vendor": bank, "operator": "till-1", "client_id": "sale-2"}),
        ("reversal", None, {"vendor": bank, "operator": "till-1", "client_id": "sale-2"}),
        ("credit-note", "refund:v1:sale-1",
         {"vendor": bank, "operator": "boss", "client_id": "sale-1"}),
        ("test", "v1:test-1", {"vendor": bank, "operator": "boss", "client_id": "test-1"}),
        ("free-units", "v1:free-1", {"vendor": bank, "operator": "till-1", "client_id": "free-1"}),
    ]  # fmt: skip
    assert ledger_check.verify(backend).ok
    # The reversal's and the refund's parties are checked like a sale's.
    mobile = _id(database, Vendor, "Mobile")
    for reference in (None, "refund:v1:sale-1"):
        with database.read_sessions() as session:
            txn = session.execute(
                select(Transaction.id).where(
                    Transaction.kind == ("reversal" if reference is None else "credit-note")
                )
            ).scalar_one()
        _sql(database, update(_P).where(_P.c.transaction_id == txn).values(vendor_id=mobile))
        problems = _problems(backend)
        _sql(database, update(_P).where(_P.c.transaction_id == txn).values(vendor_id=1))
        assert any(
            "vendor 'Mobile'" in p and "differs from what its ledger entry records" in p
            for p in problems
        ), problems
    assert ledger_check.verify(backend).ok


def test_an_advice_is_an_entry_of_its_own_written_once(
    shop: tuple[Backend, vendors.Principal, vendors.Principal], database: Database
) -> None:
    backend, till, _boss = shop

    def advice_entries() -> list[dict[str, object]]:
        with database.read_sessions() as session:
            bodies = session.execute(select(LedgerEntry.body).order_by(LedgerEntry.seq)).scalars()
            return [b for b in map(json.loads, bodies) if b["entry"] == "advice"]

    assert [(b["client_id"], b["advice"], b["operator"]) for b in advice_entries()] == [
        ("sale-1", "confirm", "till-1")
    ]
    sales.confirm(backend, till, "sale-1")  # again: nothing new
    sales.reverse(backend, till, "early-1")  # before its purchase: an advice
    assert [(b["client_id"], b["advice"]) for b in advice_entries()] == [
        ("sale-1", "confirm"),
        ("early-1", "reversal"),
    ]
    assert ledger_check.verify(backend).ok


def _move_sale_to_mobile(database: Database) -> None:
    """Move Bank's 40.00 sale to Mobile and rewrite both floats and the movements to match:
    Bank 500 - 40 - 10 = 450 becomes 460; Mobile 100 becomes 60."""
    sale = _txn_id(database, "v1:sale-1")
    mobile = _id(database, Vendor, "Mobile")
    _sql(
        database,
        update(_P).where(_P.c.transaction_id == sale).values(vendor_id=mobile),
        update(_M).where(_M.c.transaction_id == sale).values(
            vendor_id=mobile, balance_after=Decimal(60)
        ),
        # Bank's later sale: 500 - 10
        update(_M).where(_M.c.transaction_id == _txn_id(database, "v1:sale-2")).values(
            balance_after=Decimal(490)
        ),
        update(_V).where(_V.c.name == "Bank").values(balance=Decimal(490)),
        update(_V).where(_V.c.name == "Mobile").values(balance=Decimal(60)),
    )


def _other_operator(database: Database) -> None:
    _sql(
        database,
        update(_P)
        .where(_P.c.transaction_id == _txn_id(database, "v1:sale-1"))
        .values(operator_id=_id(database, Operator, "boss")),
    )


def _delete_parties_row(database: Database) -> None:
    _sql(database, delete(_P).where(_P.c.transaction_id == _txn_id(database, "v1:sale-2")))


def _insert_parties_row(database: Database) -> None:
    _sql(
        database,
        insert(_P).values(
            transaction_id=_txn_id(database, "shell-1"),
            vendor_id=_id(database, Vendor, "Mobile"),
            operator_id=None,
            client_id="shell-1",
            day=date(2024, 3, 1),
        ),
    )


def _edit_advice(database: Database) -> None:
    _sql(database, update(_A).values(operator_id=_id(database, Operator, "boss")))


def _delete_advice(database: Database) -> None:
    # Without its confirm advice the sale could be reversed, its money back on the float.
    _sql(database, delete(_A))


def _insert_advice(database: Database) -> None:
    _sql(
        database,
        insert(_A).values(
            vendor_id=_id(database, Vendor, "Bank"),
            operator_id=None,
            client_id="sale-2",
            kind="confirm",
            created_at=Clock()(),
        ),
    )


TAMPERING: dict[str, tuple[Callable[[Database], None], str]] = {
    "move a sale to another vendor, both floats rewritten": (
        _move_sale_to_mobile,
        "the parties row of transaction 'v1:sale-1' (vendor 'Mobile', operator 'till-1', client "
        "id 'sale-1') differs from what its ledger entry records (vendor 'Bank', operator "
        "'till-1', client id 'sale-1')",
    ),
    "change the operator": (
        _other_operator,
        "the parties row of transaction 'v1:sale-1' (vendor 'Bank', operator 'boss', client id "
        "'sale-1') differs from what its ledger entry records (vendor 'Bank', operator "
        "'till-1', client id 'sale-1')",
    ),
    "delete a parties row": (
        _delete_parties_row,
        "transaction 'v1:sale-2' was made through vendor 'Bank' (ledger entry",
    ),
    "insert a parties row": (
        _insert_parties_row,
        "the parties row of transaction 'shell-1' (vendor 'Mobile', operator None, client id "
        "'shell-1') is in no ledger entry: it was written outside vending",
    ),
    "edit an advice": (
        _edit_advice,
        "confirm advice 'sale-1' of vendor 'Bank' differs from the ledger's (operator 'till-1')",
    ),
    "delete an advice": (
        _delete_advice,
        "confirm advice 'sale-1' of vendor 'Bank' is in the ledger but was deleted",
    ),
    "insert an advice": (
        _insert_advice,
        "confirm advice 'sale-2' of vendor 'Bank' is in no ledger entry",
    ),
}


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_each_tampering_of_who_sold_is_found(
    shop: tuple[Backend, vendors.Principal, vendors.Principal], database: Database, kind: str
) -> None:
    backend = shop[0]
    change, expected = TAMPERING[kind]
    change(database)
    problems = _problems(backend)
    assert any(p.startswith(expected) for p in problems), problems


# --- adoption ---------------------------------------------------------------------------------


def _old_rows(database: Database, clock: Clock) -> None:
    """What a version that chained no vendor rows left: vendor "Old" with a top-up of 100
    and a sale of the shell vend's 10.00 (float 90), its operator, its parties row and a
    confirm advice, all written with plain SQL."""
    now = clock()
    sale = _txn_id(database, "shell-1")
    with database.sessions.begin() as session:
        vendor = session.execute(
            insert(_V).values(name="Old", balance=Decimal(90), credit_limit=0, created_at=now)
            .returning(_V.c.id)
        ).scalar_one()  # fmt: skip
        operator = session.execute(
            insert(Operator.__table__).values(
                vendor_id=vendor, name="old-till", role="vend", key_id="0" * 16,
                key_hash="1" * 64, created_at=now,
            ).returning(Operator.__table__.c.id)
        ).scalar_one()  # fmt: skip
        for kind, amount, after, txn in (("topup", 100, 100, None), ("sale", -10, 90, sale)):
            session.execute(
                insert(_M).values(
                    vendor_id=vendor, operator_id=operator, kind=kind, amount=Decimal(amount),
                    balance_after=Decimal(after), transaction_id=txn, note="", day=now.date(),
                    created_at=now,
                )
            )  # fmt: skip
        session.execute(
            insert(_P).values(transaction_id=sale, vendor_id=vendor, operator_id=operator,
                              client_id="old-1", day=now.date())
        )  # fmt: skip
        session.execute(
            insert(_A).values(vendor_id=vendor, operator_id=operator, client_id="old-1",
                              kind="confirm", created_at=now)
        )  # fmt: skip


def _adopt(database_url: str, *args: str) -> object:
    result = CliRunner().invoke(
        main,
        ["db", "adopt", *args],
        env={"STS_DATABASE_URL": database_url, "STS_MASTER_KEY": MASTER_HEX},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def _old_ledger(backend: Backend, database: Database, clock: Clock) -> None:
    """A sale from the shell, then the rows an earlier version wrote without entries."""
    registry.add_tariff(backend, FLAT)
    register_vector_meter(backend, tariff="Flat")
    vend.vend_credit(backend, "00000000000", money="10", reference="shell-1")
    _old_rows(database, clock)


def test_adopt_records_the_rows_an_earlier_version_left_out_once(
    backend: Backend, database: Database, database_url: str, clock: Clock
) -> None:
    _old_ledger(backend, database, clock)
    problems = _problems(backend)
    assert sorted(p.split(" is in no ledger entry")[0] for p in problems) == [
        "confirm advice 'old-1' of vendor 'Old'",
        "float movement 1 (topup) of vendor 'Old'",
        "operator 'old-till' of vendor 'Old'",
        "the parties row of transaction 'shell-1' (vendor 'Old', operator 'old-till', client "
        "id 'old-1')",
        "vendor 'Old'",
    ]
    head = ledger_check.verify(backend).head_seq
    adopted = _adopt(database_url, "--json")
    assert adopted == {
        "adopted": 5, "vendors": 1, "float_movements": 1, "operators": 1, "parties": 1,
        "advices": 1, "head": head + 4,  # the vendor's entry records its top-up too
    }  # fmt: skip
    assert ledger_check.verify(backend).ok
    assert _adopt(database_url) == "Nothing to adopt: every vendor row is in a ledger entry\n"
    assert ledger_check.verify(backend).head_seq == head + 4
    # Adopted rows are checked from then on like any other.
    _sql(database, update(_P).values(client_id="old-2"))
    assert any(
        "differs from what the ledger records" in p for p in _problems(backend)
    ), _problems(backend)


def test_adopt_text_and_a_wrong_master_key(
    backend: Backend, database: Database, database_url: str, clock: Clock
) -> None:
    _old_ledger(backend, database, clock)
    wrong = CliRunner().invoke(
        main,
        ["db", "adopt"],
        env={"STS_DATABASE_URL": database_url, "STS_MASTER_KEY": "ab" * 32},
    )
    assert wrong.exit_code == 1
    assert "is not this database's master key" in wrong.output
    assert "Traceback" not in wrong.output
    assert not ledger_check.verify(backend).ok  # nothing was written
    text = _adopt(database_url)
    assert text.startswith(
        "Adopted 5 rows into the ledger (1 vendor, 1 top-up or adjustment, 1 operator, "
        "1 sale's parties, 1 advice); the head is entry "
    ), text
