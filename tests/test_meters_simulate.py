"""`sts meters simulate`: a simulated meter made from the key store accepts what the ledger sells.

Each test registers a meter through the CLI (on SQLite and PostgreSQL), vends,
makes the simulated meter with `sts meters simulate` and keys the tokens in
with `sts meter enter`: the meter's answer is the proof. The vending key is the
public STS test key; the decoder key it gives for the compliance meter
(E653341F9D5BF36F) must never appear in any output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import VECTOR_DK, VECTOR_VK

from cli import main

MASTER_HEX = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"
DRN = "47500150231"
NEW_VK = "9494949494949494"


class Sts:
    def __init__(self, url: str) -> None:
        self.env = {"STS_DATABASE_URL": url, "STS_MASTER_KEY": MASTER_HEX}
        self.seen: list[str] = []

    def __call__(self, *args: str, input: str | None = None) -> Result:
        result = CliRunner().invoke(main, list(args), input=input, env=self.env)
        self.seen.append(result.output)
        return result

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, result.output
        return result

    def vend(self, *args: str) -> list[str]:
        receipt = json.loads(self.ok("vend", "credit", "--meter", DRN, *args, "--json").stdout)
        return [t["digits"] for t in receipt["tokens"]]

    def enter(self, file: Path, digits: str) -> dict[str, object]:
        result = self("meter", "enter", str(file), digits, "--json")
        self.seen.append(result.output)
        return json.loads(result.stdout)


@pytest.fixture
def sts_cli(database_url: str) -> Sts:
    run = Sts(database_url)
    for label, krn, key in (("k1", "1", VECTOR_VK), ("k2", "2", NEW_VK)):
        run.ok("keys", "add", label, "--sgc", "123456", "--krn", krn, "--base-date", "2014",
               input=key + "\n")  # fmt: skip
    return run


def test_a_simulated_meter_accepts_a_vend_sold_before_it_was_made(
    sts_cli: Sts, tmp_path: Path
) -> None:
    sts_cli.ok("meters", "add", DRN, "--sgc", "123456", "--ti", "7")
    (credit,) = sts_cli.vend("--units", "12.5")
    file = tmp_path / "m.json"
    made = sts_cli.ok("meters", "simulate", DRN, str(file), "--json")
    registers = json.loads(made.stdout)["meter"]["keys"]
    assert (registers["sgc"], registers["krn"], registers["kt"], registers["ti"]) == (
        123456, 1, 2, 7,
    )  # fmt: skip
    assert registers["base_date"] == 2014
    outcome = sts_cli.enter(file, credit)
    assert outcome["text"] == "Accept"
    assert outcome["credit"]["energy_kwh"] == "12.500"  # type: ignore[index]
    assert sts_cli.enter(file, credit)["text"] == "Used"
    # A later vend is accepted too.
    (later,) = sts_cli.vend("--units", "1")
    assert sts_cli.enter(file, later)["text"] == "Accept"
    for output in sts_cli.seen:
        assert VECTOR_VK not in output and VECTOR_DK not in output


def test_after_a_key_change_order_the_kct_set_then_the_credit_are_accepted(
    sts_cli: Sts, tmp_path: Path
) -> None:
    sts_cli.ok("meters", "add", DRN, "--sgc", "123456")
    file = tmp_path / "m.json"
    sts_cli.ok("meters", "simulate", DRN, str(file))
    sts_cli.ok("keychange", "order", "--meter", DRN, "--krn", "2")
    tokens = sts_cli.vend("--units", "3")
    assert len(tokens) == 3  # two KCTs, then credit under the new key
    texts = [sts_cli.enter(file, digits)["text"] for digits in tokens]
    assert texts == ["1st KCT", "Accept", "Accept"]
    shown = json.loads(sts_cli.ok("meter", "show", str(file), "--json").stdout)
    assert shown["keys"]["krn"] == 2
    # Made again now, the simulated meter holds key revision 2 and takes the next vend.
    again = tmp_path / "again.json"
    made = json.loads(sts_cli.ok("meters", "simulate", DRN, str(again), "--json").stdout)
    assert made["key_revision"] == 2 and made["meter"]["keys"]["krn"] == 2
    (credit,) = sts_cli.vend("--units", "1")
    assert sts_cli.enter(again, tokens[2])["text"] == "Accept"
    assert sts_cli.enter(again, credit)["text"] == "Accept"


def test_a_1993_meter_waiting_for_its_rollover_is_simulated_and_moves_to_2014(
    sts_cli: Sts, tmp_path: Path
) -> None:
    # The real clock is past the last TID of base date 1993 (2024-11-24): the meter can only
    # be sold its key change set, after which its tokens count on base date 2014.
    sts_cli.ok("meters", "add", DRN, "--sgc", "123456", "--base-date", "1993")
    file = tmp_path / "m.json"
    sts_cli.ok("meters", "simulate", DRN, str(file))
    sts_cli.ok("keychange", "order", "--meter", DRN, "--krn", "2", "--base-date", "2014")
    tokens = sts_cli.vend("--units", "2")
    texts = [sts_cli.enter(file, digits)["text"] for digits in tokens]
    assert texts == ["1st KCT", "Accept", "Accept"]
    shown = json.loads(sts_cli.ok("meter", "show", str(file), "--json").stdout)
    assert (shown["keys"]["krn"], shown["keys"]["base_date"]) == (2, 2014)


def test_simulate_refuses_an_unknown_meter_and_an_existing_file(
    sts_cli: Sts, tmp_path: Path
) -> None:
    unknown = sts_cli("meters", "simulate", DRN, str(tmp_path / "m.json"))
    assert unknown.exit_code == 1
    assert f"meter '{DRN}' is not registered" in unknown.stderr
    assert not (tmp_path / "m.json").exists()
    sts_cli.ok("meters", "add", DRN, "--sgc", "123456")
    (tmp_path / "m.json").write_text("keep me")
    kept = sts_cli("meters", "simulate", DRN, str(tmp_path / "m.json"))
    assert kept.exit_code == 1 and "exists already" in kept.stderr
    assert (tmp_path / "m.json").read_text() == "keep me"
