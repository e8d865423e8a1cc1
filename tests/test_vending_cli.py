"""The vending commands as a user runs them: CliRunner on both engines, and one real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import VECTOR_DK, VECTOR_DRN, VECTOR_VK

import sts
from cli import main

ROOT = Path(__file__).resolve().parent.parent
MASTER_HEX = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"
TARIFF = {
    "name": "Home",
    "currency": "ZAR",
    "blocks": [
        {"up_to_kwh": "50", "price_per_kwh": "1.50"},
        {"up_to_kwh": None, "price_per_kwh": "2.00"},
    ],
    "fixed_charges": [{"name": "Service charge", "amount": "12.50"}],
    "vat_percent": "15",
}


class Sts:
    """Runs `sts ...` against one database with a fixed master key."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(
            main,
            list(args),
            input=input,
            env={"STS_DATABASE_URL": self.url, "STS_MASTER_KEY": MASTER_HEX},
            catch_exceptions=False,
        )

    def json(self, *args: str) -> object:
        result = self(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def entries(self) -> int:
        result = self("report", "verify", "--json")
        return json.loads(result.stdout)["transactions"]


@pytest.fixture
def sts_cli(database_url: str, tmp_path: Path) -> Sts:
    run = Sts(database_url)
    added = run(
        "keys",
        "add",
        "ctsa",
        "--sgc",
        "123456",
        "--krn",
        "1",
        "--base-date",
        "1993",
        input=VECTOR_VK + "\n",
    )
    assert added.exit_code == 0, added.output
    assert VECTOR_VK not in added.output
    tariff = tmp_path / "home.json"
    tariff.write_text(json.dumps(TARIFF))
    assert run("tariffs", "add", str(tariff)).exit_code == 0
    made = run(
        "meters", "add", VECTOR_DRN, "--sgc", "123456", "--tariff", "Home", "--customer", "Alice"
    )
    assert made.exit_code == 0, made.output
    return run


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_keys_are_listed_without_their_bytes(sts_cli: Sts) -> None:
    listed = sts_cli.json("keys", "list")
    assert listed == [
        {
            "label": "ctsa",
            "sgc": "123456",
            "krn": 1,
            "kt": 2,
            "dkga": "02",
            "base_date": 1993,
            "bits": 64,
            "created_at": listed[0]["created_at"],  # type: ignore[index]
            "retired_at": None,
            # SHA-256 of the key bytes AB AB AB AB AB AB AB AB begins 2486 (sha256sum).
            "fingerprint": "2486",
        }
    ]
    assert VECTOR_VK not in sts_cli("keys", "list").output


def test_vend_by_money_prints_a_receipt_whose_token_the_meter_decodes(sts_cli: Sts) -> None:
    # The real clock is past the 1993 base date's last TID: move the meter to 2014 first.
    added = sts_cli(
        "keys",
        "add",
        "krn2",
        "--sgc",
        "123456",
        "--krn",
        "2",
        "--base-date",
        "2014",
        input="9494949494949494\n",
    )
    assert added.exit_code == 0
    order = sts_cli.json(
        "keychange", "order", "--meter", VECTOR_DRN, "--krn", "2", "--base-date", "2014"
    )
    assert order["rollover"] is True  # type: ignore[index]
    receipt = sts_cli.json(
        "vend", "credit", "--meter", VECTOR_DRN, "--money", "200", "--ref", "till-1/1"
    )
    tokens = receipt["tokens"]  # type: ignore[index]
    assert [t["label"] for t in tokens] == ["Key change 1", "Key change 2", "Credit 94.0 kWh"]
    assert receipt["breakdown"]["change"] == "0.05"  # type: ignore[index]
    old = sts.DecoderKey.from_hex(VECTOR_DK)
    assert sts.decode(tokens[0]["digits"], old).krn == 2  # type: ignore[attr-defined]
    again = sts_cli.json(
        "vend", "credit", "--meter", VECTOR_DRN, "--money", "200.00", "--ref", "till-1/1"
    )
    assert again["tokens"] == tokens  # type: ignore[index]
    shown = sts_cli("vend", "reprint", "--ref", "till-1/1")
    assert shown.exit_code == 0
    assert tokens[2]["grouped"] in shown.output
    assert sts_cli.entries() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("vend", "credit", "--meter", "00000000001", "--units", "5"), "check digit"),
        (("vend", "credit", "--meter", "47500150231", "--units", "5"), "not registered"),
        (("vend", "credit", "--meter", VECTOR_DRN, "--money", "0"), "not above zero"),
        (("vend", "credit", "--meter", VECTOR_DRN, "--money", "-5"), "not above zero"),
        (("vend", "credit", "--meter", VECTOR_DRN, "--money", "12.50"), "fixed charges"),
        (("meters", "add", "47500150231", "--sgc", "123456", "--tariff", "Nope"), "'Nope'"),
        (("meters", "add", VECTOR_DRN, "--sgc", "123456"), "already registered"),
        (("meters", "add", "47500150231", "--sgc", "654321"), "no vending key"),
    ],
)
def test_bad_input_is_one_line_exit_1_and_writes_nothing(
    sts_cli: Sts, args: tuple[str, ...], message: str
) -> None:
    before = sts_cli.json("meters", "list")
    assert message in one_line_error(sts_cli(*args))
    assert sts_cli.json("meters", "list") == before
    assert sts_cli.entries() == 0


def test_a_1993_meter_after_rollover_day_is_told_to_change_key(sts_cli: Sts) -> None:
    line = one_line_error(sts_cli("vend", "credit", "--meter", VECTOR_DRN, "--units", "5"))
    assert "needs a key change" in line


def test_management_test_and_reports(sts_cli: Sts) -> None:
    sts_cli(
        "keys",
        "add",
        "krn2",
        "--sgc",
        "123456",
        "--krn",
        "2",
        "--base-date",
        "2014",
        input="9494949494949494\n",
    )
    sts_cli("keychange", "order", "--meter", VECTOR_DRN, "--krn", "2", "--base-date", "2014")
    issued = sts_cli.json("keychange", "issue", "--meter", VECTOR_DRN)
    assert issued["kind"] == "key-change"  # type: ignore[index]
    limit = sts_cli.json("vend", "power-limit", "--meter", VECTOR_DRN, "--watts", "5000")
    assert limit["tokens"][0]["label"] == "Power limit 5000 W"  # type: ignore[index]
    test = sts_cli.json("vend", "test", "--meter", VECTOR_DRN, "--show", "key-revision")
    assert test["tokens"][0]["digits"] == "18446744073843772416"  # type: ignore[index]
    sold = sts_cli.json("vend", "credit", "--meter", VECTOR_DRN, "--units", "10", "--ref", "u1")
    assert sold["units"] == 100  # type: ignore[index]
    by_meter = sts_cli.json("report", "sales", "--by", "meter")
    assert by_meter["rows"][0]["vends"] == 1  # type: ignore[index]
    reversed_ = sts_cli.json("vend", "reverse", "--ref", "u1")
    assert reversed_["reverses"] == "u1"  # type: ignore[index]
    assert sts_cli("report", "verify").exit_code == 0
    assert sts_cli.entries() == 5


def test_migration_from_the_command_line(sts_cli: Sts, tmp_path: Path) -> None:
    sts_cli(
        "keys",
        "add",
        "krn2",
        "--sgc",
        "123456",
        "--krn",
        "2",
        "--base-date",
        "2014",
        input="9494949494949494\n",
    )
    progress = sts_cli.json(
        "migrate",
        "start",
        "rollover",
        "--sgc",
        "123456",
        "--from-krn",
        "1",
        "--to-krn",
        "2",
        "--base-date",
        "2014",
    )
    assert progress[0]["ordered"] == 1  # type: ignore[index]
    sheet = tmp_path / "sets.csv"
    exported = sts_cli("migrate", "export", "rollover", "--file", str(sheet))
    assert exported.exit_code == 0
    assert sheet.read_text().splitlines()[1].startswith(f"{VECTOR_DRN},600727000000000009,1,2,")
    status = sts_cli.json("migrate", "status")
    assert status[0]["pending"] == 1  # type: ignore[index]
    handed = sts_cli.json(
        "migrate", "export", "rollover", "--file", str(tmp_path / "again.csv"), "--hand-out"
    )
    assert handed["progress"]["issued"] == 1  # type: ignore[index]
    sold = sts_cli.json("vend", "credit", "--meter", VECTOR_DRN, "--units", "2")
    assert [t["label"] for t in sold["tokens"]] == ["Credit 2.0 kWh"]  # type: ignore[index]


def test_an_unreachable_database_is_named_without_password() -> None:
    result = CliRunner().invoke(
        main,
        ["meters", "list", "--db", "postgresql://vendor:s3cret@127.0.0.1:1/ledger"],
        env={"STS_MASTER_KEY": MASTER_HEX},
    )
    line = one_line_error(result)
    assert "cannot reach the database" in line and "vendor:***@" in line
    assert "s3cret" not in result.output


def test_db_upgrade_then_status(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    runner = CliRunner()
    first = runner.invoke(main, ["db", "upgrade", "--db", url, "--json"])
    assert json.loads(first.stdout)["before"] is None
    status = runner.invoke(main, ["db", "status", "--db", url, "--json"])
    assert json.loads(status.stdout)["current"] is True


def test_first_use_creates_the_sqlite_file_and_says_where(tmp_path: Path) -> None:
    # A command that writes creates it, in an existing folder (tests/test_startup_db.py has
    # the read-only commands and missing folders).
    path = tmp_path / "vending.sqlite"
    result = CliRunner().invoke(
        main,
        ["meters", "customer", "Alice", "--db", f"sqlite:///{path}"],
        env={"STS_MASTER_KEY": MASTER_HEX},
    )
    assert result.exit_code == 0
    assert f"Created the vending database {path}" in result.stderr
    assert path.is_file()


# The demo pays 250.00 on a fresh month: 15.00 service charge leaves 235.00. 50 kWh at 1.85
# (92.50) and 46.1 kWh at 2.35 (108.34) are 200.84 net, + 2% levy 4.02 + 15% VAT 30.13 =
# 234.99 (46.2 kWh would cost 235.25); with 10 free kWh the token carries 106.1 kWh.


def test_demo_runs_twice_in_a_row() -> None:
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(main, ["demo"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert "Accept" in result.stdout and "Credit 106.1 kWh" in result.stdout


def test_demo_in_a_real_process() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STS_")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Accept" in done.stdout
    assert "Energy 106.100 kWh" in done.stdout
