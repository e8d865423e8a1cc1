"""Key change orders: moving a meter to a new key, its KCT set handed out with its next vend.

An order names the meter's new SGC, KRN, KT, TI, base date and KEN. Its KCT set is
made when the order is created: the new decoder key (derived from the vending key
for the new SGC, KRN and KT, with the meter's DKGA) in a 2-token set for a 64-bit
key or a 4-token set for a 128-bit key, each token encrypted under the meter's
*current* decoder key. RO = 1 (clear the TID memory) when the base date changes.

The order waits, ``pending``, until the meter's next vend: that vend hands out
the KCTs first, then switches the meter's record to the new key (its key
revision goes up by one; a new base date starts the TIDs afresh) and makes
its credit under the new key (:func:`apply_order`, called by vending.vend).
There is at most one order per (meter, key revision it starts from), which is
what makes the bulk migration resumable without duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sts.codec import algorithm_for, encode
from sts.crypto.keys import DecoderKey
from sts.errors import FunctionError, RangeError
from sts.tokens.keychange import KEN_NEVER_EXPIRES, KeyChangeOrder
from sts.tokens.tid import BaseDate
from vending.backend import Backend, MeterKeyParameters
from vending.errors import ConflictError, NotFoundError, VendingError
from vending.models import KeyChangeOrderRecord, Meter, VendingKeyRecord
from vending.registry import active_key, meter_by_drn
from vending.tids import lock_meter

PENDING = "pending"
ISSUED = "issued"


@dataclass(frozen=True)
class Target:
    """Where a key change takes a meter."""

    sgc: int
    krn: int
    kt: int
    ti: int
    base_date: int
    ken: int = KEN_NEVER_EXPIRES


@dataclass(frozen=True)
class OrderInfo:
    """A key change order as the CLI shows it."""

    id: int
    drn: str
    status: str
    from_krn: int
    from_base_date: int
    to_sgc: int
    to_krn: int
    to_kt: int
    to_ti: int
    to_base_date: int
    ken: int
    rollover: bool
    kcts: tuple[str, ...]
    created_at: datetime
    issued_at: datetime | None
    batch: str | None = None

    @classmethod
    def of(cls, order: KeyChangeOrderRecord, drn: str, batch: str | None = None) -> OrderInfo:
        return cls(
            order.id,
            drn,
            order.status,
            order.from_krn,
            order.from_base_date,
            order.to_sgc,
            order.to_krn,
            order.to_kt,
            order.to_ti,
            order.to_base_date,
            order.ken,
            order.rollover,
            tuple(order.kct_digits.split()),
            order.created_at,
            order.issued_at,
            batch,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "meter": self.drn,
            "status": self.status,
            "from": {"krn": self.from_krn, "base_date": self.from_base_date},
            "to": {
                "sgc": f"{self.to_sgc:06d}",
                "krn": self.to_krn,
                "kt": self.to_kt,
                "ti": self.to_ti,
                "base_date": self.to_base_date,
                "ken": self.ken,
            },
            "rollover": self.rollover,
            "kcts": list(self.kcts),
            "created_at": self.created_at.isoformat(),
            "issued_at": self.issued_at.isoformat() if self.issued_at else None,
            "batch": self.batch,
        }


def kct_set(
    current_key: DecoderKey, new_key: DecoderKey, ea: str, target: Target, rollover: bool
) -> list[str]:
    """The KCT set's 20-digit tokens, encrypted under ``current_key``."""
    order = KeyChangeOrder(
        new_key.secret_bytes(),
        krn=target.krn,
        kt=target.kt,
        ti=target.ti,
        ken=target.ken,
        rollover=rollover,
        sgc=target.sgc if new_key.bits == 128 else None,
    )
    return [encode(token, current_key, ea=ea) for token in order.tokens()]


def target_parameters(meter: Meter, target: Target) -> MeterKeyParameters:
    """The meter's key parameters after the change (same PAN, EA and DKGA)."""
    return MeterKeyParameters(
        meter.pan,
        target.sgc,
        target.kt,
        target.ti,
        target.krn,
        target.base_date,
        meter.ea,
        meter.dkga,
    )


def check_target(meter: Meter, target: Target, new_record: VendingKeyRecord) -> None:
    """Refuse a key change that changes nothing or cannot be expressed in a KCT set."""
    BaseDate(target.base_date)
    if not 0 <= target.ken <= 255:
        raise RangeError(f"KEN {target.ken} is not in 0..255")
    if target.kt == 0:
        raise VendingError("a key change to key type 0 (initialisation key) is not allowed")
    if new_record.dkga != meter.dkga:
        raise VendingError(
            f"meter {meter.drn} uses DKGA{meter.dkga}; the vending key for the new SGC/KRN/KT "
            f"({new_record.label!r}) is a DKGA{new_record.dkga} key"
        )
    if target.sgc != meter.sgc and meter.ea != "11":
        raise FunctionError(
            f"meter {meter.drn} has a 64-bit key: its 2-token KCT set cannot carry a new SGC "
            "(3-token sets are not supported)"
        )
    same = (meter.sgc, meter.krn, meter.kt, meter.ti, meter.base_date, meter.ken) == (
        target.sgc,
        target.krn,
        target.kt,
        target.ti,
        target.base_date,
        target.ken,
    )
    if same:
        raise VendingError(f"meter {meter.drn} already has these key parameters; nothing to change")


def make_order(
    backend: Backend,
    meter: Meter,
    target: Target,
    new_record: VendingKeyRecord,
    now: datetime,
    batch_id: int | None = None,
) -> KeyChangeOrderRecord:
    """A pending order (not yet added to a session) with its KCT set."""
    check_target(meter, target, new_record)
    current = backend.meter_key(meter)
    new_key = backend.decoder_key(new_record, target_parameters(meter, target))
    algorithm_for(new_key, meter.ea)
    rollover = target.base_date != meter.base_date
    digits = kct_set(current, new_key, meter.ea, target, rollover)
    return KeyChangeOrderRecord(
        meter_id=meter.id,
        batch_id=batch_id,
        status=PENDING,
        from_key_revision=meter.key_revision,
        from_krn=meter.krn,
        from_base_date=meter.base_date,
        to_sgc=target.sgc,
        to_krn=target.krn,
        to_kt=target.kt,
        to_ti=target.ti,
        to_ea=meter.ea,
        to_base_date=target.base_date,
        ken=target.ken,
        rollover=rollover,
        to_vending_key_id=new_record.id,
        kct_digits=" ".join(digits),
        created_at=now,
        issued_at=None,
    )


def order_key_change(
    backend: Backend,
    drn: str,
    krn: int | None = None,
    base_date: int | None = None,
    ti: int | None = None,
    kt: int | None = None,
    sgc: int | None = None,
    ken: int | None = None,
) -> OrderInfo:
    """Order a key change for one meter; unchanged parameters keep the meter's values."""
    now = backend.now()
    with backend.sessions.begin() as session:
        meter = lock_meter(session, drn)
        existing = pending_order(session, meter)
        if existing is not None:
            raise ConflictError(
                f"meter {meter.drn} already has pending key change order {existing.id}; "
                "it is handed out with the next vend (or cancel it first)"
            )
        target = Target(
            sgc=meter.sgc if sgc is None else sgc,
            krn=meter.krn if krn is None else krn,
            kt=meter.kt if kt is None else kt,
            ti=meter.ti if ti is None else ti,
            base_date=meter.base_date if base_date is None else int(BaseDate.parse(base_date)),
            ken=KEN_NEVER_EXPIRES if ken is None else ken,
        )
        record = active_key(session, target.sgc, target.krn, target.kt)
        order = make_order(backend, meter, target, record, now)
        session.add(order)
        session.flush()
        return OrderInfo.of(order, meter.drn)


def pending_order(session: Session, meter: Meter) -> KeyChangeOrderRecord | None:
    """The order waiting to move ``meter`` from its current key, if any."""
    return session.execute(
        select(KeyChangeOrderRecord).where(
            KeyChangeOrderRecord.meter_id == meter.id,
            KeyChangeOrderRecord.from_key_revision == meter.key_revision,
            KeyChangeOrderRecord.status == PENDING,
        )
    ).scalar_one_or_none()


def apply_order(session: Session, meter: Meter, order: KeyChangeOrderRecord, now: datetime) -> None:
    """Switch the meter's record to the order's key: called once its KCTs are handed out."""
    meter.sgc = order.to_sgc
    meter.krn = order.to_krn
    meter.kt = order.to_kt
    meter.ti = order.to_ti
    meter.ken = order.ken
    if order.rollover:
        meter.last_tid = None  # RO=1 clears the meter's TID memory; TIDs start on the new base
    meter.base_date = order.to_base_date
    meter.vending_key = session.get_one(VendingKeyRecord, order.to_vending_key_id)
    meter.key_revision += 1
    order.status = ISSUED
    order.issued_at = now


def cancel_order(backend: Backend, drn: str) -> OrderInfo:
    """Withdraw a meter's pending order (its KCTs were never handed out)."""
    with backend.sessions.begin() as session:
        meter = lock_meter(session, drn)
        order = pending_order(session, meter)
        if order is None:
            raise NotFoundError(f"meter {meter.drn} has no pending key change order")
        info = OrderInfo.of(order, meter.drn)
        session.execute(delete(KeyChangeOrderRecord).where(KeyChangeOrderRecord.id == order.id))
        return info


def list_orders(
    backend: Backend, drn: str | None = None, status: str | None = None, limit: int = 100
) -> list[OrderInfo]:
    with backend.read_sessions() as session:
        query = (
            select(KeyChangeOrderRecord, Meter.drn)
            .join(Meter, Meter.id == KeyChangeOrderRecord.meter_id)
            .order_by(KeyChangeOrderRecord.id)
            .limit(limit)
        )
        if drn is not None:
            query = query.where(KeyChangeOrderRecord.meter_id == meter_by_drn(session, drn).id)
        if status is not None:
            query = query.where(KeyChangeOrderRecord.status == status)
        return [OrderInfo.of(order, number) for order, number in session.execute(query)]
