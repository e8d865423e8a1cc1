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
from conftest import VECTOR_DRN, VECTOR_SGC, VECTOR_VK

from sts.crypto.keys import VendingKey
from sts.tokens.meter_number import luhn_check_digit
from vending import registry, vendors
from vending.backend import Backend
from vending.tariff import Block, Tariff

FLAT = Tariff(name="Flat", currency="ZAR", blocks=(Block(None, Decimal("2.00")),))


@dataclass(frozen=True)
class Seeded:
    meters: tuple[str, ...]
    keys: dict[str, str]  # role -> API key

    @property
    def meter(self) -> str:
        return self.meters[0]

    def headers(self, role: str = "vend") -> dict[str, str]:
        return {"X-API-Key": self.keys[role]}


def drn(serial: int) -> str:
    """An 11-digit meter number with its Luhn check digit (serial 0 is the vector meter)."""
    body = f"{serial:010d}"
    return body + str(luhn_check_digit(body))


def seed(backend: Backend, float_: str = "500", base_date: int = 1993, meters: int = 1) -> Seeded:
    """The compliance-test key; ``meters`` meters under it (the first is the vector meter,
    whose decoder key is E653341F9D5BF36F) on the flat tariff, with TIDs counted from
    ``base_date`` (2014 for a server on the real clock: 1993 ran out in November 2024)."""
    registry.add_tariff(backend, FLAT)
    registry.add_vending_key(
        backend,
        "ctsa-krn1",
        VendingKey.from_hex(VECTOR_VK),
        VECTOR_SGC,
        krn=1,
        kt=2,
        base_date=1993,
    )
    numbers = tuple(drn(serial) for serial in range(meters))
    assert numbers[0] == VECTOR_DRN
    for number in numbers:
        registry.add_meter(
            backend, number, VECTOR_SGC, krn=1, kt=2, ti=1, base_date=base_date, tariff="Flat"
        )
    vendors.add_vendor(backend, "Bank")
    vendors.top_up(backend, "Bank", float_)
    keys = {
        role.value: vendors.add_operator(backend, "Bank", f"{role.value}-1", role).api_key
        for role in vendors.Role
    }
    return Seeded(numbers, keys)


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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def sts_serve(
    database_url: str, master_hex: str, workers: int = 1, threads: int | None = None
) -> Iterator[str]:
    """`sts serve` as a real process (its own workers); yields its base URL."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import httpx

    port = free_port()
    sts = Path(sys.executable).with_name("sts")
    env = {**os.environ, "STS_MASTER_KEY": master_hex}
    env.pop("STS_DATABASE_URL", None)
    command = [str(sts), "serve", "--port", str(port), "--workers", str(workers)]
    if threads is not None:
        command += ["--threads", str(threads)]
    process = subprocess.Popen(
        [*command, "--db", database_url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # Wait until it answers, or the process ends (then say why).
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"sts serve exited: {process.stderr.read().decode()}")
            try:
                httpx.get(f"{url}/v1/openapi.json", timeout=5).raise_for_status()
                break
            except httpx.TransportError:
                threading.Event().wait(0.1)
        yield url
    finally:
        process.terminate()
        process.wait()
        assert process.stderr is not None
        process.stderr.close()
