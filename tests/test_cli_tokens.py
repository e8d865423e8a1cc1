"""`sts key derive`, `sts token encode ...` and `sts token decode` through click's CliRunner.

Expected tokens and keys come from the public vectors (tests/vectors/sts-public.jsonl)
and the STS compliance data they quote; TIDs of given times are worked by hand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli import main

REPO_ROOT = Path(__file__).resolve().parent.parent

# STS 531-1 compliance meter: DKGA02 key E653341F9D5BF36F.
DKGA02 = [
    "--dkga", "02", "--vk", "ABABABABABABABAB", "--pan", "600727000000000009",
    "--sgc", "123456", "--kt", "2", "--ti", "1", "--krn", "1",
]  # fmt: skip
# The same meter under DKGA04 for EA11: key F94B6ED353C3BFDB113E2D3A7EA3C41D.
DKGA04 = [
    "--dkga", "04", "--vk", "ABABABABABABABAB949494949494949401234567",
    "--pan", "600727000000000009", "--sgc", "123457", "--kt", "2", "--ti", "1", "--krn", "1",
    "--bd", "1993", "--ea", "11",
]  # fmt: skip
# NectarAPI tokens-service test meter (KT 0): key EB4AD6D9E42E59F7.
NECTAR = [
    "--dkga", "02", "--vk", "0ABC12DEF3456789", "--pan", "600727475001502312",
    "--sgc", "46", "--kt", "0", "--ti", "1", "--krn", "1",
]  # fmt: skip


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def run_json(*args: str) -> Any:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def only_token(*args: str) -> dict[str, Any]:
    data = run_json("token", "encode", *args)
    assert len(data["tokens"]) == 1
    return data["tokens"][0]


# --- key derive ---------------------------------------------------------------------------


def test_key_derive_dkga02_json_is_exactly_the_key() -> None:
    assert run_json("key", "derive", *DKGA02) == {"dk": "E653341F9D5BF36F"}


def test_key_derive_dkga04_ea11() -> None:
    assert run_json("key", "derive", *DKGA04) == {"dk": "F94B6ED353C3BFDB113E2D3A7EA3C41D"}


def test_key_derive_dkga04_ea07() -> None:
    args = [a if a != "11" else "07" for a in DKGA04]
    assert run_json("key", "derive", *args) == {"dk": "AA4BAA8749C10D27"}


def test_key_derive_from_the_meter_number() -> None:
    # MeterPAN 600727000000000009 is IIN 600727, DRN 00000000000, Luhn digit 9.
    args = [a if a != "--pan" else "--drn" for a in DKGA02]
    args[args.index("600727000000000009")] = "00000000000"
    assert run_json("key", "derive", *args) == {"dk": "E653341F9D5BF36F"}


def test_key_derive_human_output_shows_the_key() -> None:
    result = run("key", "derive", *DKGA02)
    assert result.exit_code == 0
    assert "E653341F9D5BF36F" in result.output
    assert "600727000000000009" in result.output


def test_key_derive_dkga04_needs_base_date_and_algorithm() -> None:
    args = DKGA04[: DKGA04.index("--bd")]
    result = run("key", "derive", *args)
    assert result.exit_code == 2
    assert "--bd" in result.output and "--ea" in result.output


def test_key_derive_names_what_is_missing() -> None:
    result = run("key", "derive", *DKGA02[: DKGA02.index("--krn")])
    assert result.exit_code == 2
    assert "--krn" in result.output


def test_key_derive_refuses_a_wrong_pan_check_digit() -> None:
    args = [a if a != "600727000000000009" else "600727000000000008" for a in DKGA02]
    result = run("key", "derive", *args)
    assert result.exit_code == 1
    assert "600727000000000008" in result.stderr


# --- token encode -------------------------------------------------------------------------


def test_power_limit_ctsa03_sta() -> None:
    token = only_token("power-limit", "--watts", "1000", "--tid", "5910301", "--rnd", "5", *DKGA02)
    assert token["digits"] == "50901894209860263092"
    assert token["grouped"] == "5090 1894 2098 6026 3092"
    assert (token["class"], token["subclass"]) == (2, 0)
    assert token["type"] == "SetMaximumPowerLimit"
    assert token["fields"] == {"rnd": 5, "tid": 5910301, "value": 1000}
    assert token["block"] == "055A2F1D03E8F8F4"
    assert token["meaning"]["power limit"] == "1000 W"


def test_power_limit_ctsa03_misty1() -> None:
    token = only_token("power-limit", "--watts", "1000", "--tid", "5910301", "--rnd", "5", *DKGA04)
    assert token["digits"] == "26521936751055502278"


def test_human_output_prints_the_token_in_groups_of_four() -> None:
    args = ["power-limit", "--watts", "1000", "--tid", "5910301", "--rnd", "5", *DKGA02]
    result = run("token", "encode", *args)
    assert result.exit_code == 0
    assert "5090 1894 2098 6026 3092" in result.output
    assert "1000 W" in result.output


def test_issue_time_with_offset_gives_the_utc_tid() -> None:
    # 11:01 at +02:00 is 09:01 UTC on 2004-03-28: TID 5910301 on the 1993 base.
    at = ["--at", "2004-03-28 11:01+02:00", "--bd", "1993", "--rnd", "5"]
    data = run_json("token", "encode", "power-limit", "--watts", "1000", *at, *DKGA02)
    assert data["tid"] == 5910301
    assert data["issued_at"] == "2004-03-28T11:01+02:00"
    assert data["tokens"][0]["digits"] == "50901894209860263092"
    assert data["tokens"][0]["meaning"]["issued"].startswith("2004-03-28 09:01 UTC")


def test_minute_one_is_issued_as_minute_two() -> None:
    # 1993-01-01 to 2004-03-28 is 11 * 365 + 2 (1996, 2000) + 31 + 29 + 27 = 4104 days;
    # 00:01 that day is minute 4104 * 1440 + 1 = 5,909,761, issued as 5,909,762.
    at = ["--at", "2004-03-28 00:01+00:00", "--bd", "1993"]
    data = run_json("token", "encode", "clear-tamper", *at, "--dk", "E653341F9D5BF36F")
    assert data["tid"] == 5909762


def test_local_time_without_offset_is_the_machines_zone() -> None:
    # Africa/Johannesburg is UTC+02:00 all year: 11:01 local is 09:01 UTC.
    args = ["token", "encode", "power-limit", "--watts", "1000", "--rnd", "5", "--bd", "1993"]
    args += ["--at", "2004-03-28 11:01", *DKGA02, "--json"]
    env = {**os.environ, "TZ": "Africa/Johannesburg"}
    done = subprocess.run(
        [sys.executable, "cli.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["issued_at"] == "2004-03-28T11:01+02:00"
    assert data["tid"] == 5910301


def test_random_rnd_by_default() -> None:
    token = only_token("clear-tamper", "--tid", "5910301", "--dk", "E653341F9D5BF36F")
    assert 0 <= token["fields"]["rnd"] <= 15


def test_credit_by_units_water() -> None:
    # Nectar_1 step 1A: 10 units (1.0 m3) of water.
    args = ["--service", "water", "--units", "10", "--tid", "5944921", "--rnd", "5"]
    token = only_token("credit", *args, *DKGA02)
    assert token["digits"] == "26436017448909825227"
    assert token["meaning"]["credit"] == "1 m3"


def test_credit_by_quantity_equals_the_same_units() -> None:
    args = ["--service", "water", "--quantity", "1.0", "--tid", "5944921", "--rnd", "5"]
    assert only_token("credit", *args, *DKGA02)["digits"] == "26436017448909825227"


def test_credit_by_kwh() -> None:
    # 25.5 kWh is 255 units: field 0x00FF. Block 0 | RND 3 | TID 5366070 (51E136) | 00FF | CRC.
    args = ["--kwh", "25.5", "--tid", "5366070", "--rnd", "3", "--dk", "0123456789ABCDEF"]
    token = only_token("credit", *args)
    assert token["fields"] == {"rnd": 3, "tid": 5366070, "amount": 255}
    assert token["block"].startswith("0351E13600FF")
    assert token["meaning"]["credit"] == "25.5 kWh"


def test_credit_finer_than_a_tenth_is_refused() -> None:
    result = run("token", "encode", "credit", "--kwh", "0.05", "--dk", "0123456789ABCDEF")
    assert result.exit_code == 2
    assert "0.05" in result.output


def test_credit_needs_one_amount() -> None:
    result = run(
        "token", "encode", "credit", "--kwh", "1", "--units", "10", "--dk", "0123456789ABCDEF"
    )
    assert result.exit_code == 2


@pytest.mark.parametrize(
    ("service", "expected"),
    [("electricity", "07420412750539184100"), ("water", "33146270756150045052")],
)
def test_currency_credit(service: str, expected: str) -> None:
    args = ["--service", service, "--money", "100", "--tid", "6680788", "--dk", "4530EDB79B5F083D"]
    token = only_token("credit", *args)
    assert token["digits"] == expected
    assert token["fields"] == {"se": 0, "tid": 6680788, "amount": 57334}
    assert token["meaning"]["credit"] == "100.00624 currency units"


def test_clear_tamper() -> None:
    args = ["--tid", "6680788", "--rnd", "5", "--dk", "4530EDB79B5F083D"]
    assert only_token("clear-tamper", *args)["digits"] == "12707367341805666529"


def test_clear_credit_electricity_register() -> None:
    args = ["--register", "electricity", "--tid", "5366070", "--rnd", "3"]
    token = only_token("clear-credit", *args, "--dk", "0123456789ABCDEF")
    assert token["digits"] == "26950712002385255186"
    assert token["meaning"]["clears register"] == "electricity"


def test_clear_credit_all_registers_is_the_default() -> None:
    token = only_token("clear-credit", "--tid", "5910315", "--rnd", "5", *DKGA04)
    assert token["digits"] == "59725289138639529749"
    assert token["fields"]["value"] == 0xFFFF


def test_tariff_rate_and_phase_unbalance() -> None:
    issue = ["--tid", "13343489", "--rnd", "5", *NECTAR]
    assert only_token("tariff-rate", "--value", "10", *issue)["digits"] == "00080474005256738803"
    unbalance = only_token("phase-unbalance", "--watts", "10", *issue)
    assert unbalance["digits"] == "34418209051324721134"
    assert unbalance["meaning"]["phase unbalance limit"] == "10 W"


def test_water_factor_round_trip() -> None:
    # Subclass 7 | RND 5 | TID 5910301 (5A2F1D) | value 10 (000A) | CRC.
    issue = ["--tid", "5910301", "--rnd", "5", "--dk", "E653341F9D5BF36F"]
    token = only_token("water-factor", "--value", "10", *issue)
    assert token["block"].startswith("755A2F1D000A")
    back = run_json("token", "decode", token["digits"], "--dk", "E653341F9D5BF36F")
    assert back["type"] == "SetWaterMeterFactor"
    assert back["fields"] == {"rnd": 5, "tid": 5910301, "value": 10}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--show", "krn"], "18446744073843772416"),
        (["--show", "key-revision"], "18446744073843772416"),
        (["--all"], "56493153725450313471"),
        (["--all", "--mfr", "0000"], "02305843005052951967"),
        (["--control", "1"], "00000000000150997584"),
        (["--show", "load-switch"], "00000000000150997584"),
    ],
)
def test_class1_test_tokens(args: list[str], expected: str) -> None:
    assert only_token("test", *args)["digits"] == expected


def test_class1_test_token_meaning() -> None:
    token = only_token("test", "--show", "krn")
    assert token["meaning"] == {"runs": "key revision", "manufacturer code": "00"}


def test_class1_test_token_needs_a_choice() -> None:
    result = run("token", "encode", "test")
    assert result.exit_code == 2
    assert "krn" in result.output


def test_key_change_set_ctsa05_hides_the_new_key() -> None:
    data = run_json("token", "encode", "key-change", *DKGA02, "--new-ti", "2")
    tokens = data["tokens"]
    assert [t["digits"] for t in tokens] == ["51638423060042734509", "15361891762113502242"]
    assert tokens[0]["fields"]["nk_ho"] == "hidden"
    assert tokens[0]["block"] == "hidden"
    assert tokens[1]["meaning"]["new tariff index"] == "02"


def test_key_change_set_revealed() -> None:
    data = run_json("token", "encode", "key-change", *DKGA02, "--new-ti", "2", "--reveal-key")
    first, second = data["tokens"]
    assert first["block"] == "3F12060B8643D717"
    assert first["fields"]["nk_ho"] == "060B8643"
    assert second["fields"]["nk_lo"] == "C59A27F1"


def test_key_change_with_the_new_key_given() -> None:
    args = ["--dk", "E653341F9D5BF36F", "--new-dk", "060B8643C59A27F1"]
    args += ["--new-krn", "1", "--new-kt", "2", "--new-ti", "2"]
    data = run_json("token", "encode", "key-change", *args)
    assert [t["digits"] for t in data["tokens"]] == [
        "51638423060042734509",
        "15361891762113502242",
    ]


def test_key_change_128_bit_rollover_to_2014() -> None:
    # CTSA05 step 2: new key KRN 4, TI 02, base date 2014; RO set because the base date moves.
    args = [*DKGA04, "--new-krn", "4", "--new-ti", "2", "--new-bd", "2014"]
    data = run_json("token", "encode", "key-change", *args)
    tokens = data["tokens"]
    assert len(tokens) == 4
    assert [t["digits"] for t in tokens[:2]] == ["56493341861242437581", "51757380361191578258"]
    assert tokens[0]["fields"]["ro"] == 1
    assert tokens[0]["meaning"]["rollover"].startswith("yes")


def test_key_change_needs_a_change() -> None:
    result = run("token", "encode", "key-change", *DKGA02)
    assert result.exit_code == 2
    assert "--new-krn" in result.output


def test_encrypted_token_without_key_is_a_usage_error() -> None:
    result = run("token", "encode", "power-limit", "--watts", "1000", "--tid", "1")
    assert result.exit_code == 2
    assert "--dk" in result.output


def test_tid_and_at_together_are_refused() -> None:
    args = ["--watts", "1", "--tid", "1", "--at", "2025-01-01 10:00", "--dk", "E653341F9D5BF36F"]
    result = run("token", "encode", "power-limit", *args)
    assert result.exit_code == 2


def test_time_before_the_base_date_is_refused() -> None:
    args = ["--at", "2010-01-01 10:00+00:00", "--bd", "2014", "--dk", "E653341F9D5BF36F"]
    result = run("token", "encode", "clear-tamper", *args)
    assert result.exit_code == 1
    assert "before the base date 2014" in result.stderr


# --- token decode -------------------------------------------------------------------------


def test_decode_grouped_digits_as_separate_arguments() -> None:
    args = ["5090", "1894", "2098", "6026", "3092", "--dk", "E653341F9D5BF36F", "--bd", "1993"]
    data = run_json("token", "decode", *args)
    assert data["digits"] == "50901894209860263092"
    assert data["type"] == "SetMaximumPowerLimit"
    assert data["fields"] == {"rnd": 5, "tid": 5910301, "value": 1000}
    assert data["block"] == "055A2F1D03E8F8F4"
    assert data["meaning"]["power limit"] == "1000 W"
    assert data["meaning"]["issued"] == "2004-03-28 09:01 UTC (TID 5910301, base 1993)"


def test_decode_derives_the_key() -> None:
    data = run_json("token", "decode", "26521936751055502278", *DKGA04)
    assert data["fields"] == {"rnd": 5, "tid": 5910301, "value": 1000}


def test_decode_class1_needs_no_key() -> None:
    result = run("token", "decode", "1844 6744 0738 4377 2416")
    assert result.exit_code == 0, result.output
    assert "InitiateMeterTest/Display" in result.output
    assert "key revision" in result.output
    assert "0000000008000C00" in result.output


def test_decode_currency_token() -> None:
    data = run_json("token", "decode", "07420412750539184100", "--dk", "4530EDB79B5F083D")
    assert data["type"] == "TransferCredit (electricity currency)"
    assert data["meaning"]["credit"] == "100.00624 currency units"


def test_decode_key_change_token_hides_the_key_section_unless_asked() -> None:
    args = ["51638423060042734509", "--dk", "E653341F9D5BF36F"]
    hidden = run_json("token", "decode", *args)
    assert hidden["fields"]["nk_ho"] == "hidden"
    shown = run_json("token", "decode", *args, "--reveal-key")
    assert shown["fields"] == {
        "ken_ho": 15,
        "krn": 1,
        "ro": 0,
        "res": 0,
        "kt": 2,
        "nk_ho": "060B8643",
    }


def test_decode_proprietary_class1_token() -> None:
    data = run_json("token", "decode", "12754194144864505970")
    assert (data["class"], data["subclass"]) == (1, 11)
    assert data["fields"] == {"payload": 1099511628036}


@pytest.mark.parametrize(
    ("digits", "named"),
    [
        ("5090189420986026309A", "5090189420986026309A"),  # a letter
        ("5090189420986026309", "19 digits"),  # 19 digits
        ("509018942098602630920", "21 digits"),  # 21 digits
        ("73786976294838206464", "73786976294838206464"),  # 2^66
        ("99999999999999999999", "99999999999999999999"),
    ],
)
def test_decode_bad_digits_exit_1_naming_the_value(digits: str, named: str) -> None:
    result = run("token", "decode", digits, "--dk", "E653341F9D5BF36F")
    assert result.exit_code == 1
    assert named in result.stderr
    assert result.stdout == ""


def test_decode_with_the_wrong_key_exits_1_with_crc() -> None:
    result = run("token", "decode", "50901894209860263092", "--dk", "E653341F9D5BF36E")
    assert result.exit_code == 1
    assert "50901894209860263092" in result.stderr
    assert "CRC" in result.stderr


def test_decode_encrypted_token_without_key_says_how_to_give_it() -> None:
    result = run("token", "decode", "50901894209860263092")
    assert result.exit_code == 1
    assert "--dk" in result.stderr


def test_decode_dk_and_derivation_together_is_a_usage_error() -> None:
    result = run("token", "decode", "50901894209860263092", "--dk", "E653341F9D5BF36F", *DKGA02)
    assert result.exit_code == 2
