"""TID allocation inside a vend's database transaction (DESIGN.md section 5).

A vend first locks its meter's row: ``SELECT ... FOR UPDATE`` on PostgreSQL; on
SQLite the transaction already holds the database's write lock because
vending.db begins every write transaction with ``BEGIN IMMEDIATE``. While the
lock is held, :func:`allocate_tid` computes the next TID with
:func:`sts.tokens.tid.next_tid` (the later of "now" and last TID + 1 minute,
never minute-of-day 1) and records it as the meter's last TID, which the vend
writes back (:func:`save_meter`) before it commits. Two vends for one meter at
the same moment therefore get different TIDs. The unique constraint on
(meter, key revision, TID) in ``tokens`` is the backstop.

The vend works on a :class:`LockedMeter`, a plain copy of the row (with its
tariff and customer) read in one statement, rather than an ORM object: a vend
is a handful of statements and the ORM's bookkeeping would cost more than they do.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection, Date, Text, and_, bindparam, cast, func, select, update

from sts.errors import RangeError
from sts.tokens.meter_number import compact
from sts.tokens.tid import BaseDate, vending_tid
from vending import tables
from vending.errors import KeyChangeNeeded, UnknownMeter
from vending.prepared import Prepared

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from vending.models import Meter

_METERS = tables.meters
_TARIFFS = tables.tariffs
_CUSTOMERS = tables.customers
_ORDERS = tables.key_change_orders
PENDING = "pending"  # the status of a key change order not yet handed out
_TXNS = tables.transactions
_EARLIER = _TXNS.alias("earlier")


class TidState(Protocol):
    """What TID allocation reads and writes of a meter."""

    drn: str
    base_date: int
    ken: int
    last_tid: int | None


@dataclass
class LockedMeter:
    """A meter row read under lock by a vend; the vend changes it and saves it back."""

    id: int
    drn: str
    pan: str
    sgc: int
    krn: int
    kt: int
    ti: int
    ea: str
    dkga: str
    base_date: int
    ken: int
    vending_key_id: int
    tariff_id: int | None
    customer_id: int | None
    last_tid: int | None
    key_revision: int
    tariff_name: str | None
    tariff_definition: str | None  # the tariff's JSON text (vending.vend parses it once)
    customer_name: str | None
    customer_debt: Decimal | None
    pending_order_id: int | None  # a key change order waiting for this vend
    earlier_id: int | None  # a transaction that already has the vend's client reference
    earlier_fingerprint: str | None
    # This month's sums of the meter's transactions, when read with the lock (SQLite):
    month_start: date | None = None
    month_energy: Decimal | None = None
    month_free: Decimal | None = None
    month_fixed: Decimal | None = None
    # What the meter measures and what its credit tokens carry (vending.kinds).
    service: str = "electricity"
    token_kind: str = "units"
    customer_free_units: Decimal | None = None  # the customer's own free units a month


#: Columns a key change may change, written back by save_meter with the key revision.
_MUTABLE = ("sgc", "krn", "kt", "ti", "base_date", "ken", "vending_key_id", "last_tid")
_METER_COLUMNS = [f.name for f in fields(LockedMeter) if f.name in _METERS.c]
_LOCK = (
    select(
        *(_METERS.c[name] for name in _METER_COLUMNS),
        _TARIFFS.c.name.label("tariff_name"),
        cast(_TARIFFS.c.definition, Text).label("tariff_definition"),
        _CUSTOMERS.c.name.label("customer_name"),
        _CUSTOMERS.c.debt.label("customer_debt"),
        _CUSTOMERS.c.free_units_kwh.label("customer_free_units"),
        _ORDERS.c.id.label("pending_order_id"),
        _EARLIER.c.id.label("earlier_id"),
        _EARLIER.c.fingerprint.label("earlier_fingerprint"),
    )
    .select_from(
        _METERS.outerjoin(_TARIFFS, _TARIFFS.c.id == _METERS.c.tariff_id)
        .outerjoin(_CUSTOMERS, _CUSTOMERS.c.id == _METERS.c.customer_id)
        .outerjoin(
            _ORDERS,
            and_(
                _ORDERS.c.meter_id == _METERS.c.id,
                _ORDERS.c.from_key_revision == _METERS.c.key_revision,
                _ORDERS.c.status == PENDING,
            ),
        )
        .outerjoin(_EARLIER, _EARLIER.c.client_reference == bindparam("reference"))
    )
    .with_for_update(of=_METERS)
)


_BY_DRN = _LOCK.where(_METERS.c.drn == bindparam("drn"))
_LOCK_BY_DRN = Prepared(_BY_DRN)


def _month_sum(column: Any) -> Any:
    return (
        select(func.sum(column))
        .where(
            _TXNS.c.meter_id == _METERS.c.id,
            _TXNS.c.day >= bindparam("month_start", type_=Date()),
        )
        .scalar_subquery()
    )


# On SQLite the write lock is held before this statement runs, so it may also read the
# month-to-date sums (one statement fewer per vend). PostgreSQL reads them after the lock.
_LOCK_WITH_MONTH_BY_DRN = Prepared(
    _BY_DRN.add_columns(
        _month_sum(_TXNS.c.energy).label("month_energy"),
        _month_sum(_TXNS.c.free_energy).label("month_free"),
        _month_sum(_TXNS.c.fixed_charges).label("month_fixed"),
    )
)
_SAVE_TID = Prepared(
    update(_METERS)
    .where(_METERS.c.id == bindparam("meter_id"))
    .values(last_tid=bindparam("last_tid"))
)
_SAVE_KEY = (
    update(_METERS)
    .where(_METERS.c.id == bindparam("meter_id"))
    .values({name: bindparam(name) for name in (*_MUTABLE, "key_revision")})
)


def lock_meter_row(
    connection: Connection,
    drn: str,
    reference: str | None = None,
    month_start: date | None = None,
) -> LockedMeter:
    """The meter with this DRN, its row locked until the transaction ends.

    The same statement reads the meter's tariff, customer and pending key change
    order, and the transaction already holding client reference ``reference`` if
    any. On PostgreSQL those joined rows come from the statement's snapshot, which
    may predate a vend that committed while this one waited for the lock; the
    vend re-reads what matters after locking (vending.vend), and the unique
    client reference catches the rest. On SQLite, given ``month_start``, it also
    sums the meter's transactions since then (see vending.vend.month_to_date).
    """
    params: dict[str, Any] = {"drn": compact(drn), "reference": reference}
    with_month = month_start is not None and connection.dialect.name == "sqlite"
    if with_month:
        params["month_start"] = month_start
    statement = _LOCK_WITH_MONTH_BY_DRN if with_month else _LOCK_BY_DRN
    rows = statement.run(connection, params)
    if not rows:
        raise UnknownMeter(f"meter {drn!r} is not registered; add it with `sts meters add`")
    meter = LockedMeter(**rows[0])
    if with_month:
        meter.month_start = month_start  # the month the sums above cover
    return meter


def save_meter(connection: Connection, meter: LockedMeter, key_changed: bool) -> None:
    """Write back what a vend changed: the last TID, or after a key change the key too.

    Only a key change (vending.keychange.apply_order) changes more than the last TID.
    """
    if not key_changed:
        _SAVE_TID.run(connection, {"meter_id": meter.id, "last_tid": meter.last_tid})
        return
    values: dict[str, Any] = {name: getattr(meter, name) for name in _MUTABLE}
    values["meter_id"] = meter.id
    values["key_revision"] = meter.key_revision
    connection.execute(_SAVE_KEY, values)


def lock_meter(session: Session, drn: str) -> Meter:
    """The meter with this DRN as an ORM object, its row locked until the transaction ends."""
    from vending.models import Meter

    number = compact(drn)
    meter = session.execute(
        select(Meter).where(Meter.drn == number).with_for_update(of=Meter)
    ).scalar_one_or_none()
    if meter is None:
        raise UnknownMeter(f"meter {drn!r} is not registered; add it with `sts meters add`")
    return meter


def allocate_tid(meter: TidState, now: datetime) -> int:
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
