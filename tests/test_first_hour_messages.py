"""Messages that once misled a new user (issue 8, rough edge 5), each as the user met it.

Every refusal is one sentence on stderr naming the value and what was
expected, exit 1 (or 2 for bad usage), and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import VECTOR_VK

from cli import main

MASTER_HEX = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"
DRN = "47500150231"
TARIFF = {
    "name": "Home",
    "currency": "ZAR",
    "blocks": [{"up_to_kwh": None, "price_per_kwh": "2.00"}],
    "vat_percent": "15",
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

    def entries(self) -> int:
        """Vends and reversals in the ledger (registry changes have entries of their own)."""
        return json.loads(self.ok("report", "verify", "--json").stdout)["transactions"]


def one_line(result: Result, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return lines[-1]


@pytest.fixture
def sts_cli(database_url: str, tmp_path: Path) -> Sts:
    run = Sts(database_url)
    run.ok("keys", "add", "k1", "--sgc", "123456", "--krn", "1", "--base-date", "2014",
           input=VECTOR_VK + "\n")  # fmt: skip
    tariff = tmp_path / "home.json"
    tariff.write_text(json.dumps(TARIFF))
    run.ok("tariffs", "add", str(tariff))
    run.ok("meters", "add", DRN, "--sgc", "123456", "--tariff", "Home")
    return run


@pytest.mark.parametrize("amount", ["inf", "-Infinity", "nan"])
def test_a_payment_that_is_not_a_finite_number_says_so(sts_cli: Sts, amount: str) -> None:
    # Not a number at all is bad usage (exit 2), and says so rather than "not above zero".
    line = one_line(sts_cli("vend", "credit", "--meter", DRN, "--money", amount), code=2)
    assert "is not a finite number" in line and "above zero" not in line
    assert sts_cli.entries() == 0


def test_a_negative_kwh_speaks_of_kwh_not_internal_units() -> None:
    result = CliRunner().invoke(
        main, ["token", "encode", "credit", "--kwh", "-1", "--dk", "E653341F9D5BF36F"]
    )
    line = one_line(result, code=2)
    assert "quantity -1 is not at least zero" in line
    assert "-10" not in result.stderr


def test_a_key_of_the_wrong_length_says_how_long_it_is(tmp_path: Path) -> None:
    made = CliRunner().invoke(
        main, ["meter", "new", str(tmp_path / "m.json"), "--dk", "E653341F9D5BF36", "--drn", DRN]
    )
    line = one_line(made)
    assert "decoder key has 15 hex digits; expected 16 hex digits (64 bits)" in line
    assert "not hexadecimal" not in line
    assert not (tmp_path / "m.json").exists()
    letters = CliRunner().invoke(
        main, ["meter", "new", str(tmp_path / "m.json"), "--dk", "E653341F9D5BF36X", "--drn", DRN]
    )
    assert "is not hexadecimal" in one_line(letters)


def test_a_vending_key_of_the_wrong_length_is_refused_with_its_length(sts_cli: Sts) -> None:
    added = sts_cli("keys", "add", "k2", "--sgc", "123456", "--krn", "2", input="ABABABABABABABA\n")
    assert "vending key has 15 hex digits; expected 16" in one_line(added)


def test_a_long_reference_is_not_echoed_whole(sts_cli: Sts) -> None:
    reference = "r" * 5000
    refused = sts_cli("vend", "credit", "--meter", DRN, "--units", "1", "--ref", reference)
    line = one_line(refused)
    assert "(5000 characters) is 5000 characters long; expected at most 100" in line
    assert len(refused.stderr) < 300
    assert sts_cli.entries() == 0


def test_migrate_start_with_no_meters_or_no_key_is_refused_and_creates_nothing(
    sts_cli: Sts,
) -> None:
    no_meters = sts_cli("migrate", "start", "r", "--sgc", "600675", "--from-krn", "1",
                        "--to-krn", "2", "--base-date", "2014")  # fmt: skip
    assert "no registered meter has SGC 600675 and KRN 1" in one_line(no_meters)
    no_key = sts_cli("migrate", "start", "r", "--sgc", "123456", "--from-krn", "1",
                     "--to-krn", "2", "--base-date", "2014")  # fmt: skip
    assert "no vending key for SGC 123456 KRN 2 KT 2" in one_line(no_key)
    assert json.loads(sts_cli.ok("migrate", "status", "--json").stdout) == []


def test_every_migrate_option_has_help() -> None:
    for command in ("start", "resume", "export", "status"):
        shown = CliRunner().invoke(main, ["migrate", command, "--help"]).stdout
        options = [line for line in shown.splitlines() if line.strip().startswith("--")]
        assert options, shown
        for line in options:
            parts = line.strip().split("  ")
            described = [p for p in parts[1:] if p.strip()]
            assert described, f"`sts migrate {command}`: {line.strip()} has no help"


def test_keys_list_shows_the_fingerprint_to_check_a_typed_key_against(sts_cli: Sts) -> None:
    # Worked outside the code: printf ABABABABABABABAB | xxd -r -p | sha256sum -> 2486...
    expected = hashlib.sha256(bytes.fromhex(VECTOR_VK)).hexdigest()[:4].upper()
    assert expected == "2486"
    listed = json.loads(sts_cli.ok("keys", "list", "--json").stdout)
    assert listed[0]["fingerprint"] == "2486"
    assert "2486" in sts_cli.ok("keys", "list").stdout
    added = sts_cli.ok("keys", "add", "k2", "--sgc", "123456", "--krn", "2",
                       input="9494949494949494\n")  # fmt: skip
    print_ = hashlib.sha256(bytes.fromhex("9494949494949494")).hexdigest()[:4].upper()
    assert f"fingerprint {print_}" in added.stdout
    assert "9494949494949494" not in added.output


def test_a_key_piped_into_keys_add_gives_no_getpass_warning(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "STS_DATABASE_URL": f"sqlite:///{tmp_path / 'v.sqlite'}",
        "STS_MASTER_KEY": MASTER_HEX,
    }
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import cli_launch; cli_launch.run()",
            "keys",
            "add",
            "k",
            "--sgc",
            "1",
            "--krn",
            "1",
        ],
        input=VECTOR_VK + "\n",
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr and "echoed" not in done.stderr, done.stderr
    assert VECTOR_VK not in done.stdout + done.stderr
    assert "fingerprint 2486" in done.stdout
