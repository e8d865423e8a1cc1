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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from sts.crypto.keys import DecoderKey
from sts.tokens.tid import MAX_TID, BaseDate, datetime_from_tid
from vending.backend import Backend
from vending.models import TokenRecord
from vending.registry import meter_by_drn


@dataclass(frozen=True)
class SimulatedMeterKey:
    """What a simulated meter needs to decide on the tokens the ledger sells a meter."""

    drn: str
    key: DecoderKey
    sgc: int
    krn: int
    kt: int
    ti: int
    ken: int
    base_date: int
    ea: str
    dkga: str
    key_revision: int
    manufactured: datetime
    tokens_sold: int  # TID-carrying tokens sold under this key revision so far


def simulated_meter(backend: Backend, drn: str) -> SimulatedMeterKey:
    """The key and registers of meter ``drn``, and a manufacture time before its tokens."""
    now = backend.now()
    with backend.read_sessions() as session:
        meter = meter_by_drn(session, drn)
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
        )


def _minutes_since(base: BaseDate, now: datetime) -> int:
    return max((now - base.start) // timedelta(minutes=1), 0)
