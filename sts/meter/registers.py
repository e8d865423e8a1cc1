"""The meter's energy registers: import, export, absolute, four reactive quadrants,
apparent, in total and per tariff rate.

Energy is counted exactly, in watt-seconds (joules), var-seconds and
VA-seconds, so no reading drifts with rounding; a register *reads* in whole Wh,
varh or VAh (scaler 0, :mod:`sts.meter.obis`), rounded down. Each stretch of
load lands in the registers of its quadrant:

    P > 0 (import):  +A total and +A of the rate; apparent import (9.8)
    P < 0 (export):  -A total and -A of the rate; apparent export (10.8)
    Q by quadrant:   Q1 (5.8), Q2 (6.8), Q3 (7.8), Q4 (8.8), each counting |Q|
    |A| (15.8) = +A + -A

Import and export never mix: a joule is in exactly one of them, and in exactly
one rate, so the rates add up to the total (in joules; each Wh reading is
rounded down on its own)::

    >>> r = EnergyRegisters()
    >>> r.add(2, 5_760_000, 0, 4_320_000, 1, 7_200_000, 0)  # 1.6 kWh, 1.2 kvarh Q1, 2 kVAh
    >>> r.add(1, 0, 3_600_000, 0, 1, 0, 3_600_000)          # 1 kWh export at rate 1
    >>> [r.value(c) for c in ("1.0.1.8.0.255", "1.0.2.8.0.255", "1.0.15.8.0.255",
    ...                       "1.0.5.8.0.255", "1.0.9.8.0.255", "1.0.1.8.2.255", "1.0.2.8.1.255")]
    [1600, 1000, 2600, 1200, 2000, 1600, 1000]
"""

from __future__ import annotations

from typing import Any

from sts.errors import FormatError
from sts.meter import strict
from sts.meter.obis import MAX_RATES, ObisCode, spec_of

_SECONDS_PER_HOUR = 3600


class EnergyRegisters:
    """Energy totals in W*s, var*s and VA*s; rates 1-8 for active import and export."""

    __slots__ = ("export_j", "import_j", "q_s", "s_export", "s_import")

    def __init__(self) -> None:
        self.import_j = [0] * (MAX_RATES + 1)  # index 0: total
        self.export_j = [0] * (MAX_RATES + 1)
        self.q_s = [0] * 5  # index 1-4: quadrant
        self.s_import = 0
        self.s_export = 0

    def add(
        self, rate: int, imported: int, exported: int, q: int, quadrant: int, s_imp: int, s_exp: int
    ) -> None:
        """Count one stretch: active import/export (J) at ``rate``, |Q| (var*s) in
        ``quadrant``, apparent import/export (VA*s)."""
        if imported:
            self.import_j[0] += imported
            self.import_j[rate] += imported
        if exported:
            self.export_j[0] += exported
            self.export_j[rate] += exported
        if q:
            self.q_s[quadrant] += q
        self.s_import += s_imp
        self.s_export += s_exp

    def raw(self, code: str | ObisCode) -> int:
        """The exact count behind a register (W*s, var*s or VA*s)."""
        obis = spec_of(code).obis
        if obis.d != 8:
            raise FormatError(f"{obis} is not an energy register")
        c, e = obis.c, obis.e
        if c == 1:
            return self.import_j[e]
        if c == 2:
            return self.export_j[e]
        if e:
            raise FormatError(f"the meter keeps no per-rate register {obis}")
        if c == 15:
            return self.import_j[0] + self.export_j[0]
        if 5 <= c <= 8:
            return self.q_s[c - 4]
        return self.s_import if c == 9 else self.s_export

    def value(self, code: str | ObisCode) -> int:
        """The register's reading in whole Wh / varh / VAh (rounded down)."""
        return self.raw(code) // _SECONDS_PER_HOUR

    def to_dict(self) -> dict[str, Any]:
        return {
            "import_j": list(self.import_j),
            "export_j": list(self.export_j),
            "q_s": list(self.q_s[1:]),
            "s_import": self.s_import,
            "s_export": self.s_export,
        }

    @classmethod
    def from_dict(cls, data: Any, path: str = "registers") -> EnergyRegisters:
        d = strict.obj(data, path, ("import_j", "export_j", "q_s", "s_import", "s_export"))
        r = cls()
        for name, size in (("import_j", MAX_RATES + 1), ("export_j", MAX_RATES + 1)):
            values = strict.as_list(d[name], f"{path}.{name}", size)
            if len(values) != size:
                raise FormatError(f"{path}.{name} has {len(values)} entries; expected {size}")
            counts = [strict.as_int(v, f"{path}.{name}[{i}]", 0) for i, v in enumerate(values)]
            if sum(counts[1:]) != counts[0]:
                raise FormatError(f"{path}.{name}: the rates do not add up to the total")
            setattr(r, name, counts)
        q = strict.as_list(d["q_s"], f"{path}.q_s", 4)
        if len(q) != 4:
            raise FormatError(f"{path}.q_s has {len(q)} entries; expected 4 (Q1-Q4)")
        r.q_s = [0, *(strict.as_int(v, f"{path}.q_s[{i}]", 0) for i, v in enumerate(q))]
        r.s_import = strict.read_int(d, "s_import", path, 0)
        r.s_export = strict.read_int(d, "s_export", path, 0)
        return r
