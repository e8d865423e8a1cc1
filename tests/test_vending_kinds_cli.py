"""Token kinds and free units through the CLI, a simulated meter and the HTTP API.

The CLI runs on SQLite and PostgreSQL through click's CliRunner (one main flow
also as a real process); the tokens are keyed into a simulated meter made with
`sts meters simulate`, whose answer is the proof. The API is a real uvicorn on
127.0.0.1. Figures are worked by hand in the comments.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from conftest import TEST_MASTER_KEY, VECTOR_DK, VECTOR_VK, Clock
from live_api import Seeded, seed, serving

import sts
from cli import main
from sts.tokens.credit import CreditKind, TransferCredit
from vending import registry
from vending.api import create_app
from vending.backend import Backend
from vending.tariff import Block, Tariff

ROOT = Path(__file__).resolve().parent.parent
MASTER_HEX = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"
DRN = "47500150231"
MONEY = {
    "name": "Money",
    "currency": "ZAR",
    "blocks": [{"up_to_kwh": None, "price_per_kwh": "2.00"}],
    "fixed_charges": [{"name": "Service", "amount": "10.00"}],
    "free_units_kwh": "50",
}
WATER = {
    "name": "Water",
    "currency": "ZAR",
    "service": "water",
    "blocks": [{"up_to_kwh": None, "price_per_kwh": "10.00"}],
}


class Sts:
    def __init__(self, url: str) -> None:
        self.env = {"STS_DATABASE_URL": url, "STS_MASTER_KEY": MASTER_HEX}

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(main, list(args), input=input, env=self.env)

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str) -> dict:
        return json.loads(self.ok(*args, "--json").stdout)


@pytest.fixture
def sts_cli(database_url: str, tmp_path: Path) -> Sts:
    run = Sts(database_url)
    run.ok("keys", "add", "k1", "--sgc", "123456", "--krn", "1", "--base-date", "2014",
           input=VECTOR_VK + "\n")  # fmt: skip
    for tariff in (MONEY, WATER):
        path = tmp_path / f"{tariff['name']}.json"
        path.write_text(json.dumps(tariff))
        run.ok("tariffs", "add", str(path))
    return run


def refused(result: Result, sentence: str) -> None:
    assert result.exit_code == 1, result.output
    assert sentence in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_a_currency_meter_accepts_its_token_and_the_wallet_grows_by_the_receipt(
    sts_cli: Sts, tmp_path: Path
) -> None:
    sts_cli.ok("meters", "add", DRN, "--sgc", "123456", "--token-kind", "currency",
               "--tariff", "Money")  # fmt: skip
    shown = sts_cli.json("meters", "show", DRN)
    assert (shown["service"], shown["token_kind"]) == ("electricity", "currency")
    # 110.00 less the 10.00 service charge: 100.00 on a subclass 4 token, which carries
    # 100.00624 (e=3, m=8182: 1,818,624 + 8,182,000 hundred-thousandths).
    receipt = sts_cli.json("vend", "credit", "--meter", DRN, "--money", "110.00")
    assert receipt["breakdown"]["currency_credit"] == "100.00624"
    assert receipt["units"] is None and receipt["kwh"] is None  # money, not units
    (token,) = receipt["tokens"]
    file = tmp_path / "meter.json"
    sts_cli.ok("meters", "simulate", DRN, str(file))
    entered = json.loads(sts_cli("meter", "enter", str(file), token["digits"], "--json").stdout)
    assert entered["text"] == "Accept"
    assert (entered["token"]["class"], entered["token"]["subclass"]) == (0, 4)
    assert entered["credit"]["money"] == "100.00624"
    # The month's free units: 50 kWh as a unit token into the energy wallet; a second
    # ask is refused, the CLI's one sentence, exit 1.
    free = sts_cli.json("vend", "free", DRN)
    assert free["kind"] == "free-units" and free["units"] == 500
    entered = json.loads(
        sts_cli("meter", "enter", str(file), free["tokens"][0]["digits"], "--json").stdout
    )
    assert entered["text"] == "Accept" and entered["credit"]["energy_kwh"] == "50.000"
    refused(sts_cli("vend", "free", DRN), "no free units due: this month's 50 kWh")
    refused(
        sts_cli("vend", "credit", "--meter", DRN, "--units", "5"),
        f"meter {DRN} takes currency tokens; vend it by money, not by units",
    )


def test_a_water_meter_and_its_tariff(sts_cli: Sts, tmp_path: Path) -> None:
    refused(
        sts_cli("meters", "add", DRN, "--sgc", "123456", "--service", "water", "--tariff", "Money"),
        f"tariff 'Money' prices electricity but meter {DRN} is a water meter",
    )
    sts_cli.ok("meters", "add", DRN, "--sgc", "123456", "--service", "water", "--tariff", "Water")
    # 55.00 at 10.00 per m3: 5.5 m3, a subclass 1 token of 55 units (0.1 m3).
    receipt = sts_cli.json("vend", "credit", "--meter", DRN, "--money", "55.00")
    assert receipt["units"] == 55 and receipt["breakdown"]["unit"] == "m3"
    decoded = json.loads(sts_cli.ok("token", "decode", receipt["tokens"][0]["digits"], "--json",
                                    "--vk", VECTOR_VK, "--drn", DRN, "--sgc", "123456",
                                    "--dkga", "02", "--kt", "2", "--ti", "1", "--krn", "1",
                                    "--base-date", "2014").stdout)  # fmt: skip
    assert (decoded["class"], decoded["subclass"]) == (0, 1)
    # The simulated water meter takes it into its volume wallet: 5.5 m3.
    file = tmp_path / "water.json"
    sts_cli.ok("meters", "simulate", DRN, str(file))
    entered = json.loads(
        sts_cli("meter", "enter", str(file), receipt["tokens"][0]["digits"], "--json").stdout
    )
    assert (entered["text"], entered["display"][1]) == ("Accept", "+5.5 m3")
    assert entered["credit"]["energy_kwh"] == "5.500"
    shown = sts_cli.json("meter", "show", str(file))
    assert (shown["service"], shown["unit"]) == ("water", "m3")
    refused(sts_cli("vend", "free", DRN), "no free units due: tariff 'Water' grants no free")


def test_registration_options_are_bounded_choices(sts_cli: Sts) -> None:
    bad = sts_cli("meters", "add", DRN, "--sgc", "123456", "--service", "steam")
    assert bad.exit_code == 2 and "'steam' is not one of" in bad.stderr
    bad = sts_cli("meters", "add", DRN, "--sgc", "123456", "--token-kind", "coins")
    assert bad.exit_code == 2 and "'coins' is not one of" in bad.stderr


def test_vend_free_in_a_real_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STS_")}
    env |= {"STS_DATABASE_URL": f"sqlite:///{tmp_path / 'v.db'}", "STS_MASTER_KEY": MASTER_HEX}
    tariff = tmp_path / "t.json"
    tariff.write_text(json.dumps(MONEY))

    def sts_(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], cwd=ROOT, env=env,
                              input=input, capture_output=True, text=True, check=False)  # fmt: skip

    for args, given in (
        (
            ("keys", "add", "k1", "--sgc", "123456", "--krn", "1", "--base-date", "2014"),
            VECTOR_VK + "\n",
        ),
        (("tariffs", "add", str(tariff)), None),
        (("meters", "add", DRN, "--sgc", "123456", "--tariff", "Money"), None),
    ):
        assert sts_(*args, input=given).returncode == 0
    first = sts_("vend", "free", DRN, "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["tokens"][0]["units"] == 500
    again = sts_("vend", "free", DRN)
    assert again.returncode == 1 and again.stderr.startswith("Error: no free units due")


# --- over HTTP ---------------------------------------------------------------------------

DK = sts.DecoderKey.from_hex(VECTOR_DK)


@pytest.fixture
def api(database_url: str, backend: Backend, clock: Clock) -> Iterator[tuple[httpx.Client, Seeded]]:
    seeded = seed(backend)
    lifeline = Tariff(
        "Lifeline", "ZAR", (Block(None, Decimal("2.00")),), free_units_kwh=Decimal(50)
    )
    registry.add_tariff(backend, lifeline)
    registry.update_meter(backend, seeded.meter, tariff="Lifeline")
    app = create_app(database_url, TEST_MASTER_KEY, clock, random.Random(7))
    with serving(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield client, seeded


def test_free_units_over_http(api: tuple[httpx.Client, Seeded]) -> None:
    client, seeded = api
    body = {"id": "free-1", "meter": seeded.meter}
    first = client.post("/v1/free-units", json=body, headers=seeded.headers())
    assert first.status_code == 200, first.text
    sale = first.json()
    # No money: the float stays at 500.00; the token carries 50 kWh (500 units).
    assert sale["float"]["balance"] == "500.00"
    (token,) = [sts.decode(t["digits"], DK) for t in sale["receipt"]["tokens"]]
    assert isinstance(token, TransferCredit)
    assert (token.kind, token.units) == (CreditKind.ELECTRICITY, 500)
    # The same id is a retry: the same token.
    again = client.post("/v1/free-units", json=body, headers=seeded.headers())
    assert again.status_code == 200 and again.json()["receipt"] == sale["receipt"]
    other = client.post(
        "/v1/free-units", json={"id": "free-2", "meter": seeded.meter}, headers=seeded.headers()
    )
    assert other.status_code == 409, other.text
    error = other.json()
    assert error["type"] == "no_free_units_due"
    assert error["message"].startswith("no free units due: this month's 50 kWh")
    lookup = client.get(f"/v1/meters/{seeded.meter}", headers=seeded.headers()).json()
    assert (lookup["service"], lookup["token_kind"]) == ("electricity", "units")


def test_a_tariff_for_another_service_over_http(
    api: tuple[httpx.Client, Seeded], backend: Backend
) -> None:
    client, seeded = api
    gas = Tariff("Lifeline", "ZAR", (Block(None, Decimal("1")),), service="gas")
    registry.add_tariff(backend, gas, replace=True)
    body = {"id": "p-1", "meter": seeded.meter, "money": "20.00"}
    refused_ = client.post("/v1/purchases", json=body, headers=seeded.headers())
    assert refused_.status_code == 409, refused_.text
    error = refused_.json()
    assert (error["type"], error["field"], error["value"]) == (
        "wrong_service",
        "tariff",
        "Lifeline",
    )
    # Nothing was sold: the float is whole.
    assert client.get("/v1/float", headers=seeded.headers()).json()["balance"] == "500.00"
