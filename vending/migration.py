"""The TID rollover migration: key change orders for every meter of one SGC and KRN, in bulk.

A migration batch is named and says which meters it takes (SGC and current KRN)
and where they go (new KRN, new base date, KEN, and the tariff index they keep).
:func:`create_orders` makes a pending key change order with its KCT set for each
selected meter that has no order yet for its current key, a chunk of meters per
database transaction (the chunk's meter rows locked), and reports progress after
each chunk. Interrupted, it is simply run again: meters that already have their
order are skipped, so none is ordered twice. The base date changes in a TID
rollover, so every set carries RO=1.

Each meter's KCT set is then handed out with its next vend (vending.vend), or
exported for pre-coding in the field (:func:`export_rows`, :func:`write_csv`)
and recorded as handed out with vending.vend.issue_key_change.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from sqlalchemy import Connection, bindparam, func, insert, select

from sts.errors import shown
from sts.tokens.keychange import KEN_NEVER_EXPIRES
from sts.tokens.tid import BaseDate
from vending import limits, storage
from vending.backend import Backend
from vending.errors import ConflictError, NotFoundError, VendingError
from vending.keychange import ISSUED, Target, order_values
from vending.models import KeyChangeOrderRecord, Meter, MigrationBatch, VendingKeyRecord
from vending.registry import active_key
from vending.tids import PENDING

DEFAULT_CHUNK = 500
_ORDERS = KeyChangeOrderRecord.__table__
_METERS = Meter.__table__
_BATCHES = MigrationBatch.__table__
NAME_LENGTH = limits.column_length(_BATCHES.c.name)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class MigrationPlan:
    """Which meters a batch moves (SGC, KRN) and to what (KRN, base date, KEN)."""

    name: str
    sgc: int
    from_krn: int
    to_krn: int
    to_base_date: int
    ken: int = KEN_NEVER_EXPIRES

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise VendingError("migration name is empty; expected a name such as 'rollover-2024'")
        limits.check_text(self.name, "migration name", NAME_LENGTH, strip=False)
        object.__setattr__(self, "to_base_date", int(BaseDate.parse(self.to_base_date)))
        if not 0 <= self.ken <= 255:
            raise VendingError(f"KEN {self.ken} is not in 0..255")


@dataclass(frozen=True)
class MigrationProgress:
    """Where a batch stands: meters it takes, orders made, KCT sets handed out."""

    name: str
    sgc: int
    from_krn: int
    to_krn: int
    to_base_date: int
    meters: int  # ordered + still to order
    ordered: int
    issued: int

    @property
    def to_order(self) -> int:
        return self.meters - self.ordered

    @property
    def pending(self) -> int:
        return self.ordered - self.issued

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sgc": f"{self.sgc:06d}",
            "from_krn": self.from_krn,
            "to_krn": self.to_krn,
            "to_base_date": self.to_base_date,
            "meters": self.meters,
            "ordered": self.ordered,
            "to_order": self.to_order,
            "issued": self.issued,
            "pending": self.pending,
        }


def start(backend: Backend, plan: MigrationPlan) -> MigrationProgress:
    """Create the batch, or check that an existing one with this name has the same plan."""
    now = backend.now()
    with storage.write(backend) as session:
        batch = session.execute(
            select(MigrationBatch).where(MigrationBatch.name == plan.name)
        ).scalar_one_or_none()
        if batch is None:
            _check_plan(session, plan)
            session.add(
                MigrationBatch(
                    name=plan.name,
                    sgc=plan.sgc,
                    from_krn=plan.from_krn,
                    to_krn=plan.to_krn,
                    to_base_date=plan.to_base_date,
                    ken=plan.ken,
                    created_at=now,
                )
            )
        elif _plan_of(batch) != plan:
            raise ConflictError(
                f"migration {plan.name!r} already exists with another plan ({_describe(batch)}); "
                "resume it with the same figures or choose another name"
            )
    return progress(backend, plan.name)


def _check_plan(session: Any, plan: MigrationPlan) -> None:
    """Refuse a plan that selects no meter, or whose meters have no key to move to."""
    key_types = (
        session.execute(
            select(Meter.kt)
            .where(Meter.sgc == plan.sgc, Meter.krn == plan.from_krn)
            .group_by(Meter.kt)
            .order_by(Meter.kt)
        )
        .scalars()
        .all()
    )
    if not key_types:
        raise NotFoundError(
            f"no registered meter has SGC {plan.sgc:06d} and KRN {plan.from_krn}; migration "
            f"{plan.name!r} would order nothing (see `sts meters list --sgc {plan.sgc}`)"
        )
    for kt in key_types:
        active_key(session, plan.sgc, plan.to_krn, kt)  # NotFoundError names what is missing


def _plan_of(batch: MigrationBatch) -> MigrationPlan:
    return MigrationPlan(
        batch.name, batch.sgc, batch.from_krn, batch.to_krn, batch.to_base_date, batch.ken
    )


def _describe(batch: MigrationBatch) -> str:
    return (
        f"SGC {batch.sgc:06d} KRN {batch.from_krn} -> KRN {batch.to_krn}, "
        f"base date {batch.to_base_date}, KEN {batch.ken}"
    )


def _batch(connection: Connection, name: str) -> Any:
    limits.check_text(name, "migration name", NAME_LENGTH, strip=False)
    batch = connection.execute(select(_BATCHES).where(_BATCHES.c.name == name)).first()
    if batch is None:
        raise NotFoundError(
            f"no migration is named {shown(name)}; start it with `sts migrate start`"
        )
    return batch


def _candidates(batch: Any) -> Any:
    """Meters the batch still has to order: on its SGC and KRN, no order for their key."""
    return select(_METERS).where(
        _METERS.c.sgc == batch.sgc,
        _METERS.c.krn == batch.from_krn,
        _METERS.c.id > bindparam("after"),
        ~select(_ORDERS.c.id)
        .where(
            _ORDERS.c.meter_id == _METERS.c.id,
            _ORDERS.c.from_key_revision == _METERS.c.key_revision,
        )
        .exists(),
    )


def progress(backend: Backend, name: str) -> MigrationProgress:
    with storage.read(backend) as session:
        connection = session.connection()
        batch = _batch(connection, name)
        return _progress(connection, batch)


def _progress(connection: Connection, batch: Any) -> MigrationProgress:
    ordered, issued = connection.execute(
        select(
            func.count(_ORDERS.c.id),
            func.count(_ORDERS.c.id).filter(_ORDERS.c.status == ISSUED),
        ).where(_ORDERS.c.batch_id == batch.id)
    ).one()
    to_order = connection.execute(
        select(func.count()).select_from(_candidates(batch).subquery()), {"after": 0}
    ).scalar_one()
    return MigrationProgress(
        batch.name,
        batch.sgc,
        batch.from_krn,
        batch.to_krn,
        batch.to_base_date,
        ordered + to_order,
        ordered,
        issued,
    )


def all_progress(backend: Backend) -> list[MigrationProgress]:
    with storage.read(backend) as session:
        connection = session.connection()
        batches = connection.execute(select(_BATCHES).order_by(_BATCHES.c.id)).all()
        return [_progress(connection, batch) for batch in batches]


def create_orders(
    backend: Backend,
    name: str,
    chunk: int = DEFAULT_CHUNK,
    on_progress: Progress | None = None,
    limit: int | None = None,
) -> MigrationProgress:
    """Order key changes for the batch's meters that have none yet, ``chunk`` per commit.

    ``on_progress(done, total)`` is called after each chunk; ``limit`` stops after
    about that many orders (the rest are made by the next run).
    """
    if chunk < 1:
        raise VendingError(f"chunk size {chunk} is below 1")
    first = progress(backend, name)
    total, done = first.meters, first.ordered
    if on_progress is not None:
        on_progress(done, total)
    after = 0
    made = 0
    while limit is None or made < limit:
        size = chunk if limit is None else min(chunk, limit - made)
        try:
            count, after = _order_chunk(backend, name, after, size)
        except storage.ConcurrentWriteError:
            # A meter of this chunk got an order from elsewhere meanwhile: redo the chunk,
            # which now skips it.
            count, after = _order_chunk(backend, name, after, size)
        if count == 0:
            break
        made += count
        done += count
        if on_progress is not None:
            on_progress(done, total)
    return progress(backend, name)


def _order_chunk(backend: Backend, name: str, after: int, size: int) -> tuple[int, int]:
    """Orders for up to ``size`` meters with id above ``after``: (orders made, last id)."""
    now = backend.now()
    with storage.write(backend) as session:
        connection = session.connection()
        batch = _batch(connection, name)
        meters = connection.execute(
            _candidates(batch).order_by(_METERS.c.id).limit(size).with_for_update(of=_METERS),
            {"after": after},
        ).all()
        if not meters:
            return 0, after
        keys: dict[int, VendingKeyRecord] = {}
        rows = []
        for meter in meters:
            record = keys.get(meter.kt)
            if record is None:
                record = keys[meter.kt] = active_key(session, batch.sgc, batch.to_krn, meter.kt)
            target = Target(
                sgc=meter.sgc,
                krn=batch.to_krn,
                kt=meter.kt,
                ti=meter.ti,
                base_date=batch.to_base_date,
                ken=batch.ken,
            )
            rows.append(order_values(backend, connection, meter, target, record, now, batch.id))
        connection.execute(insert(_ORDERS), rows)
        return len(rows), meters[-1].id


# --- export for pre-coding --------------------------------------------------------------


@dataclass(frozen=True)
class ExportRow:
    """One meter's KCT set, as a pre-coding sheet lists it."""

    drn: str
    pan: str
    from_krn: int
    to_krn: int
    to_base_date: int
    rollover: bool
    status: str
    kcts: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "drn": self.drn,
            "pan": self.pan,
            "from_krn": self.from_krn,
            "to_krn": self.to_krn,
            "to_base_date": self.to_base_date,
            "rollover": self.rollover,
            "status": self.status,
            "kcts": list(self.kcts),
        }


CSV_HEADER = (
    "drn",
    "pan",
    "from_krn",
    "to_krn",
    "to_base_date",
    "ro",
    "status",
    "kct1",
    "kct2",
    "kct3",
    "kct4",
)


def export_rows(
    backend: Backend, name: str, status: str | None = PENDING, batch_size: int = 2000
) -> Iterator[ExportRow]:
    """The batch's orders (pending ones by default), by meter number."""
    with storage.read(backend) as session:
        connection = session.connection()
        batch = _batch(connection, name)
        query = (
            select(_METERS.c.drn, _METERS.c.pan, _ORDERS)
            .join(_METERS, _METERS.c.id == _ORDERS.c.meter_id)
            .where(_ORDERS.c.batch_id == batch.id, _ORDERS.c.id > bindparam("after"))
            .order_by(_ORDERS.c.id)
            .limit(batch_size)
        )
        if status is not None:
            query = query.where(_ORDERS.c.status == status)
        after = 0
        while True:
            rows = connection.execute(query, {"after": after}).all()
            if not rows:
                return
            for row in rows:
                yield ExportRow(
                    row.drn,
                    row.pan,
                    row.from_krn,
                    row.to_krn,
                    row.to_base_date,
                    row.rollover,
                    row.status,
                    tuple(row.kct_digits.split()),
                )
            after = rows[-1].id


def write_csv(rows: Iterable[ExportRow], stream: TextIO) -> int:
    """Write the rows as CSV (tokens as 20 plain digits); returns how many were written."""
    writer = csv.writer(stream)
    writer.writerow(CSV_HEADER)
    count = 0
    for row in rows:
        kcts = list(row.kcts) + [""] * (4 - len(row.kcts))
        writer.writerow(
            [
                row.drn,
                row.pan,
                row.from_krn,
                row.to_krn,
                row.to_base_date,
                int(row.rollover),
                row.status,
                *kcts,
            ]
        )
        count += 1
    return count


def hand_out_exported(
    backend: Backend, name: str, on_progress: Progress | None = None
) -> MigrationProgress:
    """Record every pending set of the batch as handed out (pre-coded in the field).

    Each is a key change transaction with its KCTs in the ledger, under client
    reference ``precode:<name>:<drn>``, so running it again after an interruption
    hands out only the rest.
    """
    from vending.vend import issue_key_change  # vend builds on keychange, as this does

    drns = [row.drn for row in export_rows(backend, name)]
    if on_progress is not None:
        on_progress(0, len(drns))
    for done, drn in enumerate(drns, start=1):
        issue_key_change(backend, drn, reference=f"precode:{name}:{drn}"[:100])
        if on_progress is not None:
            on_progress(done, len(drns))
    return progress(backend, name)
