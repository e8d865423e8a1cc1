"""Charges (IC 113) over the meter's own tariff (:mod:`sts.meter.config`), read only.

Two charges, both taken from the money wallet:

================  ===============  ===========================================
charge            OBIS             what it holds
================  ===============  ===========================================
energy            0.0.19.20.0.255  consumption based (charge_type 0): the
                                   energy price per kWh of +A 1.0.1.8.0.255,
                                   one entry per tariff step ("S1".."S10")
                                   and per priced TOU rate ("R1".."R8")
monthly           0.0.19.20.1.255  time based (charge_type 1): the service
                                   charge steps ("V1".."V5") and fixed
                                   charges ("F1"..), due when a month closes
================  ===============  ===========================================

``total_amount_paid`` (attribute 2) is what the money wallet has paid for
energy, or for monthly charges, since the meter was made, in cents (the
account's currency scale -2). ``unit_charge_active`` (5) is {scaling
{commodity_scale, price_scale}, commodity, charge_table}: the energy charge's
commodity is +A in Wh with commodity_scale 3 (prices per kWh); a
charge_per_unit is a long (-32,768..32,767), so price_scale is the finest
power of ten, from -5 up, at which every price of the table is a whole
number that fits, or else the finest at which they fit, rounded half up.
Prices are the tariff's configured prices; levies, VAT and subsidies, which
IC 113 cannot express, apply on top as the meter's tariff says
(:mod:`sts.meter.tariff`). A meter without a money tariff has empty tables.

**Read only** (decision): the tariff is set when the meter is made, so
there is no passive unit charge (attribute 6 empty, 7 not specified), no
collection period (8 is 0) and the methods (update_unit_charge,
activate_passive_unit_charge, collect, update/set_total_amount_remaining)
are not offered.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from sts.meter.dlms import axdr
from sts.meter.dlms.basic import cents, credit_status
from sts.meter.dlms.model import Attribute, Context, CosemObject, Obis, cosem_object

CHARGE_OBIS: tuple[Obis, ...] = ((0, 0, 19, 20, 0, 255), (0, 0, 19, 20, 1, 255))
ACTIVE_IMPORT: Obis = (1, 0, 1, 8, 0, 255)


def commodity(obis: Obis) -> bytes:
    """The unit charge's commodity: the register (IC 3) it prices, its value attribute."""
    return axdr.structure(axdr.long_unsigned(3), axdr.octet_string(bytes(obis)), axdr.integer(2))


NO_COMMODITY = axdr.structure(axdr.long_unsigned(0), axdr.octet_string(bytes(6)), axdr.integer(0))
NOT_SPECIFIED = axdr.octet_string(b"\xff" * 9 + b"\x80\x00\xff")
_LONG = 32_767


def price_scale(prices: Sequence[Decimal]) -> tuple[int, list[int]]:
    """(price_scale, charge_per_unit values) for ``prices`` (see the module docstring)."""
    fitting = None
    for scale in range(-5, 10):
        step = Decimal(10) ** scale
        values = [price / step for price in prices]
        if all(abs(v) <= _LONG for v in values):
            if all(v == v.to_integral_value() for v in values):
                return scale, [int(v) for v in values]
            if fitting is None:
                fitting = scale
    assert fitting is not None  # 10**9 x 32,767 is above any price the tariff allows
    step = Decimal(10) ** fitting
    return fitting, [int((p / step).to_integral_value(ROUND_HALF_UP)) for p in prices]


def _unit_charge(commodity: bytes, commodity_scale: int, table: list[tuple[str, Decimal]]) -> bytes:
    scale, values = price_scale([price for _, price in table]) if table else (0, [])
    return axdr.structure(
        axdr.structure(axdr.integer(commodity_scale), axdr.integer(scale)),
        commodity,
        axdr.array(
            axdr.structure(axdr.octet_string(index.encode("ascii")), axdr.long(value))
            for (index, _), value in zip(table, values, strict=True)
        ),
    )


def _energy_table(ctx: Context) -> list[tuple[str, Decimal]]:
    tariff = ctx.meter.engine.config.tariff
    if tariff is None:
        return []
    table = [(f"S{i}", step.price) for i, step in enumerate(tariff.steps, 1)]
    prices = ctx.meter.metering.config.rate_prices
    return table + [(f"R{rate}", price) for rate, price in sorted(prices.items())]


def _monthly_table(ctx: Context) -> list[tuple[str, Decimal]]:
    tariff = ctx.meter.engine.config.tariff
    if tariff is None:
        return []
    table = [(f"V{i}", step.amount) for i, step in enumerate(tariff.service_charge, 1)]
    return table + [(f"F{i}", fixed.amount) for i, fixed in enumerate(tariff.fixed_charges, 1)]


def _charge(obis: Obis, kind: int, paid, unit_charge) -> CosemObject:  # type: ignore[no-untyped-def]
    empty = axdr.structure(
        axdr.structure(axdr.integer(0), axdr.integer(0)), NO_COMMODITY, axdr.array([])
    )
    return cosem_object(
        obis,
        113,
        0,
        {
            2: Attribute(lambda c: axdr.double_long(cents(paid(c)))),
            3: Attribute(lambda _c: axdr.enum(kind)),
            4: Attribute(lambda _c: axdr.unsigned(1)),
            5: Attribute(unit_charge),
            6: Attribute(lambda _c: empty),
            7: Attribute(lambda _c: NOT_SPECIFIED),
            8: Attribute(lambda _c: axdr.double_long_unsigned(0)),
            9: Attribute(lambda _c: axdr.bit_string("00")),
            10: Attribute(lambda _c: NOT_SPECIFIED),
            11: Attribute(lambda _c: axdr.double_long(0)),
            12: Attribute(lambda _c: axdr.double_long(0)),
            13: Attribute(lambda _c: axdr.long_unsigned(0)),
        },
    )


def charges(priced: Obis = ACTIVE_IMPORT) -> list[CosemObject]:
    """The energy charge and the monthly charges.

    ``priced`` is the register the unit charge prices: +A in Wh on an electricity
    meter, the volume register in 0.001 m3 on a water or gas meter (commodity_scale
    3 then gives prices per m3, :mod:`sts.meter.dlms.volume`).
    """
    priced_commodity = commodity(priced)
    return [
        _charge(
            CHARGE_OBIS[0],
            0,
            lambda c: credit_status(c).totals.money_for_energy,
            lambda c: _unit_charge(priced_commodity, 3, _energy_table(c)),
        ),
        _charge(
            CHARGE_OBIS[1],
            1,
            lambda c: credit_status(c).totals.charges,
            lambda c: _unit_charge(NO_COMMODITY, 0, _monthly_table(c)),
        ),
    ]
