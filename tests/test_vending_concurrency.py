"""Several processes vend to one meter at the same moment: no TID is issued twice.

Every worker process opens its own connection and vends as fast as it can, all
with the clock stopped on the same minute, so without the row lock they would
all compute the same TID. The tokens must carry consecutive, distinct TIDs,
each must decode under the meter's published decoder key, and the ledger must
verify.
"""

from __future__ import annotations

import multiprocessing
import random
from datetime import UTC, datetime

import pytest
from conftest import TEST_MASTER_KEY, VECTOR_DK, Clock, register_vector_meter

import sts
from sts.tokens.credit import TransferCredit
from vending import ledger_check, vend
from vending.backend import Backend
from vending.db import Database, open_database

WORKERS = 4
VENDS_EACH = 25
START = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
MARCH_TID = 16_390_560  # see test_vending_vend.py


def _worker(url: str, number: int, go: object, results: object) -> None:
    database = open_database(url, create=False)
    backend = Backend.open(database, TEST_MASTER_KEY, Clock(START), random.Random(number))
    go.wait()  # type: ignore[attr-defined]
    digits = []
    for count in range(VENDS_EACH):
        receipt = vend.vend_credit(
            backend, "00000000000", units="1.5", reference=f"w{number}-{count}"
        )
        digits.extend(t.digits for t in receipt.tokens)
    database.dispose()
    results.put(digits)  # type: ignore[attr-defined]


def test_concurrent_vends_to_one_meter_get_distinct_tids(
    database_url: str, backend: Backend, database: Database
) -> None:
    register_vector_meter(backend)
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    results = context.Queue()
    workers = [
        context.Process(target=_worker, args=(database_url, n, go, results)) for n in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    go.set()
    collected = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    assert [w.exitcode for w in workers] == [0] * WORKERS
    key = sts.DecoderKey.from_hex(VECTOR_DK)
    tokens = [sts.decode(d, key) for batch in collected for d in batch]
    assert all(isinstance(t, TransferCredit) and t.units == 15 for t in tokens)
    tids = sorted(t.tid for t in tokens)  # type: ignore[attr-defined]
    assert tids == list(range(MARCH_TID, MARCH_TID + WORKERS * VENDS_EACH))
    with database.read_sessions() as session:
        result = ledger_check.verify_connection(session.connection(), TEST_MASTER_KEY)
    assert result.ok and result.transactions == WORKERS * VENDS_EACH


@pytest.mark.parametrize("reference", ["same-ref"])
def test_concurrent_retries_of_one_reference_mint_one_token(
    database_url: str, backend: Backend, database: Database, reference: str
) -> None:
    register_vector_meter(backend)
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    results = context.Queue()
    workers = [
        context.Process(target=_retry_worker, args=(database_url, n, go, results, reference))
        for n in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    go.set()
    collected = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    assert len(set(collected)) == 1
    with database.read_sessions() as session:
        assert (
            ledger_check.verify_connection(session.connection(), TEST_MASTER_KEY).transactions == 1
        )


def _retry_worker(url: str, number: int, go: object, results: object, reference: str) -> None:
    database = open_database(url, create=False)
    backend = Backend.open(database, TEST_MASTER_KEY, Clock(START), random.Random(number))
    go.wait()  # type: ignore[attr-defined]
    receipt = vend.vend_credit(backend, "00000000000", units="3", reference=reference)
    database.dispose()
    results.put(receipt.tokens[0].digits)  # type: ignore[attr-defined]
