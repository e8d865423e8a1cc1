"""HTTP API throughput and latency: purchases per second, median and p99 latency.

Each run starts on a fresh database (a vending key, ``--meters`` meters on a
stepped tariff with a service charge and VAT, a vendor with a large float and
one operator), starts ``sts serve`` as a real process with its workers, and then,
from this process over HTTP with keep-alive connections (``http.client`` in
threads by default; ``--client httpx`` for httpx on asyncio):

- **throughput**: ``--clients`` concurrent tills buy ``--purchases`` credit
  tokens by money, each a new client id on a meter taken in turn; the figure is
  purchases over the wall time, with the median and p99 latency under that load;
- **latency at a fixed rate**: purchases sent open-loop at ``--rate`` per second
  for ``--seconds`` (a request leaves on schedule whether or not earlier ones
  have been answered; with threads its latency counts from when it was due);
  median and p99 latency.

For the throughput phase it also prints the CPU time per purchase of the
server's processes, of the PostgreSQL backends serving this database, and of
this client (user + system, from ``/proc``): on a machine with C cores, the
three together times the purchase rate cannot exceed C seconds per second.
Before the runs it counts the SQL statements (and BEGIN/COMMIT/ROLLBACK) one
authenticated purchase sends, in-process, with an engine event listener.

Two set-ups: SQLite with 1 worker, and PostgreSQL with 4 workers (needs
``--postgres URL``, a database the user may create databases from, or
``STS_TEST_POSTGRES_URL``; skipped with a note otherwise). Each prints the
figures of every run and min/median/max over ``--runs`` runs. Targets: 300
purchases/s on PostgreSQL with 4 workers, p99 under 100 ms at 100 purchases/s.

``--baseline-sts CMD`` serves each run a second time with another ``sts``
command (an older checkout's, in its own venv), the two alternating run by run,
and prints this code's rate as a multiple of the baseline's: on a shared machine
whose speed drifts from minute to minute, the ratio is steadier than either.

The client runs on the same machine as the server and takes some of its CPU;
run it on an otherwise idle machine. Nothing here is a test and nothing asserts
a time::

    python benchmarks/api.py
    python benchmarks/api.py --postgres postgresql://sts@127.0.0.1:55432/sts --runs 3
    python benchmarks/api.py --skip-sqlite --postgres URL --baseline-sts ../old/.venv/bin/sts
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import sqlalchemy as sa

from sts.crypto.keys import VendingKey
from sts.tokens.meter_number import luhn_check_digit
from vending import registry, sales, vendors
from vending.backend import Backend
from vending.db import make_engine, open_database, sqlite_url, upgrade
from vending.keystore import MasterKey
from vending.tariff import Block, FixedCharge, Tariff

MASTER_HEX = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"
SGC = 123456
TARIFF = Tariff(
    name="Bench",
    currency="ZAR",
    blocks=(Block(Decimal(50), Decimal("1.50")), Block(None, Decimal("2.00"))),
    fixed_charges=(FixedCharge("Service charge", Decimal("12.50")),),
    vat_percent=Decimal(15),
)
PAYMENT = "50.00"
WARM_UP = 40


def drn(number: int) -> str:
    body = f"{10 + number // 10**8:02d}{number % 10**8:08d}"
    return body + str(luhn_check_digit(body))


def set_up(url: str, meters: int) -> tuple[list[str], str]:
    """The meters and an operator's API key, on a fresh database."""
    database = open_database(url)
    try:
        backend = Backend.open(
            database, MasterKey.from_hex(MASTER_HEX), lambda: datetime.now(UTC), random.Random(1)
        )
        registry.add_tariff(backend, TARIFF)
        registry.add_vending_key(
            backend, "bench", VendingKey.from_hex("ABABABABABABABAB"), SGC, krn=1, kt=2
        )
        numbers = [drn(i) for i in range(meters)]
        for number in numbers:
            registry.add_meter(backend, number, SGC, base_date=2014, tariff="Bench")
        vendors.add_vendor(backend, "Bench vendor")
        vendors.top_up(backend, "Bench vendor", "900000000")
        key = vendors.add_operator(backend, "Bench vendor", "till", "vend").api_key
    finally:
        database.dispose()
    return numbers, key


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(url: str, workers: int, sts_command: str | None = None) -> Iterator[tuple[str, int]]:
    port = _free_port()
    sts = Path(sys.executable).with_name("sts")
    if sts_command is not None:
        command = [sts_command]
    else:
        command = [str(sts)] if sts.exists() else [sys.executable, "-m", "cli"]
    env = {**os.environ, "STS_MASTER_KEY": MASTER_HEX}
    process = subprocess.Popen(
        [*command, "serve", "--port", str(port), "--workers", str(workers), "--db", url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"sts serve exited with {process.returncode}")
            try:
                httpx.get(f"{base}/v1/openapi.json", timeout=5).raise_for_status()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base, process.pid
    finally:
        process.terminate()
        process.wait()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (0 when it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """The process and all its descendants (sts serve and its uvicorn workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


class CpuMeter:
    """CPU seconds used between :meth:`start` and :meth:`stop` by the server's process
    tree, the PostgreSQL backends connected to the benchmark's database (None on
    SQLite or where their /proc entries cannot be read) and this process."""

    def __init__(self, server_pid: int, url: str) -> None:
        self.server_pid = server_pid
        self.url = url if url.startswith("postgresql") else None

    def _backends(self) -> list[int]:
        if self.url is None:
            return []
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as connection:
                return list(
                    connection.execute(
                        sa.text(
                            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                            " AND pid <> pg_backend_pid()"
                        )
                    ).scalars()
                )
        finally:
            engine.dispose()

    def _sample(self) -> tuple[dict[int, float], dict[int, float], float]:
        server = {pid: _cpu_seconds(pid) for pid in _tree(self.server_pid)}
        backends = {pid: _cpu_seconds(pid) for pid in self._backends()}
        return server, backends, time.process_time()

    def start(self) -> None:
        self._before = self._sample()

    def stop(self) -> tuple[float, float | None, float]:
        server, backends, client = self._sample()
        s0, b0, c0 = self._before
        used_server = sum(v - s0.get(pid, 0.0) for pid, v in server.items())
        used_db = sum(v - b0.get(pid, 0.0) for pid, v in backends.items())
        return used_server, (used_db if self.url is not None else None), client - c0


class Tills:
    """Purchases over keep-alive connections; each gets a new client id."""

    def __init__(self, client: httpx.AsyncClient, meters: list[str], tag: str) -> None:
        self.client = client
        self.meters = meters
        self.tag = tag
        self.count = 0
        self.failures = 0
        self.retries = 0

    async def buy(self) -> float:
        number = self.count
        self.count += 1
        body = {
            "id": f"{self.tag}-{number}",
            "meter": self.meters[number % len(self.meters)],
            "money": PAYMENT,
        }
        start = time.perf_counter()
        for _attempt in range(5):
            try:
                response = await self.client.post("/v1/purchases", json=body)
                break
            except httpx.TransportError:
                # A keep-alive connection the server closed as it was reused: as a till
                # would, send the same id again (counted, and in the latency).
                self.retries += 1
        else:
            raise SystemExit(f"purchase {body['id']}: no answer in 5 attempts")
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            self.failures += 1
        return elapsed


async def throughput(
    base: str, key: str, meters: list[str], clients: int, total: int, cpu: CpuMeter
) -> tuple:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"X-API-Key": key}
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=60
    ) as client:
        tills = Tills(client, meters, f"t{uuid.uuid4().hex[:8]}")
        await asyncio.gather(*(tills.buy() for _ in range(WARM_UP)))
        latencies: list[float] = []
        remaining = total

        async def till() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                latencies.append(await tills.buy())

        cpu.start()
        start = time.perf_counter()
        await asyncio.gather(*(till() for _ in range(clients)))
        wall = time.perf_counter() - start
        used = cpu.stop()
    return total / wall, latencies, tills.failures + tills.retries, used


async def at_rate(base: str, key: str, meters: list[str], rate: float, seconds: float) -> tuple:
    headers = {"X-API-Key": key}
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=60
    ) as client:
        tills = Tills(client, meters, f"r{uuid.uuid4().hex[:8]}")
        await asyncio.gather(*(tills.buy() for _ in range(WARM_UP)))
        count = int(rate * seconds)
        start = time.perf_counter()
        tasks = []
        for i in range(count):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(tills.buy()))
        sending = time.perf_counter() - start
        latencies = await asyncio.gather(*tasks)
    # The rate the requests actually left at (the client may fall behind its schedule).
    return (count - 1) / sending, list(latencies), tills.failures + tills.retries


class ThreadTills:
    """The same purchases from threads, each with its own keep-alive connection of the
    standard library's ``http.client``: about a third of httpx's CPU per request, which
    on a small machine is CPU the server gets back (``--client httpx`` for the other)."""

    def __init__(self, base: str, key: str, meters: list[str], tag: str) -> None:
        self.address = base.removeprefix("http://")
        self.headers = {"X-API-Key": key, "Content-Type": "application/json"}
        self.meters = meters
        self.tag = tag
        self.count = 0
        self.failures = 0
        self.retries = 0
        self.lock = threading.Lock()
        self.local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            host, port = self.address.rsplit(":", 1)
            connection = http.client.HTTPConnection(host, int(port), timeout=60)
            self.local.connection = connection
        return connection

    def buy(self, since: float | None = None) -> float:
        """One purchase; its latency from ``since`` (when it was due) or from now."""
        with self.lock:
            number = self.count
            self.count += 1
        body = json.dumps(
            {
                "id": f"{self.tag}-{number}",
                "meter": self.meters[number % len(self.meters)],
                "money": PAYMENT,
            }
        )
        start = time.perf_counter() if since is None else since
        for _attempt in range(5):
            connection = self._connection()
            try:
                connection.request("POST", "/v1/purchases", body, self.headers)
                response = connection.getresponse()
                response.read()
                break
            except (OSError, http.client.HTTPException):
                connection.close()  # as a till would: the same id again, on a new connection
                self.local.connection = None
                with self.lock:
                    self.retries += 1
        else:
            raise SystemExit(f"purchase {self.tag}-{number}: no answer in 5 attempts")
        elapsed = time.perf_counter() - start
        if response.status != 200:
            with self.lock:
                self.failures += 1
        return elapsed


def throughput_threads(
    base: str, key: str, meters: list[str], clients: int, total: int, cpu: CpuMeter
) -> tuple:
    tills = ThreadTills(base, key, meters, f"t{uuid.uuid4().hex[:8]}")
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda _n: tills.buy(), range(WARM_UP)))
        latencies: list[float] = []
        remaining = [total]

        def till() -> None:
            while True:
                with tills.lock:
                    if remaining[0] == 0:
                        return
                    remaining[0] -= 1
                latencies.append(tills.buy())

        cpu.start()
        start = time.perf_counter()
        for future in [pool.submit(till) for _ in range(clients)]:
            future.result()
        wall = time.perf_counter() - start
        used = cpu.stop()
    return total / wall, latencies, tills.failures + tills.retries, used


def at_rate_threads(base: str, key: str, meters: list[str], rate: float, seconds: float) -> tuple:
    """Open loop: purchase i is due at start + i / rate and its latency counts from then,
    whether or not a thread was free to send it at once (up to 200 in flight)."""
    tills = ThreadTills(base, key, meters, f"r{uuid.uuid4().hex[:8]}")
    with ThreadPoolExecutor(200) as pool:
        list(pool.map(lambda _n: tills.buy(), range(WARM_UP)))
        count = int(rate * seconds)
        start = time.perf_counter()
        futures = []
        for i in range(count):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(tills.buy, due))
        sending = time.perf_counter() - start
        latencies = [future.result() for future in futures]
    return (count - 1) / sending, latencies, tills.failures + tills.retries


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


@contextmanager
def fresh_database(kind: str, server: str | None) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield sqlite_url(Path(folder) / "api.sqlite")
        return
    assert server is not None
    admin_url = sa.engine.make_url(server).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"sts_bench_api_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def spread(values: list[float], show: object) -> str:
    return " / ".join(show(v) for v in (min(values), statistics.median(values), max(values)))  # type: ignore[operator]


def count_statements(url: str, key: str, meter: str) -> list[str]:
    """What one purchase sends to the database, as the route does it: the operator's
    key checked (vending.vendors.authenticate), then vending.sales.purchase. Each
    statement's first words, with BEGIN, COMMIT and ROLLBACK where they happen."""
    database = open_database(url, create=False)
    backend = Backend.open(
        database, MasterKey.from_hex(MASTER_HEX), lambda: datetime.now(UTC), random.Random(2)
    )
    sent: list[str] = []
    counting = False

    def statement(_conn, _cursor, text, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if counting:
            sent.append(" ".join(text.split()[:3]))

    def marker(word: str):  # type: ignore[no-untyped-def]
        def mark(connection: sa.Connection, *_args: object) -> None:
            # In autocommit the driver sends no BEGIN, COMMIT or ROLLBACK at all.
            options = connection.get_execution_options()
            if counting and options.get("isolation_level") != "AUTOCOMMIT":
                sent.append(word)

        return mark

    try:
        for engine in {database.engine, database.read_engine}:
            sa.event.listen(engine, "before_cursor_execute", statement)
            for name in ("begin", "commit", "rollback"):
                sa.event.listen(engine, name, marker(name.upper()))
        tag = uuid.uuid4().hex[:8]
        for n, counted in enumerate((False, True)):  # the first warms caches up
            counting = counted
            who = vendors.authenticate(backend, key)
            sales.purchase(backend, who, f"s{tag}-{n}", meter, money=PAYMENT)
        counting = False
    finally:
        database.dispose()
    return sent


@dataclass(frozen=True)
class Run:
    """One run's figures: the 16-till phase, CPU per purchase, and the fixed-rate phase."""

    rate: float
    median: float
    p99: float
    cpu_server: float
    cpu_db: float | None
    cpu_client: float
    paced_at: float | None
    paced_median: float | None
    paced_p99: float | None
    failed: int

    def line(self) -> str:
        db_text = "" if self.cpu_db is None else f", database {ms(self.cpu_db)}"
        text = (
            f"{self.rate:.0f} purchases/s (median {ms(self.median)}, p99 {ms(self.p99)}); "
            f"CPU per purchase: server {ms(self.cpu_server)}{db_text}, "
            f"client {ms(self.cpu_client)}"
        )
        if self.paced_median is not None and self.paced_p99 is not None:
            text += (
                f"; sent at {self.paced_at:.0f}/s: median {ms(self.paced_median)}, "
                f"p99 {ms(self.paced_p99)}"
            )
        return f"{text}; refused or retried {self.failed}"


def one_run(
    kind: str, server: str | None, workers: int, args: argparse.Namespace, sts: str | None
) -> Run:
    """A fresh database, ``sts`` serving it, the tills, then the fixed rate."""
    with fresh_database(kind, server) as url:
        meters, key = set_up(url, args.meters)
        with serving(url, workers, sts) as (base, pid):
            cpu = CpuMeter(pid, url)
            if args.client == "httpx":
                rate, latencies, failed, used = asyncio.run(
                    throughput(base, key, meters, args.clients, args.purchases, cpu)
                )
            else:
                rate, latencies, failed, used = throughput_threads(
                    base, key, meters, args.clients, args.purchases, cpu
                )
            paced_at, paced = None, None
            if args.seconds > 0 and args.client == "httpx":
                paced_at, paced, failed_paced = asyncio.run(
                    at_rate(base, key, meters, args.rate, args.seconds)
                )
                failed += failed_paced
            elif args.seconds > 0:
                paced_at, paced, failed_paced = at_rate_threads(
                    base, key, meters, args.rate, args.seconds
                )
                failed += failed_paced
    per = [None if v is None else v / args.purchases for v in used]
    return Run(
        rate=rate,
        median=statistics.median(latencies),
        p99=p99(latencies),
        cpu_server=per[0],
        cpu_db=per[1],
        cpu_client=per[2],
        paced_at=paced_at,
        paced_median=None if paced is None else statistics.median(paced),
        paced_p99=None if paced is None else p99(paced),
        failed=failed,
    )


def summary(runs: list[Run], rate: float, indent: str = "    ") -> None:
    print(f"{indent}purchases/s under load: {spread([r.rate for r in runs], lambda v: f'{v:.0f}')}")
    print(
        f"{indent}latency under load: median {spread([r.median for r in runs], ms)}; "
        f"p99 {spread([r.p99 for r in runs], ms)}"
    )
    print(
        f"{indent}CPU per purchase: server {spread([r.cpu_server for r in runs], ms)}; "
        f"client {spread([r.cpu_client for r in runs], ms)}"
    )
    databases = [r.cpu_db for r in runs if r.cpu_db is not None]
    if databases:
        print(f"{indent}CPU per purchase: database backends {spread(databases, ms)}")
    paced = [r for r in runs if r.paced_median is not None]
    if paced:
        print(
            f"{indent}at {rate:g}/s: median {spread([r.paced_median for r in paced], ms)}; "
            f"p99 {spread([r.paced_p99 for r in paced], ms)}"
        )


def bench(kind: str, server: str | None, workers: int, args: argparse.Namespace) -> None:
    print(
        f"\n{kind}, {workers} worker(s), {args.clients} clients ({args.client}), "
        f"{args.meters} meters"
    )
    with fresh_database(kind, server) as url:
        meters, key = set_up(url, 2)
        sent = count_statements(url, key, meters[-1])
    trips = sum(1 for word in sent if word not in ("BEGIN", "COMMIT", "ROLLBACK"))
    print(f"  one purchase sends {trips} statements: {'; '.join(sent)}")
    runs: list[Run] = []
    baselines: list[Run] = []
    for number in range(1, args.runs + 1):
        # With a baseline, the two alternate run by run, so both see the same machine.
        if args.baseline_sts:
            baselines.append(one_run(kind, server, workers, args, args.baseline_sts))
            print(
                f"  run {number}, baseline (load average {os.getloadavg()[0]:.1f}): "
                f"{baselines[-1].line()}"
            )
        runs.append(one_run(kind, server, workers, args, args.sts))
        print(f"  run {number} (load average {os.getloadavg()[0]:.1f}): {runs[-1].line()}")
        if args.baseline_sts:
            print(f"  run {number}: {runs[-1].rate / baselines[-1].rate:.2f}x the baseline's rate")
    print("  min / median / max:")
    summary(runs, args.rate)
    if baselines:
        print("  the baseline, min / median / max:")
        summary(baselines, args.rate)
        ratios = [r.rate / b.rate for r, b in zip(runs, baselines, strict=True)]
        print(f"  rate / baseline's, run by run: {spread(ratios, lambda v: f'{v:.2f}x')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("STS_TEST_POSTGRES_URL"))
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--purchases", type=int, default=1500)
    parser.add_argument("--meters", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="of the fixed-rate phase (0 skips it)"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres-workers", type=int, default=4)
    parser.add_argument(
        "--sts", default=None, help="the sts command that serves (default: beside python)"
    )
    parser.add_argument(
        "--baseline-sts",
        default=None,
        help="another sts command (e.g. an older checkout's) run alternately with this one",
    )
    parser.add_argument(
        "--client",
        choices=("threads", "httpx"),
        default="threads",
        help="http.client in threads (default), or httpx on asyncio",
    )
    args = parser.parse_args()
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    print(
        f"{platform.system()} {platform.release()} {platform.machine()}, {cpu}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    if not args.skip_sqlite:
        bench("sqlite", None, 1, args)
    if args.skip_postgres:
        return
    if not args.postgres:
        print("\nPostgreSQL skipped: give --postgres URL (or set STS_TEST_POSTGRES_URL)")
        return
    bench("postgresql", args.postgres, args.postgres_workers, args)


if __name__ == "__main__":
    main()
