"""The hash-chained ledger: a clean chain verifies; edits and deletions are found."""

from __future__ import annotations

import hashlib
import json

import pytest
from conftest import Clock
from sqlalchemy import delete, select, update

from vending import ledger, vend
from vending.backend import Backend
from vending.db import Database
from vending.errors import PaymentError
from vending.ledger import GENESIS_HASH
from vending.models import LedgerEntry, LedgerHead, TokenRecord, Transaction


@pytest.fixture
def three_sales(backend: Backend, vector_meter: str, clock: Clock) -> Backend:
    for number in (1, 2, 3):
        vend.vend_credit(backend, vector_meter, units=str(number * 10), reference=f"s{number}")
        clock.advance(minutes=1)
    return backend


def check(database: Database) -> ledger.LedgerCheck:
    with database.read_sessions() as session:
        return ledger.verify(session)


def test_each_entry_hashes_the_one_before_and_its_own_body(
    three_sales: Backend, database: Database
) -> None:
    with database.read_sessions() as session:
        entries = session.execute(select(LedgerEntry).order_by(LedgerEntry.seq)).scalars().all()
        head = session.get(LedgerHead, 1)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS_HASH
    for before, entry in zip([None, *entries[:-1]], entries, strict=True):
        prev = GENESIS_HASH if before is None else before.hash
        assert entry.prev_hash == prev
        assert entry.hash == hashlib.sha256((prev + entry.body).encode()).hexdigest()
    body = json.loads(entries[1].body)
    assert (body["reference"], body["energy_kwh"], body["kind"]) == ("s2", "20", "credit")
    assert entries[1].body == json.dumps(body, sort_keys=True, separators=(",", ":"))
    assert head is not None and (head.seq, head.hash) == (3, entries[2].hash)
    assert check(database).ok


def test_an_edited_entry_is_found(three_sales: Backend, database: Database) -> None:
    with database.sessions.begin() as session:
        entry = session.get_one(LedgerEntry, 2)
        entry.body = entry.body.replace('"energy_kwh":"20"', '"energy_kwh":"2000"')
    result = check(database)
    assert not result.ok
    assert any("entry 2: body or hash edited" in p for p in result.problems)


def test_an_edited_entry_with_a_recomputed_hash_breaks_the_next_link(
    three_sales: Backend, database: Database
) -> None:
    with database.sessions.begin() as session:
        entry = session.get_one(LedgerEntry, 2)
        entry.body = entry.body.replace('"energy_kwh":"20"', '"energy_kwh":"2000"')
        entry.hash = hashlib.sha256((entry.prev_hash + entry.body).encode()).hexdigest()
    problems = check(database).problems
    assert any(p.startswith("entry 3: previous-entry hash") for p in problems)
    assert any("'s2' differs from ledger entry 2" in p for p in problems)


def test_a_deleted_entry_is_found(three_sales: Backend, database: Database) -> None:
    with database.sessions.begin() as session:
        session.execute(delete(LedgerEntry).where(LedgerEntry.seq == 2))
    problems = check(database).problems
    assert any("entry 2 missing" in p for p in problems)
    assert any("1 transactions have no ledger entry" in p for p in problems)


def test_a_deleted_last_entry_is_found(three_sales: Backend, database: Database) -> None:
    with database.sessions.begin() as session:
        session.execute(delete(LedgerEntry).where(LedgerEntry.seq == 3))
    problems = check(database).problems
    assert any("head says 3 entries but the last is entry 2" in p for p in problems)


def test_an_edited_transaction_is_found(three_sales: Backend, database: Database) -> None:
    with database.sessions.begin() as session:
        session.execute(
            update(TokenRecord)
            .where(TokenRecord.transaction_id == 1)
            .values(digits="12345678901234567890")
        )
    assert check(database).problems == ("transaction 's1' differs from ledger entry 1",)


def test_a_failed_vend_leaves_the_ledger_as_it_was(
    three_sales: Backend, database: Database
) -> None:
    from vending import registry
    from vending.tariff import Block, FixedCharge, Tariff

    registry.add_tariff(
        three_sales,
        Tariff("Flat", "ZAR", (Block(None, 2),), fixed_charges=(FixedCharge("Service", 50),)),
    )
    registry.update_meter(three_sales, "00000000000", tariff="Flat")
    with database.read_sessions() as session:
        before = session.get_one(LedgerHead, 1).hash
    with pytest.raises(PaymentError):
        vend.vend_credit(three_sales, "00000000000", money="40")
    with database.read_sessions() as session:
        assert session.get_one(LedgerHead, 1).hash == before
        assert len(session.execute(select(Transaction.id)).all()) == 3
    assert check(database).ok
