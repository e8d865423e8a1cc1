"""The append-only ledger: one hash-chained entry per transaction.

Every entry has a number (``seq``, 1, 2, 3, ...), a body (the transaction's facts as
canonical JSON: sorted keys, no spaces, amounts as decimal strings) and two hashes::

    prev_hash = the hash of entry seq - 1 (64 zeros for entry 1)
    hash      = SHA-256(prev_hash as hex || body), as hex

The single ``ledger_head`` row holds the last entry's number and hash (and the
hash before it). Appending moves the head in one ``UPDATE ... RETURNING`` that
computes the new hash in SQL from the head's current hash, so the row is
locked, read and advanced in a single step (on SQLite the write lock is already
held), then inserts the entry. Entries thus form one chain however many vending
points share the database; the head stays locked only for the vend's last two
statements and its commit; and the vend and its entry are committed together
or not at all.

:func:`verify` walks the chain and reports an entry whose body or hash was
edited, a missing number (a deleted entry), a broken link, and a head that
does not match the last entry (the last entry deleted). It also checks that
each transaction still says what its entry says.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, String, Text, bindparam, func, insert, select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.functions import FunctionElement

from vending.errors import StorageError
from vending.models import LedgerEntry, LedgerHead, Transaction
from vending.prepared import Prepared

GENESIS_HASH = "0" * 64
HEAD_ID = 1
#: The SQL function vending.db registers on SQLite connections for :class:`sha256_hex`.
SQLITE_SHA256_FUNCTION = "sts_sha256_hex"


def canonical_json(data: Any) -> str:
    """JSON with sorted keys and no whitespace; Decimals and datetimes as strings."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain
    )


def _plain(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} {value!r} has no canonical JSON form")


def amount_text(value: Decimal) -> str:
    """A Decimal in one canonical form whatever its stored scale: "12.5", "0", "-3"."""
    text = format(Decimal(value).normalize(), "f")
    return "0" if text in ("-0", "0") else text


def entry_hash(prev_hash: str, body: str) -> str:
    """SHA-256 over the previous entry's hash (hex) followed by this entry's body."""
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class EntryToken:
    """A token as the ledger records it."""

    tid: int | None
    token_class: int
    subclass: int
    digits: str


@dataclass(frozen=True)
class EntryFacts:
    """The facts of one transaction that its ledger entry records."""

    reference: str
    kind: str
    meter: str
    at: datetime
    money: Decimal
    energy: Decimal
    free_energy: Decimal
    fixed_charges: Decimal
    debt_recovered: Decimal
    reverses: str | None
    tokens: tuple[EntryToken, ...]

    @classmethod
    def of(cls, txn: Transaction) -> EntryFacts:
        """The facts of a stored transaction (meter, tokens and reversed one loaded)."""
        return cls(
            txn.client_reference,
            txn.kind,
            txn.meter.drn,
            txn.created_at,
            txn.money,
            txn.energy,
            txn.free_energy,
            txn.fixed_charges,
            txn.debt_recovered,
            txn.reverses.client_reference if txn.reverses is not None else None,
            tuple(EntryToken(t.tid, t.token_class, t.subclass, t.digits) for t in txn.tokens),
        )

    def body(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "kind": self.kind,
            "meter": self.meter,
            "at": self.at.isoformat(),
            "money": amount_text(self.money),
            "energy_kwh": amount_text(self.energy),
            "free_kwh": amount_text(self.free_energy),
            "fixed_charges": amount_text(self.fixed_charges),
            "debt_recovered": amount_text(self.debt_recovered),
            "reverses": self.reverses,
            "tokens": [
                {"tid": t.tid, "class": t.token_class, "subclass": t.subclass, "digits": t.digits}
                for t in self.tokens
            ],
        }


class sha256_hex(FunctionElement[str]):
    """SQL for the lower-case hex SHA-256 of a text's UTF-8 bytes, as hashlib gives it."""

    type = String()
    inherit_cache = True


@compiles(sha256_hex, "postgresql")
def _sha256_postgresql(element: sha256_hex, compiler: Any, **kw: Any) -> str:
    return f"encode(sha256(convert_to({compiler.process(element.clauses, **kw)}, 'UTF8')), 'hex')"


@compiles(sha256_hex)
def _sha256_default(element: sha256_hex, compiler: Any, **kw: Any) -> str:
    # SQLite: the function vending.db registers on every connection.
    return f"{SQLITE_SHA256_FUNCTION}({compiler.process(element.clauses, **kw)})"


_HEAD = LedgerHead.__table__
_ENTRIES = LedgerEntry.__table__
# One statement locks the head, reads the hash before it from the row's latest version
# (also under PostgreSQL's READ COMMITTED after waiting for the lock) and moves it on.
_MOVE_HEAD = Prepared(
    update(_HEAD)
    .where(_HEAD.c.id == HEAD_ID)
    .values(
        seq=_HEAD.c.seq + 1,
        prev=_HEAD.c.hash,
        hash=sha256_hex(_HEAD.c.hash + bindparam("body", type_=Text())),
    )
    .returning(_HEAD.c.seq, _HEAD.c.prev, _HEAD.c.hash)
)
_INSERT_ENTRY = Prepared(insert(_ENTRIES), _ENTRIES.c.keys())


def append(connection: Connection, transaction_id: int, facts: EntryFacts) -> int:
    """Chain an entry for a stored transaction onto the ledger; returns its number.

    Runs on the vend's own connection and transaction, as its last statements:
    the head row stays locked until the vend commits or rolls back.
    """
    body = canonical_json(facts.body())
    heads = _MOVE_HEAD.run(connection, {"body": body})
    if not heads:
        raise StorageError("the ledger has no head row; the schema was not created by Alembic")
    head = heads[0]
    _INSERT_ENTRY.run(
        connection,
        {
            "seq": head["seq"],
            "transaction_id": transaction_id,
            "created_at": facts.at,
            "body": body,
            "prev_hash": head["prev"],
            "hash": head["hash"],
        },
    )
    return head["seq"]


@dataclass(frozen=True)
class LedgerCheck:
    """The outcome of :func:`verify`: entries checked and each problem found."""

    entries: int
    head_seq: int
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": self.head_seq,
            "problems": list(self.problems),
        }


def _entries(session: Session, batch: int) -> Iterator[LedgerEntry]:
    last = 0
    while True:
        rows = (
            session.execute(
                select(LedgerEntry)
                .where(LedgerEntry.seq > last)
                .order_by(LedgerEntry.seq)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def verify(session: Session, batch: int = 2000, limit: int = 50) -> LedgerCheck:
    """Check the whole chain and the transactions behind it; at most ``limit`` problems."""
    problems: list[str] = []
    expected_seq = 1
    prev_hash = GENESIS_HASH
    count = 0
    for entry in _entries(session, batch):
        count += 1
        if entry.seq != expected_seq:
            missing = (
                f"entry {expected_seq}"
                if entry.seq == expected_seq + 1
                else f"entries {expected_seq}-{entry.seq - 1}"
            )
            problems.append(f"{missing} missing: deleted from the ledger")
        if entry.prev_hash != prev_hash:
            problems.append(
                f"entry {entry.seq}: previous-entry hash {entry.prev_hash[:12]}... does not "
                f"match the hash before it ({prev_hash[:12]}...)"
            )
        if entry_hash(entry.prev_hash, entry.body) != entry.hash:
            problems.append(f"entry {entry.seq}: body or hash edited (hash does not match)")
        problems.extend(_check_body(entry))
        prev_hash = entry.hash
        expected_seq = entry.seq + 1
        if len(problems) >= limit:
            break
    head = session.get(LedgerHead, HEAD_ID)
    head_seq = head.seq if head is not None else -1
    if head is None:
        problems.append("the ledger head row is missing")
    elif len(problems) < limit:
        last_seq = expected_seq - 1
        if head.seq != last_seq:
            problems.append(
                f"the ledger head says {head.seq} entries but the last is entry {last_seq}: "
                "entries at the end were deleted"
            )
        elif head.hash != prev_hash:
            problems.append(f"the ledger head hash does not match entry {last_seq}")
    unrecorded = session.execute(
        select(func.count(Transaction.id)).where(
            ~select(LedgerEntry.seq).where(LedgerEntry.transaction_id == Transaction.id).exists()
        )
    ).scalar_one()
    if unrecorded:
        problems.append(f"{unrecorded} transactions have no ledger entry")
    if len(problems) < limit:
        problems.extend(check_transactions(session, limit=limit - len(problems)))
    return LedgerCheck(count, head_seq, tuple(problems[:limit]))


def _check_body(entry: LedgerEntry) -> list[str]:
    try:
        body = json.loads(entry.body)
    except ValueError:
        return [f"entry {entry.seq}: body is not JSON"]
    if not isinstance(body, dict):
        return [f"entry {entry.seq}: body is not a JSON object"]
    return []


def check_transactions(session: Session, batch: int = 500, limit: int = 50) -> list[str]:
    """Transactions whose stored facts differ from what their ledger entry recorded."""
    problems: list[str] = []
    last = 0
    while len(problems) < limit:
        rows = session.execute(
            select(Transaction, LedgerEntry)
            .join(LedgerEntry, LedgerEntry.transaction_id == Transaction.id)
            .where(Transaction.id > last)
            .order_by(Transaction.id)
            .limit(batch)
            .options(
                selectinload(Transaction.tokens),
                selectinload(Transaction.meter),
                selectinload(Transaction.reverses),
            )
        ).all()
        if not rows:
            break
        for txn, entry in rows:
            recorded = json.loads(entry.body)
            if recorded != json.loads(canonical_json(EntryFacts.of(txn).body())):
                problems.append(
                    f"transaction {txn.client_reference!r} differs from ledger entry {entry.seq}"
                )
        last = rows[-1][0].id
        session.expunge_all()
    return problems[:limit]
