"""`sts meter new/enter/run/show` as a user runs them: CliRunner, and one real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli import main

REPO_ROOT = Path(__file__).resolve().parent.parent
DK = "E653341F9D5BF36F"  # STS 531-1 CTSA meter: PAN 600727000000000009, SGC 123456, TI 1
NEW_CTSA_METER = ["--drn", "00000000000", "--sgc", "123456", "--bd", "1993"]
MADE = ["--manufactured", "2004-01-01 00:00+00:00"]
CREDIT_01KWH = "23716100501183194197"  # CTSA01 step 1: 0.1 kWh, TID 5871715
KCT1_TI2 = "51638423060042734509"  # CTSA05 step 1 sections: to TI 2
KCT2_TI2 = "15361891762113502242"


def sts(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def sts_json(*args: str, code: int = 0) -> Any:
    result = sts(*args, "--json")
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


@pytest.fixture
def meter_file(tmp_path: Path) -> Path:
    path = tmp_path / "meter.json"
    result = sts("meter", "new", str(path), "--dk", DK, *NEW_CTSA_METER, *MADE)
    assert result.exit_code == 0, result.output
    return path


def stored(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())["meter"]


# -- new ---------------------------------------------------------------------------------


def test_new_writes_a_state_file_and_never_shows_the_key(tmp_path: Path):
    path = tmp_path / "m.json"
    data = sts_json("meter", "new", str(path), "--dk", DK, *NEW_CTSA_METER, *MADE)
    assert data["meter"]["pan"] == "600727000000000009"
    assert data["meter"]["keys"] == {
        "sgc": 123456,
        "krn": 1,
        "kt": 2,
        "ti": 1,
        "ken": 255,
        "base_date": 1993,
        "ea": "07",
        "key_bits": 64,
        "key_fingerprint": data["meter"]["keys"]["key_fingerprint"],
    }
    # 2004-01-01 is 4017 days after 1993-01-01: TID 5,784,480 fills the TID memory.
    assert data["meter"]["tid_memory"] == {
        "count": 1,
        "capacity": 50,
        "oldest": 5_784_480,
        "newest": 5_784_480,
    }
    assert DK not in json.dumps(data)
    document = json.loads(path.read_text())
    assert document["format"] == "sts-meter-state"
    assert document["meter"]["decoder"]["keys"]["key"] == DK


def test_new_human_output_names_the_meter(tmp_path: Path):
    result = sts("meter", "new", str(tmp_path / "m.json"), "--dk", DK, *NEW_CTSA_METER, *MADE)
    assert result.exit_code == 0, result.output
    assert "MeterPAN 600727000000000009" in result.output
    assert "TI 01" in result.output
    assert DK not in result.output


def test_new_derives_the_key_by_dkga02(tmp_path: Path):
    # STS 531-1 compliance data: VK ABABABABABABABAB, PAN 600727000000000009, SGC 123456,
    # KT 2, TI 1, KRN 1 gives DK E653341F9D5BF36F.
    path = tmp_path / "m.json"
    args = ["--vk", "ABABABABABABABAB", "--ti", "1", "--krn", "1", "--kt", "2"]
    sts_json("meter", "new", str(path), *args, *NEW_CTSA_METER, *MADE)
    assert stored(path)["decoder"]["keys"]["key"] == DK


def test_new_derives_the_key_by_dkga04(tmp_path: Path):
    # CTSA26: VK ABAB...01234567, SGC 123457, KRN 4, TI 1, base 2014, EA07 -> 9DC0722C29A6CC0C.
    path = tmp_path / "m.json"
    vk = "ABABABABABABABAB949494949494949401234567"
    args = ["--vk", vk, "--drn", "00000000000", "--sgc", "123457", "--krn", "4", "--bd", "2014"]
    sts_json("meter", "new", str(path), *args, "--manufactured", "2020-01-01 08:00Z")
    keys = stored(path)["decoder"]["keys"]
    assert keys["key"] == "9DC0722C29A6CC0C"
    assert (keys["ea"], keys["base_date"], keys["krn"]) == ("07", 2014, 4)


def test_new_refuses_to_overwrite_without_force(meter_file: Path):
    before = meter_file.read_bytes()
    result = sts("meter", "new", str(meter_file), "--dk", "0011223344556677", *NEW_CTSA_METER)
    assert result.exit_code == 1
    assert "exists already" in result.output
    assert meter_file.read_bytes() == before
    forced = sts(
        "meter",
        "new",
        str(meter_file),
        "--dk",
        "0011223344556677",
        *NEW_CTSA_METER,
        *MADE,
        "--force",
    )
    assert forced.exit_code == 0, forced.output
    assert stored(meter_file)["decoder"]["keys"]["key"] == "0011223344556677"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([*NEW_CTSA_METER], 2, "give the decoder key as --dk, or a vending key as --vk"),
        (["--dk", DK, "--vk", "ABABABABABABABAB", *NEW_CTSA_METER], 2, "--dk, or a vending"),
        (["--vk", "ABABABABABABABAB", "--drn", "00000000000"], 2, "also give --sgc"),
        (["--dk", DK, "--drn", "47500150232"], 1, "has check digit 2; its digits give 1"),
        (["--dk", "E653341F9D5BF3", "--drn", "00000000000"], 1, "decoder key has 7 bytes"),
        (["--dk", DK, "--drn", "00000000000", "--ea", "11"], 1, "EA11 needs a 128-bit"),
        (["--dk", DK, "--drn", "00000000000", "--manufactured", "soon"], 2, "is not a time"),
    ],
)
def test_new_refuses_bad_input(tmp_path: Path, args: list[str], code: int, message: str):
    path = tmp_path / "m.json"
    result = sts("meter", "new", str(path), *args)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert not path.exists()


# -- enter -------------------------------------------------------------------------------


def test_enter_accepts_a_token_and_shows_the_wallets(meter_file: Path):
    result = sts("meter", "enter", str(meter_file), CREDIT_01KWH, "--at", "2004-06-01 12:00Z")
    assert result.exit_code == 0, result.output
    assert "Accept (1)" in result.output
    assert "+0.1 kWh" in result.output
    assert "energy wallet 0.100 kWh" in result.output


def test_enter_json_and_a_rejected_token_exits_1(meter_file: Path):
    at = ["--at", "2004-06-01 12:00Z"]
    first = sts_json("meter", "enter", str(meter_file), CREDIT_01KWH, *at)
    assert (first["result"], first["text"]) == (1, "Accept")
    assert first["credit"]["energy_kwh"] == "0.100"
    assert first["token"]["fields"] == {"rnd": 5, "tid": 5871715, "amount": 1}
    again = sts_json("meter", "enter", str(meter_file), CREDIT_01KWH, code=1)
    assert (again["result"], again["text"]) == (10, "Used")
    assert stored(meter_file)["decoder"]["lockout"]["failures"] == 1  # saved after a rejection


def test_enter_human_rejection_goes_to_stderr(meter_file: Path):
    result = sts("meter", "enter", str(meter_file), "1234 5678")
    assert result.exit_code == 1
    assert "token rejected: Format (6)" in result.stderr


def test_enter_takes_the_token_in_groups(meter_file: Path):
    first = sts_json("meter", "enter", str(meter_file), *KCT1_TI2.split("0042"), code=1)
    assert first["result"] == 6  # the split dropped digits: Format
    held = sts_json("meter", "enter", str(meter_file), "5163", "8423", "0600", "4273", "4509")
    assert (held["result"], held["display"]) == (2, ["1st KCT", "1 of 2 key tokens"])
    # the new key's sections are not shown
    assert held["token"]["fields"] == {"ken_ho": 15, "krn": 1, "ro": 0, "res": 0, "kt": 2}
    assert "060B8643" not in json.dumps(held)
    done = sts_json("meter", "enter", str(meter_file), "1536 1891 7621 1350 2242")
    assert (done["result"], done["display"]) == (1, ["Accept", "KRN 1", "TI 02"])
    assert stored(meter_file)["decoder"]["keys"]["key"] == "060B8643C59A27F1"


def test_enter_at_moves_the_clock_and_never_back(meter_file: Path):
    moved = sts_json("meter", "enter", str(meter_file), CREDIT_01KWH, "--at", "+1d")
    assert moved["at"] == "2004-01-02T00:00:00+00:00"
    back = sts("meter", "enter", str(meter_file), CREDIT_01KWH, "--at", "2004-01-01 12:00Z")
    assert back.exit_code == 1
    assert "never goes backwards" in back.output


def test_enter_refuses_a_corrupt_state_file(tmp_path: Path):
    path = tmp_path / "broken.json"
    path.write_text('{"format": "sts-meter-state", "version": 1, "meter": {}}')
    result = sts("meter", "enter", str(path), CREDIT_01KWH)
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert f"meter state file {path} is damaged: meter.clock is missing" in said


# -- run and show ------------------------------------------------------------------------


def test_run_uses_the_wallet_at_the_load(meter_file: Path):
    # CTSA10 step 1: 25.6 kWh. Then 2 kW for 3 h = 6 kWh: 19.6 kWh left.
    credit_256 = "26456622012185850752"
    sts_json("meter", "enter", str(meter_file), credit_256, "--at", "2004-06-01 09:00Z")
    data = sts_json("meter", "run", str(meter_file), "--load", "2kW", "--for", "3h")
    assert data["clock"] == "2004-06-01T12:00:00+00:00"
    assert data["credit"]["energy_kwh"] == "19.600"
    assert data["credit"]["demand_w"] == 2000
    # the load stays connected: 10 more hours at 2 kW would be 20 kWh, more than is left
    later = sts_json("meter", "run", str(meter_file), "--for", "10h")
    assert later["credit"]["energy_kwh"] == "0.000"
    assert later["credit"]["relay_closed"] is False


@pytest.mark.parametrize(
    ("load", "duration", "watts", "clock"),
    [
        ("500W", "15m", 500, "2004-01-01T00:15:00+00:00"),
        ("1.5kW", "1d", 1500, "2004-01-02T00:00:00+00:00"),
        ("0", "90s", 0, "2004-01-01T00:01:30+00:00"),
    ],
)
def test_run_parses_loads_and_durations(meter_file: Path, load, duration, watts, clock):
    data = sts_json("meter", "run", str(meter_file), "--load", load, "--for", duration)
    assert (data["credit"]["demand_w"], data["clock"]) == (watts, clock)


@pytest.mark.parametrize(
    ("option", "value"), [("--load", "2 parsecs"), ("--load", "-5W"), ("--for", "3 fortnights")]
)
def test_run_refuses_bad_loads_and_durations(meter_file: Path, option: str, value: str):
    args = {"--load": "1kW", "--for": "1h", option: value}
    result = sts("meter", "run", str(meter_file), *(x for kv in args.items() for x in kv))
    assert result.exit_code == 2
    assert "Invalid value" in result.output


def test_show(meter_file: Path):
    sts("meter", "enter", str(meter_file), CREDIT_01KWH, "--at", "2004-06-01 12:00Z")
    data = sts_json("meter", "show", str(meter_file))
    assert data["drn"] == "00000000000"
    assert data["credit"]["energy_kwh"] == "0.100"
    assert "token accepted" in [event["kind"] for event in data["events"]]
    human = sts("meter", "show", str(meter_file))
    assert human.exit_code == 0
    assert "energy wallet" in human.output and "0.100 kWh" in human.output
    assert "recent events" in human.output
    assert DK not in human.output + json.dumps(data)


# -- a real process ----------------------------------------------------------------------


def run_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "cli.py", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_process_new_enter_show(tmp_path: Path):
    path = str(tmp_path / "meter.json")
    made = run_process("meter", "new", path, "--dk", DK, *NEW_CTSA_METER, *MADE)
    assert made.returncode == 0, made.stderr
    entered = run_process("meter", "enter", path, CREDIT_01KWH, "--at", "+5m", "--json")
    assert entered.returncode == 0, entered.stderr
    assert json.loads(entered.stdout)["result"] == 1
    shown = run_process("meter", "show", path, "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["clock"] == "2004-01-01T00:05:00+00:00"
    assert data["tid_memory"]["newest"] == 5871715
    assert data["credit"]["energy_kwh"] == "0.100"
