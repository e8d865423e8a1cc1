"""A water meter from a vending ledger, served over DLMS as a real process, on SQLite and
PostgreSQL: the ledger sells 2.5 m3 (one water token, class 0 subclass 1), `sts dlms
push-token` pushes it through the token gateway of the meter `sts meter fleet new
--from-ledger` made, and `sts dlms get` reads the volume wallet (2.5 m3 = 2,500 in 0.001
m3), the volume register's scaler and unit (-3, 13 = m3) and finds no +A.
"""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import VECTOR_VK
from test_dlms_fleet_ledger import REPO_ROOT, Sts

DRN = "47500150231"


@pytest.fixture
def ledger(database_url: str) -> Sts:
    run = Sts(database_url)
    run.ok("keys", "add", "k1", "--sgc", "123456", "--krn", "1", "--base-date", "2014",
           input=VECTOR_VK + "\n")  # fmt: skip
    run.ok("meters", "add", DRN, "--sgc", "123456", "--service", "water", "--token-kind", "units")
    return run


def test_a_water_token_sold_by_the_ledger_pushed_over_dlms(ledger: Sts, tmp_path: Path):
    receipt = json.loads(
        ledger.ok("vend", "credit", "--meter", DRN, "--units", "2.5", "--json").stdout
    )
    (token,) = [t["digits"] for t in receipt["tokens"]]
    folder = tmp_path / "fleet"
    ledger.ok("meter", "fleet", "new", str(folder), "--from-ledger")
    with (folder / "fleet.csv").open() as handle:
        (row,) = list(csv.DictReader(handle))
    process = subprocess.Popen(
        [sys.executable, "cli.py", "meter", "serve", str(folder), "--port", "0", "--frozen-clock"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stdout.readline()  # one meter: one line naming its port
        where = "127.0.0.1:" + first.split(" on 127.0.0.1:")[1].split(";")[0]
        pushed = json.loads(
            ledger.ok(
                "dlms", "push-token", where, token, "--password", row["operator"], "--json"
            ).output
        )
        reader = ("--password", row["reader"], "--json")
        wallet = json.loads(ledger.ok("dlms", "get", where, "0.0.19.10.0.255", "2", *reader).output)
        unit = json.loads(
            ledger.ok("dlms", "get", where, "8.0.1.0.0.255", "3", "--class", "3", *reader).output
        )
        energy = ledger("dlms", "get", where, "1.0.1.8.0.255", "2", "--password", row["reader"])
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate()
    assert process.returncode == 0, err
    assert pushed["sts_result"] == 1  # Accept
    assert wallet["data"] == "05000009c4"  # double-long 2,500: 2.5 m3 in 0.001 m3
    assert unit["data"] == "02020ffd160d"  # {scaler -3, unit 13 (m3)}
    assert energy.exit_code == 1 and "OBJECT_UNDEFINED" in energy.output
