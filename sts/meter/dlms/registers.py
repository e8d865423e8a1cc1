"""The metering registers (IC 3) on the DLMS server, one object per register of
:mod:`sts.meter.obis`.

Energy registers (D = 8), total and per TOU rate (E = 1-8), read the meter's
:class:`~sts.meter.registers.EnergyRegisters` in whole Wh, varh or VAh (scaler 0)
as long64: a meter's lifetime of energy does not fit 32 bits (100 kW for five
years is 4.4 * 10^9 Wh). Instantaneous values (D = 7) are what the standing
load model gives at the request's time, with the scaler of their spec (voltage
0.1 V, current 0.01 A, power factor 0.001, ...), as double-long.

Total +A (1.0.1.8.0.255) is served from the credit engine by
:mod:`sts.meter.dlms.objects` (energy delivered since the meter was made, which
the metering side's +A equals for a meter made with metering) and is not
repeated here.
"""

from __future__ import annotations

from collections.abc import Callable

from sts.meter import obis
from sts.meter.dlms import axdr
from sts.meter.dlms.basic import register
from sts.meter.dlms.model import Context, CosemObject

SERVED_ELSEWHERE = {obis.ACTIVE_IMPORT.obis}
ENERGY = tuple(
    spec
    for spec in (*obis.TOTAL_ENERGY, *obis.RATE_IMPORT, *obis.RATE_EXPORT)
    if spec.obis not in SERVED_ELSEWHERE
)


def _energy(spec: obis.RegisterSpec) -> Callable[[Context], int]:
    return lambda c: c.meter.metering.registers.value(spec.obis)


def _instant(spec: obis.RegisterSpec) -> Callable[[Context], int]:
    def value(c: Context) -> int:
        closed = c.meter.engine.state.relay_closed
        for reading in c.meter.metering.readings(c.now, closed):
            if reading.spec == spec:
                return reading.value
        raise AssertionError(f"no reading for {spec.obis}")  # pragma: no cover

    return value


def metering_registers() -> list[CosemObject]:
    """Every energy and instantaneous register but total +A, as IC 3 objects."""
    objects = [
        register(_logical(spec), _energy(spec), spec.scaler, int(spec.unit), encode=axdr.long64)
        for spec in ENERGY
    ]
    objects += [
        register(
            _logical(spec), _instant(spec), spec.scaler, int(spec.unit), encode=axdr.double_long
        )
        for spec in obis.INSTANTANEOUS
    ]
    return objects


def _logical(spec: obis.RegisterSpec) -> tuple[int, int, int, int, int, int]:
    code = spec.obis
    return (code.a, code.b, code.c, code.d, code.e, code.f)
