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
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection, Row, bindparam, delete, select, update

from sts.codec import algorithm_for, encode
from sts.crypto.keys import DecoderKey
from sts.errors import FunctionError, RangeError
from sts.tokens.keychange import KEN_NEVER_EXPIRES, KeyChangeOrder
from sts.tokens.tid import BaseDate
from vending import storage, tables
from vending.backend import Backend, KeyedMeter, MeterKeyParameters, derive
from vending.errors import ConflictError, NotFoundError, VendingError
from vending.tids import PENDING, LockedMeter, lock_meter

if TYPE_CHECKING:
    from vending.models import KeyChangeOrderRecord

ISSUED = "issued"
_ORDERS = tables.key_change_orders


class OrderedMeter(KeyedMeter, Protocol):
    """A meter a key change order is made for (ORM object or row)."""

    id: int
    drn: str
    ken: int
    key_revision: int


class TargetKey(Protocol):
    """The vending key record a meter moves to."""

    id: int
    label: str
    dkga: str


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


def target_parameters(meter: OrderedMeter, target: Target) -> MeterKeyParameters:
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


def check_target(meter: OrderedMeter, target: Target, new_record: TargetKey) -> None:
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


def order_values(
    backend: Backend,
    connection: Connection,
    meter: OrderedMeter,
    target: Target,
    new_record: TargetKey,
    now: datetime,
    batch_id: int | None = None,
) -> dict[str, Any]:
    """The column values of a pending order for ``meter``, with its KCT set."""
    check_target(meter, target, new_record)
    # Not cached: a bulk migration derives each meter's keys once.
    current = derive(
        backend.vending_key_by_id(connection, meter.vending_key_id), MeterKeyParameters.of(meter)
    )
    new_key = derive(
        backend.vending_key_by_id(connection, new_record.id), target_parameters(meter, target)
    )
    algorithm_for(new_key, meter.ea)
    rollover = target.base_date != meter.base_date
    digits = kct_set(current, new_key, meter.ea, target, rollover)
    return {
        "meter_id": meter.id,
        "batch_id": batch_id,
        "status": PENDING,
        "from_key_revision": meter.key_revision,
        "from_krn": meter.krn,
        "from_base_date": meter.base_date,
        "to_sgc": target.sgc,
        "to_krn": target.krn,
        "to_kt": target.kt,
        "to_ti": target.ti,
        "to_ea": meter.ea,
        "to_base_date": target.base_date,
        "ken": target.ken,
        "rollover": rollover,
        "to_vending_key_id": new_record.id,
        "kct_digits": " ".join(digits),
        "created_at": now,
        "issued_at": None,
    }


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
    from vending.models import KeyChangeOrderRecord
    from vending.registry import active_key

    now = backend.now()
    with storage.write(backend) as session:
        meter = lock_meter(session, drn)
        existing = pending_order(session.connection(), meter.id, meter.key_revision)
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
        order = KeyChangeOrderRecord(
            **order_values(backend, session.connection(), meter, target, record, now)
        )
        session.add(order)
        session.flush()
        return OrderInfo.of(order, meter.drn)


def pending_order(connection: Connection, meter_id: int, key_revision: int) -> Row[Any] | None:
    """The order waiting to move a meter from key revision ``key_revision``, if any."""
    return connection.execute(
        select(_ORDERS).where(
            _ORDERS.c.meter_id == meter_id,
            _ORDERS.c.from_key_revision == key_revision,
            _ORDERS.c.status == PENDING,
        )
    ).first()


_ORDER_BY_ID = select(_ORDERS).where(_ORDERS.c.id == bindparam("order_id"))
_ISSUE = (
    update(_ORDERS)
    .where(_ORDERS.c.id == bindparam("order_id"))
    .values(status=ISSUED, issued_at=bindparam("issued_at"))
)


def order_by_id(connection: Connection, order_id: int) -> Row[Any]:
    return connection.execute(_ORDER_BY_ID, {"order_id": order_id}).one()


def apply_order(connection: Connection, meter: LockedMeter, order: Row[Any], now: datetime) -> None:
    """Switch the meter to the order's key, once its KCTs are handed out; mark it issued.

    The caller saves the meter (vending.tids.save_meter) before committing.
    """
    meter.sgc = order.to_sgc
    meter.krn = order.to_krn
    meter.kt = order.to_kt
    meter.ti = order.to_ti
    meter.ken = order.ken
    if order.rollover:
        meter.last_tid = None  # RO=1 clears the meter's TID memory; TIDs start on the new base
    meter.base_date = order.to_base_date
    meter.vending_key_id = order.to_vending_key_id
    meter.key_revision += 1
    connection.execute(_ISSUE, {"order_id": order.id, "issued_at": now})


def cancel_order(backend: Backend, drn: str) -> OrderInfo:
    """Withdraw a meter's pending order (its KCTs were never handed out)."""
    from vending.models import KeyChangeOrderRecord

    with storage.write(backend) as session:
        meter = lock_meter(session, drn)
        row = pending_order(session.connection(), meter.id, meter.key_revision)
        if row is None:
            raise NotFoundError(f"meter {meter.drn} has no pending key change order")
        order = session.get_one(KeyChangeOrderRecord, row.id)
        info = OrderInfo.of(order, meter.drn)
        session.execute(delete(KeyChangeOrderRecord).where(KeyChangeOrderRecord.id == order.id))
        return info


def list_orders(
    backend: Backend, drn: str | None = None, status: str | None = None, limit: int = 100
) -> list[OrderInfo]:
    from vending.models import KeyChangeOrderRecord, Meter
    from vending.registry import meter_by_drn

    with storage.read(backend) as session:
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
