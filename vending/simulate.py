"""A registered meter's key, for making a simulated meter that accepts what the ledger sells it.

:func:`simulated_meter` reads a meter's record (its current key revision: SGC,
KRN, KT, TI, KEN, base date, algorithm, DKGA), unseals its vending key and
derives its decoder key, and works out a manufacture time that every token
sold under that key revision comes after: one minute before the earliest
such token's TID, or before "now" when none was sold yet. The caller (the
CLI's ``sts meters simulate``) builds the :class:`sts.meter.meter.Meter` and
writes its state file; the decoder key travels as a
:class:`~sts.crypto.keys.DecoderKey`, whose ``repr`` shows only a fingerprint.

A meter with a key change order not yet handed out is made on its current
(old) key, as the meter in the field is: the next vend's key change tokens
move it to the new key, then its credit tokens are accepted under that key.

The simulated meter (sts.meter) measures the registered meter's service
(:attr:`SimulatedMeterKey.service`): an electricity meter takes unit tokens
(class 0 subclass 0) into its energy wallet, a water or gas meter its own
(subclass 1 or 2) into a volume wallet in m3, and each takes its service's
currency tokens (subclass 4, 5 or 6) into its money wallet. A meter
registered in currency mode needs a tariff on the meter to spend that wallet
by: :func:`meter_tariff` gives it the vending tariff's steps and VAT
(:attr:`SimulatedMeterKey.tariff`; per m3 for water and gas), so the meter
takes the currency tokens vending sells it. The CLI makes the meter with
:meth:`sts.meter.keyed.LedgerMeter.manufacture`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from sts.meter.keyed import LedgerMeter
from sts.tokens.tid import MAX_TID, BaseDate, datetime_from_tid
from vending.backend import Backend
from vending.kinds import Service, TokenKind
from vending.models import TokenRecord
from vending.registry import meter_by_drn
from vending.tariff import Tariff

if TYPE_CHECKING:
    from sts.meter.config import TariffConfig


@dataclass(frozen=True)
class SimulatedMeterKey(LedgerMeter):
    """What a simulated meter needs to decide on the tokens the ledger sells a meter
    (the key registers, service and manufacture time of :class:`LedgerMeter`), and more."""

    dkga: str
    key_revision: int
    tokens_sold: int  # TID-carrying tokens sold under this key revision so far
    token_kind: str = TokenKind.UNITS.value
    tariff: TariffConfig | None = None  # the meter's own tariff, for a currency-mode meter


def meter_tariff(tariff: Tariff) -> TariffConfig:
    """A simulated meter's own tariff from a vending tariff: its steps, and VAT on energy.

    Fixed charges and debt recovery stay with vending (a currency vend takes them
    before crediting the meter); levies are not copied.
    """
    from sts.meter.config import ChargeKind, EnergyStep, TariffConfig, VatRate

    vat = (
        (VatRate("VAT", tariff.vat_percent, frozenset({ChargeKind.ENERGY})),)
        if tariff.vat_percent
        else ()
    )
    return TariffConfig(
        steps=tuple(EnergyStep(b.up_to_kwh, b.price_per_kwh) for b in tariff.blocks), vat=vat
    )


def simulated_meter(backend: Backend, drn: str) -> SimulatedMeterKey:
    """The key and registers of meter ``drn``, and a manufacture time before its tokens."""
    now = backend.now()
    with backend.read_sessions() as session:
        meter = meter_by_drn(session, drn)
        tariff = None
        if meter.token_kind == TokenKind.CURRENCY and meter.tariff is not None:
            tariff = meter_tariff(Tariff.from_dict(meter.tariff.definition))
        key = backend.meter_key(session.connection(), meter)
        tokens = TokenRecord.__table__
        first_tid, count = session.execute(
            select(func.min(tokens.c.tid), func.count(tokens.c.tid)).where(
                tokens.c.meter_id == meter.id,
                tokens.c.key_revision == meter.key_revision,
                tokens.c.tid.is_not(None),
            )
        ).one()
        base = BaseDate(meter.base_date)
        # Nothing sold yet: made a minute ago, or, for a meter whose base date has run
        # out of TIDs (it waits for its key change), on the last minute it can count.
        first = min(_minutes_since(base, now), MAX_TID) if first_tid is None else first_tid
        manufactured = datetime_from_tid(max(first - 1, 0), base)
        return SimulatedMeterKey(
            drn=meter.drn,
            key=key,
            sgc=meter.sgc,
            krn=meter.krn,
            kt=meter.kt,
            ti=meter.ti,
            ken=meter.ken,
            base_date=meter.base_date,
            ea=meter.ea,
            dkga=meter.dkga,
            key_revision=meter.key_revision,
            manufactured=manufactured,
            tokens_sold=count,
            token_kind=meter.token_kind,
            tariff=tariff,
            service=Service(meter.service).value,
        )


def _minutes_since(base: BaseDate, now: datetime) -> int:
    return max((now - base.start) // timedelta(minutes=1), 0)
