"""Mutated meter state files: refused with the project's error, or a meter that keeps its rules.

Hypothesis takes valid state documents (one from the token tests, one with a tariff, money,
emergency credit, friendly hours, a daily load, a power-limit trip, a tamper and closed
billing months) and changes one thing: a value anywhere replaced by junk of another type,
a huge, negative or NaN number, a near miss of the value it replaces, or arrays nested
thousands deep; a key deleted; a key added. Loading the text must either raise
FormatError, or give a meter that satisfies every rule below (stated here, apart from the
schema), keeps them through a token and an hour of load, and saves and loads again.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sts
from sts.errors import FormatError, StsError
from sts.meter import state
from sts.meter.config import (
    CreditConfig,
    EmergencyConfig,
    EnergyStep,
    FixedCharge,
    FriendlyConfig,
    LoadControlConfig,
    TariffConfig,
)
from sts.meter.meter import Meter
from sts.results import ResultCode
from sts.tokens import CreditKind, CurrencyCredit, TransferCredit
from sts.tokens.tid import BaseDate, tid_from_datetime

DK = "E653341F9D5BF36F"  # STS 531-1 CTSA meter
KCT1_TI2 = "51638423060042734509"  # CTSA05 first section
CREDIT_01KWH = "23716100501183194197"  # CTSA01 step 1: 0.1 kWh, TID 5871715
MADE = datetime(2004, 1, 1, tzinfo=UTC)
T = datetime(2004, 6, 1, 12, 0, tzinfo=UTC)
FIRST = datetime(1993, 1, 1, tzinfo=UTC)
END = datetime(2066, 11, 24, 20, 16, tzinfo=UTC)  # 2035-01-01 + 2^24 minutes


def _token(token: sts.Token) -> str:
    return sts.encode(token, sts.DecoderKey.from_hex(DK))


def _keypad_meter() -> Meter:
    meter = Meter.manufacture(
        drn="00000000000", key=sts.DecoderKey.from_hex(DK), sgc=123456, base_date=1993,
        manufactured=MADE, tid_memory=7,
    )  # fmt: skip
    assert meter.enter_token(CREDIT_01KWH, T).accepted
    meter.enter_token("1" * 30, T)
    meter.enter_token("1234", T)
    assert meter.enter_token(KCT1_TI2, T + timedelta(minutes=1)).result is ResultCode.FIRST_KCT
    meter.advance(T + timedelta(minutes=3), 1500)
    return meter


def _credit_meter() -> Meter:
    config = CreditConfig(
        timezone="+02:00",
        tariff=TariffConfig(
            steps=(EnergyStep(Decimal(50), Decimal("1.20")), EnergyStep(None, Decimal(2))),
            fixed_charges=(FixedCharge("network", Decimal(5)),),
        ),
        emergency=EmergencyConfig(limit_kwh=Decimal(5), available_below_kwh=Decimal(1)),
        friendly=FriendlyConfig(hours=(datetime(1, 1, 1, 18).time(), datetime(1, 1, 1, 7).time())),
        load_control=LoadControlConfig(power_limit_w=3000),
    )
    meter = Meter.manufacture(
        drn="00000000000", key=sts.DecoderKey.from_hex(DK), sgc=123456, base_date=1993,
        manufactured=MADE, config=config,
    )  # fmt: skip
    start = datetime(2004, 5, 28, 9, tzinfo=UTC)
    tid = tid_from_datetime(start, BaseDate.Y1993)
    money = CurrencyCredit.for_amount(CreditKind.ELECTRICITY_CURRENCY, 2_000_000, tid, False)
    assert meter.enter_token(_token(money), start).accepted
    units = TransferCredit.for_units(CreditKind.ELECTRICITY, 20, tid + 1, 3)
    assert meter.enter_token(_token(units), start + timedelta(minutes=1)).accepted
    meter.advance(start + timedelta(days=5), [800] * 12 + [2500] * 12)
    meter.advance(meter.clock + timedelta(minutes=5), 4000)  # trips the 3 kW limit
    meter.advance(meter.clock + timedelta(minutes=5), 1200)
    meter.engine.set_tamper(meter.clock, "cover opened")
    meter.short_code("99")
    return meter


BASES = [json.loads(state.dumps(_keypad_meter())), json.loads(state.dumps(_credit_meter()))]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every value below ``node``."""
    children = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in children:
        yield (*path, key)
        yield from _paths(value, (*path, key))


PATHS = [list(_paths(base)) for base in BASES]
DEEP = "DEEP-NESTING-GOES-HERE"

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([-1, -5, 2**24, 2**63, 10**9, 10**12, 10**100, -(10**100)]),
    st.floats(),
    st.decimals(allow_nan=False).map(str),
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "lots",
            "yes",
            "NaN",
            "1e400",
            "-1",
            "99",
            "collecting",
            "E653341F9D5BF36F",
            "1990-06-01T00:00:00+00:00",
            "2004-06-01T12:30:00+00:00",
            "2004-06-01T12:00:00",
            "2070-01-01T00:00:00+00:00",
            "2004-06-01",
            "12:00",
        ]
    ),
    st.text("0123456789ABCDEF", min_size=16, max_size=16),  # a key or a held KCT block
    st.text("0123456789ABCDEF", min_size=32, max_size=32),
    st.datetimes(datetime(1990, 1, 1), datetime(2070, 1, 1), timezones=st.just(UTC)).map(
        datetime.isoformat
    ),
    st.dates(datetime(1990, 1, 1).date(), datetime(2070, 1, 1).date()).map(str),
    st.lists(st.integers(-3, 3), max_size=4),
    st.dictionaries(st.sampled_from(["constant", "daily", "x"]), st.integers(0, 9), max_size=2),
)


def _near(value: Any) -> st.SearchStrategy[Any]:
    """Plausible edits of a value: the kind that a schema could let through."""
    if isinstance(value, bool):
        return st.just(not value)
    if isinstance(value, int):
        return st.sampled_from([value + 1, value - 1, value * 2, -value, 0, value + 3_600_000])
    if isinstance(value, str):
        return st.sampled_from([value + "0", value[:-1], value.upper(), value.lower(), value * 2])
    if isinstance(value, list):
        return st.sampled_from([value[:-1], value + value[-1:], list(reversed(value)), []])
    return st.none()


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


@st.composite
def mutated_documents(draw: st.DrawFn) -> str:
    index = draw(st.integers(0, len(BASES) - 1))
    document = copy.deepcopy(BASES[index])
    path = draw(st.sampled_from(PATHS[index]))
    parent, key = _at(document, path[:-1]), path[-1]
    how = draw(st.sampled_from(["junk", "near", "delete", "add", "deep"]))
    depth = 0
    if how == "junk":
        parent[key] = draw(JUNK)
    elif how == "near":
        parent[key] = draw(_near(parent[key]))
    elif how == "delete":
        del parent[key]
    elif how == "add":
        value = parent[key]
        target = value if isinstance(value, dict) else parent if isinstance(parent, dict) else {}
        target[draw(st.sampled_from(["extra", "capacity", "now", "Energy_j"]))] = draw(JUNK)
    else:
        depth = draw(st.sampled_from([30, 40, 900, 5000, 100_000]))
        parent[key] = DEEP
    text = json.dumps(document)  # NaN and Infinity go out as the bare words
    if depth:
        text = text.replace(f'"{DEEP}"', "[" * depth + "]" * depth)
    return text


def assert_keeps_its_rules(meter: Meter) -> None:
    """Every rule the meter keeps, as the meter's documentation states it."""
    config, s = meter.engine.config, meter.engine.state
    credit = meter.status().credit
    for name in ("energy_j", "money", "money_debt", "debt_j", "emergency_used_j", "month_j"):
        value = getattr(s, name)
        assert type(value) is int and value >= 0, (name, value)
    assert credit.energy_kwh.is_finite() and 0 <= credit.energy_kwh <= config.energy_max_kwh
    assert credit.money.is_finite() and 0 <= credit.money <= config.money_max
    assert credit.emergency_used_kwh <= config.emergency.limit_kwh
    for flag in (s.relay_closed, s.tamper, s.emergency_active, s.had_credit):
        assert type(flag) is bool
    assert s.relay_closed is not s.relay_reason.opens
    assert type(s.alarm_level) is int and 0 <= s.alarm_level <= 3
    assert type(s.demand_w) is int and 0 <= s.demand_w <= 100_000_000
    assert len(s.tamper_reason) <= 100
    owed = s.emergency_used_j + s.debt_j
    assert s.ledger.imbalances(s.energy_j, s.money, owed, s.money_debt) == []
    lockout = meter.decoder.lockout
    assert type(lockout.failures) is int and lockout.failures >= 0
    if lockout.locked_until is not None:
        assert lockout.locked_until <= meter.clock + timedelta(seconds=1280)
    tids = meter.decoder.tids
    assert type(tids.capacity) is int and 1 <= tids.capacity <= 10_000
    assert len(tids.tids) <= tids.capacity
    assert all(0 <= tid < 2**24 for tid in tids.tids)
    assert list(tids.tids) == sorted(set(tids.tids))
    assert 1 <= meter.events.capacity <= 10_000 and len(meter.events) <= meter.events.capacity
    assert all(len(event.detail) <= 500 for event in meter.events)
    assert FIRST <= meter.clock < END
    assert s.now == math.floor(meter.clock.timestamp())


def _exercise(meter: Meter) -> None:
    """A token and an hour of load; a refusal must be the project's own error."""
    keys = meter.decoder.keys
    when = meter.clock + timedelta(minutes=1)
    try:
        tid = tid_from_datetime(when, keys.base_date)
        token = TransferCredit.for_units(CreditKind.ELECTRICITY, 5, tid, 1)
        assert isinstance(meter.enter_token(_token(token), when).result, ResultCode)
        meter.short_code("0")
        meter.advance(meter.clock + timedelta(hours=1), 1000)
    except StsError:
        pass


@settings(max_examples=250, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents())
def test_a_mutated_state_is_refused_or_keeps_every_rule(text: str) -> None:
    try:
        meter = state.loads(text)
    except FormatError:
        return
    assert_keeps_its_rules(meter)
    _exercise(meter)
    assert_keeps_its_rules(meter)
    again = state.loads(state.dumps(meter))
    assert again.to_dict() == meter.to_dict()


def test_the_valid_documents_themselves_load_and_keep_every_rule() -> None:
    for base in BASES:
        meter = state.loads(json.dumps(base))
        assert_keeps_its_rules(meter)
        _exercise(meter)
        assert_keeps_its_rules(meter)
