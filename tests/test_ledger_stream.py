"""Verify's fast path: PostgreSQL's rendering of table values (vending.ledger_stream)
agrees with the Python writer of ledger bodies, and legitimate vends never fall back.

The expected texts are written by hand or by vending.ledger's writer (Python's json and
amount_text), never by the SQL under test.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from conftest import VECTOR_SGC, VECTOR_VK, Clock
from sqlalchemy import text

from sts.crypto.keys import VendingKey
from vending import ledger, ledger_check, ledger_stream, registry, vend
from vending.backend import Backend
from vending.db import Database
from vending.errors import StorageError
from vending.tariff import Block, Tariff

# stored amount (0.00001s) -> the text a body holds, worked by hand
AMOUNTS = {
    0: "0",
    1: "0.00001",
    -1: "-0.00001",
    10: "0.0001",
    1_250_000: "12.5",
    -300_000: "-3",
    2_000_000: "20",
    123_456_789: "1234.56789",
    100_000_000_000_000_000: "1000000000000",  # AMOUNT_BOUND itself
}
# beyond the bound (the 64-bit edge among them): not rendered, never an error
OUT_OF_RANGE = (ledger_stream.AMOUNT_BOUND + 1, -ledger_stream.AMOUNT_BOUND - 1, -(2**63),
                2**63 - 1)  # fmt: skip
TEXTS = (
    "plain",
    'a "quoted" word',
    "back\\slash",
    "tab\there, new\nline, return\r, feed\f, bell\x07, unit\x1f, delete\x7f",
    "é中文 ✓ \U0001f600 \u2028\u2029",
    "",
)


def _postgres(database: Database) -> None:
    if database.engine.dialect.name != "postgresql":
        pytest.skip("the rendering in SQL is PostgreSQL's (SQLite renders in Python)")


def test_amounts_render_as_the_ledger_writes_them(database: Database) -> None:
    _postgres(database)
    values = list(AMOUNTS) + list(OUT_OF_RANGE)
    sql = f"SELECT {ledger_stream._amount('v')} FROM unnest(CAST(:v AS bigint[])) AS v"
    with database.engine.connect() as connection:
        got = connection.execute(text(sql), {"v": values}).scalars().all()
    assert got == [*AMOUNTS.values(), *(None for _ in OUT_OF_RANGE)]
    for value, shown in AMOUNTS.items():  # and the writer agrees with the hand-worked text
        assert ledger.amount_text(Decimal(value).scaleb(-5)) == shown


def test_texts_and_integers_render_as_canonical_json(database: Database) -> None:
    _postgres(database)
    with database.engine.connect() as connection:
        got = connection.execute(
            text(f"SELECT {ledger_stream._literal('v')} FROM unnest(CAST(:v AS text[])) AS v"),
            {"v": [*TEXTS, None]},
        ).scalars().all()
        numbers = connection.execute(
            text(f"SELECT {ledger_stream._literal('v')} FROM unnest(CAST(:v AS bigint[])) AS v"),
            {"v": [0, 7, -12, 16_777_215, None]},
        ).scalars().all()
    assert got == [ledger.canonical_json(t) for t in TEXTS] + ["null"]
    assert got[1] == '"a \\"quoted\\" word"' and got[2] == '"back\\\\slash"'
    assert "\\u0007" in got[3] and "\\u001f" in got[3] and "\\n" in got[3]
    assert numbers == ["0", "7", "-12", "16777215", "null"]


@pytest.fixture
def awkward_sales(backend: Backend, clock: Clock) -> Backend:
    """Vends whose references need escaping, a customer with debt and a reversal."""
    registry.add_vending_key(backend, "ctsa-krn1", VendingKey.from_hex(VECTOR_VK), VECTOR_SGC,
                             krn=1, kt=2, base_date=1993)  # fmt: skip
    registry.add_tariff(
        backend,
        Tariff("Flat", "ZAR", (Block(None, Decimal(2)),), debt_recovery_percent=Decimal(10)),
    )
    registry.add_meter(backend, "00000000000", VECTOR_SGC, tariff="Flat", customer='Bob "B" é')
    registry.set_customer(backend, 'Bob "B" é', Decimal("100.5"))
    for number, reference in enumerate(('q"uote', "back\\slash", "ünïcødé ✓ \u2028", "plain")):
        clock.advance(minutes=1)
        vend.vend_credit(backend, "00000000000", money=f"{number + 1}3.37", reference=reference)
    clock.advance(minutes=1)
    vend.reverse(backend, "plain")
    return backend


def test_legitimate_entries_all_take_the_fast_path(
    awkward_sales: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On both engines: no transaction entry is compared field by field (which means the
    rendered text equalled the body), and the walk still finds the ledger intact."""
    compared: list[int] = []
    slow = ledger_check._Walk._transaction

    def counted(walk: Any, seq: int, *args: Any) -> None:
        compared.append(seq)
        slow(walk, seq, *args)

    monkeypatch.setattr(ledger_check._Walk, "_transaction", counted)
    result = ledger_check.verify(awkward_sales)
    assert result.ok, result.problems
    assert result.transactions == 5
    assert compared == []


def test_an_edited_amount_is_still_named_on_the_fast_stream(
    awkward_sales: Backend, database: Database
) -> None:
    with database.sessions.begin() as session:
        session.execute(
            text("UPDATE transactions SET money = money + 1 WHERE client_reference = :r"),
            {"r": "back\\slash"},
        )
    problems = ledger_check.verify(awkward_sales).problems
    assert list(problems) == ["transaction 'back\\\\slash' differs from ledger entry 7 (money)"]


def test_batches_fetched_ahead_arrive_in_order_and_stop_with_the_caller() -> None:
    closed = threading.Event()

    def batches() -> Iterator[list[int]]:
        try:
            for n in range(1000):
                yield [n]
        finally:
            closed.set()

    assert [b[0] for b in ledger_check._fetched_ahead(batches())] == list(range(1000))
    closed.clear()
    ahead = ledger_check._fetched_ahead(batches())
    assert next(ahead) == [0]
    ahead.close()  # the caller stops early: the thread closes the generator and ends
    assert closed.wait(5)


def test_an_error_while_fetching_ahead_reaches_the_caller() -> None:
    def batches() -> Iterator[list[int]]:
        yield [1]
        raise StorageError("the database failed or is busy (gone); try again")

    ahead = ledger_check._fetched_ahead(batches())
    assert next(ahead) == [1]
    with pytest.raises(StorageError, match="gone"):
        next(ahead)
