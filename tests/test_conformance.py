"""The conformance runner: passing lines, one changed figure, malformed lines, the CLI.

The base lines are copied from tests/vectors/sts-public.jsonl; each test
changes one figure and checks that the runner fails the line and names that
figure. Malformed lines must fail with their line number, never crash the run.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main
from sts.conformance import RunResult, check_vector, parse_vectors, run_vectors

REPO_ROOT = Path(__file__).resolve().parent.parent
PUBLIC = REPO_ROOT / "tests" / "vectors" / "sts-public.jsonl"

# nxtgrid: a set-power-limit token (5000 W) under a given decoder key.
POWER_LIMIT: dict[str, Any] = {
    "id": "nxtgrid:token:28227747371740445170",
    "kind": "token",
    "source": "nxtgrid/nxt-sts TokenStrategyIntegrationTest",
    "key": {"dk": "0123456789ABCDEF"},
    "ea": "07",
    "class": 2,
    "subclass": 0,
    "fields": {"rnd": 3, "tid": 5366070, "value": 5000},
    "block": "0351E13613881E5B",
    "expect": {
        "token": "28227747371740445170",
        "encrypted": "87BD1AAD6E0E39F2",
        "crc": "1E5B",
    },
}

# Nectar: 10 units of water (class 0 subclass 1) under a DKGA02-derived key.
DERIVE = {
    "dkga": "02",
    "vk": "ABABABABABABABAB",
    "pan": "600727000000000009",
    "kt": 2,
    "sgc": "123456",
    "ti": 1,
    "krn": 1,
}
WATER_CREDIT: dict[str, Any] = {
    "id": "nectar:Nectar_1:step1ATest:0",
    "kind": "token",
    "source": "NectarAPI/tokens-service STSComplianceTests_Nectar_1",
    "key": {"derive": DERIVE},
    "ea": "07",
    "class": 0,
    "subclass": 1,
    "fields": {"rnd": 5, "tid": 5944921, "amount": 10, "units": 10},
    "block": "155AB659000A3794",
    "expect": {
        "token": "26436017448909825227",
        "encrypted": "6EDF99CE4E4C64CB",
        "crc": "3794",
        "dk": "E653341F9D5BF36F",
    },
}

# Nectar: the second token of a 64-bit key change set, with the key it carries.
KCT2_DERIVE = {
    "dkga": "02",
    "vk": "0ABC12DEF3456789",
    "pan": "600727475001502312",
    "kt": 0,
    "sgc": "000046",
    "ti": 1,
    "krn": 1,
}
KCT2: dict[str, Any] = {
    "id": "nectar-service:kct:29643408183974440183",
    "kind": "token",
    "source": "NectarAPI/tokens-service TokensServiceTest",
    "key": {"derive": KCT2_DERIVE},
    "ea": "07",
    "class": 2,
    "subclass": 4,
    "fields": {"ken_lo": 15, "ti": 1, "nk_lo": "E42E59F7"},
    "block": "4F01E42E59F72610",
    "expect": {
        "token": "29643408183974440183",
        "encrypted": "9B628AAF89B42CF7",
        "crc": "2610",
        "dk": "EB4AD6D9E42E59F7",
    },
    "new_key": {"derive": KCT2_DERIVE, "dk": "EB4AD6D9E42E59F7"},
}


def changed(line: dict[str, Any], path: str, value: Any) -> str:
    """The line as JSON with the field at a dotted path replaced (or removed if value is ...)."""
    copy_ = copy.deepcopy(line)
    *parents, last = path.split(".")
    target = copy_
    for part in parents:
        target = target[part]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return json.dumps(copy_)


def only_result(text: str) -> tuple[bool, tuple[str, ...]]:
    result = run_vectors(text)
    assert len(result.results) == 1
    return result.results[0].ok, result.results[0].mismatches


# --- lines that pass --------------------------------------------------------------------


@pytest.mark.parametrize("line", [POWER_LIMIT, WATER_CREDIT, KCT2], ids=lambda line: line["id"])
def test_published_line_passes(line: dict[str, Any]) -> None:
    assert only_result(json.dumps(line)) == (True, ())


def test_lines_may_come_as_an_iterable_and_blank_lines_are_skipped() -> None:
    lines = [json.dumps(POWER_LIMIT) + "\n", "\n", json.dumps(WATER_CREDIT) + "\n"]
    result = run_vectors(iter(lines))
    assert [(r.line, r.id, r.ok) for r in result.results] == [
        (1, POWER_LIMIT["id"], True),
        (3, WATER_CREDIT["id"], True),
    ]


# --- one figure changed -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "path", "value", "named"),
    [
        (POWER_LIMIT, "expect.token", "28227747371740445171", "token: expected 2822"),
        (POWER_LIMIT, "expect.encrypted", "87BD1AAD6E0E39F3", "encrypted: expected 87BD"),
        (POWER_LIMIT, "expect.crc", "1E5C", "crc: expected 1E5C, got 1E5B"),
        (POWER_LIMIT, "block", "0351E13613881E5C", "block: expected 0351E13613881E5C"),
        (POWER_LIMIT, "fields.value", 5001, "block: expected 0351E13613881E5B"),
        (POWER_LIMIT, "fields.value", 5001, "decoded value: expected 5001, got 5000"),
        (POWER_LIMIT, "subclass", 6, "decoded subclass: expected 6, got 0"),
        (POWER_LIMIT, "key.dk", "0123456789ABCDEE", "encrypted: expected 87BD1AAD6E0E39F2"),
        (WATER_CREDIT, "expect.dk", "E653341F9D5BF36E", "dk: expected E653341F9D5BF36E"),
        (WATER_CREDIT, "key.derive.ti", 2, "dk: expected E653341F9D5BF36F, got 060B8643C59A27F1"),
        (WATER_CREDIT, "fields.units", 11, "amount field for units 11: expected 10, got 11"),
        (KCT2, "new_key.dk", "EB4AD6D9E42E59F6", "new_key.dk: expected EB4AD6D9E42E59F6"),
        (KCT2, "new_key.derive", {**KCT2_DERIVE, "ti": 2}, "fields.ti (the new key's): expected 2"),
    ],
)
def test_one_changed_figure_fails_naming_it(
    line: dict[str, Any], path: str, value: Any, named: str
) -> None:
    ok, mismatches = only_result(changed(line, path, value))
    assert not ok
    assert any(m.startswith(named) for m in mismatches), mismatches


def test_key_change_fields_must_carry_the_new_keys_sections() -> None:
    # The token is right, but the line claims it carries a different key.
    text = changed(KCT2, "new_key", {"dk": "EB4AD6D9E42E59F0"})
    ok, mismatches = only_result(text)
    assert not ok
    assert mismatches == ("fields.nk_lo (section of the new key): expected E42E59F0, got E42E59F7",)


def test_failure_says_expected_and_got() -> None:
    _, mismatches = only_result(changed(POWER_LIMIT, "expect.crc", "0000"))
    assert mismatches == ("crc: expected 0000, got 1E5B",)


@pytest.mark.parametrize(
    ("line", "named"),
    [
        (
            {
                "kind": "amount",
                "input": {"units": 20000},
                "expect": {"field": "416B", "decoded": 20004},
            },
            "field for 20000 units: expected 416B, got 416A",
        ),
        (
            {
                "kind": "amount",
                "input": {"units": 20000},
                "expect": {"field": "416A", "decoded": 20000},
            },
            "units of field 416A: expected 20000, got 20004",
        ),
        (
            {"kind": "crc", "input": {"bytes": "0005C02A552710"}, "expect": {"crc": "1971"}},
            "crc of 0005C02A552710: expected 1971, got 1970",
        ),
        (
            {"kind": "luhn", "input": {"digits": "4750015023"}, "expect": {"check": 2}},
            "check digit of 4750015023: expected 2, got 1",
        ),
        (
            {
                "kind": "tid",
                "input": {"issued": "2016-12-11 15:49", "base": 1993},
                "expect": {"tid": 3148437},
            },
            "tid of 2016-12-11 15:49 on base 1993: expected 3148437, got 12593749",
        ),
        (
            {
                "kind": "cipher",
                "input": {
                    "alg": "misty1",
                    "key": "00112233445566778899AABBCCDDEEFF",
                    "block": "0123456789ABCDEF",
                },
                "expect": {"out": "8B1DA5F56AB3D07D"},
            },
            "misty1 encryption of 0123456789ABCDEF: expected 8B1DA5F56AB3D07D",
        ),
        (
            {"kind": "decoder_key", "input": DERIVE, "expect": {"dk": "E653341F9D5BF360"}},
            "dk: expected E653341F9D5BF360, got E653341F9D5BF36F",
        ),
    ],
)
def test_other_kinds_name_the_figure(line: dict[str, Any], named: str) -> None:
    text = json.dumps({"id": "x", "source": "by hand", **line})
    ok, mismatches = only_result(text)
    assert not ok
    assert any(m.startswith(named) for m in mismatches), mismatches


def test_tid_lines_follow_the_vending_rules() -> None:
    # 2014-01-01 to 2024-01-01 is 3652 days (2016 and 2020 are leap years):
    # 3652 * 1440 = 5,258,880 minutes. 00:01 is minute 5,258,881, issued as 00:02.
    line = {"id": "tid", "kind": "tid", "source": "by hand"}
    line["input"] = {"issued": "2024-01-01 00:01", "base": 2014}
    assert only_result(json.dumps({**line, "expect": {"tid": 5258882}})) == (True, ())
    ok, _ = only_result(json.dumps({**line, "expect": {"tid": 5258881}}))
    assert not ok


# --- reject lines -----------------------------------------------------------------------


def reject(token: str, key: dict[str, Any] | None = None) -> str:
    line: dict[str, Any] = {"id": "r", "kind": "reject", "source": "by hand", "token": token}
    if key is not None:
        line |= {"key": key, "ea": "07"}
    return json.dumps({**line, "expect": {"accepted": False}})


@pytest.mark.parametrize(
    "token",
    [
        "28227747371740445171",  # last digit changed: CRC error
        "2822774737174044517",  # 19 digits
        "282277473717404451700",  # 21 digits
        "2822774737174044517A",  # a letter
        "99999999999999999999",  # 2^66 or more
    ],
)
def test_reject_line_passes_when_the_decoder_refuses(token: str) -> None:
    assert only_result(reject(token, {"dk": "0123456789ABCDEF"})) == (True, ())


def test_reject_line_fails_when_the_token_is_accepted() -> None:
    ok, mismatches = only_result(reject("28227747371740445170", {"dk": "0123456789ABCDEF"}))
    assert not ok
    assert mismatches[0].startswith("refusal of 28227747371740445170: expected the decoder")
    assert "SetPowerLimit" in mismatches[0]


def test_reject_line_without_key_for_a_class1_token() -> None:
    # The Eskom class 1 token is fine; one digit off breaks its CRC.
    assert only_result(reject("18446744073843772417")) == (True, ())
    assert not only_result(reject("18446744073843772416"))[0]


# --- malformed lines --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "line 2: not JSON"),
        ("[1, 2]", "line 2: is not a JSON object"),
        ('{"kind": "luhn", "source": "x"}', "line 2: missing field 'id'"),
        ('{"id": "a", "source": "x"}', "line 2: missing field 'kind'"),
        ('{"id": "a", "kind": "wibble", "source": "x"}', "line 2: unknown kind 'wibble'"),
        ('{"id": "a", "kind": "luhn"}', "line 2: missing field 'source'"),
        (
            '{"id": "a", "kind": "luhn", "source": "x", "input": {"digits": "4750015023"}}',
            "line 2: missing field 'expect.check'",
        ),
        (
            '{"id": "a", "kind": "luhn", "source": "x", "input": {"digits": "1"}, '
            '"expect": {"check": "1"}}',
            "line 2: field 'expect.check' is '1'; expected an integer",
        ),
        (changed(POWER_LIMIT, "expect.token", ...), "line 2: missing field 'expect.token'"),
        (changed(POWER_LIMIT, "fields.rnd", ...), "line 2: missing field 'fields.rnd'"),
        (changed(POWER_LIMIT, "fields.watts", 5), "line 2: field 'fields.watts' is not part"),
        (changed(POWER_LIMIT, "block", "not hex"), "line 2: field 'block' is 'not hex'"),
        (changed(POWER_LIMIT, "key.dk", "0123"), "line 2: field 'key.dk' has 2 bytes"),
        (changed(WATER_CREDIT, "key.derive.pan", ...), "line 2: missing field 'key.derive.pan'"),
    ],
    ids=lambda value: value.split(":")[0] if value.startswith("line 2") else None,
)
def test_malformed_line_fails_with_its_number(text: str, message: str) -> None:
    good = json.dumps(
        {
            "id": "first",
            "kind": "luhn",
            "source": "x",
            "input": {"digits": "4750015023"},
            "expect": {"check": 1},
        }
    )
    result = run_vectors(f"{good}\n{text}\n")
    assert [r.ok for r in result.results] == [True, False]
    bad = result.results[1]
    assert bad.line == 2
    assert len(bad.mismatches) == 1
    assert bad.mismatches[0].startswith(message), bad.mismatches


def test_duplicate_id_is_a_failure_naming_the_first_use() -> None:
    text = "\n".join([json.dumps(POWER_LIMIT)] * 2)
    result = run_vectors(text)
    assert [r.ok for r in result.results] == [True, False]
    assert result.results[1].mismatches == (
        f"line 2: id {POWER_LIMIT['id']!r} is already used on line 1",
    )


def test_engine_refusal_of_a_field_is_a_mismatch_not_a_crash() -> None:
    ok, mismatches = only_result(changed(POWER_LIMIT, "fields.rnd", 16))
    assert not ok
    assert mismatches[0].startswith("fields: expected a class 2 subclass 0 token, got RangeError")


def test_loader_gives_ids_for_parametrize() -> None:
    lines = parse_vectors(json.dumps(POWER_LIMIT) + "\n{broken\n")
    assert [str(line) for line in lines] == [POWER_LIMIT["id"], "line 2"]
    assert check_vector(lines[1]).mismatches[0].startswith("line 2: not JSON")


# --- the result ---------------------------------------------------------------------------


def test_result_json_shape_and_counts_per_kind() -> None:
    text = "\n".join([json.dumps(POWER_LIMIT), changed(WATER_CREDIT, "expect.crc", "0000"), "x"])
    result = run_vectors(text)
    assert isinstance(result, RunResult)
    assert (result.passed, result.failed, result.ok) == (1, 2, False)
    assert [(s.kind, s.passed, s.failed) for s in result.by_kind()] == [
        ("token", 1, 1),
        ("", 0, 1),
    ]
    data = result.to_json()
    assert list(data) == ["passed", "failed", "results"]
    assert data["results"][0] == {"id": POWER_LIMIT["id"], "ok": True, "mismatches": []}
    assert data["results"][1] == {
        "id": WATER_CREDIT["id"],
        "ok": False,
        "mismatches": ["crc: expected 0000, got 3794"],
    }
    assert data["results"][2]["id"] == "line 3"


# --- the command ----------------------------------------------------------------------------


def test_cli_run_of_the_public_file_passes() -> None:
    result = CliRunner().invoke(main, ["conformance", "run", str(PUBLIC)])
    assert result.exit_code == 0, result.output
    assert "269 passed, 0 failed" in result.output


def test_cli_run_names_each_failure(tmp_path: Path) -> None:
    vectors = tmp_path / "v.jsonl"
    vectors.write_text(
        json.dumps(POWER_LIMIT)
        + "\n"
        + changed(POWER_LIMIT | {"id": "b"}, "expect.crc", "0000")
        + "\n"
    )
    result = CliRunner().invoke(main, ["conformance", "run", str(vectors)])
    assert result.exit_code == 1
    assert "FAIL b (line 2)" in result.output
    assert "crc: expected 0000, got 1E5B" in result.output
    assert "1 passed, 1 failed" in result.output


def test_cli_run_of_an_empty_file_fails(tmp_path: Path) -> None:
    vectors = tmp_path / "empty.jsonl"
    vectors.write_text("\n")
    result = CliRunner().invoke(main, ["conformance", "run", str(vectors), "--json"])
    assert result.exit_code == 1
    assert "no vector lines" in result.output


def run_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "cli.py", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_process_json_of_the_public_file() -> None:
    done = run_process("conformance", "run", str(PUBLIC), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["passed"], data["failed"]) == (269, 0)
    assert len(data["results"]) == 269
    assert all(r["ok"] and r["mismatches"] == [] for r in data["results"])


def test_process_exits_1_and_reports_the_failure(tmp_path: Path) -> None:
    vectors = tmp_path / "bad.jsonl"
    vectors.write_text(changed(POWER_LIMIT, "expect.token", "28227747371740445171") + "\n")
    done = run_process("conformance", "run", str(vectors), "--json")
    assert done.returncode == 1
    data = json.loads(done.stdout)
    assert (data["passed"], data["failed"]) == (0, 1)
    assert data["results"][0]["ok"] is False
    assert data["results"][0]["mismatches"][0].startswith(
        "token: expected 28227747371740445171, got 28227747371740445170"
    )
