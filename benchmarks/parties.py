"""What chaining who sold costs: CPU per purchase, and verify with and without its check.

On one fresh database (SQLite by default; ``--postgres URL`` for a new PostgreSQL
database the user may create, dropped after), with a flat tariff, 20 meters, one vendor
and one operator:

- **purchase**: ``--purchases`` sales through vending.sales.purchase in this process
  (after 20 to warm up), CPU time (user + system of this process: on SQLite that
  includes the database's work) and wall time per sale. To compare with an earlier
  version, run the same script with ``--tree`` naming a checkout of it (its ``vending``
  is imported instead; the set-up uses only calls both have).
- **verify**: each sale then gets a confirm advice, and vending.ledger_check.verify runs
  ``--runs`` times with vending.ledger_parties' check and as many times without it
  (replaced by a function that checks nothing), alternated; CPU and wall seconds,
  min/median/max. Skipped with ``--tree``.

Nothing here is a test and nothing asserts a time::

    python benchmarks/parties.py --purchases 400
    python benchmarks/parties.py --purchases 400 --tree /tmp/before
    # build a big ledger of sales once (kept), then time verify on it again and again:
    python benchmarks/parties.py --purchases 50000 --keep /tmp/parties.sqlite
    python benchmarks/parties.py --purchases 50000 --keep postgresql://sts@host/parties

With ``--keep`` (a SQLite file or a PostgreSQL URL) the database is kept: built when it
does not exist yet (purchase figures printed), else only verified as it is.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _figures(values: list[float], scale: float, unit: str) -> str:
    values = sorted(v * scale for v in values)
    return f"{values[0]:.3f}/{statistics.median(values):.3f}/{values[-1]:.3f} {unit}"


def _build(args: Any, backend: Any, registry: Any, vendors: Any, sales: Any,
           validate_drn: Any, VendingKey: Any, Tariff: Any, Block: Any) -> None:
    """Tariff, key, 20 meters, vendor Bank with operator till; the sales (timed), each
    confirmed."""
    flat = Tariff(name="Flat", currency="ZAR", blocks=(Block(None, Decimal("2.00")),))
    registry.add_tariff(backend, flat)
    registry.add_vending_key(
        backend, "k", VendingKey.from_hex("ABABABABABABABAB"), 123456, krn=1, kt=2,
        base_date=2014,
    )  # fmt: skip
    drns = []
    for number in range(20):
        for check in range(10):  # the DRN's check digit: the one that validates
            try:
                drn = validate_drn(f"{4750015000 + number}{check}")
                break
            except Exception:
                continue
        registry.add_meter(backend, drn, 123456, krn=1, kt=2, ti=1, tariff="Flat")
        drns.append(drn)
    vendors.add_vendor(backend, "Bank")
    vendors.top_up(backend, "Bank", "100000000")
    key = vendors.add_operator(backend, "Bank", "till", "vend").api_key
    till = vendors.authenticate(backend, key)
    for number in range(20):
        sales.purchase(backend, till, f"warm-{number}", drns[number], money="10")
    cpu, wall = time.process_time(), time.perf_counter()
    for number in range(args.purchases):
        sales.purchase(backend, till, f"s{number}", drns[number % 20], money="10")
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(
        f"purchase: {1000 * cpu / args.purchases:.3f} ms CPU, "
        f"{1000 * wall / args.purchases:.3f} ms wall per sale ({args.purchases} sales)"
    )
    for number in range(args.purchases):
        sales.confirm(backend, till, f"s{number}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--purchases", type=int, default=400)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", help="a database URL that does not exist yet")
    parser.add_argument("--tree", type=Path, help="import vending from this checkout")
    parser.add_argument("--keep", help="a SQLite file or PostgreSQL URL kept (built if new)")
    args = parser.parse_args()
    sys.path.insert(0, str(args.tree or ROOT))
    sys.path.insert(0, str(ROOT / "tests"))  # conftest's fixed master key only

    from conftest import TEST_MASTER_KEY

    import vending
    from sts.crypto.keys import VendingKey
    from sts.tokens.meter_number import validate_drn
    from vending import ledger_check, registry, sales, vendors
    from vending.backend import Backend
    from vending.db import make_engine, open_database, upgrade
    from vending.tariff import Block, Tariff

    print(f"vending from {Path(vending.__file__).parent.parent}; load {os.getloadavg()}")
    created = None
    database_url = args.postgres
    built = False
    if args.keep and "://" in args.keep:
        database_url = args.keep
    elif args.keep:
        database_url = f"sqlite:///{Path(args.keep).resolve()}"
        built = Path(args.keep).exists()
    if database_url and database_url.startswith("postgresql"):
        import sqlalchemy as sa

        url = sa.engine.make_url(database_url)
        admin = make_engine(url.set(database="postgres").render_as_string(False))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            exists = connection.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)
            ).first()
            if args.keep and exists:
                built = True
            else:
                connection.exec_driver_sql(f"CREATE DATABASE {url.database}")
        if not args.keep:
            created = (admin, url.database)
        if not built:
            engine = make_engine(database_url)
            upgrade(engine)
            engine.dispose()
    elif database_url is None:
        database_url = f"sqlite:///{tempfile.mkdtemp()}/parties.sqlite"
    try:
        database = open_database(database_url, create=not built)
        backend = Backend.open(
            database, TEST_MASTER_KEY, lambda: datetime.now(UTC), random.Random(1)
        )
        if not built:
            _build(args, backend, registry, vendors, sales, validate_drn, VendingKey, Tariff,
                   Block)  # fmt: skip
        if args.tree is not None and not built:
            return  # an earlier version's verify: run again with --keep on the built database
        from vending import ledger_parties

        real = ledger_parties.check
        times: dict[str, list[tuple[float, float]]] = {"with": [], "without": []}
        for _ in range(args.runs):
            for label in ("without", "with"):
                ledger_parties.check = real if label == "with" else (lambda *a, **k: 0)
                cpu, wall = time.process_time(), time.perf_counter()
                result = ledger_check.verify(backend)
                times[label].append((time.process_time() - cpu, time.perf_counter() - wall))
                if not result.ok:
                    raise SystemExit(f"verify failed: {result.problems[:3]}")
        ledger_parties.check = real
        print(f"verify of {result.entries} entries, min/median/max of {args.runs}:")
        for label, pairs in times.items():
            print(
                f"  {label} the parties check: CPU {_figures([p[0] for p in pairs], 1, 's')}, "
                f"wall {_figures([p[1] for p in pairs], 1, 's')}"
            )
        database.engine.dispose()
    finally:
        if created is not None:
            admin, name = created
            with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.dispose()


if __name__ == "__main__":
    main()
