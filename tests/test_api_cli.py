"""`sts vendors`, `sts operators`, `sts report cashup` (CliRunner) and `sts serve` (a process)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from conftest import VECTOR_DK, Clock
from live_api import seed, sts_serve

import sts
from cli import main
from sts.tokens.credit import TransferCredit
from vending import vendors
from vending.backend import Backend
from vending.db import open_database, sqlite_url
from vending.keystore import MasterKey

MASTER_HEX = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(
        main, list(args), env={"STS_DATABASE_URL": url, "STS_MASTER_KEY": MASTER_HEX}
    )


def data(url: str, *args: str) -> object:
    result = run(url, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_vendors_and_their_floats(database_url: str) -> None:
    (made,) = data(database_url, "vendors", "add", "Corner Shop", "--credit-limit", "50")
    assert (made["balance"], made["available"]) == ("0.00", "50.00")
    moved = data(database_url, "vendors", "topup", "Corner Shop", "200", "--note", "EFT 7")
    assert moved["balance_after"] == "200.00"
    moved = data(
        database_url, "vendors", "adjust", "Corner Shop", "--amount", "-10.5", "--note", "fee"
    )
    assert (moved["amount"], moved["balance_after"]) == ("-10.50", "189.50")
    (listed,) = data(database_url, "vendors", "list")
    assert (listed["balance"], listed["available"]) == ("189.50", "239.50")
    day = made["created_at"][:10]
    cash = data(database_url, "report", "cashup", "--vendor", "Corner Shop", "--day", day)
    assert cash["float"] == {
        "opening": "0.00",
        "top_ups": "200.00",
        "adjustments": "-10.50",
        "closing": "189.50",
        "balanced": True,
    }


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("vendors", "topup", "Nobody", "5"), 1, "vendor 'Nobody' does not exist"),
        (("vendors", "topup", "Shop", "abc"), 1, "top-up 'abc' is not a number"),
        (("vendors", "topup", "Shop", "1e12"), 1, "beyond 1000000000"),
        (("vendors", "adjust", "Shop", "--amount", "-5"), 2, "Missing option '--note'"),
        (("vendors", "add", "Shop"), 1, "a vendor named 'Shop' already exists"),
        (("operators", "add", "Shop", "x", "--role", "boss"), 2, "'boss' is not one of"),
        (("report", "cashup", "--vendor", "Shop", "--day", "2026-13-01"), 2, "2026-13-01"),
    ],
)
def test_bad_input_is_one_sentence(
    tmp_path: Path, args: tuple[str, ...], code: int, says: str
) -> None:
    url = sqlite_url(tmp_path / "v.sqlite")
    assert run(url, "vendors", "add", "Shop").exit_code == 0
    result = run(url, *args)
    assert result.exit_code == code
    assert says in result.output
    assert "Traceback" not in result.output


def test_operator_keys_are_shown_once_and_revocable(database_url: str) -> None:
    data(database_url, "vendors", "add", "Bank")
    made = data(database_url, "operators", "add", "Bank", "till-1", "--role", "supervise")
    key = made["api_key"]
    (listed,) = data(database_url, "operators", "list", "--vendor", "Bank")
    assert "api_key" not in listed and key not in json.dumps(listed)
    assert listed["role"] == "supervise" and listed["revoked_at"] is None
    database = open_database(database_url)
    try:
        backend = Backend.open(database, None, Clock(), random.Random(1))
        assert vendors.authenticate(backend, key).operator == "till-1"
        revoked = data(database_url, "operators", "revoke", "Bank", "till-1")
        assert revoked["revoked_at"] is not None
        with pytest.raises(vendors.AuthenticationError):
            vendors.authenticate(backend, key)
    finally:
        database.dispose()
    human = run(database_url, "operators", "add", "Bank", "till-2")
    assert human.exit_code == 0
    assert "API key: sts_" in human.stdout
    assert "cannot be shown again" in human.stderr


def test_sts_serve_sells_over_http(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "served.sqlite")
    database = open_database(url)
    try:
        backend = Backend.open(database, MasterKey.from_hex(MASTER_HEX), Clock(), random.Random(3))
        seeded = seed(backend, float_="100", base_date=2014)
    finally:
        database.dispose()
    with (
        sts_serve(url, MASTER_HEX, threads=1) as base,
        httpx.Client(base_url=base) as client,
    ):
        body = {"id": "p-1", "meter": seeded.meter, "money": "40"}
        sold = client.post("/v1/purchases", json=body, headers=seeded.headers())
        assert sold.status_code == 200, sold.text
        assert sold.json()["float"]["balance"] == "60.00"
        (token,) = sold.json()["receipt"]["tokens"]
        credit = sts.decode(token["digits"], sts.DecoderKey.from_hex(VECTOR_DK))
        assert isinstance(credit, TransferCredit) and credit.units == 200  # 20.0 kWh


def test_sts_serve_refuses_without_a_master_key(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "serve",
            "--db",
            sqlite_url(tmp_path / "v.sqlite"),
            "--master-key-file",
            str(tmp_path / "none.key"),
        ],
        env={"STS_MASTER_KEY": None},
    )
    assert result.exit_code == 1
    assert "no master key" in result.output


@pytest.mark.parametrize("threads", ["0", "65", "two"])
def test_sts_serve_threads_must_be_1_to_64(tmp_path: Path, threads: str) -> None:
    result = CliRunner().invoke(
        main, ["serve", "--db", sqlite_url(tmp_path / "v.sqlite"), "--threads", threads]
    )
    assert result.exit_code == 2
    assert "--threads" in result.output
    assert not (tmp_path / "v.sqlite").exists()


def test_sts_serve_help_shows_the_library_s_thread_default_and_bound() -> None:
    # cli.py cannot import vending to show them (start-up), so it writes them out.
    from vending.serving import DEFAULT_THREADS, MAX_THREADS

    shown = CliRunner().invoke(main, ["serve", "--help"]).output
    assert f"[default: {DEFAULT_THREADS}]" in " ".join(shown.split())
    refused = CliRunner().invoke(main, ["serve", "--threads", str(MAX_THREADS + 1)])
    assert f"1<=x<={MAX_THREADS}" in refused.output
