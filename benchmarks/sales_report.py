"""`sts report sales` over a ledger of many vends: seconds per report, by day and by meter.

Each sale's service is read from its credit tokens' subclass (a correlated
subquery per transaction, on the tokens' transaction index), so this measures
what that costs on a ledger of ``--vends`` sales (half electricity at 2.00 a kWh,
half water at 10.00 a m3), on SQLite, and on PostgreSQL when ``--postgres URL``
(or ``STS_TEST_POSTGRES_URL``) names a server. The ledger is built through
vending.vend (not timed). Each report runs ``--runs`` times; the figures are
wall and CPU seconds, min/median/max.

Run from the repository root::

    python benchmarks/sales_report.py --vends 5000

The script prints; nothing here is a test and nothing asserts a time.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from sts.crypto.keys import VendingKey
from sts.tokens.meter_number import luhn_check_digit
from vending import registry, reports, vend
from vending.backend import Backend
from vending.db import make_engine, open_database, sqlite_url
from vending.keystore import MasterKey
from vending.tariff import Block, Tariff

MASTER = MasterKey(bytes(range(32)))
SGC = 123456
NOW = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
FLAT = Tariff(name="Flat", currency="ZAR", blocks=(Block(None, Decimal("2.00")),))
WATER = Tariff(
    name="Water", currency="ZAR", blocks=(Block(None, Decimal("10.00")),), service="water"
)


def drn(number: int) -> str:
    body = f"{10 + number // 10**8:02d}{number % 10**8:08d}"
    return body + str(luhn_check_digit(body))


def build(url: str, vends: int, meters: int) -> Backend:
    backend = Backend.open(open_database(url), MASTER, lambda: NOW, random.Random(1))
    registry.add_vending_key(
        backend, "bench", VendingKey.from_hex("ABABABABABABABAB"), SGC, 1, 2, 1993
    )
    registry.add_tariff(backend, FLAT)
    registry.add_tariff(backend, WATER)
    numbers = [drn(n) for n in range(meters)]
    for i, number in enumerate(numbers):
        water = i % 2 == 1
        registry.add_meter(
            backend,
            number,
            SGC,
            krn=1,
            base_date=1993,
            tariff="Water" if water else "Flat",
            service="water" if water else "electricity",
        )
    for i in range(vends):
        vend.vend_credit(backend, numbers[i % meters], money="20.00", reference=f"b-{i}")
    return backend


def timed(backend: Backend, by: str, runs: int) -> tuple[list[float], list[float], int]:
    walls, cpus, rows = [], [], 0
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        report = reports.sales(backend, by)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        rows = len(report.rows)
    return walls, cpus, rows


def figures(name: str, url: str, args: argparse.Namespace) -> None:
    backend = build(url, args.vends, args.meters)
    try:
        for by in ("day", "meter"):
            walls, cpus, rows = timed(backend, by, args.runs)
            print(
                f"{name:10} by {by:5} ({args.vends} vends, {rows} rows): wall "
                f"{min(walls):.3f}/{statistics.median(walls):.3f}/{max(walls):.3f} s, CPU "
                f"{min(cpus):.3f}/{statistics.median(cpus):.3f}/{max(cpus):.3f} s "
                "(min/median/max)"
            )
    finally:
        backend.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vends", type=int, default=5000)
    parser.add_argument("--meters", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", default=os.environ.get("STS_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        figures("SQLite", sqlite_url(Path(folder) / "sales.sqlite"), args)
    if args.postgres:
        name = f"bench_sales_{uuid.uuid4().hex[:8]}"
        admin = make_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
        try:
            figures("PostgreSQL", url, args)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
