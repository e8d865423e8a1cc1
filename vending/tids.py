"""TID allocation inside a vend's database transaction (DESIGN.md section 5).

A vend first locks its meter's row (:func:`lock_meter`): ``SELECT ... FOR UPDATE``
on PostgreSQL; on SQLite the transaction already holds the database's write lock
because vending.db begins every write transaction with ``BEGIN IMMEDIATE``. While
the lock is held, :func:`allocate_tid` computes the next TID with
:func:`sts.tokens.tid.next_tid` (the later of "now" and last TID + 1 minute,
never minute-of-day 1) and stores it as the meter's last TID, so two vends for one
meter at the same moment get different TIDs. The unique constraint on
(meter, key revision, TID) in ``tokens`` is the backstop.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sts.errors import RangeError
from sts.tokens.meter_number import compact
from sts.tokens.tid import BaseDate, vending_tid
from vending.errors import KeyChangeNeeded, NotFoundError
from vending.models import Meter


def lock_meter(session: Session, drn: str) -> Meter:
    """The meter with this DRN, its row locked until the transaction ends."""
    number = compact(drn)
    meter = session.execute(
        select(Meter).where(Meter.drn == number).with_for_update(of=Meter)
    ).scalar_one_or_none()
    if meter is None:
        raise NotFoundError(f"meter {drn!r} is not registered; add it with `sts meters add`")
    return meter


def allocate_tid(meter: Meter, now: datetime) -> int:
    """The next TID for ``meter`` at ``now`` (timezone-aware), recorded as its last TID.

    Raises :class:`KeyChangeNeeded` when the meter's base date has run out of TIDs
    or the TID would pass the meter's key expiry number (KEN).
    """
    base = BaseDate(meter.base_date)
    try:
        tid = vending_tid(now, base, meter.last_tid)
    except RangeError as exc:
        if now < base.start:
            raise
        raise KeyChangeNeeded(f"meter {meter.drn}: {exc}") from None
    if tid >> 16 > meter.ken:
        raise KeyChangeNeeded(
            f"meter {meter.drn}: TID {tid} is past its key expiry number KEN {meter.ken} "
            f"(TIDs up to {(meter.ken + 1) * 65536 - 1}); the meter needs a key change "
            "to a new key"
        )
    meter.last_tid = tid
    return tid
