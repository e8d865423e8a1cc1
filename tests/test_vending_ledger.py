"""The keyed ledger against someone who can write to the database (issue 7).

Every test runs on SQLite and PostgreSQL (the ``backend`` fixture). The sales below write
these entries: 1 the vending key, 2 the tariff, 3 the customer (debt 0), 4 the meter,
5 the customer's debt set to 100, then one entry per vend: 6 ("s1"), 7 ("s2"), 8 ("s3").

Each test plays one tampering kind with plain SQL (what a database writer can do) and
asserts what ``verify`` says. Two kinds are caught only against a checkpoint, by design:
truncating the newest entries together with their transactions, tokens and state, and a
wipe of every table back to an empty database; and one is never caught: a writer who
holds the master key. Those tests assert exactly that.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal

import pytest
from conftest import TEST_MASTER_KEY, Clock
from sqlalchemy import delete, select, text, update

from vending import ledger, ledger_check, registry, vend
from vending.backend import Backend
from vending.checkpoint import Checkpoint
from vending.db import Database
from vending.errors import KeyStoreError, PaymentError, VendingError
from vending.keystore import MasterKey, ledger_key
from vending.ledger import GENESIS_HASH
from vending.models import (
    Customer,
    LedgerEntry,
    LedgerHead,
    MasterKeyCheck,
    Meter,
    TariffRecord,
    TokenRecord,
    Transaction,
    VendingKeyRecord,
)
from vending.tariff import Block, Tariff

TARIFF = Tariff("Flat", "ZAR", (Block(None, Decimal(2)),), debt_recovery_percent=Decimal(10))
LEDGER_KEY = hmac.new(bytes(range(32)), b"sts-ledger-chain/v1", hashlib.sha256).digest()


@pytest.fixture
def sales(backend: Backend, clock: Clock) -> Backend:
    from conftest import VECTOR_SGC, VECTOR_VK

    from sts.crypto.keys import VendingKey

    registry.add_vending_key(backend, "ctsa-krn1", VendingKey.from_hex(VECTOR_VK), VECTOR_SGC,
                             krn=1, kt=2, base_date=1993)  # fmt: skip
    registry.add_tariff(backend, TARIFF)
    registry.add_meter(backend, "00000000000", VECTOR_SGC, tariff="Flat", customer="Bob")
    registry.set_customer(backend, "Bob", Decimal(100))
    for number in (1, 2, 3):
        clock.advance(minutes=1)
        vend.vend_credit(backend, "00000000000", money=str(number * 10), reference=f"s{number}")
    return backend


def check(backend: Backend, **options: object) -> ledger_check.LedgerCheck:
    return ledger_check.verify(backend, **options)  # type: ignore[arg-type]


def tamper(database: Database, *statements: object) -> None:
    with database.sessions.begin() as session:
        for statement in statements:
            session.execute(statement)  # type: ignore[call-overload]


def entries(database: Database) -> list[LedgerEntry]:
    with database.read_sessions() as session:
        return list(session.execute(select(LedgerEntry).order_by(LedgerEntry.seq)).scalars())


def test_each_entry_is_an_hmac_of_its_number_time_link_and_body(
    sales: Backend, database: Database
) -> None:
    rows = entries(database)
    assert [e.seq for e in rows] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert rows[0].prev_hash == GENESIS_HASH
    # The derived key, worked here from its definition rather than taken from the code.
    assert ledger_key(TEST_MASTER_KEY) == LEDGER_KEY
    for before, entry in zip([None, *rows[:-1]], rows, strict=True):
        prev = GENESIS_HASH if before is None else before.hash
        message = f"{entry.seq}\n{entry.created_at.isoformat()}\n{prev}\n{entry.body}"
        assert entry.prev_hash == prev
        assert entry.hash == hmac.new(LEDGER_KEY, message.encode(), hashlib.sha256).hexdigest()
        assert entry.hash != hashlib.sha256((prev + entry.body).encode()).hexdigest()
    s2 = json.loads(rows[6].body)
    assert (s2["entry"], s2["reference"], s2["money"], s2["kind"]) == ("transaction", "s2",
                                                                        "20", "credit")  # fmt: skip
    with database.read_sessions() as session:
        stored = session.execute(text("SELECT details FROM transactions WHERE id = 2"))
        details_text = stored.scalar_one()
    if not isinstance(details_text, str):  # psycopg parses json; PostgreSQL keeps the text
        with database.read_sessions() as session:
            details_text = session.execute(
                text("SELECT CAST(details AS TEXT) FROM transactions WHERE id = 2")
            ).scalar_one()
    assert json.loads(details_text)["breakdown"]["tendered"] == "20.00"
    assert s2["details_sha256"] == hashlib.sha256(details_text.encode()).hexdigest()
    assert s2["customer"] == "Bob" and s2["debt_recovered"] == "2"
    assert s2["state"]["last_tid"] == s2["tokens"][0]["tid"]
    assert [json.loads(rows[i].body)["entry"] for i in range(5)] == [
        "vending-key", "tariff", "customer", "meter", "customer"]  # fmt: skip
    with database.read_sessions() as session:
        head = session.get_one(LedgerHead, 1)
    assert (head.seq, head.hash, head.legacy_seq) == (8, rows[-1].hash, 0)
    result = check(sales)
    assert result.ok, result.problems
    assert (result.entries, result.legacy_entries, result.not_covered) == (8, 0, 0)


# --- the chain ----------------------------------------------------------------------------


def test_an_edited_body_is_found(sales: Backend, database: Database) -> None:
    rows = entries(database)
    body = rows[6].body.replace('"money":"20"', '"money":"2000"')
    tamper(database, update(LedgerEntry).where(LedgerEntry.seq == 7).values(body=body))
    problems = check(sales).problems
    assert "entry 7: altered (its hash does not match its contents)" in problems
    assert any(
        p.startswith("transaction 's2' differs from ledger entry 7 (money)") for p in problems
    )


def test_an_edit_with_the_old_unkeyed_hash_recomputed_is_found(
    sales: Backend, database: Database
) -> None:
    entry = entries(database)[6]
    body = entry.body.replace('"money":"20"', '"money":"2000"')
    digest = hashlib.sha256((entry.prev_hash + body).encode()).hexdigest()
    tamper(
        database,
        update(LedgerEntry).where(LedgerEntry.seq == 7).values(body=body, hash=digest),
        update(LedgerEntry).where(LedgerEntry.seq == 8).values(prev_hash=digest),
    )
    assert "entry 7: altered (its hash does not match its contents)" in check(sales).problems


def test_a_full_rewrite_with_every_hash_recomputed_without_the_master_key_is_found(
    sales: Backend, database: Database
) -> None:
    """The writer rewrites every entry and the head with a key of their own choosing."""
    forged_key = hashlib.sha256(b"a guess").digest()
    prev = GENESIS_HASH
    statements = []
    for entry in entries(database):
        body = entry.body.replace('"money":"20"', '"money":"2"')
        message = f"{entry.seq}\n{entry.created_at.isoformat()}\n{prev}\n{body}"
        digest = hmac.new(forged_key, message.encode(), hashlib.sha256).hexdigest()
        statements.append(
            update(LedgerEntry)
            .where(LedgerEntry.seq == entry.seq)
            .values(body=body, prev_hash=prev, hash=digest)
        )
        prev = digest
    statements.append(update(LedgerHead).values(hash=prev))
    tamper(database, *statements)
    problems = check(sales).problems
    altered = [p for p in problems if "altered" in p]
    assert len(altered) == 8
    assert not any("previous-entry" in p or "head" in p for p in problems)


def test_a_deleted_entry_is_found(sales: Backend, database: Database) -> None:
    tamper(database, delete(LedgerEntry).where(LedgerEntry.seq == 7))
    problems = check(sales).problems
    assert "entry 7 missing: deleted from the ledger" in problems
    assert "1 transactions have no ledger entry" in problems


def test_a_deleted_last_entry_is_found(sales: Backend, database: Database) -> None:
    tamper(database, delete(LedgerEntry).where(LedgerEntry.seq == 8))
    assert any("head says 8 entries but the last is entry 7" in p for p in check(sales).problems)


def test_reordered_entries_are_found(sales: Backend, database: Database) -> None:
    rows = entries(database)
    tamper(
        database,
        update(LedgerEntry).where(LedgerEntry.seq == 6).values(body=rows[6].body),
        update(LedgerEntry).where(LedgerEntry.seq == 7).values(body=rows[5].body),
    )
    problems = check(sales).problems
    assert "entry 6: altered (its hash does not match its contents)" in problems
    assert "entry 7: altered (its hash does not match its contents)" in problems


def test_an_edited_entry_time_is_found(sales: Backend, database: Database, clock: Clock) -> None:
    tamper(
        database,
        update(LedgerEntry)
        .where(LedgerEntry.seq == 7)
        .values(created_at=clock.now.replace(year=2023)),
    )
    assert check(sales).problems == ("entry 7: altered (its hash does not match its contents)",)


@pytest.mark.parametrize("body", ["not json {", "[1, 2]", "", '{"v": 1}'])
def test_a_body_that_is_not_a_ledger_entry_is_reported_as_altered(
    sales: Backend, database: Database, body: str
) -> None:
    tamper(database, update(LedgerEntry).where(LedgerEntry.seq == 7).values(body=body))
    problems = check(sales).problems
    assert "entry 7: altered (its hash does not match its contents)" in problems
    assert "entry 7: altered (its body is not a ledger entry)" in problems


# --- what the entries record ---------------------------------------------------------------


def test_edited_transaction_details_are_found(sales: Backend, database: Database) -> None:
    """A reprint shows the breakdown from ``details``: an altered "tendered" is found."""
    with database.sessions.begin() as session:
        txn = session.execute(
            select(Transaction).where(Transaction.client_reference == "s2")
        ).scalar_one()
        details = json.loads(json.dumps(txn.details))
        details["breakdown"]["tendered"] = "200.00"
        txn.details = details
    assert vend.reprint(sales, "s2").breakdown.tendered == Decimal("200.00")  # type: ignore[union-attr]
    assert check(sales).problems == ("transaction 's2' differs from ledger entry 7 (details)",)


def test_edited_transaction_amounts_and_tokens_are_found(
    sales: Backend, database: Database
) -> None:
    tamper(
        database,
        update(Transaction).where(Transaction.client_reference == "s1").values(money=Decimal(1)),
        update(TokenRecord).where(TokenRecord.transaction_id == 2).values(digits="1" * 20),
    )
    assert check(sales).problems == (
        "transaction 's1' differs from ledger entry 6 (money)",
        "transaction 's2' differs from ledger entry 7 (tokens)",
    )


def test_an_edited_customer_debt_is_found(sales: Backend, database: Database) -> None:
    # 100, less 10% of each payment: 1 + 2 + 3 recovered.
    with database.read_sessions() as session:
        assert session.execute(select(Customer.debt)).scalar_one() == Decimal(94)
    tamper(database, update(Customer).values(debt=Decimal(0)))
    assert check(sales).problems == ("customer 'Bob': debt is 0.00000 but the ledger says 94",)


def test_an_edited_last_tid_or_key_revision_is_found(sales: Backend, database: Database) -> None:
    with database.read_sessions() as session:
        last = session.execute(select(Meter.last_tid)).scalar_one()
    tamper(database, update(Meter).values(last_tid=last - 5, key_revision=2))
    assert check(sales).problems == (
        "meter 00000000000: key_revision is 2 but the ledger says 1",
        f"meter 00000000000: last_tid is {last - 5} but the ledger says {last}",
    )


def test_a_changed_tariff_or_tariff_assignment_is_found(sales: Backend, database: Database) -> None:
    tamper(
        database,
        update(TariffRecord).values(definition={**TARIFF.to_dict(), "blocks": []}),
        update(Meter).values(tariff_id=None),
    )
    assert check(sales).problems == (
        "meter 00000000000: tariff is None but the ledger says 'Flat'",
        "tariff 'Flat': its definition differs from the ledger's",
    )


def test_a_replaced_or_unretired_vending_key_is_found(sales: Backend, database: Database) -> None:
    registry.retire_vending_key(sales, "ctsa-krn1")
    assert check(sales).ok
    tamper(database, update(VendingKeyRecord).values(retired_at=None, sealed=b"\0" * 36))
    assert check(sales).problems == (
        "vending key 'ctsa-krn1': its record differs from the ledger's",
    )


def test_a_transaction_removed_or_added_behind_the_ledger_is_found(
    sales: Backend, database: Database
) -> None:
    tamper(
        database,
        update(LedgerEntry).where(LedgerEntry.seq == 8).values(transaction_id=None),
        delete(TokenRecord).where(TokenRecord.transaction_id == 3),
        delete(Transaction).where(Transaction.id == 3),
    )
    assert check(sales).problems == (
        "entry 8: its transaction 's3' is missing (deleted, or unlinked from the entry)",
    )


def test_rows_added_behind_vending_are_found(
    sales: Backend, database: Database, clock: Clock
) -> None:
    tamper(
        database,
        update(Meter).values(drn="01000000009"),
        text(
            "INSERT INTO customers (name, debt, created_at) VALUES ('Eve', 500000, :at)"
        ).bindparams(at=clock.now.replace(tzinfo=None)),
    )
    problems = check(sales).problems
    assert "meter 01000000009 is in no ledger entry: it was written outside vending" in problems
    assert "meter 00000000000 is in the ledger but was deleted from the meters table" in problems
    assert any(p.startswith("customer 'Eve' (debt 5") for p in problems)


# --- truncation, wipes and checkpoints -----------------------------------------------------


def _truncate_to(database: Database, seq: int) -> None:
    """What a careful writer does: drop the newest entries with their transactions, tokens
    and state changes, and set the head and the meter back to entry ``seq``."""
    rows = entries(database)
    kept = rows[seq - 1]
    txn_ids = [e.transaction_id for e in rows[seq:] if e.transaction_id is not None]
    state = json.loads(kept.body)["state"]
    with database.read_sessions() as session:
        debt = session.execute(select(Customer.debt)).scalar_one()
    recovered = sum(Decimal(json.loads(e.body)["debt_recovered"]) for e in rows[seq:])
    tamper(
        database,
        delete(LedgerEntry).where(LedgerEntry.seq > seq),
        delete(TokenRecord).where(TokenRecord.transaction_id.in_(txn_ids)),
        delete(Transaction).where(Transaction.id.in_(txn_ids)),
        update(LedgerHead).values(seq=seq, hash=kept.hash, prev=kept.prev_hash),
        update(Meter).values(last_tid=state["last_tid"]),
        update(Customer).values(debt=debt + recovered),
    )


def test_truncating_the_tail_is_caught_only_against_a_later_checkpoint(
    sales: Backend, database: Database
) -> None:
    checkpoint, _ = ledger_check.take_checkpoint(sales)
    assert (checkpoint.seq, checkpoint.hash) == (8, entries(database)[-1].hash)
    _truncate_to(database, 6)
    # By design: a shorter chain that agrees with every table is still a valid chain.
    assert check(sales).ok
    problems = check(sales, checkpoint=checkpoint).problems
    assert "the ledger head is at entry 6, before checkpoint entry 8: entries were removed " \
        "(truncated or wiped)" in problems  # fmt: skip
    assert "checkpoint entry 8 is missing: entries up to it were removed or changed" in problems
    assert check(sales, checkpoint=checkpoint, since=True).problems[:2] == (
        "the ledger head is at entry 6, before checkpoint entry 8: entries were removed "
        "(truncated or wiped)",
        "checkpoint entry 8 is missing: entries up to it were removed or changed",
    )


def test_a_wipe_to_genesis_that_keeps_the_meters_is_found(
    sales: Backend, database: Database
) -> None:
    tamper(
        database,
        delete(LedgerEntry),
        delete(TokenRecord),
        delete(Transaction),
        update(LedgerHead).values(seq=0, hash=GENESIS_HASH, prev=GENESIS_HASH),
    )
    problems = check(sales).problems
    assert "meter 00000000000 is in no ledger entry: it was written outside vending" in problems
    assert (
        "vending key 'ctsa-krn1' is in no ledger entry: it was written outside vending" in problems
    )


def test_a_wipe_of_everything_is_caught_only_against_a_checkpoint(
    sales: Backend, database: Database
) -> None:
    checkpoint, _ = ledger_check.take_checkpoint(sales)
    tamper(
        database,
        delete(LedgerEntry),
        delete(TokenRecord),
        delete(Transaction),
        delete(Meter),
        delete(Customer),
        delete(TariffRecord),
        delete(VendingKeyRecord),
        delete(MasterKeyCheck),
        update(LedgerHead).values(seq=0, hash=GENESIS_HASH, prev=GENESIS_HASH),
    )
    assert check(sales).ok  # by design: an empty database is a valid one
    assert "the ledger head is at entry 0, before checkpoint entry 8: entries were removed " \
        "(truncated or wiped)" in check(sales, checkpoint=checkpoint).problems  # fmt: skip


def test_a_rewrite_by_a_writer_holding_the_master_key_is_not_caught(
    sales: Backend, database: Database
) -> None:
    """By design: the master key is what tells vending from a forger."""
    prev = GENESIS_HASH
    statements = []
    for entry in entries(database):
        body = entry.body.replace('"debt":"100"', '"debt":"90"')
        digest = ledger.entry_hash(LEDGER_KEY, entry.seq, entry.created_at.isoformat(), prev, body)
        statements.append(
            update(LedgerEntry)
            .where(LedgerEntry.seq == entry.seq)
            .values(body=body, prev_hash=prev, hash=digest)
        )
        prev = digest
    statements += [update(LedgerHead).values(hash=prev), update(Customer).values(debt=Decimal(84))]
    tamper(database, *statements)
    assert check(sales).ok


def test_checkpoints_are_signed_and_since_walks_only_what_came_after(
    sales: Backend, database: Database, clock: Clock
) -> None:
    checkpoint, text_ = ledger_check.take_checkpoint(sales)
    assert Checkpoint.from_text(text_, TEST_MASTER_KEY) == checkpoint
    forged = text_.replace('"seq": 8', '"seq": 7')
    with pytest.raises(KeyStoreError, match="not signed under master key"):
        Checkpoint.from_text(forged, TEST_MASTER_KEY)
    with pytest.raises(KeyStoreError, match="not signed under master key"):
        Checkpoint.from_text(text_, MasterKey(bytes(32)))
    for junk in ("", "[]", '{"format": "x"}', "x" * 5000):
        with pytest.raises(VendingError):
            Checkpoint.from_text(junk, TEST_MASTER_KEY)
    clock.advance(minutes=1)
    vend.vend_credit(sales, "00000000000", money="5", reference="s4")
    full = check(sales, checkpoint=checkpoint)
    assert full.ok and full.entries == 9
    after = check(sales, checkpoint=checkpoint, since=True)
    assert after.ok and (after.entries, after.since) == (1, 8)
    # An edit before the checkpoint is outside what --since walks but not outside what it
    # proves: the checkpoint entry's hash still has to match ...
    tamper(database, update(LedgerEntry).where(LedgerEntry.seq == 8).values(hash="0" * 64))
    assert "checkpoint entry 8 has another hash: entries up to it were removed or changed" in (
        check(sales, checkpoint=checkpoint, since=True).problems
    )


def test_a_checkpoint_is_refused_from_a_ledger_that_does_not_verify(
    sales: Backend, database: Database
) -> None:
    tamper(database, update(Customer).values(debt=Decimal(0)))
    with pytest.raises(VendingError, match="no checkpoint was taken"):
        ledger_check.take_checkpoint(sales)


def test_verify_refuses_another_master_key(
    sales: Backend, database: Database, clock: Clock
) -> None:
    import random

    other = Backend.open(database, MasterKey(bytes(32)), clock, random.Random(1))
    with pytest.raises(KeyStoreError, match="is not this database's master key"):
        ledger_check.verify(other)


def test_a_failed_vend_leaves_the_ledger_as_it_was(sales: Backend, database: Database) -> None:
    from vending.tariff import FixedCharge

    registry.add_tariff(sales, Tariff("Fixed", "ZAR", (Block(None, 2),),
                                      fixed_charges=(FixedCharge("Service", 50),)))  # fmt: skip
    registry.update_meter(sales, "00000000000", tariff="Fixed")
    with database.read_sessions() as session:
        before = session.get_one(LedgerHead, 1).hash
    with pytest.raises(PaymentError):
        vend.vend_credit(sales, "00000000000", money="40")
    with database.read_sessions() as session:
        assert session.get_one(LedgerHead, 1).hash == before
    assert check(sales).ok


def test_values_of_the_wrong_type_are_reported_not_raised(
    sales: Backend, database: Database
) -> None:
    """SQLite keeps whatever a writer stores, whatever the column's type."""
    if database.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL refuses text in integer and timestamp columns itself")
    tamper(
        database,
        text("UPDATE transactions SET money = 'lots', created_at = 'yesterday' WHERE id = 1"),
        text("UPDATE ledger_entries SET created_at = 'soon' WHERE seq = 7"),
    )
    problems = check(sales).problems
    assert "entry 7: altered (its hash does not match its contents)" in problems
    assert "transaction 's1' differs from ledger entry 6 (at, money)" in problems


@pytest.mark.parametrize(
    "change",
    [
        [],  # the clean ledger
        [delete(LedgerEntry).where(LedgerEntry.seq == 3)],  # the last of the first range
        [
            delete(LedgerEntry).where(LedgerEntry.seq == 4),  # the first of the second range
            update(Customer).values(debt=Decimal(1)),
            update(Meter).values(last_tid=5),
        ],
    ],
)
def test_ranges_walked_by_several_processes_find_what_one_finds(
    sales: Backend, database: Database, monkeypatch: pytest.MonkeyPatch, change: list[object]
) -> None:
    """8 entries over 3 processes: ranges 1-3, 4-6 and 7-8, merged in order."""
    monkeypatch.setattr(ledger_check, "PARALLEL_FROM", 1)
    tamper(database, *change)
    one = check(sales)
    three = check(sales, workers=3)
    assert (three.entries, three.transactions, three.ok) == (one.entries, one.transactions, one.ok)
    assert sorted(three.problems) == sorted(one.problems)
    if change:
        assert one.problems
    with pytest.raises(VendingError, match="workers 0 is not a whole number"):
        check(sales, workers=0)


# --- vendors, operators and floats -----------------------------------------------------------


@pytest.fixture
def vendor_sales(backend: Backend, clock: Clock) -> Backend:
    """Vendor Acme (float 500, credit limit 50) sells 100.00 and 30.00 to one meter, the
    30.00 sale is reversed, and a supervisor refunds 20.00 of the first (back to the
    float): 500 - 100 - 30 + 30 + 20 = 420."""
    from conftest import register_vector_meter

    from vending import refunds, sales, vendors

    registry.add_tariff(backend, Tariff("Flat", "ZAR", (Block(None, Decimal(2)),)))
    meter = register_vector_meter(backend, tariff="Flat")
    vendors.add_vendor(backend, "Acme", credit_limit="50")
    vendors.top_up(backend, "Acme", "500", note="float")
    till = vendors.authenticate(
        backend, vendors.add_operator(backend, "Acme", "till", "vend").api_key
    )
    boss = vendors.authenticate(
        backend, vendors.add_operator(backend, "Acme", "boss", "supervise").api_key
    )
    clock.advance(minutes=1)
    sales.purchase(backend, till, "p1", meter, money="100")
    sales.purchase(backend, till, "p2", meter, money="30")
    sales.reverse(backend, boss, "p2")
    refunds.refund(backend, boss, "p1", "20", "overcharged")
    vendors.revoke_operator(backend, "Acme", "till")
    assert vendors.get_vendor(backend, "Acme").balance == Decimal(420)
    return backend


def test_vendor_sales_reversals_refunds_and_operators_verify(vendor_sales: Backend) -> None:
    result = ledger_check.verify(vendor_sales)
    assert result.ok, result.problems
    assert result.not_covered == 0


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("UPDATE vendors SET balance = balance + 100000", "vendor 'Acme': float is 421 but"),
        ("UPDATE vendors SET credit_limit = 500000000", "vendor 'Acme': credit limit is 5000"),
        # the sale of 100.00 (stored in units of 0.00001) made to cost 10.00
        (
            "UPDATE float_movements SET amount = -1000000, balance_after = balance_after + 9000000"
            " WHERE kind = 'sale' AND amount = -10000000",
            "does not match its transaction",
        ),
        (
            "UPDATE float_movements SET balance_after = balance_after + 100000"
            " WHERE kind = 'refund'",
            "its balance after is not the balance before it plus its amount",
        ),
        ("UPDATE float_movements SET kind = 'topup' WHERE kind = 'refund'", "does not match"),
        ("DELETE FROM float_movements WHERE kind = 'topup'", "float movement 1 of the ledger is"),
        ("UPDATE operators SET role = 'administer' WHERE name = 'till'", "operator 'till'"),
        ("UPDATE operators SET revoked_at = NULL WHERE name = 'till'", "operator 'till'"),
        ("UPDATE operators SET key_hash = 'ab' || substr(key_hash, 3)", "operator 'boss'"),
    ],
)
def test_an_edited_float_or_operator_is_found(
    vendor_sales: Backend, database: Database, change: str, problem: str
) -> None:
    with database.sessions.begin() as session:
        if change.startswith("DELETE"):
            session.execute(text("UPDATE vendors SET balance = balance - 50000000"))
        session.execute(text(change))
    result = ledger_check.verify(vendor_sales)
    assert any(problem in p for p in result.problems), result.problems
