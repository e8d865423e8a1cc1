"""Issue 7 regressions at the command line: each reported input, one line, nothing written.

The vending cases run on both engines through CliRunner with the fixed master
key the vending CLI tests use; the usage-error case also runs as a real process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import VECTOR_DRN, VECTOR_VK

from cli import main

ROOT = Path(__file__).resolve().parent.parent
MASTER_HEX = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"
TARIFF = {
    "name": "Home",
    "currency": "ZAR",
    "blocks": [{"up_to_kwh": None, "price_per_kwh": "1.50"}],
}


class Sts:
    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(
            main,
            list(args),
            input=input,
            env={"STS_DATABASE_URL": self.url, "STS_MASTER_KEY": MASTER_HEX},
        )

    def entries(self) -> int:
        result = self("report", "verify", "--json")
        return json.loads(result.stdout)["transactions"]

    def customers(self) -> str:
        return self("meters", "show", VECTOR_DRN, "--json").stdout


@pytest.fixture
def sts_cli(database_url: str, tmp_path: Path) -> Sts:
    run = Sts(database_url)
    added = run(
        "keys", "add", "k", "--sgc", "123456", "--krn", "1", "--base-date", "2014",
        input=VECTOR_VK + "\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    tariff = tmp_path / "home.json"
    tariff.write_text(json.dumps(TARIFF))
    assert run("tariffs", "add", str(tariff)).exit_code == 0
    made = run("meters", "add", VECTOR_DRN, "--sgc", "123456", "--tariff", "Home")
    assert made.exit_code == 0, made.output
    return run


def refused(result: Result, code: int | None = None) -> str:
    """The one stderr line of a refused command (exit 1 or 2, no traceback)."""
    assert result.exit_code in ((code,) if code else (1, 2)), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# --- amounts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "code", "message"),
    [
        ("--money", "1e15", 2, "'1e15' is not written as a plain decimal"),
        ("--money", "1000000000000000", 1, "payment 1000000000000000 is above the limit of"),
        ("--money", "1e30", 2, "not written as a plain decimal"),
        ("--money", "1e308", 2, "not written as a plain decimal"),
        ("--money", "1e400", 2, "not written as a plain decimal"),
        ("--money", "abc", 2, "'abc' is not a number"),
        ("--money", "inf", 2, "'inf' is not a finite number"),
        ("--money", "nan", 2, "'nan' is not a finite number"),
        ("--money", "\u0661\u0660\u0660", 2, "not written as a plain decimal"),
        ("--money", "1_000", 2, "'1_000' is not written as a plain decimal"),
        ("--money", "9" * 100_000, 2, r"\(100000 characters\) is too long for an amount"),
        ("--units", "1e20", 2, "'1e20' is not written as a plain decimal"),
        ("--units", "100000000000000000000", 1, "energy 100000000000000000000 kWh is above"),
        ("--units", "1e308", 2, "not written as a plain decimal"),
        ("--units", "5.05", 1, "energy 5.05 kWh has more than 1 decimal places"),
    ],
)
def test_vend_amounts_are_refused_in_one_line(
    sts_cli: Sts, option: str, value: str, code: int, message: str
) -> None:
    result = sts_cli("vend", "credit", "--meter", VECTOR_DRN, option, value)
    line = refused(result, code)
    assert message.replace("\\", "") in line or __import__("re").search(message, line), line
    assert len(line) < 300
    assert sts_cli.entries() == 0


@pytest.mark.parametrize("debt", ["1e308", "0.000001", "abc", "-1", "1" + "0" * 20])
def test_customer_debt_is_refused_in_one_line(sts_cli: Sts, debt: str) -> None:
    refused(sts_cli("meters", "customer", "Bob", "--debt", debt))
    assert "Bob" not in sts_cli("meters", "list", "--json").stdout
    assert refused(sts_cli("meters", "customer", "Bob", "--debt", "1e308", "--json"))


@pytest.mark.parametrize(
    "args",
    [
        ("--kwh", "abc"),
        ("--quantity", "abc"),
        ("--money", "abc"),
        ("--kwh", "1e400"),
        ("--money", "1e308"),
        ("--kwh", "\u0661\u0660"),
        ("--units", "1_000"),
        ("--units", "\u0661\u0660"),
        ("--tid", "1_000"),
    ],
)
def test_token_amounts_are_usage_errors_without_traceback(args: tuple[str, str]) -> None:
    result = CliRunner().invoke(
        main, ["token", "encode", "credit", *args, "--dk", "E653341F9D5BF36F"]
    )
    line = refused(result, 2)
    assert line.startswith("Error: Invalid value for")


# --- strings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("meters", "customer", "C" * 10_000), "is 10000 characters long; expected at most 200"),
        (("meters", "customer", "Bob\x00"), "control character U+0000"),
        (("meters", "set", VECTOR_DRN, "--customer", "C" * 10_000), "at most 200"),
        (("tariffs", "show", "T" * 10_000), "is 10000 characters long; expected at most 100"),
        (("tariffs", "show", "Home\x00"), "control character U+0000"),
        (("vend", "reprint", "--ref", "r" * 1_000_000), "(1000000 characters)"),
        (("vend", "credit", "--meter", VECTOR_DRN, "--money", "5", "--ref", "x\x00"), "U+0000"),
    ],
)
def test_long_and_nul_strings_are_refused_alike(
    sts_cli: Sts, args: tuple[str, ...], message: str
) -> None:
    line = refused(sts_cli(*args), 1)
    assert message in line
    assert len(line) < 300
    assert sts_cli.entries() == 0
    assert "Bob" not in sts_cli("meters", "list", "--json").stdout


def test_a_tariff_file_with_a_10000_character_name_is_refused(sts_cli: Sts, tmp_path: Path) -> None:
    path = tmp_path / "long.json"
    path.write_text(json.dumps({**TARIFF, "name": "T" * 10_000}))
    assert "at most 100" in refused(sts_cli("tariffs", "add", str(path)), 1)
    # A JSON number, read as Decimal('1E-30').
    path.write_text(json.dumps({**TARIFF, "name": "Other"}).replace('"1.50"', "1e-30"))
    assert "is not at least 0.000001" in refused(sts_cli("tariffs", "add", str(path)), 1)
    listed = sts_cli("tariffs", "list", "--json").stdout
    assert "Other" not in listed and "TTTT" not in listed


# --- echoes --------------------------------------------------------------------------------


def test_a_100000_digit_token_is_not_echoed_whole() -> None:
    result = CliRunner().invoke(
        main, ["token", "decode", "9" * 100_000, "--dk", "E653341F9D5BF36F"]
    )
    line = refused(result, 1)
    assert "(100000 characters)" in line and len(line) < 400


def test_a_1mb_choice_or_date_is_not_echoed_whole() -> None:
    huge = "x" * 1_000_000
    for args in (["token", "decode", "1" * 20, "--ea", huge], ["report", "sales", "--until", huge]):
        line = refused(CliRunner().invoke(main, args), 2)
        assert "(1000000 characters)" in line and len(line) < 400


def test_control_characters_in_refused_input_are_escaped() -> None:
    result = CliRunner().invoke(main, ["token", "decode", "1" * 20, "--ea", "\x1b[2J"])
    line = refused(result, 2)
    assert "\x1b" not in result.stderr and "\\x1b[2J" in line


# --- usage errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["vend", "credit"],
        ["vend", "credit", "--meter", VECTOR_DRN, "--bogus"],
        ["nosuchcommand"],
        ["token", "encode", "credit", "--kwh", "1", "--units", "2", "--dk", "E653341F9D5BF36F"],
        ["meter", "run", "m.json", "--for", "1e400h"],
    ],
)
def test_usage_errors_are_one_line_exit_2(args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    line = refused(result, 2)
    assert line.startswith("Error: ")
    assert "Usage:" not in result.output and "Try " not in result.output


def test_a_usage_error_is_one_line_from_a_real_process(tmp_path: Path) -> None:
    env = {**os.environ, "STS_DATABASE_URL": f"sqlite:///{tmp_path / 'v.sqlite'}"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "vend", "credit", "--money", "abc"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("Error: ")
    assert done.stdout == ""
    assert not (tmp_path / "v.sqlite").exists()
