"""How many requests one API worker runs at once (``sts serve --threads``).

A real uvicorn on 127.0.0.1 serves the app; every statement any engine in this
process sends is held for a moment by an engine-wide listener, which counts how
many are in flight at once. Eight clients ask for the float together: with two
threads no more than two requests are ever inside the database, with eight more
than two are.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from conftest import TEST_MASTER_KEY, Clock
from live_api import Seeded, seed, serving
from sqlalchemy import Engine, event

from sts.errors import RangeError
from vending.api import create_app
from vending.backend import Backend
from vending.serving import MAX_THREADS

CLIENTS = 8


class InFlight:
    """The most statements seen inside the database at once, each held ``hold`` seconds."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.now = 0
        self.most = 0
        self.lock = threading.Lock()

    def before(self, *_args: Any) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        threading.Event().wait(self.hold)

    def after(self, *_args: Any) -> None:
        with self.lock:
            self.now -= 1


@contextmanager
def counting(hold: float) -> Iterator[InFlight]:
    flight = InFlight(hold)
    event.listen(Engine, "before_cursor_execute", flight.before)
    event.listen(Engine, "after_cursor_execute", flight.after)
    try:
        yield flight
    finally:
        event.remove(Engine, "before_cursor_execute", flight.before)
        event.remove(Engine, "after_cursor_execute", flight.after)


def most_at_once(database_url: str, clock: Clock, seeded: Seeded, threads: int) -> int:
    app = create_app(database_url, TEST_MASTER_KEY, clock, random.Random(7), threads=threads)
    with serving(app) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        client.get("/v1/float", headers=seeded.headers()).raise_for_status()  # warm
        with counting(hold=0.2) as flight, ThreadPoolExecutor(CLIENTS) as pool:
            answers = list(
                pool.map(
                    lambda _: httpx.get(
                        f"{server.url}/v1/float", headers=seeded.headers(), timeout=60
                    ),
                    range(CLIENTS),
                )
            )
    assert [answer.status_code for answer in answers] == [200] * CLIENTS
    assert {answer.json()["balance"] for answer in answers} == {"500.00"}
    return flight.most


def test_a_worker_runs_at_most_its_threads_at_once(
    database_url: str, backend: Backend, clock: Clock
) -> None:
    seeded = seed(backend)
    assert most_at_once(database_url, clock, seeded, threads=2) == 2
    assert most_at_once(database_url, clock, seeded, threads=CLIENTS) > 2


@pytest.mark.parametrize("threads", [0, MAX_THREADS + 1])
def test_threads_out_of_range_are_refused(database_url: str, clock: Clock, threads: int) -> None:
    with pytest.raises(RangeError, match=f"threads {threads} is out of range; expected 1 to 64"):
        create_app(database_url, TEST_MASTER_KEY, clock, random.Random(7), threads=threads)
