"""A vend interrupted at any point leaves the whole transaction or none of it, on both engines.

Two kinds of interruption, each against a real database:

- **Injected failures.** An exception is raised inside a real vend: after each SQL
  statement the vend sends (an SQLAlchemy ``after_cursor_execute`` hook, so every
  step is covered however the vend is written: the meter lock, the transaction,
  token, meter, customer, key change order and ledger writes), after the TID
  allocation in Python, and from the ``commit`` hook just before the commit is
  sent. After each, every row of every table must be as it was, the ledger must
  verify, and a retry with the same client reference must then succeed once.
- **A killed process.** A child process vends to one meter in a loop and is sent
  SIGKILL at a random moment, several times; each new child first retries the
  reference the last one may have been working on. Every stored transaction must
  then have its token and ledger entry, the chain must verify, every acknowledged
  vend must be there, TIDs must be distinct and every token must decode under
  the meter's published decoder key.

Expected tokens and amounts are worked by hand in the comments.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_MASTER_KEY, VECTOR_DK, VECTOR_DRN, register_vector_meter
from sqlalchemy import Engine, event, func, select

import sts
import vending.vendor_models  # noqa: F401  (the vendor tables, in Base.metadata)
from sts.tokens.credit import TransferCredit
from vending import keychange, ledger_check, registry, vend
from vending.backend import Backend
from vending.db import Database
from vending.models import Base, Customer, LedgerEntry, TokenRecord, Transaction
from vending.receipt import Receipt
from vending.tariff import Block, FixedCharge, Tariff

ROOT = Path(__file__).resolve().parent.parent
DK = sts.DecoderKey.from_hex(VECTOR_DK)
# CTSA05 step 1: the same meter moved to TI 02 gets decoder key 060B8643C59A27F1.
TI2_DK = sts.DecoderKey.from_hex("060B8643C59A27F1")
CTSA05_KCTS = ["51638423060042734509", "15361891762113502242"]
# 2024-03-01 08:00 UTC on the 1993 base (see test_vending_vend.py).
MARCH_TID = 16_390_560

# The worked example of vending.tariff's docstring, on a fresh month with 100.00 owed:
# pay 200.00 -> service charge 12.50; debt 10 % of 187.50 = 18.75 (81.25 left owing);
# 168.75 / 1.15 = 146.74 net: 50 kWh at 1.50 (75.00) + 35.8 kWh at 2.00 (71.60) = 146.60,
# VAT 21.99, total 168.59 (35.9 kWh would make 168.82): 85.8 kWh, 858 units.
TARIFF = Tariff(
    name="Steps",
    currency="ZAR",
    blocks=(Block(Decimal(50), Decimal("1.50")), Block(None, Decimal("2.00"))),
    fixed_charges=(FixedCharge("Service charge", Decimal("12.50")),),
    debt_recovery_percent=Decimal(10),
    vat_percent=Decimal(15),
)
PAYMENT = "200.00"
UNITS_BOUGHT = 858
DEBT_BEFORE = Decimal("100.00")
DEBT_AFTER = Decimal("81.25")


class Injected(Exception):
    """The failure these tests inject; nothing in the code under test catches it."""


def snapshot(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every vending table, in primary key order."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with database.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = connection.execute(select(table).order_by(*table.primary_key.columns))
            tables[table.name] = [tuple(row) for row in rows]
    return tables


def debt_of(database: Database, name: str) -> Decimal:
    with database.read_sessions() as session:
        return session.execute(select(Customer.debt).where(Customer.name == name)).scalar_one()


def verified(database: Database) -> ledger_check.LedgerCheck:
    with database.read_sessions() as session:
        return ledger_check.verify_connection(session.connection(), TEST_MASTER_KEY)


@contextmanager
def fail_after_statement(engine: Engine, number: int) -> Iterator[list[str]]:
    """Raise Injected right after the ``number``-th SQL statement sent; yields those sent."""
    sent: list[str] = []

    def after(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(" ".join(statement.split()))
        if len(sent) == number:
            raise Injected(f"after statement {number}: {sent[-1][:60]}")

    event.listen(engine, "after_cursor_execute", after)
    try:
        yield sent
    finally:
        event.remove(engine, "after_cursor_execute", after)


@contextmanager
def fail_before_commit(engine: Engine) -> Iterator[None]:
    """Raise Injected from the commit hook, which runs before COMMIT reaches the database."""

    def before(_conn: Any) -> None:
        raise Injected("just before commit")

    event.listen(engine, "commit", before)
    try:
        yield
    finally:
        event.remove(engine, "commit", before)


@pytest.fixture
def paying_meter(backend: Backend) -> str:
    """The compliance-test meter on the stepped tariff, its customer owing 100.00, and one
    earlier token (TID MARCH_TID) so the meter's last TID and the ledger head are not empty."""
    registry.add_tariff(backend, TARIFF)
    register_vector_meter(backend)
    registry.update_meter(backend, VECTOR_DRN, tariff=TARIFF.name, customer="Alice")
    registry.set_customer(backend, "Alice", debt=DEBT_BEFORE)
    first = vend.clear_tamper(backend, VECTOR_DRN, reference="first")
    assert sts.decode(first.tokens[0].digits, DK).tid == MARCH_TID  # type: ignore[attr-defined]
    return VECTOR_DRN


def pay(backend: Backend) -> Receipt:
    return vend.vend_credit(backend, VECTOR_DRN, money=PAYMENT, reference="pay-1")


def assert_nothing_written(database: Database, before: dict[str, list[tuple[Any, ...]]]) -> None:
    assert snapshot(database) == before
    check = verified(database)
    assert check.ok, check.problems


def assert_paid_once(backend: Backend, database: Database, receipt: Receipt) -> None:
    """The retried payment: one token of 858 units on the next TID, and 18.75 of debt taken."""
    assert [t.units for t in receipt.tokens] == [UNITS_BOUGHT]
    token = sts.decode(receipt.tokens[0].digits, DK)
    assert isinstance(token, TransferCredit)
    assert (token.units, token.tid) == (UNITS_BOUGHT, MARCH_TID + 1)
    assert debt_of(database, "Alice") == DEBT_AFTER
    assert registry.get_meter(backend, VECTOR_DRN).last_tid == MARCH_TID + 1
    check = verified(database)
    assert check.ok and check.transactions == 2, check.problems
    with database.read_sessions() as session:
        stored = session.execute(
            select(func.count()).select_from(TokenRecord).join(Transaction)
        ).scalar_one()
        assert stored == 2
        assert session.execute(
            select(Transaction.client_reference).order_by(Transaction.id)
        ).scalars().all() == ["first", "pay-1"]


def interrupt_every_statement(
    backend: Backend, database: Database, attempt: Callable[[], Receipt]
) -> tuple[list[str], Receipt]:
    """Run ``attempt`` failing after statement 1, 2, 3, ... until it gets through whole.

    After each failure nothing may have been written. Returns the statements of the
    vend that got through (the one interrupted nowhere) and its receipt.
    """
    before = snapshot(database)
    for number in count(1):
        with fail_after_statement(database.engine, number) as sent:
            try:
                receipt = attempt()
            except Injected:
                assert_nothing_written(database, before)
                continue
        assert number == len(sent) + 1  # the vend sent fewer statements than the trigger
        return sent, receipt
    raise AssertionError("unreachable")


def test_a_vend_failing_after_any_statement_writes_nothing(
    backend: Backend, database: Database, paying_meter: str
) -> None:
    sent, receipt = interrupt_every_statement(backend, database, lambda: pay(backend))
    # Every write of a paid vend was among the statements interrupted after:
    verbs = {" ".join(s.split()[:3]) for s in sent}
    for write in (
        "INSERT INTO transactions",
        "INSERT INTO tokens",
        "UPDATE customers SET",
        "UPDATE meters SET",
        "UPDATE ledger_head SET",
        "INSERT INTO ledger_entries",
    ):
        # (PostgreSQL inserts the entry inside a WITH that also sets the head's hash.)
        assert write in verbs or any(write in " ".join(s.split()) for s in sent), sent
    assert_paid_once(backend, database, receipt)


def test_a_vend_with_a_key_change_failing_after_any_statement_writes_nothing(
    backend: Backend, database: Database, vector_meter: str
) -> None:
    keychange.order_key_change(backend, vector_meter, ti=2)
    sent, receipt = interrupt_every_statement(
        backend,
        database,
        lambda: vend.vend_credit(backend, vector_meter, units="20", reference="kc"),
    )
    assert any(s.startswith("UPDATE key_change_orders") for s in sent), sent
    digits = [t.digits for t in receipt.tokens]
    assert digits[:2] == CTSA05_KCTS
    credit = sts.decode(digits[2], TI2_DK)
    assert isinstance(credit, TransferCredit)
    assert (credit.units, credit.tid) == (200, MARCH_TID)
    meter = registry.get_meter(backend, vector_meter)
    assert (meter.ti, meter.key_revision) == (2, 2)
    assert keychange.list_orders(backend, vector_meter)[0].status == "issued"


def test_a_vend_failing_after_its_tid_is_allocated_writes_nothing(
    backend: Backend, database: Database, paying_meter: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    allocated: list[int] = []
    real = vend.allocate_tid

    def allocate_then_fail(meter: Any, now: datetime) -> int:
        allocated.append(real(meter, now))
        raise Injected("after the TID allocation")

    before = snapshot(database)
    monkeypatch.setattr(vend, "allocate_tid", allocate_then_fail)
    with pytest.raises(Injected):
        pay(backend)
    assert allocated == [MARCH_TID + 1]
    assert_nothing_written(database, before)
    monkeypatch.undo()
    assert_paid_once(backend, database, pay(backend))


def test_a_vend_failing_just_before_commit_writes_nothing(
    backend: Backend, database: Database, paying_meter: str
) -> None:
    before = snapshot(database)
    with fail_before_commit(database.engine), pytest.raises(Injected):
        pay(backend)
    assert_nothing_written(database, before)
    assert_paid_once(backend, database, pay(backend))


# --- a process killed while vending ------------------------------------------------------

ROUNDS = 6
# The child vends 1.5 kWh at a time with its clock stopped at 2024-03-01 08:00 UTC, so the
# TIDs it gets are MARCH_TID, MARCH_TID + 1, ... (each a minute after the last one stored).
CHILD = """
import random, sys
from datetime import UTC, datetime
sys.path.insert(0, sys.argv[1])
from vending import vend
from vending.backend import Backend
from vending.db import open_database
from vending.keystore import MasterKey

url, drn, first = sys.argv[2], sys.argv[3], int(sys.argv[4])
now = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
database = open_database(url, create=False)
backend = Backend.open(database, MasterKey(bytes(range(32))), lambda: now, random.Random())
for number in range(first, first + 1_000_000):
    vend.vend_credit(backend, drn, units="1.5", reference=f"kill-{number}")
    print(number, flush=True)
"""


def _kill_one_child(url: str, first: int, pause: float) -> int:
    """Start a vending child at reference ``first``, kill it ``pause`` s after its first
    acknowledged vend; returns the last reference number it acknowledged."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STS_")}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ROOT), url, VECTOR_DRN, str(first)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    line = child.stdout.readline()  # wait until one vend is committed
    assert line.strip() == str(first), "the child failed before its first vend"
    time.sleep(pause)
    child.send_signal(signal.SIGKILL)
    rest = child.stdout.read().split()
    child.wait()
    assert child.returncode == -signal.SIGKILL
    return int(rest[-1]) if rest else first


def test_a_process_killed_while_vending_leaves_whole_vends(
    database_url: str, backend: Backend, database: Database
) -> None:
    register_vector_meter(backend)
    chance = random.Random(20240301)
    acknowledged = -1
    for _ in range(ROUNDS):
        # Start at the last acknowledged reference + 1: if the killed child had committed
        # that one without saying so, the retry returns it instead of vending again.
        acknowledged = _kill_one_child(database_url, acknowledged + 1, chance.uniform(0, 0.05))

    check = verified(database)
    assert check.ok, check.problems
    with database.read_sessions() as session:
        txns = session.execute(select(Transaction).order_by(Transaction.id)).scalars().all()
        references = [t.client_reference for t in txns]
        assert references == [f"kill-{n}" for n in range(len(txns))]  # none lost, none twice
        assert len(txns) >= acknowledged + 1  # every acknowledged vend is stored
        assert all(len(t.tokens) == 1 for t in txns)
        entries = (
            session.execute(
                select(LedgerEntry.transaction_id).where(LedgerEntry.transaction_id.is_not(None))
            )
            .scalars()
            .all()
        )
        assert sorted(entries) == [t.id for t in txns]
        stored_tids = [t.tokens[0].tid for t in txns]
    decoded = [sts.decode(t.tokens[0].digits, DK) for t in txns]
    assert all(isinstance(t, TransferCredit) and t.units == 15 for t in decoded)
    tids = [t.tid for t in decoded]  # type: ignore[attr-defined]
    assert tids == stored_tids
    assert tids == list(range(MARCH_TID, MARCH_TID + len(txns)))
    assert registry.get_meter(backend, VECTOR_DRN).last_tid == tids[-1]
