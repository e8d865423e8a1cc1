"""End-to-end drills of issue 8, run as a user runs them: the installed `sts` command, each
step its own process.

- Drill 1 (SQLite; PostgreSQL as part of drill 4): a fresh start on an empty ledger: a
  vending key, a tariff and a meter, a vend by money, the simulated meter made by ``sts
  meters simulate``: the token is accepted and the energy wallet holds the receipt's units,
  entered again it is Used, and a vend repeated with one reference gives the same token.
- Drill 4 (PostgreSQL): two vending processes at once on one ledger (loops of ``sts vend
  credit`` on their own meters and on a shared one), and the crash drill 3 with a second
  process vending while the migration runs: no TID repeats, every printed token is in the
  ledger, the hash chain verifies.
- Drill 5: ``sts conformance run`` over the project's vector files from the shell.
- Drill 3 (SQLite and PostgreSQL): a TID rollover migration killed with SIGKILL part-way
  and run again resumes; no meter gets two orders, no TID repeats, the ledger verifies.
- Drill 2 (SQLite): meters on base date 1993, KRN 1 migrate to KRN 2 on 2014; each is
  vended to and its simulated meter (``sts meter new`` with the derived key) takes the
  KCT set and the credit token, then shows KRN 2 and rejects a token under the old key;
  the migration report shows every set handed out. CI runs ``STS_DRILL_METERS`` meters
  (default 6: four processes a meter). ``STS_DRILL_METERS=1000`` runs the issue's full
  drill this way, four thousand processes: begun on the shared 2-core machine (load 8-10)
  it managed 81 meters in 8.8 minutes, about 1.8 hours for the fleet.
  ``benchmarks/rollover.py`` is the home of the 1,000-meter run: the migration and the
  reports as processes, every meter vended and keyed into its simulated meter in one
  process, and a sample as processes, with the time of each phase and per meter.

Setting up many meters is not the drill: the test registers them through the library
(``vending.registry``), the way a data import would; everything after is `sts`.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import TEST_MASTER_KEY, Clock

from sts.crypto.keys import VendingKey
from sts.tokens.meter_number import luhn_check_digit
from vending import registry
from vending.backend import Backend
from vending.db import make_engine, open_database
from vending.tariff import Block, Tariff

ROOT = Path(__file__).resolve().parent.parent
STS = Path(sys.executable).with_name("sts")
SGC = 123456
#: KRN 1 on base date 1993: the public STS test vending key (CTSA03). KRN 2 on 2014: another.
OLD_VK, NEW_VK = "ABABABABABABABAB", "9494949494949494"
FLAT = Tariff(name="Flat", currency="ZAR", blocks=(Block(None, Decimal("2.00")),))
MIGRATE = ["migrate", "start", "rollover", "--sgc", str(SGC), "--from-krn", "1",
           "--to-krn", "2", "--base-date", "2014"]  # fmt: skip
#: Made before the 1993 base date ran out of TIDs (November 2024), as every such meter was.
MANUFACTURED = "2024-01-01 00:00+00:00"
DRILL_METERS_ENV = "STS_DRILL_METERS"

pytestmark = pytest.mark.skipif(
    not STS.exists(), reason=f"the installed `sts` command is not beside {sys.executable}"
)


@dataclass
class Shell:
    """Runs the installed `sts` in a folder of its own, on one database and master key."""

    folder: Path
    url: str
    #: False: no STS_MASTER_KEY; the master key file is made on first use in the folder.
    master_key_env: bool = True

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STS_")}
        env |= {
            "STS_DATABASE_URL": self.url,
            "HOME": str(self.folder),
            "XDG_DATA_HOME": str(self.folder / "data"),
        }
        if self.master_key_env:
            env["STS_MASTER_KEY"] = TEST_MASTER_KEY.secret_bytes().hex()
        return env

    def run(self, *args: str, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        """`sts ARGS`; its exit status must be ``expect`` (None: any)."""
        done = subprocess.run(
            [str(STS), *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if expect is not None:
            assert done.returncode == expect, (args, done.returncode, done.stdout, done.stderr)
        return done

    def json(self, *args: str, expect: int = 0) -> Any:
        return json.loads(self.run(*args, "--json", expect=expect).stdout)

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(STS), *args],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )


def drn(number: int) -> str:
    body = f"{47500000 + number:010d}"
    return body + str(luhn_check_digit(body))


def set_up(url: str, meters: int, krn: int = 1, first: int = 0) -> list[str]:
    """Both vending keys, a flat tariff and ``meters`` meters on KRN 1, base date 1993 (or
    on KRN 2, base date 2014), numbered from ``first``."""
    backend = Backend.open(
        open_database(url, create=False), TEST_MASTER_KEY, Clock(), random.Random(8)
    )
    try:
        if not first:
            registry.add_vending_key(backend, "krn1", VendingKey.from_hex(OLD_VK), SGC, 1, 2, 1993)
            registry.add_vending_key(backend, "krn2", VendingKey.from_hex(NEW_VK), SGC, 2, 2, 2014)
            registry.add_tariff(backend, FLAT)
        numbers = [drn(n) for n in range(first, first + meters)]
        base_date = 1993 if krn == 1 else 2014
        for number in numbers:
            registry.add_meter(backend, number, SGC, krn=krn, base_date=base_date, tariff="Flat")
    finally:
        backend.close()
    return numbers


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = make_engine(url, read_only=True)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sa.text(sql))]
    finally:
        engine.dispose()


# --- drill 1: a fresh start, keyed into a simulated meter (drill 4: also on PostgreSQL) ---

#: 1.50 a kWh up to 50 kWh, then 2.00; VAT 15%. Worked by hand: 69.00 paid is 60.00 of
#: energy and 9.00 VAT; 60.00 at 1.50 is 40.0 kWh, all in the first step.
STEPPED = {
    "name": "Home",
    "currency": "ZAR",
    "blocks": [
        {"up_to_kwh": "50", "price_per_kwh": "1.50"},
        {"up_to_kwh": None, "price_per_kwh": "2.00"},
    ],
    "vat_percent": "15",
}
DRILL1_DRN = "47500150231"  # the meter of the public STS tests (CTSA03), Luhn-checked
DRILL1_VK = "ABABABABABABABAB"


@pytest.mark.parametrize("empty_database_url", ["sqlite", "postgresql"], indirect=True)
def test_drill1_fresh_start_vend_keyed_into_the_simulated_meter(
    empty_database_url: str, tmp_path: Path
) -> None:
    # No STS_MASTER_KEY: `keys add` makes the master key file, as on a new user's machine.
    shell = Shell(tmp_path, empty_database_url, master_key_env=False)
    if not empty_database_url.startswith("sqlite"):
        shell.run("db", "upgrade")  # a PostgreSQL ledger is set up by hand (docs/vending.md)
    (tmp_path / "home.json").write_text(json.dumps(STEPPED))
    env_key = shell.env | {"DRILL_VK": DRILL1_VK}
    for args in (
        ["keys", "add", "main", "--sgc", str(SGC), "--krn", "1", "--base-date", "2014",
         "--key-env", "DRILL_VK"],
        ["tariffs", "add", str(tmp_path / "home.json")],
        ["meters", "add", DRILL1_DRN, "--sgc", str(SGC), "--tariff", "Home"],
    ):  # fmt: skip
        done = subprocess.run([str(STS), *args], cwd=tmp_path, env=env_key,
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        assert DRILL1_VK not in done.stdout + done.stderr

    receipt = shell.json("vend", "credit", "--meter", DRILL1_DRN, "--money", "69.00",
                         "--ref", "till-1/0001")  # fmt: skip
    [token] = receipt["tokens"]
    assert Decimal(receipt["kwh"]) == Decimal("40.0")  # worked by hand above
    assert receipt["breakdown"]["vat"] == "9.00"

    state = tmp_path / "meter.json"
    simulated = shell.run("meters", "simulate", DRILL1_DRN, str(state))
    assert DRILL1_VK not in simulated.stdout + simulated.stderr
    entered = shell.json("meter", "enter", str(state), token["digits"])
    assert (entered["result"], entered["text"]) == (1, "Accept")
    shown = shell.json("meter", "show", str(state))
    assert Decimal(shown["credit"]["energy_kwh"]) == Decimal(receipt["kwh"]) == Decimal("40")
    assert shown["keys"]["krn"] == 1 and shown["keys"]["base_date"] == 2014

    again = shell.json("meter", "enter", str(state), token["digits"], expect=1)
    assert (again["result"], again["text"]) == (10, "Used")
    assert Decimal(again["credit"]["energy_kwh"]) == 40  # nothing more credited

    retry = shell.json("vend", "credit", "--meter", DRILL1_DRN, "--money", "69.00",
                       "--ref", "till-1/0001")  # fmt: skip
    assert [t["digits"] for t in retry["tokens"]] == [token["digits"]]
    assert retry["transaction_id"] == receipt["transaction_id"]
    assert query(empty_database_url, "SELECT COUNT(*) FROM tokens") == [(1,)]


# --- drill 4: two vending processes at once on PostgreSQL ------------------------------


def _vend_loop(
    shell: Shell, plan: list[tuple[str, str]], outcomes: list[tuple[str, int, Any]] | None = None
) -> list[tuple[str, int, Any]]:
    """One till: `sts vend credit` for each (meter, reference) in turn, as separate
    processes; each outcome, appended as it comes, is (meter, exit status, receipt or
    error text)."""
    outcomes = [] if outcomes is None else outcomes
    for number, reference in plan:
        done = shell.run("vend", "credit", "--meter", number, "--money", "20",
                         "--ref", reference, "--json", expect=None)  # fmt: skip
        if done.returncode == 0:
            outcomes.append((number, 0, json.loads(done.stdout)))
        else:
            outcomes.append((number, done.returncode, done.stderr.strip()))
    return outcomes


def _assert_ledger_holds(url: str, shell: Shell, printed: list[str]) -> None:
    """No TID repeats for a meter and key; every printed token is in the ledger, once;
    the hash chain verifies."""
    assert (
        query(
            url,
            "SELECT meter_id, key_revision, tid, COUNT(*) FROM tokens WHERE tid IS NOT NULL "
            "GROUP BY meter_id, key_revision, tid HAVING COUNT(*) > 1",
        )
        == []
    )
    stored = [row[0] for row in query(url, "SELECT digits FROM tokens")]
    assert len(stored) == len(set(stored))
    assert sorted(printed) == sorted(stored)
    verified = shell.json("report", "verify")
    assert verified["ok"] is True, verified


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_drill4_two_vending_processes_at_once(database_url: str, tmp_path: Path) -> None:
    shell = Shell(tmp_path, database_url)
    own_a, own_b, shared = set_up(database_url, 3, krn=2)
    rounds = 2
    plans = [
        [(meter, f"{till}-{n}-{meter}") for n in range(rounds) for meter in (own, shared)]
        for till, own in (("a", own_a), ("b", own_b))
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        tills = list(pool.map(lambda plan: _vend_loop(shell, plan), plans))
    outcomes = [outcome for till in tills for outcome in till]
    assert [status for _, status, _ in outcomes] == [0] * (4 * rounds), outcomes
    printed = [t["digits"] for _, _, receipt in outcomes for t in receipt["tokens"]]
    assert len(printed) == 4 * rounds
    _assert_ledger_holds(database_url, shell, printed)
    # The shared meter's TIDs: one per vend, from both tills, none repeated.
    tids = query(
        database_url,
        f"SELECT t.tid FROM tokens t JOIN meters m ON m.id = t.meter_id WHERE m.drn = '{shared}'",
    )
    assert len(tids) == len({tid for (tid,) in tids}) == 2 * rounds


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_drill4_a_killed_migration_resumes_while_another_process_vends(
    database_url: str, tmp_path: Path
) -> None:
    shell = Shell(tmp_path, database_url)
    meters = 2 * CRASH_METERS  # the migration is still running when the till has sold
    migrating = set_up(database_url, meters)
    # Two meters already on KRN 2 that the migration leaves alone, always vendable.
    steady = set_up(database_url, 2, krn=2, first=meters)
    # The till vends to a steady meter and to the first migrating meters in turn: a migrating
    # meter with its order gets the KCT set and credit, one without is refused (its TIDs on
    # base date 1993 ran out) and prints no token.
    plan = [
        (meter, f"till-{n}")
        for n, meter in enumerate(m for pair in zip(steady, migrating[:2], strict=True)
                                  for m in pair)
    ]  # fmt: skip
    engine = make_engine(database_url, read_only=True)
    try:
        with engine.connect() as watch, ThreadPoolExecutor(max_workers=1) as pool:
            migration = shell.spawn(*MIGRATE, "--chunk", "1")
            outcomes: list[tuple[str, int, Any]] = []
            till = pool.submit(_vend_loop, shell, plan, outcomes)
            ordered = 0
            # Killed once the till has sold twice during the run (or near the run's end).
            while migration.poll() is None and ordered < meters - 20:
                time.sleep(0.01)
                ordered = watch.execute(COUNT_ORDERS).scalar_one()
                watch.rollback()
                if sum(status == 0 for _, status, _ in outcomes) >= 2 and ordered:
                    break
            migration.send_signal(signal.SIGKILL)
            migration.wait()
            till.result()
    finally:
        engine.dispose()
    assert migration.returncode == -signal.SIGKILL, migration.stderr.read()  # type: ignore[union-attr]
    assert 0 < query(database_url, "SELECT COUNT(*) FROM key_change_orders")[0][0] < meters

    printed: list[str] = []
    for number, status, result in outcomes:
        if status == 0:
            printed += [token["digits"] for token in result["tokens"]]
            labels = [token["label"] for token in result["tokens"]]
            kcts = [label for label in labels if label.startswith("Key change")]
            assert len(kcts) == (2 if number in migrating else 0), (number, labels)
        else:
            assert number in migrating and status == 1, (number, status, result)
            assert "key change" in result, result
    assert all(status == 0 for number, status, _ in outcomes if number in steady), outcomes

    [progress] = shell.json(*MIGRATE)  # the same command again: it resumes
    assert (progress["meters"], progress["ordered"], progress["to_order"]) == (meters, meters, 0)
    assert query(
        database_url, "SELECT COUNT(*), COUNT(DISTINCT meter_id) FROM key_change_orders"
    ) == [(meters, meters)]
    # The till's migrating meters are sold to again: the KCT set comes with a meter's first
    # sale after its order, once (with the sale during the run, or with this one).
    for number in migrating[:2]:
        receipt = shell.json("vend", "credit", "--meter", number, "--money", "20",
                             "--ref", f"after-{number}")  # fmt: skip
        printed += [token["digits"] for token in receipt["tokens"]]
        sold_during = any(n == number and status == 0 for n, status, _ in outcomes)
        kcts = [t for t in receipt["tokens"] if t["label"].startswith("Key change")]
        assert len(kcts) == (0 if sold_during else 2), (number, receipt["tokens"])
    _assert_ledger_holds(database_url, shell, printed)


# --- drill 5: conformance from the shell -----------------------------------------------

VECTOR_FILES = sorted((ROOT / "tests" / "vectors").glob("*.jsonl"))


@pytest.mark.parametrize("vectors", VECTOR_FILES, ids=lambda path: path.name)
def test_drill5_conformance_run_over_the_project_vector_files(
    vectors: Path, tmp_path: Path
) -> None:
    shell = Shell(tmp_path, "sqlite:///unused.sqlite")
    lines = [line for line in vectors.read_text().splitlines() if line.strip()]
    summary = shell.json("conformance", "run", str(vectors))
    assert (summary["passed"], summary["failed"]) == (len(lines), 0)
    assert all(result["ok"] for result in summary["results"])
    shown = shell.run("conformance", "run", str(vectors))
    assert str(len(lines)) in shown.stdout


def test_drill5_a_vendor_file_with_a_wrong_figure_fails_by_its_id(tmp_path: Path) -> None:
    shell = Shell(tmp_path, "sqlite:///unused.sqlite")
    lines = (ROOT / "tests" / "vectors" / "sts-public.jsonl").read_text().splitlines()
    for index, line in enumerate(lines):
        record = json.loads(line)
        if record["kind"] == "token" and len(record["expect"].get("token", "")) == 20:
            digits = record["expect"]["token"]
            record["expect"]["token"] = digits[:-1] + str((int(digits[-1]) + 1) % 10)
            lines[index], broken = json.dumps(record), record["id"]
            break
    else:
        pytest.fail("no line with a 20-digit token in sts-public.jsonl")
    vendor = tmp_path / "vendor.jsonl"
    vendor.write_text("\n".join(lines) + "\n")
    summary = shell.json("conformance", "run", str(vendor), expect=1)
    assert summary["failed"] == 1
    assert [r["id"] for r in summary["results"] if not r["ok"]] == [broken]


# --- drill 3: SIGKILL part-way through the rollover migration --------------------------

CRASH_METERS = 120
COUNT_ORDERS = sa.text("SELECT COUNT(*) FROM key_change_orders")


def test_drill3_a_killed_migration_resumes_without_double_orders(
    database_url: str, tmp_path: Path
) -> None:
    shell = Shell(tmp_path, database_url)
    numbers = set_up(database_url, CRASH_METERS)
    # One meter per commit, so that the kill lands between commits of a long run.
    engine = make_engine(database_url, read_only=True)
    try:
        with engine.connect() as watch:
            migration = shell.spawn(*MIGRATE, "--chunk", "1")
            ordered = 0
            while migration.poll() is None and ordered < 10:
                time.sleep(0.01)
                ordered = watch.execute(COUNT_ORDERS).scalar_one()
                watch.rollback()  # the next look sees later commits
            migration.send_signal(signal.SIGKILL)
            migration.wait()
    finally:
        engine.dispose()
    assert migration.returncode == -signal.SIGKILL, migration.stderr.read()  # type: ignore[union-attr]
    killed_at = query(database_url, "SELECT COUNT(*) FROM key_change_orders")[0][0]
    assert 0 < killed_at < CRASH_METERS

    [progress] = shell.json(*MIGRATE)  # the same command again
    assert (progress["meters"], progress["ordered"], progress["to_order"]) == (
        CRASH_METERS,
        CRASH_METERS,
        0,
    )
    assert query(
        database_url,
        "SELECT COUNT(*), COUNT(DISTINCT meter_id) FROM key_change_orders",
    ) == [(CRASH_METERS, CRASH_METERS)]

    # Vends hand the sets out, once each, and TIDs never repeat for a meter and key.
    first, second = numbers[0], numbers[1]
    for number, reference in ((first, "a"), (second, "b"), (first, "c")):
        receipt = shell.json("vend", "credit", "--meter", number, "--money", "20", "--ref",
                             reference)  # fmt: skip
        labels = [token["label"] for token in receipt["tokens"]]
        kcts = [label for label in labels if label.startswith("Key change")]
        assert len(kcts) == (2 if reference != "c" else 0), labels
    assert (
        query(
            database_url,
            "SELECT meter_id, key_revision, tid, COUNT(*) FROM tokens WHERE tid IS NOT NULL "
            "GROUP BY meter_id, key_revision, tid HAVING COUNT(*) > 1",
        )
        == []
    )
    [report] = shell.json("report", "migration", "rollover")
    assert (report["ordered"], report["issued"]) == (CRASH_METERS, 2)
    verified = shell.json("report", "verify")
    assert verified["ok"] is True, verified


# --- drill 2: TID rollover of a fleet, keyed into simulated meters ---------------------


def _drill_meters() -> int:
    text = os.environ.get(DRILL_METERS_ENV, "6")
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        pytest.fail(f"{DRILL_METERS_ENV}={text!r} is not a whole number of meters in 1..100000")
    return int(text)


def _minute_after(iso: str) -> str:
    when = datetime.fromisoformat(iso) + timedelta(minutes=1)
    return when.strftime("%Y-%m-%d %H:%M%z")


def _one_meter(shell: Shell, number: str) -> dict[str, Any]:
    """Vend to one migrated meter and key everything into its simulated meter."""
    receipt = shell.json("vend", "credit", "--meter", number, "--money", "20",
                         "--ref", f"drill2-{number}")  # fmt: skip
    kct1, kct2, credit = (token["digits"] for token in receipt["tokens"])
    state = shell.folder / f"{number}.json"
    shell.run("meter", "new", str(state), "--vk", OLD_VK, "--sgc", str(SGC), "--krn", "1",
              "--base-date", "1993", "--drn", number, "--manufactured", MANUFACTURED)  # fmt: skip
    at = _minute_after(receipt["time"])
    old_key = shell.json("token", "encode", "credit", "--kwh", "1", "--dkga", "02",
                         "--vk", OLD_VK, "--drn", number, "--sgc", str(SGC), "--kt", "2",
                         "--ti", "1", "--krn", "1", "--at", at)  # fmt: skip
    old = old_key["tokens"][0]["digits"]
    keyed = shell.json("meter", "keys", str(state), f"{kct1}E{kct2}E{credit}E{old}E6E",
                       "--at", at, expect=1)  # fmt: skip
    return {"receipt": receipt, "keyed": keyed}


def test_drill2_rollover_of_a_fleet_keyed_into_simulated_meters(tmp_path: Path) -> None:
    meters = _drill_meters()
    url = f"sqlite:///{tmp_path / 'fleet.sqlite'}"
    open_database(url).dispose()
    shell = Shell(tmp_path, url)
    numbers = set_up(url, meters)
    [started] = shell.json(*MIGRATE)
    assert (started["meters"], started["ordered"]) == (meters, meters)

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = dict(zip(numbers, pool.map(lambda n: _one_meter(shell, n), numbers), strict=True))
    for number, result in results.items():
        receipt, keyed = result["receipt"], result["keyed"]
        labels = [token["label"] for token in receipt["tokens"]]
        assert labels == ["Key change 1", "Key change 2", "Credit 10.0 kWh"], (number, labels)
        entries = keyed["entries"]
        # 1st KCT (2), Accept (1) with the new KRN and base date, Accept (1) crediting the
        # receipt's units; the old-key token is refused; short code 6 shows KRN 2.
        assert [entry["result"] for entry in entries[:3]] == [2, 1, 1], (number, entries)
        assert entries[1]["lines"][1:4] == ["KRN 2", "TI 01", "Base date 2014"]
        assert "+10.0 kWh" in entries[2]["lines"], entries[2]
        assert entries[3]["result"] not in (1, 2, 3), entries[3]
        assert entries[4]["lines"] == ["KRN 2"]
        assert keyed["rejected"] is True

    [report] = shell.json("report", "migration", "rollover")
    assert (report["meters"], report["ordered"], report["issued"], report["pending"]) == (
        meters,
        meters,
        meters,
        0,
    )
    assert shell.json("report", "verify")["ok"] is True
