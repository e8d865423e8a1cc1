"""A real uvicorn serving the vending API on 127.0.0.1, for tests that speak HTTP to it.

:class:`LiveServer` binds a socket on a free port, runs ``uvicorn.Server`` in a
thread with the app :func:`vending.api.create_app` built, and stops it on exit.
:func:`seed` registers what the API tests sell with: the compliance-test meter
on a flat tariff (2.00 per kWh, nothing else, so money M buys M / 2 kWh), a
vendor "Bank" with a float, and one operator per role.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import uvicorn
from conftest import register_vector_meter

from vending import registry, vendors
from vending.backend import Backend
from vending.tariff import Block, Tariff

FLAT = Tariff(name="Flat", currency="ZAR", blocks=(Block(None, Decimal("2.00")),))


@dataclass(frozen=True)
class Seeded:
    meter: str
    keys: dict[str, str]  # role -> API key

    def headers(self, role: str = "vend") -> dict[str, str]:
        return {"X-API-Key": self.keys[role]}


def seed(backend: Backend, float_: str = "500") -> Seeded:
    registry.add_tariff(backend, FLAT)
    meter = register_vector_meter(backend, tariff="Flat")
    vendors.add_vendor(backend, "Bank")
    vendors.top_up(backend, "Bank", float_)
    keys = {
        role.value: vendors.add_operator(backend, "Bank", f"{role.value}-1", role).api_key
        for role in vendors.Role
    }
    return Seeded(meter, keys)


class LiveServer:
    """uvicorn in a thread, on a socket this process bound."""

    def __init__(self, app: Any) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("uvicorn stopped before it started")
            self.thread.join(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join()
        self.socket.close()


@contextmanager
def serving(app: Any) -> Iterator[LiveServer]:
    server = LiveServer(app)
    server.start()
    try:
        yield server
    finally:
        server.stop()
