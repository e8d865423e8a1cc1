"""The append-only ledger: one keyed, hash-chained entry per change that money, debt or TIDs
depend on.

Every entry has a number (``seq``, 1, 2, 3, ...), a time (``created_at``), a body (canonical
JSON: sorted keys, no spaces, amounts as decimal strings) and two hashes::

    prev_hash = the hash of entry seq - 1 (64 zeros for entry 1)
    hash      = HMAC-SHA256(K, seq "\\n" created_at "\\n" prev_hash "\\n" body), as hex

where K is derived from the master key (vending.keystore.ledger_key), which never lives
in the database: someone who can write to the database but lacks the master key cannot
make an entry that verifies, so cannot edit, insert, reorder or rewrite entries, even all
of them with every hash recomputed. Entries written before schema 0003 (numbers up to
``ledger_head.legacy_seq``) keep the old unkeyed rule ``SHA-256(prev_hash || body)``; the
first keyed entry chains from the last of them, which seals them too.

What an entry records (its body's ``entry`` field):

- ``transaction``: a vend, management or test token, key change hand-out or reversal: its
  reference, kind, meter, time, amounts, the SHA-256 of its stored details (the tariff
  breakdown a reprint shows: :func:`details_digest`), every token with its TID and key
  revision (and the units and label its receipt shows), the reversed vend, the customer
  whose debt it recovered, and the meter's key state and last TID after it. A
  transaction made through a vendor (sale, reversal, refund, free units, management
  token) has its vendor, operator and client id in its details (``parties``), so the
  details' digest chains who made it (vending.ledger_parties);
- ``meter``: a meter registered or changed (key parameters, vending key, tariff,
  customer, last TID, key revision);
- ``customer``: a customer created or its debt set;
- ``tariff``: a tariff added or replaced (the SHA-256 of its canonical definition);
- ``vending-key``: a vending key added or retired (its record and the SHA-256 of its
  sealed blob);
- ``vendor``: a vendor (of the HTTP service) added, its credit limit set or its float
  topped up or adjusted: its float balance and credit limit as they now are, the
  number of its last float movement, and the movement that made the change;
- ``operator``: an operator of a vendor added or revoked: its role, key id, the
  SHA-256 of its API key (never the key) and when it was revoked;
- ``advice``: a vendor's confirm or reversal advice (vendor, operator, client id,
  kind, time), an entry of its own since it may come before its purchase or without one;
- ``party``: a ``transaction_parties`` row written before parties were chained,
  adopted by ``sts db adopt`` (vending.adoption) with the number of its
  transaction's entry.

The single ``ledger_head`` row holds the last entry's number and hash. Appending locks
and moves the head in one ``UPDATE ... RETURNING`` (the hash before it comes back in
``prev``), computes the HMAC in Python, inserts the entry and stores its hash in the head:
entries form one chain however many vending points share the database, the head stays
locked only for the writing transaction's last statements and its commit, and an entry
is committed together with what it records or not at all. A vendor's sale on PostgreSQL
moves the head in the statement that charges the float (vending.sales, :class:`MovedHead`),
so that only the entry's statement and the commit follow while both rows are locked.

vending.ledger_check verifies the chain and compares every recorded fact with the tables.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection, bindparam, func, insert, select, update

from vending import tables
from vending.errors import StorageError, VendingError
from vending.prepared import Prepared

if TYPE_CHECKING:
    from vending.models import Transaction

GENESIS_HASH = "0" * 64
HEAD_ID = 1
#: The body format of keyed entries.
BODY_VERSION = 2
#: The SQL function vending.db registers on SQLite connections (see vending.ledger_check).
SQLITE_SHA256_FUNCTION = "sts_sha256_hex"

TRANSACTION = "transaction"
METER = "meter"
CUSTOMER = "customer"
TARIFF = "tariff"
VENDING_KEY = "vending-key"
VENDOR = "vendor"
OPERATOR = "operator"


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


def at_text(when: datetime) -> str:
    """A time as an entry records it: ISO 8601 in UTC."""
    return when.astimezone(UTC).isoformat()


def details_digest(details: Mapping[str, Any]) -> str:
    """SHA-256 of a transaction's details as the database stores them (SQLAlchemy's JSON
    type writes ``json.dumps`` of the dict, and PostgreSQL's ``json`` keeps that text), so
    vending.ledger_check compares it with a digest the database computes."""
    return hashlib.sha256(json.dumps(dict(details)).encode("utf-8")).hexdigest()


def legacy_hash(prev_hash: str, body: str) -> str:
    """The unkeyed rule of entries written before schema 0003: SHA-256(prev || body)."""
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def entry_hash(key: bytes, seq: int, created_at: str, prev_hash: str, body: str) -> str:
    """HMAC-SHA256 under the ledger key over the entry's number, time, link and body."""
    message = f"{seq}\n{created_at}\n{prev_hash}\n{body}".encode()
    return hmac.digest(key, message, "sha256").hex()


@dataclass(frozen=True)
class EntryToken:
    """A token as the ledger records it."""

    tid: int | None
    token_class: int
    subclass: int
    digits: str
    key_revision: int | None = None
    units: int | None = None  # 0.1 kWh, for a credit token
    description: str | None = None  # what the receipt calls it

    def to_dict(self) -> dict[str, Any]:
        return {
            "tid": self.tid,
            "class": self.token_class,
            "subclass": self.subclass,
            "digits": self.digits,
            "key_revision": self.key_revision,
            "units": self.units,
            "description": self.description,
        }


class KeyedMeterState(Protocol):
    """A meter (ORM object or vending.tids.LockedMeter): what its TIDs and keys depend on."""

    drn: str
    sgc: int
    krn: int
    kt: int
    ti: int
    ea: str
    dkga: str
    base_date: int
    ken: int
    vending_key_id: int
    last_tid: int | None
    key_revision: int


#: The meter fields a ``transaction`` entry records after the vend.
METER_KEY_FIELDS = (
    "sgc",
    "krn",
    "kt",
    "ti",
    "ea",
    "dkga",
    "base_date",
    "ken",
    "vending_key_id",
    "last_tid",
    "key_revision",
)


def meter_state(meter: KeyedMeterState) -> dict[str, Any]:
    """The meter's key parameters, vending key, last TID and key revision."""
    return {name: getattr(meter, name) for name in METER_KEY_FIELDS}


@dataclass(frozen=True)
class EntryFacts:
    """The facts of one transaction that its ledger entry records."""

    reference: str | None
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
    details: Mapping[str, Any] | None = None
    customer: str | None = None  # whose debt the transaction recovered (or gave back)
    state: Mapping[str, Any] | None = None  # meter_state() after the transaction
    extra: Mapping[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {
            "v": BODY_VERSION,
            "entry": TRANSACTION,
            **transaction_fields(
                self.reference,
                self.kind,
                self.meter,
                at_text(self.at),
                (self.money, self.energy, self.free_energy, self.fixed_charges),
                self.debt_recovered,
                self.reverses,
                [t.to_dict() for t in self.tokens],
                details_digest(self.details or {}),
            ),
            "customer": self.customer,
            "state": dict(self.state) if self.state is not None else None,
        }


def transaction_fields(
    reference: str | None,
    kind: str,
    meter: str,
    at: str,
    amounts: tuple[Decimal, Decimal, Decimal, Decimal],
    debt_recovered: Decimal,
    reverses: str | None,
    tokens: list[dict[str, Any]],
    details_sha256: str | None,
) -> dict[str, Any]:
    """The part of a ``transaction`` body that the transactions and tokens tables hold.

    vending.ledger_check builds it again from those tables and compares. Unkeyed
    entries had the same fields less ``details_sha256`` and the tokens' key revisions.
    """
    money, energy, free, fixed = amounts
    fields = {
        "reference": reference,
        "kind": kind,
        "meter": meter,
        "at": at,
        "money": amount_text(money),
        "energy_kwh": amount_text(energy),
        "free_kwh": amount_text(free),
        "fixed_charges": amount_text(fixed),
        "debt_recovered": amount_text(debt_recovered),
        "reverses": reverses,
        "tokens": tokens,
    }
    if details_sha256 is not None:
        fields["details_sha256"] = details_sha256
    return fields


_HEAD = tables.ledger_head
_ENTRIES = tables.ledger_entries
#: The head's move as a statement part: the number of the next entry and the hash before
#: it (vending.sales joins it to the charge of a vendor's float).
MOVE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == HEAD_ID)
    .values(seq=_HEAD.c.seq + 1, prev=_HEAD.c.hash)
    .returning(_HEAD.c.seq, _HEAD.c.prev)
)
# One statement locks the head, reads the hash before it from the row's latest version
# (also under PostgreSQL's READ COMMITTED after waiting for the lock: ``prev`` comes back
# as the hash before) and moves it on; the new hash is stored after the entry.
_MOVE_HEAD = Prepared(MOVE_HEAD)
_SET_HEAD_HASH = Prepared(
    update(_HEAD).where(_HEAD.c.id == HEAD_ID).values(hash=bindparam("new_hash"))
)
_INSERT_ENTRY = Prepared(insert(_ENTRIES), _ENTRIES.c.keys())
# PostgreSQL: the entry and the head's new hash in one statement (one round trip fewer
# while the head is locked); the CTE's UPDATE runs though the INSERT does not name it.
_INSERT_ENTRY_SET_HASH = Prepared(
    insert(_ENTRIES)
    .values(
        {column.name: bindparam(f"e_{column.name}", type_=column.type) for column in _ENTRIES.c}
    )
    .add_cte(
        update(_HEAD)
        .where(_HEAD.c.id == HEAD_ID)
        .values(hash=bindparam("new_hash", type_=_HEAD.c.hash.type))
        .cte("head_hash")
    )
)


def entry_statement(condition: Any) -> Prepared:
    """PostgreSQL: insert an entry and store its hash in the head, both only where
    ``condition`` (a SQL boolean on bound parameters) holds, returning the entry's number.

    It runs as its own statement, so on PostgreSQL its snapshot is taken after the
    writer got its row locks: a caller's condition sees what was committed before then.
    """
    return Prepared(
        insert(_ENTRIES)
        .from_select(
            [column.name for column in _ENTRIES.c],
            select(
                *(bindparam(f"e_{column.name}", type_=column.type) for column in _ENTRIES.c)
            ).where(condition),
        )
        .add_cte(
            update(_HEAD)
            .where(_HEAD.c.id == HEAD_ID, condition)
            .values(hash=bindparam("new_hash", type_=_HEAD.c.hash.type))
            .cte("head_hash")
        )
        .returning(_ENTRIES.c.seq)
    )


@dataclass(frozen=True)
class MovedHead:
    """The head, already moved on by the writer's own statement (vending.sales does it in
    the statement that charges a vendor's float, so both rows are locked in one round
    trip): the new entry's number and the hash before it, and the statement that writes
    the entry (:func:`entry_statement`) with its condition's parameters. Where the
    condition does not hold, nothing is written and ``refusal`` is raised."""

    seq: int
    prev: str
    statement: Prepared
    params: Mapping[str, Any]
    refusal: VendingError


def append_body(
    connection: Connection,
    key: bytes,
    transaction_id: int | None,
    at: datetime,
    body: Mapping[str, Any],
    moved: MovedHead | None = None,
) -> int:
    """Chain an entry with ``body`` onto the ledger; returns its number.

    Runs on the writer's own connection and transaction, as its last statements:
    the head row stays locked until the writer commits or rolls back.
    """
    return append_text(connection, key, transaction_id, at, canonical_json(body), moved)


def append_text(
    connection: Connection,
    key: bytes,
    transaction_id: int | None,
    at: datetime,
    text: str,
    moved: MovedHead | None = None,
) -> int:
    """:func:`append_body` for a body already in canonical JSON (made before any lock)."""
    if moved is None:
        heads = _MOVE_HEAD.run(connection, {})
        if not heads:
            raise StorageError("the ledger has no head row; the schema was not created by Alembic")
        seq, prev = heads[0]["seq"], heads[0]["prev"]
    else:
        seq, prev = moved.seq, moved.prev
    digest = entry_hash(key, seq, at_text(at), prev, text)
    entry = {
        "seq": seq,
        "transaction_id": transaction_id,
        "created_at": at,
        "body": text,
        "prev_hash": prev,
        "hash": digest,
    }
    if moved is not None:
        params = {f"e_{name}": value for name, value in entry.items()}
        if not moved.statement.run(connection, {**params, **moved.params, "new_hash": digest}):
            raise moved.refusal
    elif connection.dialect.name == "postgresql":
        params = {f"e_{name}": value for name, value in entry.items()}
        _INSERT_ENTRY_SET_HASH.run(connection, {**params, "new_hash": digest})
    else:
        _INSERT_ENTRY.run(connection, entry)
        _SET_HEAD_HASH.run(connection, {"new_hash": digest})
    return seq


def append(
    connection: Connection,
    key: bytes,
    transaction_id: int,
    facts: EntryFacts,
    moved: MovedHead | None = None,
) -> int:
    """Chain the entry of a stored transaction onto the ledger; returns its number."""
    return append_body(connection, key, transaction_id, facts.at, facts.body(), moved)


# --- entries for changes outside a vend (vending.registry) ---------------------------------

_METERS = tables.meters
_CUSTOMERS = tables.customers
_TARIFFS = tables.tariffs
_KEYS = tables.vending_keys


def record_entry(connection: Connection, key: bytes, at: datetime, kind: str, **facts: Any) -> int:
    body = {"v": BODY_VERSION, "entry": kind, "at": at_text(at), **facts}
    return append_body(connection, key, None, at, body)


def record_customer(connection: Connection, key: bytes, customer_id: int, at: datetime) -> int:
    """An entry with the customer's debt as it now is (the row is locked to read it)."""
    row = connection.execute(
        select(_CUSTOMERS.c.name, _CUSTOMERS.c.debt, _CUSTOMERS.c.free_units_kwh)
        .where(_CUSTOMERS.c.id == customer_id)
        .with_for_update()
    ).one()
    # The customer's own free units a month (schema 0005), only where it has them.
    own = {} if row.free_units_kwh is None else {"free_units_kwh": amount_text(row.free_units_kwh)}
    debt = amount_text(row.debt)
    return record_entry(connection, key, at, CUSTOMER, name=row.name, debt=debt, **own)


def record_meter(connection: Connection, key: bytes, meter_id: int, at: datetime) -> int:
    """An entry with the meter as it now is; its customer's debt too when it has one."""
    row = connection.execute(
        select(_METERS).where(_METERS.c.id == meter_id).with_for_update()
    ).one()
    tariff = (
        connection.execute(
            select(_TARIFFS.c.name).where(_TARIFFS.c.id == row.tariff_id)
        ).scalar_one()
        if row.tariff_id is not None
        else None
    )
    customer = (
        connection.execute(
            select(_CUSTOMERS.c.name).where(_CUSTOMERS.c.id == row.customer_id)
        ).scalar_one()
        if row.customer_id is not None
        else None
    )
    if row.customer_id is not None:
        record_customer(connection, key, row.customer_id, at)
    return record_entry(
        connection,
        key,
        at,
        METER,
        meter=row.drn,
        state=meter_state(row),
        pan=row.pan,
        tariff=tariff,
        customer=customer,
        service=row.service,
        token_kind=row.token_kind,
    )


def tariff_digest(definition: Mapping[str, Any]) -> str:
    """SHA-256 of a tariff's canonical JSON definition."""
    return hashlib.sha256(canonical_json(definition).encode("utf-8")).hexdigest()


def record_tariff(connection: Connection, key: bytes, tariff_id: int, at: datetime) -> int:
    """An entry with the tariff's name and the digest of its definition as it now is."""
    row = connection.execute(
        select(_TARIFFS.c.name, _TARIFFS.c.definition).where(_TARIFFS.c.id == tariff_id)
    ).one()
    return record_entry(
        connection, key, at, TARIFF, name=row.name, definition_sha256=tariff_digest(row.definition)
    )


def vending_key_facts(row: Any) -> dict[str, Any]:
    """What a ``vending-key`` entry records of a key record (never the key)."""
    return {
        "label": row.label,
        "id": row.id,
        "sgc": row.sgc,
        "krn": row.krn,
        "kt": row.kt,
        "dkga": row.dkga,
        "base_date": row.base_date,
        "bits": row.bits,
        "sealed_sha256": hashlib.sha256(bytes(row.sealed)).hexdigest(),
        "retired_at": at_text(row.retired_at) if row.retired_at is not None else None,
    }


def record_vending_key(connection: Connection, key: bytes, key_id: int, at: datetime) -> int:
    """An entry with the vending key record as it now is (its sealed blob's digest)."""
    row = connection.execute(select(_KEYS).where(_KEYS.c.id == key_id)).one()
    return record_entry(connection, key, at, VENDING_KEY, **vending_key_facts(row))


# --- vendors and operators of the HTTP service (vending.vendors) ------------------------------


def movement_facts(row: Any) -> dict[str, Any]:
    """What a ``vendor`` entry records of a float movement (a row of float_movements)."""
    return {
        "id": row.id,
        "kind": row.kind,
        "amount": amount_text(row.amount),
        "balance_after": amount_text(row.balance_after),
        "operator_id": row.operator_id,
        "transaction_id": row.transaction_id,
        "note": row.note,
        "day": row.day.isoformat(),
        "at": at_text(row.created_at),
    }


def operator_facts(row: Any, vendor: str) -> dict[str, Any]:
    """What an ``operator`` entry records of an operator (the hash of its key, not the key)."""
    return {
        "vendor": vendor,
        "name": row.name,
        "role": row.role,
        "key_id": row.key_id,
        "key_sha256": row.key_hash,
        "revoked_at": at_text(row.revoked_at) if row.revoked_at is not None else None,
    }


def record_vendor(
    connection: Connection, key: bytes, vendor_id: int, at: datetime, movement_id: int | None
) -> int:
    """An entry with the vendor's float and credit limit as they now are (the row locked
    by the caller), the number of its last float movement (the float includes every
    movement up to it) and the movement ``movement_id`` that made the change, if any."""
    # Imported here, not at the top: a vend never loads the vendor tables (start-up time).
    from vending.vendor_models import FloatMovement, Vendor

    vendors, movements = Vendor.__table__, FloatMovement.__table__
    row = connection.execute(select(vendors).where(vendors.c.id == vendor_id)).one()
    last = connection.execute(
        select(func.max(movements.c.id)).where(movements.c.vendor_id == vendor_id)
    ).scalar_one()
    movement = None
    if movement_id is not None:
        moved = connection.execute(select(movements).where(movements.c.id == movement_id)).one()
        movement = movement_facts(moved)
    return record_entry(
        connection,
        key,
        at,
        VENDOR,
        name=row.name,
        balance=amount_text(row.balance),
        credit_limit=amount_text(row.credit_limit),
        movements=last or 0,
        movement=movement,
    )


def record_operator(connection: Connection, key: bytes, operator_id: int, at: datetime) -> int:
    """An entry with the operator as it now is."""
    from vending.vendor_models import Operator, Vendor

    operators, vendors = Operator.__table__, Vendor.__table__
    row = connection.execute(
        select(operators, vendors.c.name.label("vendor_name"))
        .join(vendors, vendors.c.id == operators.c.vendor_id)
        .where(operators.c.id == operator_id)
    ).one()
    return record_entry(connection, key, at, OPERATOR, **operator_facts(row, row.vendor_name))


def facts_of(txn: Transaction, customer: str | None = None) -> EntryFacts:
    """The facts of a stored transaction (meter, tokens and reversed one loaded)."""
    return EntryFacts(
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
        tuple(
            EntryToken(
                t.tid, t.token_class, t.subclass, t.digits, t.key_revision, t.units, t.description
            )
            for t in txn.tokens
        ),
        details=txn.details,
        customer=customer,
        state=meter_state(txn.meter),
    )
