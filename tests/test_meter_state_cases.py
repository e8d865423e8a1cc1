"""The corrupted meter state files of issue 7, each refused naming the field and the rule.

Of 55 corrupted files, 13 were accepted (a NaN wallet then showed "Energy NaN kWh", even
after a token) and 4 gave tracebacks. Each case here is one of them; each is now a
FormatError whose message names the field's path and what was expected. The sweep over
every field is tests/test_meter_state_fuzz.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import sts
from cli import main
from sts.errors import FormatError
from sts.meter import state
from sts.meter.meter import Meter

DK = "E653341F9D5BF36F"  # STS 531-1 CTSA meter
MADE = datetime(2004, 1, 1, tzinfo=UTC)
CREDIT_01KWH = "23716100501183194197"  # CTSA01 step 1: 0.1 kWh, TID 5871715
AT = datetime(2004, 6, 1, 12, 0, tzinfo=UTC)


def _meter() -> Meter:
    meter = Meter.manufacture(
        drn="00000000000", key=sts.DecoderKey.from_hex(DK), sgc=123456, base_date=1993,
        manufactured=MADE,
    )  # fmt: skip
    assert meter.enter_token(CREDIT_01KWH, AT).accepted
    return meter


def _edited(edit: Callable[[dict[str, Any]], None]) -> str:
    document = json.loads(state.dumps(_meter()))
    edit(document["meter"])
    return json.dumps(document)  # NaN and Infinity are written as the bare words


def _credit(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda m: m["credit"]["state"].update({name: value})


# 1990-06-01 00:00 UTC in epoch seconds: before the first base date (1993-01-01).
IN_1990 = int(datetime(1990, 6, 1, tzinfo=UTC).timestamp())

CASES = {
    "negative energy wallet": (
        _credit("energy_j", -3_600_000),
        "meter.credit.state.energy_j is -3600000; expected a whole number from 0",
    ),
    "NaN energy wallet": (
        _credit("energy_j", float("nan")),
        "meter.credit.state.energy_j is nan; expected a whole number",
    ),
    "energy above the register maximum": (
        # 999,999.9 kWh is 3,599,999,640,000 J; one joule more
        _credit("energy_j", 3_599_999_640_001),
        "meter.credit.state.energy_j is 3599999640001; expected at most 3,599,999,640,000",
    ),
    "negative money": (
        _credit("money", -500),
        "meter.credit.state.money is -500; expected a whole number from 0",
    ),
    "true as money": (
        _credit("money", True),
        "meter.credit.state.money is True; expected a whole number",
    ),
    "relay_closed 'yes'": (
        _credit("relay_closed", "yes"),
        "meter.credit.state.relay_closed is 'yes'; expected true or false",
    ),
    "alarm level 99": (
        _credit("alarm_level", 99),
        "meter.credit.state.alarm_level is 99; expected a whole number from 0 to 3",
    ),
    "lockout failures -5": (
        lambda m: m["decoder"]["lockout"].update(failures=-5),
        "meter.decoder.lockout.failures is -5; expected a whole number from 0",
    ),
    "TID memory capacity 10^9": (
        lambda m: m["decoder"]["tid_memory"].update(capacity=10**9),
        "meter.decoder.tid_memory.capacity is 1000000000; expected a whole number from 1 to 10,000",
    ),
    "event capacity 10^12": (
        lambda m: m["events"].update(capacity=10**12),
        "meter.events.capacity is 1000000000000; expected a whole number from 1 to 10,000",
    ),
    "credit clock in 1990": (
        _credit("now", IN_1990),
        f"meter.credit.state.now is {IN_1990}; expected a whole number from 725,846,400",
    ),
    "energy 10^100": (
        _credit("energy_j", 10**100),
        "meter.credit.state.energy_j is 1000000000000000000000000000000000000...; expected a "
        "whole number from 0 to 1,000,000,000,000,000,000,000,000",
    ),
    "energy 1e400": (
        _credit("energy_j", float("inf")),  # json.dumps writes Infinity; see the 1e400 test
        "meter.credit.state.energy_j is inf; expected a whole number",
    ),
    "money 'lots'": (
        _credit("money", "lots"),
        "meter.credit.state.money is 'lots'; expected a whole number",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_each_corrupted_file_is_refused_naming_the_field(tmp_path: Path, case: str):
    edit, message = CASES[case]
    path = tmp_path / "meter.json"
    path.write_text(_edited(edit))
    with pytest.raises(FormatError) as caught:
        state.load(path)
    assert str(caught.value) == f"meter state file {path} is damaged: {message}" or (
        message in str(caught.value)
    ), str(caught.value)
    assert str(path) in str(caught.value)


def test_energy_written_as_1e400_is_refused_naming_the_field():
    text = _edited(_credit("energy_j", "PLACEHOLDER")).replace('"PLACEHOLDER"', "1e400")
    refused = r"meter\.credit\.state\.energy_j is Decimal\('1E\+400'\)"
    with pytest.raises(FormatError, match=refused):
        state.loads(text)


def test_an_integer_of_100000_digits_is_refused_naming_the_field():
    text = _edited(_credit("energy_j", "PLACEHOLDER")).replace('"PLACEHOLDER"', "9" * 100_000)
    with pytest.raises(FormatError, match=r"meter\.credit\.state\.energy_j is Decimal\('9999"):
        state.loads(text)


@pytest.mark.parametrize("depth", [1_100, 100_000, 4_000_000])
def test_deep_nesting_is_refused_without_a_recursion_error(depth: int):
    text = _edited(_credit("load", "PLACEHOLDER")).replace(
        '"PLACEHOLDER"', "[" * depth + "]" * depth
    )
    with pytest.raises(FormatError, match="nests arrays and objects deeper than the JSON reader"):
        state.loads(text)


@pytest.mark.parametrize("depth", [1, 40, 900])
def test_nesting_the_parser_reads_is_refused_at_the_field(depth: int):
    text = _edited(_credit("load", "PLACEHOLDER")).replace(
        '"PLACEHOLDER"', "[" * depth + "]" * depth
    )
    refused = "meter.credit.state.load is a list of 1; expected an object with the keys"
    with pytest.raises(FormatError, match=refused if depth > 1 else "is a list of 0"):
        state.loads(text)


def test_nesting_inside_strings_does_not_count():
    text = _edited(lambda m: m["events"]["events"][0].update(detail="[" * 300))
    assert state.loads(text).events.latest(99)[0].detail == "[" * 300


def test_a_state_file_past_the_size_cap_is_refused_unread(tmp_path: Path):
    path = tmp_path / "meter.json"
    with path.open("wb") as handle:
        handle.truncate(state.MAX_STATE_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(FormatError, match="is larger than 8,388,608 bytes"):
        state.load(path)


def test_the_cli_refuses_a_nan_wallet_in_one_sentence(tmp_path: Path):
    path = tmp_path / "meter.json"
    path.write_text(_edited(_credit("energy_j", float("nan"))))
    result = CliRunner().invoke(main, ["meter", "show", str(path)])
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "meter.credit.state.energy_j is nan; expected a whole number" in said
    assert "Traceback" not in result.output


def test_a_rejected_100000_digit_entry_grows_the_state_by_a_bounded_record(tmp_path: Path):
    path = tmp_path / "meter.json"
    state.save(_meter(), path)
    sizes = [path.stat().st_size]
    for _ in range(3):
        meter = state.load(path)
        outcome = meter.enter_token("1" * 100_000)
        assert not outcome.accepted
        state.save(meter, path)
        sizes.append(path.stat().st_size)
    growth = [after - before for before, after in pairwise(sizes)]
    # a "token rejected" event quoting a 120-character prefix of the reason (and at the
    # third, a "keypad locked" event), against 100 KB an entry before
    assert all(0 < grown < 600 for grown in growth), growth
    detail = state.load(path).events.latest(2)[0].detail
    # the reason itself quotes only a prefix of the entry (since the bounds merge), so the
    # record is short whether or not the meter cuts it further
    assert detail.startswith("entry: Format (token '1111") and "(100000 characters)" in detail
    assert len(detail) <= len("entry: Format ()") + 120
