"""The TID rollover drill (issue 8, drill 2) on a fleet: wall time and per-meter figures.

Meters on base date 1993 and KRN 1 migrate to KRN 2 on base date 2014, as every
such meter had to before November 2024. The script times each phase:

1. set-up: both vending keys, a flat tariff and ``--meters`` meters (default 1,000)
   registered through the library, as a data import would;
2. ``sts migrate start`` as a real process: one key change order a meter;
3. the fleet, in this process: for every meter a vend by money (the KCT set and the
   credit token), a simulated meter made under the old key, and the KCT set, the
   credit token and a token under the old key keyed into it: the KCT set and the
   credit are accepted, the meter holds KRN 2 on base date 2014, the old-key token is
   rejected, the energy wallet holds the receipt's units;
4. a sample of ``--sample`` meters (default 10) the way tests/test_drills.py runs the
   drill for each meter: four ``sts`` processes (vend, meter new, token encode, meter
   keys), one meter after another, which gives the per-meter cost of the drill as
   processes and what the whole fleet would take that way;
5. ``sts report migration`` (every set handed out: 100%) and ``sts report verify``
   (the hash chain) as real processes.

Any failed check stops the script with the meter and what differed. The ledger is
SQLite in a temporary folder, or PostgreSQL with ``--postgres URL`` (a database the
user may create databases from: the script makes one of its own and drops it).

    python benchmarks/rollover.py                  # 1,000 meters on SQLite
    python benchmarks/rollover.py --meters 100 --sample 3
    python benchmarks/rollover.py --postgres postgresql://USER@127.0.0.1:PORT/DB

The script prints; nothing here is a test and nothing asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

# The repository root first: benchmarks/vending.py would otherwise stand in for the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

import sts
from sts.crypto.dkga import KeyParameters, derive_decoder_key
from sts.crypto.keys import VendingKey
from sts.meter.meter import Meter
from sts.tokens.meter_number import luhn_check_digit, meter_pan
from vending import registry, vend
from vending.backend import Backend
from vending.db import open_database
from vending.keystore import MasterKey
from vending.tariff import Block, Tariff

SGC = 123456
#: KRN 1 on base date 1993: the public STS test vending key (CTSA03). KRN 2 on 2014: another.
OLD_VK, NEW_VK = "ABABABABABABABAB", "9494949494949494"
MASTER = MasterKey(bytes(range(32)))
FLAT = Tariff(name="Flat", currency="ZAR", blocks=(Block(None, Decimal("2.00")),))
#: 20.00 at a flat 2.00 a kWh (no VAT): 10.0 kWh, worked by hand.
MONEY, KWH = Decimal("20"), Decimal("10.0")
MIGRATE = ["migrate", "start", "rollover", "--sgc", str(SGC), "--from-krn", "1",
           "--to-krn", "2", "--base-date", "2014"]  # fmt: skip
MANUFACTURED = datetime(2024, 1, 1, tzinfo=UTC)
ACCEPT, FIRST_KCT = 1, 2


def drn(number: int) -> str:
    body = f"{47500000 + number:010d}"
    return body + str(luhn_check_digit(body))


def fail(message: str) -> None:
    sys.exit(f"drill failed: {message}")


@contextmanager
def timed(figures: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    figures[name] = time.perf_counter() - started


class Shell:
    """The installed `sts` on the drill's ledger, in a folder of its own."""

    def __init__(self, sts_command: str, folder: Path, url: str) -> None:
        self.command, self.folder = sts_command, folder
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("STS_")} | {
            "STS_DATABASE_URL": url,
            "STS_MASTER_KEY": MASTER.secret_bytes().hex(),
            "HOME": str(folder),
            "XDG_DATA_HOME": str(folder / "data"),
        }
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: modules compiled once

    def run(self, *args: str, expect: int = 0) -> Any:
        done = subprocess.run([self.command, *args, "--json"], cwd=self.folder, env=self.env,
                              capture_output=True, text=True, check=False)  # fmt: skip
        if done.returncode != expect:
            fail(f"sts {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
        return json.loads(done.stdout)


def set_up(url: str, meters: int) -> list[str]:
    backend = Backend.open(open_database(url, create=True), MASTER, lambda: datetime.now(UTC),
                           random.SystemRandom())  # fmt: skip
    try:
        registry.add_vending_key(backend, "krn1", VendingKey.from_hex(OLD_VK), SGC, 1, 2, 1993)
        registry.add_vending_key(backend, "krn2", VendingKey.from_hex(NEW_VK), SGC, 2, 2, 2014)
        registry.add_tariff(backend, FLAT)
        numbers = [drn(n) for n in range(meters)]
        for number in numbers:
            registry.add_meter(backend, number, SGC, krn=1, base_date=1993, tariff="Flat")
    finally:
        backend.close()
    return numbers


def old_key_token(number: str, at: datetime) -> str:
    """A 1 kWh credit token under the meter's old key (KRN 1), its TID on base date 2014
    (those of 1993 ran out): the meter on its new key cannot decrypt it."""
    params = KeyParameters(pan=meter_pan(number), sgc=SGC, kt=2, ti=1, krn=1)
    key = derive_decoder_key("02", VendingKey.from_hex(OLD_VK), params)
    tid = sts.vending_tid(at, sts.BaseDate.Y2014)
    return sts.encode(
        sts.TransferCredit(sts.CreditKind.ELECTRICITY, rnd=7, tid=tid, amount=10), key
    )


def one_meter_in_process(backend: Backend, number: str) -> None:
    receipt = vend.vend_credit(backend, number, MONEY, None, f"fleet-{number}")
    labels = [token.label for token in receipt.tokens]
    if labels != ["Key change 1", "Key change 2", f"Credit {KWH} kWh"]:
        fail(f"meter {number}: receipt tokens {labels}")
    meter = Meter.manufacture(drn=number, manufactured=MANUFACTURED,
                              vending_key=VendingKey.from_hex(OLD_VK), dkga="02", sgc=SGC,
                              krn=1, base_date=1993)  # fmt: skip
    at = receipt.time + timedelta(minutes=1)
    kct1, kct2, credit = (token.digits for token in receipt.tokens)
    results = [meter.enter_token(digits, at).result for digits in (kct1, kct2, credit)]
    if results != [FIRST_KCT, ACCEPT, ACCEPT]:
        fail(f"meter {number}: KCT set and credit gave {results}")
    keys = meter.status().keys
    if (keys.krn, keys.base_date) != (2, 2014):
        fail(f"meter {number}: keys after the KCT set {keys}")
    if meter.enter_token(old_key_token(number, at), at).result in (ACCEPT, FIRST_KCT, 3):
        fail(f"meter {number}: a token under the old key was accepted")
    wallet = meter.status().credit.energy_kwh
    if wallet != KWH:
        fail(f"meter {number}: energy wallet {wallet} kWh; the receipt says {KWH}")


def one_meter_as_processes(shell: Shell, number: str) -> None:
    """The drill for one meter as tests/test_drills.py runs it: four `sts` processes."""
    receipt = shell.run("vend", "credit", "--meter", number, "--money", str(MONEY),
                        "--ref", f"sample-{number}")  # fmt: skip
    kct1, kct2, credit = (token["digits"] for token in receipt["tokens"])
    state = shell.folder / f"{number}.json"
    shell.run("meter", "new", str(state), "--vk", OLD_VK, "--sgc", str(SGC), "--krn", "1",
              "--base-date", "1993", "--drn", number,
              "--manufactured", MANUFACTURED.strftime("%Y-%m-%d %H:%M%z"))  # fmt: skip
    at = (datetime.fromisoformat(receipt["time"]) + timedelta(minutes=1)).strftime(
        "%Y-%m-%d %H:%M%z"
    )
    old = shell.run("token", "encode", "credit", "--kwh", "1", "--dkga", "02", "--vk", OLD_VK,
                    "--drn", number, "--sgc", str(SGC), "--kt", "2", "--ti", "1", "--krn", "1",
                    "--at", at)["tokens"][0]["digits"]  # fmt: skip
    keyed = shell.run("meter", "keys", str(state), f"{kct1}E{kct2}E{credit}E{old}E6E",
                      "--at", at, expect=1)  # fmt: skip
    results = [entry["result"] for entry in keyed["entries"]]
    if results[:3] != [FIRST_KCT, ACCEPT, ACCEPT] or results[3] in (ACCEPT, FIRST_KCT, 3):
        fail(f"meter {number}: keyed results {results}")
    if keyed["entries"][4]["lines"] != ["KRN 2"]:
        fail(f"meter {number}: short code 6 shows {keyed['entries'][4]['lines']}")


@contextmanager
def ledger(postgres: str | None, folder: Path) -> Iterator[str]:
    if postgres is None:
        yield f"sqlite:///{folder / 'fleet.sqlite'}"
        return
    server = sa.engine.make_url(postgres).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"sts_rollover_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=1000, help="fleet size (default 1000)")
    parser.add_argument("--sample", type=int, default=10, help="meters run as processes")
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL (a new database)")
    parser.add_argument("--sts", default=str(Path(sys.executable).with_name("sts")))
    args = parser.parse_args()
    if not 1 <= args.meters <= 100_000:
        parser.error(f"--meters {args.meters} is out of range; expected 1 to 100000")
    if not 0 <= args.sample <= args.meters:
        parser.error(f"--sample {args.sample} is out of range; expected 0 to --meters")
    if not Path(args.sts).exists():
        parser.error(f"the sts command {args.sts} does not exist (pip install -e .)")

    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}")  # fmt: skip
    print(f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    figures: dict[str, float] = {}
    per_sample: list[float] = []
    with tempfile.TemporaryDirectory(prefix="sts-rollover-") as name:
        folder = Path(name)
        with ledger(args.postgres, folder) as url:
            if args.postgres is not None:
                Shell(args.sts, folder, url).run("db", "upgrade")
            shell = Shell(args.sts, folder, url)
            with timed(figures, "set-up (library)"):
                numbers = set_up(url, args.meters)
            with timed(figures, "sts migrate start"):
                [started] = shell.run(*MIGRATE)
            if started["ordered"] != args.meters:
                fail(f"migration ordered {started['ordered']} of {args.meters} meters")
            sample, fleet = numbers[: args.sample], numbers[args.sample :]
            backend = Backend.open(open_database(url), MASTER, lambda: datetime.now(UTC),
                                   random.SystemRandom())  # fmt: skip
            try:
                with timed(figures, "fleet in process"):
                    for number in fleet:
                        one_meter_in_process(backend, number)
            finally:
                backend.close()
            with timed(figures, "sample as processes"):
                for number in sample:
                    began = time.perf_counter()
                    one_meter_as_processes(shell, number)
                    per_sample.append(time.perf_counter() - began)
            with timed(figures, "sts report migration"):
                [report] = shell.run("report", "migration", "rollover")
            with timed(figures, "sts report verify"):
                verified = shell.run("report", "verify")
    if (report["ordered"], report["issued"], report["pending"]) != (args.meters,) * 2 + (0,):
        fail(f"migration report {report}")
    if verified.get("ok") is not True:
        fail(f"the ledger does not verify: {verified}")

    engine = "PostgreSQL" if args.postgres else "SQLite"
    print(f"{args.meters} meters on {engine}: every KCT set and credit token accepted, KRN 2 "
          f"on base date 2014, old-key tokens rejected, migration report 100% "
          f"({report['issued']}/{report['ordered']}), chain verifies")  # fmt: skip
    for label, seconds in figures.items():
        print(f"  {label:24} {seconds:8.1f} s")
    if fleet:
        print(f"  per meter in process     {figures['fleet in process'] / len(fleet) * 1000:8.1f} "
              f"ms (vend + simulated meter + 4 tokens keyed)")  # fmt: skip
    if per_sample:
        low, mid, high = min(per_sample), statistics.median(per_sample), max(per_sample)
        print(f"  per meter as 4 processes {low:.2f} / {mid:.2f} / {high:.2f} s "
              f"(min/median/max of {len(per_sample)})")  # fmt: skip
        print(f"  the whole fleet as processes, one at a time: about "
              f"{mid * args.meters / 60:.0f} min")  # fmt: skip
    total = sum(figures.values())
    print(f"  wall time, all phases    {total:8.1f} s")
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
