"""The CLI says one thing one way (issue 8, rough edge 6).

Money with its currency's minor digits everywhere; a token's 20 digits are
``digits`` in every JSON document; every command takes ``--json`` (but the
interactive keypad screen); reprints are marked as copies; a second reversal
says the vend was already reversed; tables fit 80 columns without cutting a
value short; ``report sales`` has VAT, levies, totals, ``--by month`` and
``--csv``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from conftest import VECTOR_VK

from cli import main

MASTER_HEX = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"
DRN = "47500150231"
TARIFF = {
    "name": "Residential prepaid 2026 (urban, three phase)",
    "currency": "ZAR",
    "blocks": [
        {"up_to_kwh": "50", "price_per_kwh": "1.5"},
        {"up_to_kwh": None, "price_per_kwh": "2"},
    ],
    "fixed_charges": [{"name": "Service", "amount": "15"}],
    "levies": [{"name": "Electrification levy", "percent": "2"}],
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

    def json(self, *args: str) -> dict:  # type: ignore[type-arg]
        return json.loads(self.ok(*args, "--json").stdout)


@pytest.fixture
def sts_cli(database_url: str, tmp_path: Path) -> Sts:
    run = Sts(database_url)
    run.ok("keys", "add", "sgc123456-krn1-production-vending-key", "--sgc", "123456",
           "--krn", "1", "--base-date", "2014", input=VECTOR_VK + "\n")  # fmt: skip
    tariff = tmp_path / "tariff.json"
    tariff.write_text(json.dumps(TARIFF))
    run.ok("tariffs", "add", str(tariff))
    run.ok("meters", "add", DRN, "--sgc", "123456", "--tariff", TARIFF["name"],
           "--customer", "Alexandra Montgomery-Smith of Lower Village Road")  # fmt: skip
    return run


def test_every_command_takes_json_but_the_interactive_ones() -> None:
    """The keypad screen and the DLMS and HTTP servers run until stopped: no result to print."""
    missing = []

    def walk(command: click.Command, path: list[str]) -> None:
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
        elif not any("--json" in getattr(p, "opts", ()) for p in command.params):
            missing.append(" ".join(path))

    walk(main, [])
    assert missing == ["meter keypad", "meter serve", "serve"]


def _json(*args: str) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_tokens_digits_are_named_digits_in_every_json(sts_cli: Sts) -> None:
    sold = sts_cli.json("vend", "credit", "--meter", DRN, "--units", "1")
    dk = ["--dk", "E653341F9D5BF36F"]
    encoded = _json("token", "encode", "credit", "--kwh", "1", *dk)
    decoded = _json("token", "decode", encoded["tokens"][0]["digits"], *dk)
    for record in (sold["tokens"][0], encoded["tokens"][0], decoded):
        assert len(record["digits"]) == 20 and "token" not in record


def test_money_has_the_currencys_minor_digits(sts_cli: Sts, tmp_path: Path) -> None:
    # 100.00 pays 15.00 service + 1.5/kWh steps; every amount shows two decimals.
    receipt = sts_cli.ok("vend", "credit", "--meter", DRN, "--money", "100").stdout
    assert "15.00" in receipt and "100.00 ZAR" in receipt
    shown = sts_cli.ok("tariffs", "show", TARIFF["name"]).stdout
    assert "15.00 ZAR" in shown and "1.50 ZAR/kWh" in shown and "2.00 ZAR/kWh" in shown
    assert "above 50 kWh" in shown
    debt = sts_cli.ok("meters", "customer", "Bob", "--debt", "12.5").stdout
    assert "debt 12.50" in debt
    assert sts_cli.json("meters", "customer", "Bob")["debt"] == "12.50"
    path = tmp_path / "m.json"
    meter = CliRunner().invoke(
        main, ["meter", "new", str(path), "--dk", "E653341F9D5BF36F", "--drn", DRN]
    )
    assert "money wallet" in meter.stdout and "0.00000" not in meter.stdout
    assert "0.00" in meter.stdout


def test_a_reprint_is_marked_as_a_copy(sts_cli: Sts) -> None:
    sold = sts_cli.json("vend", "credit", "--meter", DRN, "--units", "1", "--ref", "r1")
    assert sold["copy"] is False
    again = sts_cli.json("vend", "reprint", "--ref", "r1")
    assert again["copy"] is True and again["tokens"] == sold["tokens"]
    shown = sts_cli.ok("vend", "reprint", "--ref", "r1").stdout
    assert "COPY (reprint)" in shown
    assert "COPY" not in sts_cli.ok("vend", "credit", "--meter", DRN, "--units", "1").stdout


def test_reversing_twice_says_it_was_already_reversed(sts_cli: Sts) -> None:
    sts_cli.ok("vend", "credit", "--meter", DRN, "--money", "100", "--ref", "r1")
    first = sts_cli.ok("vend", "reverse", "--ref", "r1").stdout
    assert first.startswith("Reversed 'r1'") and "-99.94 money" in first
    second = sts_cli.ok("vend", "reverse", "--ref", "r1").stdout
    assert "'r1' was already reversed" in second and "nothing new was recorded" in second
    assert sts_cli.json("vend", "reverse", "--ref", "r1")["already_reversed"] is True
    sales = sts_cli.json("report", "sales")
    assert sales["totals"][0]["reversals"] == 1


def test_tables_fit_80_columns_and_cut_nothing_short(sts_cli: Sts) -> None:
    sts_cli.ok("vend", "credit", "--meter", DRN, "--money", "100")
    sts_cli.ok("meters", "add", "01234567897", "--sgc", "123456")
    for args in (
        ("keys", "list"),
        ("meters", "list"),
        ("meters", "show", DRN),
        ("tariffs", "list"),
        ("tariffs", "show", TARIFF["name"]),
        ("report", "sales"),
        ("report", "sales", "--by", "meter"),
        ("migrate", "status"),
        ("keychange", "list"),
    ):
        shown = sts_cli.ok(*args).stdout
        assert "…" not in shown, (args, shown)
        too_wide = [line for line in shown.splitlines() if len(line) > 80]
        assert not too_wide, (args, too_wide)
    listed = sts_cli.ok("keys", "list").stdout
    assert "sgc123456-krn1-production-vending-key" in listed


def test_report_sales_has_vat_levies_totals_by_month_and_csv(sts_cli: Sts) -> None:
    # Worked by hand: 100.00 on a fresh month pays the 15.00 service charge; the 85.00 left
    # buys net energy N with a 2% levy and 15% VAT, both on N: 1.17 N <= 85.00, N <= 72.65.
    # 48.4 kWh at 1.50 = 72.60 (48.5 would cost 85.12), levy 1.45, VAT 10.89: 99.94 charged.
    sold = sts_cli.json("vend", "credit", "--meter", DRN, "--money", "100")
    assert sold["breakdown"]["change"] == "0.06"
    by_month = sts_cli.json("report", "sales", "--by", "month")
    (row,) = by_month["rows"]
    assert len(row["key"]) == 7 and row["key"][4] == "-"
    assert (row["money"], row["vat"], row["levies"]) == ("99.94", "10.89", "1.45")
    assert by_month["totals"][0]["money"] == "99.94"
    shown = sts_cli.ok("report", "sales").stdout
    assert "VAT" in shown and "levies" in shown and "total" in shown
    table = list(csv.reader(io.StringIO(sts_cli.ok("report", "sales", "--csv").stdout)))
    assert table[0] == [
        "group", "vends", "reversals", "currency", "money", "vat", "levies", "kwh", "free_kwh",
        "service", "unit", "units", "free_units",
    ]  # fmt: skip
    assert table[1][1:7] == ["1", "0", "ZAR", "99.94", "10.89", "1.45"]
    assert table[2][0] == "total" and table[2][4] == "99.94"
    both = sts_cli("report", "sales", "--csv", "--json")
    assert both.exit_code == 2
