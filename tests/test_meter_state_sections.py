"""The metering sections of a state file are read strictly: whatever one field is
replaced with (or if it is dropped), loading either gives a meter that writes out
again or is refused with a FormatError naming the damage (never another
exception)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sts.errors import FormatError
from sts.meter import state as meter_state
from sts.meter.measurement import LoadPoint
from sts.meter.metering import Metering
from tests.meter_helpers import make_meter
from tests.test_meter_tou import TABLES

T0 = datetime(2026, 5, 4, tzinfo=UTC)


def _document() -> dict[str, Any]:
    metering = Metering.from_settings(
        {
            "calendar": {
                "active": TABLES,
                "special_days": [{"index": 1, "date": "*-12-25", "day_id": 2}],
            },
            "surveys": [{"channels": ["1.0.1.8.0.255", "1.0.32.7.0.255"], "period_min": 15}],
            "protection": {"over_current_a": "60"},
            "rate_prices": {"2": "1.5"},
            "subsidies": [{"kind": "percent", "amount": "5"}],
        }
    )
    from sts.meter.config import CreditConfig, EnergyStep, TariffConfig

    tariff = TariffConfig(steps=(EnergyStep(None, 2),))
    meter = make_meter(T0, units=500, config=CreditConfig(tariff=tariff), metering=metering)
    meter.advance(T0 + timedelta(days=1, hours=2), LoadPoint(1500, 200))
    meter.tamper("meter_cover")
    return meter_state.to_document(meter)


DOCUMENT = _document()


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node[:3]):
            out += _paths(value, (*prefix, index))
    return out


PATHS = [p for p in _paths(DOCUMENT["meter"]["metering"]) if p]
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.text(max_size=12),
    st.just([]),
    st.just({}),
    st.just([1, 2, 3]),
    st.just({"x": 1}),
    st.just("1.0.1.8.0.255"),
)


@given(path=st.sampled_from(PATHS), junk=JUNK, drop=st.booleans())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_damaged_metering_section_is_refused_with_a_format_error(path, junk, drop):
    document = copy.deepcopy(DOCUMENT)
    node = document["meter"]["metering"]
    for key in path[:-1]:
        node = node[key]
    if drop and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = junk
    # the section's own reader, not the state file's catch-all, must refuse it
    try:
        Metering.from_dict(document["meter"]["metering"])
    except FormatError as exc:
        assert str(exc).startswith("metering")  # the path of the bad field comes first
        return
    # the junk happened to be a valid value: the meter it makes writes out again
    loaded = meter_state.from_document(document)
    assert json.loads(meter_state.dumps(loaded))["meter"]["metering"]["version"] == 1


def test_the_undamaged_document_loads():
    again = meter_state.from_document(copy.deepcopy(DOCUMENT))
    assert meter_state.to_document(again) == DOCUMENT
