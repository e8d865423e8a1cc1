"""16 tills buying at once through `sts serve` (4 workers on PostgreSQL, 2 on SQLite).

Each till makes 8 purchases of 10.00 for the same 3 meters; about a third of
first attempts are cut off by a client timeout (the connection dropped while
the server works), and each purchase is retried with the same id until it gets
a definite answer; some are retried after success too. The vendor's float is
1,000.00, so exactly 100 of the 128 purchases can be sold and 28 must be refused
for insufficient float, whatever the interleaving. Afterwards the database must
hold exactly the acknowledged sales, each once, with the tokens the till got;
no TID twice for a meter; a float of exactly 0.00 equal to the sum of its
movements; and a ledger whose hash chain verifies.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import pytest
from conftest import Clock
from live_api import Seeded, seed, sts_serve
from sqlalchemy import func, select

from vending.backend import Backend
from vending.db import open_database
from vending.keystore import MasterKey
from vending.ledger_check import verify_connection
from vending.models import TokenRecord, Transaction
from vending.vendor_models import FloatMovement, TransactionParty, Vendor

MASTER_HEX = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"
TILLS = 16
PURCHASES = 8
PRICE = Decimal("10.00")
FLOAT = Decimal("1000.00")
MAX_ATTEMPTS = 50


def till(base: str, seeded: Seeded, number: int) -> tuple[dict[str, Any], int]:
    """One till's purchases: id -> ("sold", tokens) or ("refused", error type); and how
    many attempts ended without an answer."""
    rng = random.Random(number)
    outcomes: dict[str, Any] = {}
    unanswered = 0
    with httpx.Client(base_url=base, headers=seeded.headers(), timeout=60) as client:
        for n in range(PURCHASES):
            id = f"till{number:02d}-{n}"
            body = {"id": id, "meter": seeded.meters[(number + n) % 3], "money": str(PRICE)}
            cut_short = rng.random() < 0.35
            for attempt in range(MAX_ATTEMPTS):
                timeout = 0.002 if cut_short and attempt == 0 else 60
                try:
                    response = client.post("/v1/purchases", json=body, timeout=timeout)
                except httpx.TimeoutException:
                    unanswered += 1
                    continue  # unknown outcome: the same id again
                if response.status_code >= 500:
                    unanswered += 1
                    continue
                if response.status_code == 200:
                    tokens = [t["digits"] for t in response.json()["receipt"]["tokens"]]
                    outcomes[id] = ("sold", tokens)
                    if rng.random() < 0.25:  # a retry after success gets the same tokens
                        again = client.post("/v1/purchases", json=body)
                        assert [t["digits"] for t in again.json()["receipt"]["tokens"]] == tokens
                else:
                    outcomes[id] = ("refused", response.json()["type"])
                break
            else:
                raise AssertionError(f"{id}: no definite answer in {MAX_ATTEMPTS} attempts")
    return outcomes, unanswered


@pytest.mark.parametrize(
    ("database_url", "workers"), [("sqlite", 2), ("postgresql", 4)], indirect=["database_url"]
)
def test_sixteen_tills_with_retries_and_drops(database_url: str, workers: int) -> None:
    database = open_database(database_url)
    try:
        backend = Backend.open(database, MasterKey.from_hex(MASTER_HEX), Clock(), random.Random(5))
        seeded = seed(backend, float_=str(FLOAT), base_date=2014, meters=3)
    finally:
        database.dispose()

    with (
        sts_serve(database_url, MASTER_HEX, workers=workers) as base,
        ThreadPoolExecutor(TILLS) as pool,
    ):
        results = list(pool.map(lambda n: till(base, seeded, n), range(TILLS)))
    outcomes = {id: outcome for result, _ in results for id, outcome in result.items()}
    assert sum(unanswered for _, unanswered in results) >= 20  # the drops did happen
    sold = {id: tokens for id, (what, tokens) in outcomes.items() if what == "sold"}
    refused = [kind for what, kind in outcomes.values() if what == "refused"]
    assert len(outcomes) == TILLS * PURCHASES
    assert len(sold) == 100  # 1,000.00 / 10.00
    assert refused == ["insufficient_float"] * 28

    database = open_database(database_url)
    try:
        with database.read_sessions() as session:
            stored = session.execute(
                select(TransactionParty.client_id, Transaction.id)
                .join(Transaction, Transaction.id == TransactionParty.transaction_id)
                .where(Transaction.kind == "credit")
            ).all()
            assert sorted(client_id for client_id, _ in stored) == sorted(sold)
            for client_id, txn_id in stored:
                digits = session.execute(
                    select(TokenRecord.digits)
                    .where(TokenRecord.transaction_id == txn_id)
                    .order_by(TokenRecord.position)
                ).scalars()
                assert list(digits) == sold[client_id]
            repeated_tids = session.execute(
                select(TokenRecord.meter_id, TokenRecord.tid)
                .group_by(TokenRecord.meter_id, TokenRecord.key_revision, TokenRecord.tid)
                .having(func.count() > 1)
            ).all()
            assert repeated_tids == []
            balance = session.execute(select(Vendor.balance)).scalar_one()
            movements = session.execute(select(FloatMovement.amount)).scalars().all()
            assert balance == Decimal(0)
            assert sum(movements, Decimal(0)) == balance
            assert len([m for m in movements if m < 0]) == 100
            check = verify_connection(session.connection(), MasterKey.from_hex(MASTER_HEX))
            assert check.ok, check.problems
            assert check.transactions == 100  # registry changes have entries too
    finally:
        database.dispose()
