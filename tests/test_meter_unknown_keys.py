"""Unknown keys are refused everywhere in the meter's JSON, naming the key and the keys allowed.

The meter's `--config` JSON used to ignore an unknown key below the top level (a misspelt
`"limt_kwh"` left emergency credit off without a word) while the tariff JSON refused them.
The sweeps add a key to every object of a full credit set-up and of a state document.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import sts
from cli import main
from sts.errors import FormatError
from sts.meter import state
from sts.meter.config import (
    CreditConfig,
    EnergyStep,
    FixedCharge,
    FriendlyConfig,
    Levy,
    ServiceChargeStep,
    TariffConfig,
    VatRate,
)
from sts.meter.meter import Meter

DK = "E653341F9D5BF36F"
MADE = datetime(2004, 1, 1, tzinfo=UTC)

FULL_CONFIG = CreditConfig(
    tariff=TariffConfig(
        steps=(EnergyStep(Decimal(50), Decimal("1.20")), EnergyStep(None, Decimal(2))),
        service_charge=(ServiceChargeStep(None, Decimal(10)),),
        fixed_charges=(FixedCharge("network", Decimal(5)),),
        levies=(Levy("fuel", Decimal("0.01"), Decimal(1)),),
        vat=(VatRate("VAT", Decimal(15)),),
    ),
    friendly=FriendlyConfig(weekdays=frozenset({6})),
)


def _objects(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every JSON object in ``node``, itself included."""
    if isinstance(node, dict):
        yield path
        for key, value in node.items():
            yield from _objects(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _objects(value, (*path, index))


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


def _dotted(path: tuple[Any, ...]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f".{step}"
    return text.lstrip(".")


CONFIG_DOCUMENT = FULL_CONFIG.to_dict()
CONFIG_OBJECTS = list(_objects(CONFIG_DOCUMENT))


@pytest.mark.parametrize("path", CONFIG_OBJECTS, ids=_dotted)
def test_an_unknown_key_anywhere_in_a_credit_setup_is_refused(path: tuple[Any, ...]):
    document = copy.deepcopy(CONFIG_DOCUMENT)
    target = _at(document, path)
    allowed = ", ".join(target)
    target["surprise"] = 1
    with pytest.raises(FormatError) as caught:
        state.credit_config_from_json(json.dumps(document), "setup.json")
    where = _dotted(path)
    if where:
        expected = f"setup.json: {where} has an unknown key 'surprise'; the keys allowed are "
    else:
        expected = "setup.json has an unknown setting 'surprise'; the settings allowed are "
    assert str(caught.value) == expected + allowed


def test_the_full_setup_itself_is_accepted():
    assert state.credit_config_from_json(json.dumps(CONFIG_DOCUMENT)) == FULL_CONFIG


def test_a_partial_setup_keeps_defaults_and_takes_json_numbers():
    config = state.credit_config_from_json('{"emergency": {"limit_kwh": 5.5}}')
    assert config.emergency.limit_kwh == Decimal("5.5")
    assert config.alarms == CreditConfig().alarms


def test_sts_meter_new_refuses_a_misspelt_nested_setting(tmp_path: Path):
    setup = tmp_path / "setup.json"
    setup.write_text('{"emergency": {"limt_kwh": "5"}}')
    meter = tmp_path / "meter.json"
    result = CliRunner().invoke(
        main,
        ["meter", "new", str(meter), "--dk", DK, "--drn", "00000000000", "--sgc", "123456",
         "--bd", "1993", "--manufactured", "2004-01-01 00:00+00:00", "--config", str(setup)],
    )  # fmt: skip
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert (
        "emergency has an unknown key 'limt_kwh'; the keys allowed are limit_kwh, automatic, "
        "available_below_kwh, available_below_money" in said
    )
    assert not meter.exists()


def _state_document() -> dict[str, Any]:
    meter = Meter.manufacture(
        drn="00000000000", key=sts.DecoderKey.from_hex(DK), sgc=123456, base_date=1993,
        manufactured=MADE, config=FULL_CONFIG,
    )  # fmt: skip
    return json.loads(state.dumps(meter))


STATE_DOCUMENT = _state_document()


@pytest.mark.parametrize("path", list(_objects(STATE_DOCUMENT)), ids=_dotted)
def test_an_unknown_key_anywhere_in_a_state_file_is_refused(path: tuple[Any, ...]):
    document = copy.deepcopy(STATE_DOCUMENT)
    target = _at(document, path)
    allowed = ", ".join(target)
    target["surprise"] = 1
    with pytest.raises(FormatError) as caught:
        state.loads(json.dumps(document), "m.json")
    where = _dotted(path)
    said = str(caught.value)
    assert f"{where or 'm.json'} has an unknown key 'surprise'; the keys allowed are" in said
    named = said.split("the keys allowed are ")[1].split(", ")
    # every key the meter wrote (none, in an empty map such as rate_prices), maybe more
    assert set(filter(None, allowed.split(", "))) <= set(named)
    assert "surprise" not in named
