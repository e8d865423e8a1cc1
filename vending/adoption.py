"""Adopting into the ledger the vendor rows written before the ledger chained them.

A database whose vendors, operators, top-ups, sales and advices were made by a version
that did not record them all in the ledger fails verify with "... is in no ledger
entry". :func:`adopt` records, under the master key and in one database transaction,
every such row as it now stands: a ``vendor`` entry for a vendor in no entry and for
each top-up or adjustment in no entry, an ``operator`` entry for each operator in no
entry, a ``party`` entry for each sale's parties row that its transaction's details do
not record, and an ``advice`` entry for each advice in no entry. Rows the ledger records
otherwise are left alone (verify keeps reporting them), so running it again adopts
nothing.

Adopting trusts the rows as they are: run it once, after upgrading and before the
service sells again, where no one else writes to the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from vending import ledger, ledger_parties, storage
from vending.backend import Backend
from vending.models import LedgerEntry, Transaction
from vending.vendor_models import Advice, FloatMovement, Operator, TransactionParty, Vendor

_E = LedgerEntry.__table__
_T = Transaction.__table__
_V = Vendor.__table__
_O = Operator.__table__
_M = FloatMovement.__table__
_P = TransactionParty.__table__
_A = Advice.__table__


@dataclass(frozen=True)
class Adoption:
    """How many rows of each kind :func:`adopt` recorded, and the head after it."""

    vendors: int
    movements: int
    operators: int
    parties: int
    advices: int
    head: int

    @property
    def total(self) -> int:
        return self.vendors + self.movements + self.operators + self.parties + self.advices

    def to_dict(self) -> dict[str, Any]:
        return {
            "adopted": self.total,
            "vendors": self.vendors,
            "float_movements": self.movements,
            "operators": self.operators,
            "parties": self.parties,
            "advices": self.advices,
            "head": self.head,
        }


def adopt(backend: Backend) -> Adoption:
    """Record every vendor, top-up or adjustment, operator, parties row and advice that no
    ledger entry covers (KeyStoreError without this database's master key)."""
    with storage.write(backend) as session:
        connection = session.connection()
        key = backend.ledger_key(connection)  # checks the master key is this database's
        return _adopt(connection, key, backend.now())


def _adopt(connection: Connection, key: bytes, now: Any) -> Adoption:
    found = ledger_parties.recorded(
        connection, kinds=(ledger_parties.ADVICE, ledger_parties.PARTY, ledger.VENDOR,
                           ledger.OPERATOR),
    )  # fmt: skip
    vendors = movements = operators = parties = advices = 0
    names = dict(connection.execute(select(_V.c.id, _V.c.name)).all())
    for vendor_id, name in sorted(names.items()):
        loose = [
            number
            for number in connection.execute(
                select(_M.c.id)
                .where(_M.c.vendor_id == vendor_id, _M.c.transaction_id.is_(None))
                .order_by(_M.c.id)
            ).scalars()
            if number not in found.movements
        ]
        if name in found.vendors and not loose:
            continue
        # The vendor's row locked, as every writer of its float does (record_vendor).
        connection.execute(select(_V.c.id).where(_V.c.id == vendor_id).with_for_update())
        for number in loose or [None]:
            ledger.record_vendor(connection, key, vendor_id, now, number)
        vendors += name not in found.vendors
        movements += len(loose)
    for operator_id, vendor_id, name in connection.execute(
        select(_O.c.id, _O.c.vendor_id, _O.c.name).order_by(_O.c.id)
    ).all():
        if (names.get(vendor_id), name) not in found.operators:
            ledger.record_operator(connection, key, operator_id, now)
            operators += 1
    entry = select(func.min(_E.c.seq)).where(_E.c.transaction_id == _T.c.id).scalar_subquery()
    for transaction_id, seq in connection.execute(
        select(_P.c.transaction_id, entry)
        .join(_T, _T.c.id == _P.c.transaction_id)
        .where(_T.c.details[(ledger_parties.PARTIES, "vendor")].as_string().is_(None))
        .order_by(_P.c.transaction_id)
    ).all():
        # A transaction with no entry cannot be adopted (verify reports it as such).
        if seq is not None and seq not in found.parties:
            ledger_parties.record_party(connection, key, transaction_id, seq, now)
            parties += 1
    for row in connection.execute(
        select(_A.c.id, _A.c.vendor_id, _A.c.client_id, _A.c.kind).order_by(_A.c.id)
    ).all():
        if (names.get(row.vendor_id), row.client_id, row.kind) not in found.advices:
            ledger_parties.record_advice(connection, key, row.id, now)
            advices += 1
    head = connection.execute(select(func.max(_E.c.seq))).scalar_one() or 0
    return Adoption(vendors, movements, operators, parties, advices, head)
