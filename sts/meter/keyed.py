"""A simulated meter made from what a vending ledger knows of a registered meter.

:class:`LedgerMeter` is one meter's current key registers (SGC, KRN, KT, TI,
KEN, algorithm, base date), its decoder key, a manufacture time before every
token sold under that key, and its service (electricity, water or gas).
``vending.simulate.SimulatedMeterKey`` is one; ``sts meters simulate``, the
demo and ``sts meter fleet new --from-ledger`` each make their meter with
:meth:`LedgerMeter.manufacture`, so a water meter registered in the ledger
comes out as a water meter wherever it is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sts.crypto.keys import DecoderKey
from sts.meter.config import CreditConfig
from sts.meter.meter import Meter
from sts.meter.service import MeterService


@dataclass(frozen=True)
class LedgerMeter:
    """One registered meter's key registers and service, and when to make it."""

    drn: str
    key: DecoderKey
    sgc: int
    krn: int
    kt: int
    ti: int
    ken: int
    ea: str
    base_date: int
    manufactured: datetime
    service: str = field(default=MeterService.ELECTRICITY.value, kw_only=True)

    def manufacture(self, config: CreditConfig | None = None) -> Meter:
        """A new simulated meter with these registers; ``config`` set up for this service."""
        service = MeterService.parse(self.service)
        if config is not None or service is not MeterService.ELECTRICITY:
            config = replace(config or CreditConfig(), service=service)
        return Meter.manufacture(
            drn=self.drn,
            manufactured=self.manufactured,
            key=self.key,
            sgc=self.sgc,
            krn=self.krn,
            kt=self.kt,
            ti=self.ti,
            ken=self.ken,
            ea=self.ea,
            base_date=self.base_date,
            config=config,
        )
