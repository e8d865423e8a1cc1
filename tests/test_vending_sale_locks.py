"""How long a sale holds the rows every sale needs, and that holding them briefly loses nothing.

A purchase through a vendor locks two rows all its vendor's sales share: the float
(``vendors``) and the ledger head. From the statement that takes them to the commit
they stay locked, so that stretch is kept to as few round trips as possible: on
PostgreSQL one statement takes both (float first, then head) and only the ledger
entry follows it before the commit. These tests hold that shape, and the guarantee
it must keep: a reversal advice that cancels the client id while the purchase waits
for the float's row still cancels it.

Figures worked by hand on the "Flat" tariff: 2.00 per kWh, nothing else.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from conftest import TEST_MASTER_KEY, register_vector_meter
from sqlalchemy import event, func, select, text

from vending import registry, sales, vendors
from vending.backend import Backend
from vending.errors import ConflictError
from vending.ledger_check import verify_connection
from vending.ledger_parties import record_advice
from vending.models import Transaction
from vending.tariff import Block, Tariff
from vending.vendor_models import Advice, FloatMovement, Vendor

FLAT = Tariff(name="Flat", currency="ZAR", blocks=(Block(None, Decimal("2.00")),))
#: How many times the test looks for the purchase waiting on the lock (20 ms apart) before
#: it gives up: a bound against a hang, not a time the purchase must meet.
LOOKS = 1500


def _seed(backend: Backend, float_: str = "100") -> tuple[str, vendors.Principal]:
    registry.add_tariff(backend, FLAT)
    meter = register_vector_meter(backend, tariff="Flat")
    vendors.add_vendor(backend, "Bank")
    vendors.top_up(backend, "Bank", float_)
    key = vendors.add_operator(backend, "Bank", "till", "vend").api_key
    return meter, vendors.authenticate(backend, key)


def _statements(backend: Backend) -> tuple[list[str], Any]:
    """Record each statement's first words (and COMMIT) on the backend's write engine."""
    seen: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
        seen.append(" ".join(sql.split()[:4]))

    def commit(_conn: Any) -> None:
        seen.append("COMMIT")

    event.listen(backend.engine, "before_cursor_execute", statement)
    event.listen(backend.engine, "commit", commit)

    def stop() -> None:
        event.remove(backend.engine, "before_cursor_execute", statement)
        event.remove(backend.engine, "commit", commit)

    return seen, stop


def test_a_purchase_locks_float_and_head_in_one_statement_then_one_more(
    backend: Backend,
) -> None:
    meter, till = _seed(backend)
    sales.purchase(backend, till, "warm", meter, money="10")  # first use: master key check
    seen, stop = _statements(backend)
    try:
        sale = sales.purchase(backend, till, "p-1", meter, money="10")
    finally:
        stop()
    assert sale.balance_after == Decimal(80)
    charge = [i for i, words in enumerate(seen) if "vendors" in words or "party" in words]
    if backend.engine.dialect.name == "postgresql":
        # The float's charge is the statement "WITH party AS (...)"; after it only the
        # ledger entry, then the commit.
        assert len(charge) == 1
        assert seen[charge[0]].startswith("WITH party AS")
        assert seen[charge[0] + 1 :] == ["WITH head_hash AS (UPDATE", "COMMIT"]
    else:
        # SQLite holds its one write lock for the whole transaction anyway: the float's
        # charge still comes after everything that does not need it.
        assert seen[-1] == "COMMIT"
        updates = [words for words in seen if words.startswith("UPDATE vendors")]
        assert len(updates) == 1
    with backend.read_sessions() as session:
        assert verify_connection(session.connection(), TEST_MASTER_KEY).ok


def test_refused_for_float_leaves_nothing(backend: Backend) -> None:
    meter, till = _seed(backend, float_="15")
    sales.purchase(backend, till, "a", meter, money="10")
    with pytest.raises(
        vendors.InsufficientFloat,
        match=r"has 5\.00 available \(float 5\.00, credit limit 0\.00\); the sale needs 10\.00",
    ):
        sales.purchase(backend, till, "b", meter, money="10")
    with backend.read_sessions() as session:
        refs = session.execute(select(Transaction.client_reference)).scalars().all()
        assert [ref for ref in refs if ref and ref.endswith(":b")] == []
        assert session.execute(select(Vendor.balance)).scalar_one() == Decimal(5)
        assert verify_connection(session.connection(), TEST_MASTER_KEY).ok
    # The head did not move for the refused sale: the next one chains on.
    assert sales.purchase(backend, till, "c", meter, money="5").balance_after == 0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_reversal_advice_committed_while_the_purchase_waits_cancels_it(
    backend: Backend,
) -> None:
    """The advice's transaction holds the float's row; the purchase waits on it inside its
    charging statement, whose snapshot predates the advice. The entry's statement, after
    the lock, must see the advice and write nothing."""
    meter, till = _seed(backend)
    outcome: dict[str, BaseException | sales.Sale] = {}

    def buy() -> None:
        try:
            outcome["sale"] = sales.purchase(backend, till, "raced", meter, money="10")
        except BaseException as exc:  # handed to the test thread
            outcome["error"] = exc

    holder = backend.engine.connect()
    # pg_stat_activity is read afresh only outside a transaction: a connection of its own.
    watcher = backend.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        holder.begin()
        holder.execute(select(Vendor.balance).with_for_update())
        buyer = threading.Thread(target=buy)
        buyer.start()
        for _ in range(LOOKS):
            waiting = watcher.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND query LIKE 'WITH party AS%'"
                )
            ).scalar_one()
            if waiting or not buyer.is_alive():
                break
            time.sleep(0.02)
        assert waiting == 1, "the purchase never waited on the float's row"
        advice = holder.execute(
            Advice.__table__.insert()
            .values(
                vendor_id=till.vendor_id,
                operator_id=till.operator_id,
                client_id="raced",
                kind=vendors.REVERSAL,
                created_at=backend.now(),
            )
            .returning(Advice.__table__.c.id)
        ).scalar_one()
        # and its ledger entry, as vending.sales.reverse writes them
        record_advice(holder, backend.ledger_key(holder), advice, backend.now())
        holder.commit()
    finally:
        holder.close()
        watcher.close()
    buyer.join()
    assert isinstance(outcome.get("error"), ConflictError), outcome
    assert "reversal advice" in str(outcome["error"])
    with backend.read_sessions() as session:
        assert session.execute(select(Vendor.balance)).scalar_one() == Decimal(100)
        assert session.execute(select(func.count()).select_from(Transaction)).scalar_one() == 0
        sales_rows = session.execute(
            select(func.count()).select_from(FloatMovement).where(FloatMovement.kind == "sale")
        ).scalar_one()
        assert sales_rows == 0
        assert verify_connection(session.connection(), TEST_MASTER_KEY).ok
    # The head did not move: the next purchase chains on and verifies.
    assert sales.purchase(backend, till, "next", meter, money="10").balance_after == 90
    with backend.read_sessions() as session:
        assert verify_connection(session.connection(), TEST_MASTER_KEY).ok
