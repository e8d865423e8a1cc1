"""Who sold, in the ledger: the vendor, operator and client id of every transaction made
through a vendor, and vendors' confirm and reversal advices; and verify's check of them.

How they are chained
--------------------

- **A transaction's parties** go into its stored details (``details["parties"]``:
  vendor and operator by name, and the vendor's client id), written by the vend in the
  same database transaction as the ``transaction_parties`` row. The transaction's ledger
  entry records the SHA-256 of its details (``details_sha256``), and verify already
  proves the details still hash to it, so the parties are keyed and chained with the
  sale itself: no new body field, no body version, and verify's fast path (which
  renders a transaction's body from its rows) is unchanged.
- **An advice** is an entry of its own (``"entry": "advice"``: vendor, operator,
  client id, kind, time), written in the advice's database transaction: an advice may
  come before its purchase, or with no purchase at all, so there is no transaction
  entry to put it in.
- **A parties row written before this** (by a version that did not chain parties)
  is recorded by :func:`vending.adoption.adopt` as a ``"entry": "party"`` entry naming
  the number of its transaction's entry.

:func:`check` compares ``transaction_parties`` and ``advices`` with what the ledger
records and reports a row that differs from its entry, a row in no entry, and an entry
whose row is gone. It reads the ledger rows verify's walk proves (it trusts none that
the walk does not), and lets the database compare the parties of vendor sales in bulk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Text, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from vending.backend import Backend
from vending.ledger import at_text, record_entry
from vending.models import LedgerEntry, LedgerHead, Transaction
from vending.vendor_models import Advice, Operator, TransactionParty, Vendor

#: The key of a transaction's details that names who made it.
PARTIES = "parties"
#: Entry kinds.
ADVICE = "advice"
PARTY = "party"

_E = LedgerEntry.__table__
_T = Transaction.__table__
_P = TransactionParty.__table__
_A = Advice.__table__
_V = Vendor.__table__
_O = Operator.__table__
_HEAD = LedgerHead.__table__


def parties_details(vendor: str, operator: str | None, client_id: str) -> dict[str, Any]:
    """What a transaction's details record of who made it."""
    return {"vendor": vendor, "operator": operator, "client_id": client_id}


def advice_facts(row: Any, vendor: str, operator: str | None) -> dict[str, Any]:
    """What an ``advice`` entry records of a row of ``advices``."""
    return {
        "vendor": vendor,
        "operator": operator,
        "client_id": row.client_id,
        "advice": row.kind,
        "advised_at": at_text(row.created_at),
    }


def _names(connection: Connection, vendor_id: int, operator_id: int | None) -> tuple[str, Any]:
    vendor = connection.execute(select(_V.c.name).where(_V.c.id == vendor_id)).scalar_one()
    operator = None
    if operator_id is not None:
        operator = connection.execute(select(_O.c.name).where(_O.c.id == operator_id)).scalar_one()
    return vendor, operator


def record_advice(connection: Connection, key: bytes, advice_id: int, at: datetime) -> int:
    """An entry with the advice as stored."""
    row = connection.execute(select(_A).where(_A.c.id == advice_id)).one()
    vendor, operator = _names(connection, row.vendor_id, row.operator_id)
    return record_entry(connection, key, at, ADVICE, **advice_facts(row, vendor, operator))


def add_advice(
    backend: Backend, session: Session, principal: Any, client_id: str, kind: str, at: datetime
) -> None:
    """Store an advice of ``principal`` (a vending.vendors.Principal) and chain its entry,
    in the session's transaction (the caller holds the vendor's row lock)."""
    advice = Advice(
        vendor_id=principal.vendor_id,
        operator_id=principal.operator_id,
        client_id=client_id,
        kind=kind,
        created_at=at,
    )
    session.add(advice)
    session.flush()
    connection = session.connection()
    facts = advice_facts(advice, principal.vendor, principal.operator)
    record_entry(connection, backend.ledger_key(connection), at, ADVICE, **facts)


def party_facts(row: Any, vendor: str, operator: str | None, entry_seq: int) -> dict[str, Any]:
    """What a ``party`` entry records of a row of ``transaction_parties``."""
    return {
        "transaction_entry": entry_seq,
        **parties_details(vendor, operator, row.client_id),
        "day": row.day.isoformat(),
    }


def record_party(
    connection: Connection, key: bytes, transaction_id: int, entry_seq: int, at: datetime
) -> int:
    """An entry with a parties row as stored (the adoption of a row from before)."""
    row = connection.execute(select(_P).where(_P.c.transaction_id == transaction_id)).one()
    vendor, operator = _names(connection, row.vendor_id, row.operator_id)
    return record_entry(connection, key, at, PARTY, **party_facts(row, vendor, operator, entry_seq))


# --- what the ledger records ----------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """The entries outside transactions that name vendors' rows, by what they name."""

    advices: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    parties: dict[int, dict[str, Any]] = field(default_factory=dict)  # by transaction entry
    vendors: set[str] = field(default_factory=set)
    movements: set[int] = field(default_factory=set)
    operators: set[tuple[str, str]] = field(default_factory=set)


def _markers(kinds: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f'"entry":"{kind}"' for kind in kinds)


def recorded(
    connection: Connection, after: int = 0, kinds: tuple[str, ...] = (ADVICE, PARTY)
) -> Recorded:
    """The ``kinds`` of entry after entry ``after``, later entries replacing earlier ones.

    Only keyed entries are read (an unkeyed one never holds these kinds); whether each
    is intact is verify's walk's to say.
    """
    import json

    legacy = connection.execute(select(_HEAD.c.legacy_seq)).scalar_one_or_none() or 0
    found = Recorded()
    markers = _markers(kinds)
    rows = connection.execution_options(yield_per=5000).execute(
        select(_E.c.body)
        .where(_E.c.transaction_id.is_(None), _E.c.seq > max(after, legacy))
        .order_by(_E.c.seq)
    )
    for (text,) in rows:
        if not isinstance(text, str) or not any(marker in text for marker in markers):
            continue
        try:
            body = json.loads(text)
            kind = body["entry"]
            if kind == ADVICE:
                facts = {k: v for k, v in body.items() if k not in ("v", "entry", "at")}
                found.advices[(body["vendor"], body["client_id"], body["advice"])] = facts
            elif kind == PARTY:
                facts = {k: v for k, v in body.items() if k not in ("v", "entry", "at")}
                found.parties[int(body["transaction_entry"])] = facts
            elif kind == "vendor":
                found.vendors.add(body["name"])
                if body.get("movement") is not None:
                    found.movements.add(int(body["movement"]["id"]))
            elif kind == "operator":
                found.operators.add((body["vendor"], body["name"]))
        except (ValueError, KeyError, TypeError):
            continue  # not a ledger entry: the walk reports it as altered
    return found


# --- verify -----------------------------------------------------------------------------------


def _detail(key: str) -> Any:
    """The parties' ``key`` from a transaction's details, as text (NULL when absent)."""
    return _T.c.details[(PARTIES, key)].as_string()


def _chained() -> Any:
    """Each transaction whose details mention parties, with ``details["parties"]``
    extracted once (MATERIALIZED: inlined, the server would parse the whole details
    again for every field read from it; on PostgreSQL ``details`` is ``json``, text)."""
    return (
        select(
            _T.c.id,
            _T.c.client_reference,
            _T.c.details[PARTIES].label("parties"),
        )
        # the text test spares parsing the details of every other transaction
        .where(cast(_T.c.details, Text).like(f'%"{PARTIES}"%'))
        .cte("chained")
        .prefix_with("MATERIALIZED")
    )


def _first_entry(transaction_id: Any) -> Any:
    return select(func.min(_E.c.seq)).where(_E.c.transaction_id == transaction_id).scalar_subquery()


def _rows(connection: Connection, statement: Any) -> Iterator[Any]:
    yield from connection.execution_options(yield_per=5000).execute(statement)


def _who(vendor: Any, operator: Any, client_id: Any) -> str:
    return f"vendor {vendor!r}, operator {operator!r}, client id {client_id!r}"


@dataclass
class Uncovered:
    """Called with each row that is in no ledger entry: a problem when ``strict``, else only
    counted (an upgraded ledger, or a walk of only the entries after some point)."""

    problems: list[str]
    strict: bool
    count: int = 0

    def __call__(self, what: str) -> None:
        if self.strict:
            self.problems.append(f"{what} is in no ledger entry: it was written outside vending")
        else:
            self.count += 1


def check(connection: Connection, problems: list[str], strict: bool, after: int = 0) -> int:
    """Compare ``transaction_parties`` and ``advices`` with the ledger; append each problem
    to ``problems`` and return how many rows are in no entry but were not reported (not
    ``strict``: an upgraded ledger, or only the entries after ``after`` walked)."""
    uncovered = Uncovered(problems, strict)
    found = recorded(connection, after)
    rows = _parties_full if connection.dialect.name == "postgresql" else _parties_two
    rows(connection, found, problems, uncovered, after)
    # Adoption entries whose transaction's row is gone (or is no longer that transaction's).
    if found.parties:
        linked = dict(
            connection.execute(
                select(_E.c.seq, _P.c.transaction_id)
                .select_from(_E.outerjoin(_P, _P.c.transaction_id == _E.c.transaction_id))
                .where(_E.c.seq.in_(sorted(found.parties)))
            ).all()
        )
        for seq in sorted(found.parties):
            if linked.get(seq) is None:
                facts = found.parties[seq]
                who = _who(facts.get("vendor"), facts.get("operator"), facts.get("client_id"))
                problems.append(
                    f"ledger entry {seq}'s transaction has a recorded parties row ({who}) "
                    "that is gone"
                )
    _check_advices(connection, found, problems, uncovered)
    return uncovered.count


_PARTY_KEYS = ("vendor", "operator", "client_id")
# A parties row with its transaction, vendor and operator (each may be gone).
_PARTIES_JOINED = (
    _P.outerjoin(_T, _T.c.id == _P.c.transaction_id)
    .outerjoin(_V, _V.c.id == _P.c.vendor_id)
    .outerjoin(_O, _O.c.id == _P.c.operator_id)
)


def _party_columns(recorded_as: tuple[Any, ...]) -> list[Any]:
    """What a parties row stores, and (``d_`` columns) what its transaction's entry records."""
    return [
        _P.c.transaction_id,
        _P.c.client_id,
        _P.c.day,
        _V.c.name.label("vendor"),
        _O.c.name.label("operator"),
        _T.c.id.label("txn"),
        *(column.label(f"d_{key}") for key, column in zip(_PARTY_KEYS, recorded_as, strict=True)),
    ]


def _agrees(recorded_as: tuple[Any, ...]) -> Any:
    """SQL: the parties row names the parties and the day its transaction's entry records."""
    return and_(
        recorded_as[0].is_not_distinct_from(_V.c.name),
        recorded_as[1].is_not_distinct_from(_O.c.name),
        recorded_as[2].is_not_distinct_from(_P.c.client_id),
        _P.c.day.is_not_distinct_from(_T.c.day),
    )


def _parties_full(
    connection: Connection,
    found: Recorded,
    problems: list[str],
    uncovered: Callable[[str], None],
    after: int,
) -> None:
    """Parties rows against their transactions' details, on PostgreSQL: one query."""
    chained = _chained()
    recorded_as = tuple(chained.c.parties[key].as_string() for key in _PARTY_KEYS)
    # One pass over both sides. A FULL join (which the WHERE below, strict on neither
    # side, keeps full) is a hash or merge join on any plan: no plan can rescan a table
    # per row, whether or not the tables were ANALYZEd.
    statement = (
        select(
            *_party_columns(recorded_as),
            func.coalesce(_T.c.client_reference, chained.c.client_reference).label("reference"),
            chained.c.id.label("chained_id"),
            _first_entry(func.coalesce(_P.c.transaction_id, chained.c.id)).label("entry_seq"),
        )
        .select_from(
            chained.join(_PARTIES_JOINED, chained.c.id == _P.c.transaction_id, full=True)
        )
        .where(
            or_(
                # a transaction made through a vendor (so its entry says) with no parties row
                and_(_P.c.transaction_id.is_(None), recorded_as[0].is_not(None)),
                # a parties row whose transaction is gone, or records no or other parties
                and_(
                    _P.c.transaction_id.is_not(None),
                    or_(_T.c.id.is_(None), recorded_as[0].is_(None), ~_agrees(recorded_as)),
                ),
            )
        )
        .order_by(func.coalesce(_P.c.transaction_id, chained.c.id))
    )
    for row in _rows(connection, statement):
        if row.transaction_id is None:  # the parties row is gone
            if row.entry_seq is None or row.entry_seq > after:
                problems.append(
                    f"transaction {row.reference or row.chained_id!r} was made through vendor "
                    f"{row.d_vendor!r} (ledger entry {row.entry_seq}) but its parties row "
                    "is gone"
                )
            continue
        _judge_row(row, row.reference, found, problems, uncovered, after)


def _judge_row(
    row: Any,
    reference: str | None,
    found: Recorded,
    problems: list[str],
    uncovered: Callable[[str], None],
    after: int,
) -> None:
    """One parties row the query picked (its transaction gone, or its details recording
    other parties or none) against what the ledger records; both queries share it."""
    what = f"the parties row of transaction {reference or row.transaction_id!r}"
    if row.txn is None:
        problems.append(f"{what}: its transaction is gone")
        return
    if row.entry_seq is not None and row.entry_seq <= after:
        return  # before the checkpoint walked from
    stored = _who(row.vendor, row.operator, row.client_id)
    if row.d_vendor is not None or row.d_client_id is not None:
        problems.append(
            f"{what} ({stored}) differs from what its ledger entry records "
            f"({_who(row.d_vendor, row.d_operator, row.d_client_id)})"
        )
        return
    adopted = found.parties.pop(row.entry_seq, None) if row.entry_seq is not None else None
    if adopted is None:
        uncovered(f"{what} ({stored})")
    elif adopted != {
        **parties_details(row.vendor, row.operator, row.client_id),
        "transaction_entry": row.entry_seq,
        "day": row.day.isoformat(),
    }:
        problems.append(f"{what} ({stored}) differs from what the ledger records")


def _parties_two(
    connection: Connection,
    found: Recorded,
    problems: list[str],
    uncovered: Callable[[str], None],
    after: int,
) -> None:
    """Parties rows against their transactions' details, on SQLite: two queries (its
    FULL join of the MATERIALIZED parties, which has no index, rescans it per row)."""
    entry = _first_entry(_T.c.id).label("entry_seq")
    chained = tuple(_detail(key) for key in _PARTY_KEYS)
    # Rows whose transaction's details record other parties, or none (adopted or not).
    statement = (
        select(*_party_columns(chained), _T.c.client_reference, entry)
        .select_from(_PARTIES_JOINED)
        .where(or_(_T.c.id.is_(None), chained[0].is_(None), ~_agrees(chained)))
        .order_by(_P.c.transaction_id)
    )
    for row in _rows(connection, statement):
        _judge_row(row, row.client_reference, found, problems, uncovered, after)
    # Transactions whose entry says a vendor made them, but whose parties row is gone.
    orphans = (
        select(_T.c.client_reference, _T.c.id, entry, _detail("vendor").label("vendor"))
        .where(
            # the text test first: it spares parsing the details of every other transaction
            cast(_T.c.details, Text).like(f'%"{PARTIES}"%'),
            _detail("vendor").is_not(None),
            ~select(_P.c.transaction_id).where(_P.c.transaction_id == _T.c.id).exists(),
        )
        .order_by(_T.c.id)
    )
    for row in _rows(connection, orphans):
        if row.entry_seq is None or row.entry_seq > after:
            problems.append(
                f"transaction {row.client_reference or row.id!r} was made through vendor "
                f"{row.vendor!r} (ledger entry {row.entry_seq}) but its parties row is gone"
            )


def _check_advices(
    connection: Connection, found: Recorded, problems: list[str], uncovered: Callable[[str], None]
) -> None:
    advices = found.advices
    statement = (
        select(_A, _V.c.name.label("vendor"), _O.c.name.label("operator"))
        .select_from(
            _A.outerjoin(_V, _V.c.id == _A.c.vendor_id).outerjoin(_O, _O.c.id == _A.c.operator_id)
        )
        .order_by(_A.c.id)
    )
    for row in _rows(connection, statement):
        facts = advices.pop((row.vendor, row.client_id, row.kind), None)
        if facts is not None and advice_facts(row, row.vendor, row.operator) == facts:
            continue
        what = f"{row.kind} advice {row.client_id!r} of vendor {row.vendor!r}"
        if facts is None:
            uncovered(what)
        else:
            problems.append(f"{what} differs from the ledger's (operator {facts['operator']!r})")
    for vendor, client_id, kind in sorted(advices):
        problems.append(
            f"{kind} advice {client_id!r} of vendor {vendor!r} is in the ledger but was deleted"
        )
