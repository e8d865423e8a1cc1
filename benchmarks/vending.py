"""Vending throughput: vends per second on SQLite and PostgreSQL, and bulk key change orders.

Three figures, each on a fresh database:

- **SQLite, one process**: credit by money (a stepped tariff with a service charge
  and VAT), one token per vend, every vend its own committed transaction with its
  hash-chained ledger entry; the vends rotate over the registered meters.
- **PostgreSQL, concurrent workers** (8 by default): the same vends from separate
  processes sharing one ledger, each worker on its own meters; the figure is all
  vends over the wall time from the common start to the last commit. Needs a
  server: ``--postgres URL`` (a database the user may create databases from), or
  ``STS_TEST_POSTGRES_URL``; skipped with a note otherwise.
- **Ledger verify**: a ledger of ``--verify-entries`` vends (100,000 by default; the
  issue's target is 1,000,000 in under 20 s) is built quickly on SQLite (and on
  PostgreSQL when a server is given): the meters through vending.registry, then each
  vend's transaction, token and keyed ledger entry bulk-inserted, its body and HMAC made
  by vending.ledger's own functions (the tokens' digits are not encryptions: verify does
  not decode them). Then ``vending.ledger_check.verify`` runs three times, each in a
  fresh process; the figures are entries per second (min/median/max) and that
  process's peak resident memory.
- **Key change orders**: a TID rollover migration of 100,000 meters (SGC 123456,
  KRN 1 on the 1993 base date to KRN 2 on 2014) on SQLite, each order with its
  2-token KCT set, with a progress bar. The meters are inserted in bulk first
  (not timed); the figure is ``vending.migration.create_orders`` alone.

Run from the repository root::

    python benchmarks/vending.py                  # all three
    python benchmarks/vending.py --vends 2000 --meters 20000 --skip-postgres
    python benchmarks/vending.py --skip-vends --skip-migration --verify-entries 1000000
    # build the big ledgers once, then verify them again and again:
    python benchmarks/vending.py --skip-vends --skip-migration --verify-entries 1000000 \
        --verify-sqlite-file /tmp/ledger.sqlite --verify-postgres-db postgresql://.../bench

The script prints; nothing here is a test and nothing asserts a time.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from sts.crypto.keys import VendingKey
from sts.tokens.meter_number import luhn_check_digit, meter_pan
from vending import ledger, ledger_check, migration, registry, vend
from vending.backend import Backend
from vending.db import make_engine, open_database, sqlite_url, upgrade
from vending.keystore import MasterKey, ledger_key
from vending.models import LedgerEntry, LedgerHead, Meter, TokenRecord, Transaction
from vending.tariff import Block, FixedCharge, MonthToDate, Tariff, price_money

MASTER = MasterKey(bytes(range(32)))
SGC = 123456
NOW = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)  # before the 1993 base date runs out
TARIFF = Tariff(
    name="Bench",
    currency="ZAR",
    blocks=(Block(Decimal(50), Decimal("1.50")), Block(None, Decimal("2.00"))),
    fixed_charges=(FixedCharge("Service charge", Decimal("12.50")),),
    vat_percent=Decimal(15),
)
PAYMENT = "50.00"
console = Console()


def drn(number: int) -> str:
    body = f"{10 + number // 10**8:02d}{number % 10**8:08d}"
    return body + str(luhn_check_digit(body))


def backend_for(url: str, seed: int) -> Backend:
    return Backend.open(open_database(url, create=False), MASTER, lambda: NOW, random.Random(seed))


def set_up_vending(url: str, meters: int) -> list[str]:
    backend = backend_for(url, 0)
    registry.add_vending_key(
        backend, "bench-krn1", VendingKey.from_hex("ABABABABABABABAB"), SGC, 1, 2, 1993
    )
    registry.add_vending_key(
        backend, "bench-krn2", VendingKey.from_hex("9494949494949494"), SGC, 2, 2, 2014
    )
    registry.add_tariff(backend, TARIFF)
    numbers = [drn(n) for n in range(meters)]
    for number in numbers:
        registry.add_meter(backend, number, SGC, krn=1, base_date=1993, tariff=TARIFF.name)
    backend.close()
    return numbers


def vend_many(url: str, numbers: list[str], count: int, seed: int, tag: str) -> None:
    backend = backend_for(url, seed)
    for i in range(count):
        vend.vend_credit(backend, numbers[i % len(numbers)], money=PAYMENT, reference=f"{tag}-{i}")
    backend.close()


def sqlite_vends(count: int, meters: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        url = sqlite_url(Path(folder) / "bench.sqlite")
        open_database(url).dispose()
        numbers = set_up_vending(url, meters)
        vend_many(url, numbers, 50, 1, "warm")
        start = time.perf_counter()
        vend_many(url, numbers, count, 2, "bench")
        return count / (time.perf_counter() - start)


def _worker(url: str, numbers: list[str], count: int, seed: int, go: Any, done: Any) -> None:
    vend_many(url, numbers, 20, seed, f"warm{seed}")
    done.put("ready")
    go.wait()
    vend_many(url, numbers, count, seed, f"w{seed}")
    done.put(time.perf_counter())


def postgres_vends(server: str, workers: int, count: int) -> float:
    admin = sa.create_engine(
        sa.engine.make_url(server).set(drivername="postgresql+psycopg"),
        isolation_level="AUTOCOMMIT",
    )
    name = f"sts_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        numbers = set_up_vending(url, workers * 25)
        context = multiprocessing.get_context("spawn")
        go = context.Event()
        done = context.Queue()
        procs = [
            context.Process(
                target=_worker, args=(url, numbers[w::workers], count, 10 + w, go, done)
            )
            for w in range(workers)
        ]
        for proc in procs:
            proc.start()
        for _ in procs:
            done.get()  # every worker connected and warm
        start = time.perf_counter()
        go.set()
        ends = [done.get() for _ in procs]
        for proc in procs:
            proc.join()
        return workers * count / (max(ends) - start)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def build_ledger(url: str, entries: int, meters: int) -> None:
    """A ledger of ``entries`` credit vends over ``meters`` meters, bulk-inserted."""
    numbers = set_up_vending(url, meters)
    backend = backend_for(url, 4)
    key = ledger_key(MASTER)
    breakdown = price_money(TARIFF, Decimal(PAYMENT), MonthToDate(Decimal(100), True))
    details = {"breakdown": breakdown.to_dict()}
    with backend.read_sessions() as session:
        ids = {drn: id_ for drn, id_ in session.execute(sa.select(Meter.drn, Meter.id))}
        head = session.get_one(LedgerHead, 1)
        seq, prev = head.seq, head.hash
        states = {m.drn: ledger.meter_state(m) for m in session.execute(sa.select(Meter)).scalars()}
    chunk = 10_000
    with Progress(
        "building the ledger", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console,
    ) as bar:  # fmt: skip
        task = bar.add_task("entries", total=entries)
        for first in range(0, entries, chunk):
            txns, tokens, rows = [], [], []
            for i in range(first, min(first + chunk, entries)):
                number = numbers[i % len(numbers)]
                state = states[number]
                tid = (state["last_tid"] or 16_000_000) + 1
                state["last_tid"] = tid
                at = NOW + timedelta(seconds=i)
                digits = f"{i:020d}"
                txn_id = i + 1
                facts = ledger.EntryFacts(
                    f"bench-{i}", "credit", number, at, breakdown.charged, breakdown.energy_kwh,
                    breakdown.free_kwh, breakdown.fixed_charges, breakdown.debt_recovered, None,
                    (ledger.EntryToken(tid, 0, 0, digits, 1, breakdown.units, "Credit"),),
                    details=details,
                    state=dict(state),
                )  # fmt: skip
                txns.append({
                    "id": txn_id, "client_reference": facts.reference, "fingerprint": "0" * 64,
                    "kind": "credit", "meter_id": ids[number], "money": facts.money,
                    "energy": facts.energy, "free_energy": facts.free_energy,
                    "fixed_charges": facts.fixed_charges, "debt_recovered": facts.debt_recovered,
                    "details": details, "reverses_id": None, "key_change_order_id": None,
                    "day": at.date(), "created_at": at,
                })  # fmt: skip
                tokens.append({
                    "transaction_id": txn_id, "meter_id": ids[number], "key_revision": 1,
                    "position": 0, "tid": tid, "token_class": 0, "subclass": 0,
                    "digits": digits, "units": breakdown.units, "description": "Credit",
                })  # fmt: skip
                seq += 1
                body = ledger.canonical_json(facts.body())
                digest = ledger.entry_hash(key, seq, ledger.at_text(at), prev, body)
                rows.append({
                    "seq": seq, "transaction_id": txn_id, "created_at": at, "body": body,
                    "prev_hash": prev, "hash": digest,
                })  # fmt: skip
                prev = digest
            with backend.sessions.begin() as session:
                connection = session.connection()
                connection.execute(sa.insert(Transaction.__table__), txns)
                connection.execute(sa.insert(TokenRecord.__table__), tokens)
                connection.execute(sa.insert(LedgerEntry.__table__), rows)
                connection.execute(sa.update(LedgerHead.__table__).values(seq=seq, hash=prev))
            bar.update(task, completed=min(first + chunk, entries))
    with backend.sessions.begin() as session:
        for number, state in states.items():
            session.execute(
                sa.update(Meter).where(Meter.drn == number).values(last_tid=state["last_tid"])
            )
        if session.connection().dialect.name == "postgresql":
            session.execute(sa.text(
                "SELECT setval('transactions_id_seq', (SELECT max(id) FROM transactions))"
            ))  # fmt: skip
            session.execute(sa.text("ANALYZE"))
    backend.close()


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (verify's workers)."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _verify_child(url: str, workers: int, done: Any) -> None:
    backend = backend_for(url, 5)
    before = _cpu()
    start = time.perf_counter()
    result = ledger_check.verify(backend, workers=workers)
    elapsed = time.perf_counter() - start
    cpu = _cpu() - before
    after = resource.getrusage(resource.RUSAGE_SELF)
    backend.close()
    done.put((elapsed, cpu, result.entries, result.ok, after.ru_maxrss))


Runs = tuple[list[float], list[float], int, int]


def verify_runs(url: str, workers: int, runs: int = 3) -> Runs:
    """Verify ``runs`` times, each in a fresh process: (wall s, CPU s, entries, peak KiB).

    The CPU time (the verifying process's and its workers') is the figure to compare on
    a busy machine; the database server's work on PostgreSQL is not in it. The peak
    memory is the verifying process's (each worker's is about the same).
    """
    context = multiprocessing.get_context("spawn")
    times, cpus, peak, count = [], [], 0, 0
    for _ in range(runs):
        done = context.Queue()
        proc = context.Process(target=_verify_child, args=(url, workers, done))
        proc.start()
        elapsed, cpu, count, ok, peak_kib = done.get()
        proc.join()
        assert ok, "the benchmark ledger failed verification"
        times.append(elapsed)
        cpus.append(cpu)
        peak = max(peak, peak_kib)
    return times, cpus, count, peak


def _verify_row(
    table: Table, label: str, times: list[float], cpus: list[float], count: int, peak: int
) -> None:
    rates = sorted(count / t for t in times)
    table.add_row(
        f"{label} verify ({count:,} entries)",
        f"{rates[0]:,.0f} / {statistics.median(rates):,.0f} / {rates[-1]:,.0f} entries/s "
        f"(min/median/max; wall {min(times):.1f}-{max(times):.1f} s, own CPU "
        f"{min(cpus):.1f}-{max(cpus):.1f} s), peak {peak / 1024:,.0f} MB",
        "1,000,000 in < 20 s",
    )


def ledger_entries(url: str) -> int:
    """The entries of the ledger at ``url`` (0 for a new database, which is made ready)."""
    engine = make_engine(url)
    upgrade(engine)  # a new database gets the schema; a current one is left as it is
    try:
        with engine.connect() as connection:
            return connection.execute(
                sa.select(LedgerHead.__table__.c.seq).where(LedgerHead.__table__.c.id == 1)
            ).scalar_one_or_none() or 0
    finally:
        engine.dispose()


def reuse_or_build(url: str, entries: int, meters: int) -> None:
    """Build the ledger at ``url`` unless it holds one already (building 1,000,000 entries
    takes minutes: a kept file or database is verified again as it is)."""
    found = ledger_entries(url)
    if found == 0:
        build_ledger(url, entries, meters)
    else:
        console.print(f"reusing the ledger of {found:,} entries at {sa.engine.make_url(url)!r}")


def sqlite_verify(
    entries: int, meters: int, workers: tuple[int, ...], keep: Path | None = None
) -> list[Runs]:
    if keep is not None:
        url = sqlite_url(keep)
        reuse_or_build(url, entries, meters)
        return [verify_runs(url, n) for n in workers]
    with tempfile.TemporaryDirectory() as folder:
        url = sqlite_url(Path(folder) / "verify.sqlite")
        open_database(url).dispose()
        build_ledger(url, entries, meters)
        return [verify_runs(url, n) for n in workers]


def postgres_verify(
    server: str, entries: int, meters: int, workers: tuple[int, ...], keep: str | None = None
) -> list[Runs]:
    if keep is not None:
        url = sa.engine.make_url(keep).set(drivername="postgresql+psycopg")
        text = url.render_as_string(hide_password=False)
        reuse_or_build(text, entries, meters)
        return [verify_runs(text, n) for n in workers]
    admin = sa.create_engine(
        sa.engine.make_url(server).set(drivername="postgresql+psycopg"),
        isolation_level="AUTOCOMMIT",
    )
    name = f"sts_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        build_ledger(url, entries, meters)
        return [verify_runs(url, n) for n in workers]
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def migration_orders(meters: int, chunk: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        url = sqlite_url(Path(folder) / "migration.sqlite")
        open_database(url).dispose()
        set_up_vending(url, 0)
        backend = backend_for(url, 3)
        rows = []
        for n in range(meters):
            number = drn(n)
            rows.append(
                {
                    "drn": number,
                    "pan": meter_pan(number),
                    "sgc": SGC,
                    "krn": 1,
                    "kt": 2,
                    "ti": 1,
                    "ea": "07",
                    "dkga": "02",
                    "base_date": 1993,
                    "ken": 255,
                    "vending_key_id": 1,
                    "tariff_id": None,
                    "customer_id": None,
                    "last_tid": None,
                    "key_revision": 1,
                    "created_at": NOW,
                }
            )
        with backend.sessions.begin() as session:
            session.connection().execute(sa.insert(Meter.__table__), rows)
        migration.start(backend, migration.MigrationPlan("rollover", SGC, 1, 2, 2014))
        with Progress(
            "key change orders",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("orders", total=meters)
            start = time.perf_counter()
            result = migration.create_orders(
                backend, "rollover", chunk, lambda done, total: bar.update(task, completed=done)
            )
            elapsed = time.perf_counter() - start
        backend.close()
        assert result.ordered == meters, result
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vends", type=int, default=5000, help="vends on SQLite")
    parser.add_argument("--meters", type=int, default=100_000, help="meters to migrate")
    parser.add_argument("--workers", type=int, default=8, help="PostgreSQL worker processes")
    parser.add_argument("--vends-per-worker", type=int, default=500)
    parser.add_argument("--chunk", type=int, default=migration.DEFAULT_CHUNK)
    parser.add_argument("--postgres", default=os.environ.get("STS_TEST_POSTGRES_URL"))
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-migration", action="store_true")
    parser.add_argument("--skip-vends", action="store_true")
    parser.add_argument(
        "--verify-entries", type=int, default=100_000, help="ledger size to verify (0: skip)"
    )
    parser.add_argument("--verify-meters", type=int, default=100)
    parser.add_argument(
        "--verify-workers", default="1,2", help="verify processes to time, e.g. 1,2"
    )
    parser.add_argument(
        "--verify-sqlite-file",
        type=Path,
        help="keep the SQLite verify ledger in this file: built if new, else verified as it is",
    )
    parser.add_argument(
        "--verify-postgres-db",
        help="a PostgreSQL database URL for the verify ledger, kept: built if its ledger is "
        "empty, else verified as it is",
    )
    parser.add_argument(
        "--verify-on",
        default="sqlite,postgresql",
        help="databases to time verify on (PostgreSQL needs --postgres), e.g. postgresql",
    )
    args = parser.parse_args()

    console.print(f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    console.print(f"python: {platform.python_implementation()} {platform.python_version()}")
    table = Table("benchmark", "figure", "target")
    if args.skip_vends:
        pass
    else:
        sqlite_rate = sqlite_vends(args.vends, 200)
        table.add_row(
            f"SQLite vends, 1 process ({args.vends})", f"{sqlite_rate:,.0f} vends/s", "1,000"
        )
    if args.skip_vends:
        pass
    elif args.skip_postgres or not args.postgres:
        table.add_row("PostgreSQL vends", "skipped: no --postgres URL", "500")
    else:
        rate = postgres_vends(args.postgres, args.workers, args.vends_per_worker)
        table.add_row(
            f"PostgreSQL vends, {args.workers} workers ({args.workers * args.vends_per_worker})",
            f"{rate:,.0f} vends/s",
            "500",
        )
    if args.verify_entries > 0:
        workers = tuple(int(n) for n in args.verify_workers.split(","))
        engines = args.verify_on.split(",")
        if "sqlite" in engines:
            runs = sqlite_verify(
                args.verify_entries, args.verify_meters, workers, args.verify_sqlite_file
            )
            for n, figures in zip(workers, runs, strict=True):
                _verify_row(table, f"SQLite, {n} process(es),", *figures)
        if "postgresql" in engines and (args.postgres or args.verify_postgres_db) and not (
            args.skip_postgres
        ):
            runs = postgres_verify(
                args.postgres, args.verify_entries, args.verify_meters, workers,
                args.verify_postgres_db,
            )  # fmt: skip
            for n, figures in zip(workers, runs, strict=True):
                _verify_row(table, f"PostgreSQL, {n} process(es),", *figures)
    if not args.skip_migration:
        elapsed = migration_orders(args.meters, args.chunk)
        table.add_row(
            f"key change orders with KCT sets ({args.meters:,})", f"{elapsed:.1f} s", "< 60 s"
        )
    console.print(table)


if __name__ == "__main__":
    main()
