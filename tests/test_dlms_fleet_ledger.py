"""`sts meter fleet new DIR --from-ledger`: a fleet made from a vending ledger's meters, on
SQLite and PostgreSQL. Two meters are registered, one is sold a token; the fleet is made
from the ledger, served by `sts meter serve DIR` as a real process, and the token pushed
through the token gateway with `sts dlms push-token` is accepted. The vending key is the
public STS test key; the decoder key it gives must never appear in any output.
"""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import VECTOR_VK

from cli import main

REPO_ROOT = Path(__file__).resolve().parent.parent
MASTER_HEX = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"
DRNS = ("47500150231", "47500150249")


class Sts:
    def __init__(self, url: str) -> None:
        self.url = url
        self.env = {"STS_MASTER_KEY": MASTER_HEX, "STS_DATABASE_URL": url}
        self.seen: list[str] = []

    def __call__(self, *args: str, input: str | None = None) -> Result:
        result = CliRunner().invoke(main, list(args), input=input, env=self.env)
        self.seen.append(result.output)
        return result

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, result.output
        return result


@pytest.fixture
def ledger(database_url: str) -> Sts:
    run = Sts(database_url)
    run.ok("keys", "add", "k1", "--sgc", "123456", "--krn", "1", "--base-date", "2014",
           input=VECTOR_VK + "\n")  # fmt: skip
    for drn in DRNS:
        run.ok("meters", "add", drn, "--sgc", "123456", "--ti", "7")
    return run


def test_a_fleet_from_the_ledger_accepts_what_the_ledger_sells(ledger: Sts, tmp_path: Path):
    receipt = json.loads(
        ledger.ok("vend", "credit", "--meter", DRNS[1], "--units", "12.5", "--json").stdout
    )
    (token,) = [t["digits"] for t in receipt["tokens"]]
    folder = tmp_path / "fleet"
    made = ledger.ok("meter", "fleet", "new", str(folder), "--from-ledger", "--json")
    assert json.loads(made.stdout)["count"] == 2
    with (folder / "fleet.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["drn"] for row in rows] == list(DRNS)  # the ledger's meters in DRN order
    process = subprocess.Popen(
        [sys.executable, "cli.py", "meter", "serve", str(folder), "--port", "0", "--frozen-clock"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(2)]
        port = int(lines[1].split(" on 127.0.0.1:")[1].split(";")[0])
        push = ("dlms", "push-token", f"127.0.0.1:{port}", token,
                "--password", rows[1]["operator"], "--json")  # fmt: skip
        first = json.loads(ledger.ok(*push).output)
        refused = ledger(*push)  # exit 1: the meter rejected it
        again = json.loads(refused.output)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate()
    assert (first["sts_result"], again["sts_result"]) == (1, 10)  # Accept, then Used
    assert refused.exit_code == 1
    from sts.crypto import KeyParameters, VendingKey, derive_decoder_key
    from sts.tokens.meter_number import meter_pan

    params = KeyParameters(pan=meter_pan(DRNS[1]), sgc=123456, kt=2, ti=7, krn=1)
    dk = derive_decoder_key("02", VendingKey.from_hex(VECTOR_VK), params).reveal_hex()
    for output in [*ledger.seen, *lines]:
        assert VECTOR_VK not in output and dk.upper() not in output.upper()


def test_fleet_from_the_ledger_refusals(ledger: Sts, tmp_path: Path):
    mixed = ledger("meter", "fleet", "new", str(tmp_path / "a"), "--from-ledger",
                   "--dk", "E653341F9D5BF36F")  # fmt: skip
    assert mixed.exit_code == 2 and "not with --dk" in mixed.output
    nothing = ledger("meter", "fleet", "new", str(tmp_path / "b"), "--dk", "E653341F9D5BF36F")
    assert nothing.exit_code == 2 and "give --count" in nothing.output
    stray = ledger("meter", "fleet", "new", str(tmp_path / "d"), "--count", "1",
                   "--dk", "E653341F9D5BF36F", "--db", ledger.url)  # fmt: skip
    assert stray.exit_code == 2 and "--db goes with --from-ledger" in stray.output
    one = ledger.ok("meter", "fleet", "new", str(tmp_path / "c"), "--from-ledger",
                    "--db", ledger.url, "--count", "1", "--json")  # fmt: skip
    assert json.loads(one.stdout)["last_drn"] == DRNS[0]
    again = ledger("meter", "fleet", "new", str(tmp_path / "c"), "--from-ledger")
    assert again.exit_code == 1 and "not empty" in again.output and "Traceback" not in again.output
