"""Shared set-up for the metering scenario tests: a meter made in a line."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sts.crypto.keys import DecoderKey
from sts.meter.config import CreditConfig
from sts.meter.meter import Meter
from sts.meter.metering import Metering
from sts.tokens.credit import CreditKind

KEY = DecoderKey.from_hex("E653341F9D5BF36F")


def make_meter(
    start: datetime,
    *,
    units: int = 0,
    money: Decimal | None = None,
    config: CreditConfig | None = None,
    metering: Metering | None = None,
) -> Meter:
    """A meter made at ``start`` holding ``units`` (0.1 kWh) and ``money`` in its wallets."""
    meter = Meter.manufacture(
        drn="00000000000",
        key=KEY,
        sgc=123456,
        base_date=2014,
        manufactured=start,
        config=config,
        metering=metering,
    )
    if units:
        meter.engine.apply_credit(CreditKind.ELECTRICITY, units, start)
    if money is not None:
        meter.engine.apply_credit(CreditKind.ELECTRICITY_CURRENCY, money, start)
    return meter


def reading(meter: Meter, obis: str) -> int:
    """The raw value of one register at the meter's clock."""
    closed = meter.engine.state.relay_closed
    for r in meter.metering.readings(meter.clock, closed):
        if str(r.spec.obis) == obis:
            return r.value
    raise AssertionError(f"no register {obis}")
