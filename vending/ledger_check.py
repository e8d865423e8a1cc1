"""Verifying the ledger: the keyed chain, and every table fact it records.

What :func:`verify` proves, given the master key (and, better, a checkpoint)
-----------------------------------------------------------------------------

1. **The chain.** Entries run 1, 2, 3, ... with no gap; each links to the hash of the one
   before; each keyed entry's hash is the HMAC (under a key derived from the master key)
   of its number, time, link and body, and each unkeyed entry from before schema 0003
   (numbers up to ``ledger_head.legacy_seq``) has its SHA-256 hash; the head names the
   last entry and its hash. So no entry was edited (body, time or hash), inserted,
   deleted or reordered, and the chain was not rewritten with hashes recomputed,
   unless by someone holding the master key. A body that is not JSON is an edited entry.
2. **The transactions.** Each transaction entry's transaction still says what the entry
   says: reference, kind, meter, time, amounts, details (what a reprint shows), the
   reversed vend, and every token with its TID and key revision. A transaction with no
   entry, or an entry whose transaction is gone, is reported.
3. **The state the money, debt and TIDs depend on.** The last entry naming each meter
   gives its key parameters, vending key, last TID, key revision, tariff and customer;
   customers' debts follow from the last entry that set each one and the debt recovered
   (or given back by reversals) after it; tariffs' definitions and vending key records
   (a digest of the sealed key, the retirement) are in their last entries. Each is
   compared with its table. So are the HTTP service's vendors (credit limit; the float
   as last recorded plus every float movement since, each of which, for a sale,
   reversal or refund, must be minus its chained transaction's money; every movement's
   balance after must be the one before plus its amount), their top-ups and
   adjustments (each movement as its entry recorded it) and operators (role, key id,
   the key's SHA-256, revocation). In a database that started at schema 0003 a meter,
   customer, tariff or vending key in no entry at all was added behind vending's back
   and is reported; in an upgraded database those last changed before the upgrade
   are counted as *not covered* until their next change.
4. **Against a checkpoint** (vending.checkpoint, signed under the master key and kept
   outside the database): entry ``seq`` of the checkpoint still has its hash and the
   ledger still reaches it, so nothing up to it was removed or changed, and the tail
   was not truncated below it nor the ledger wiped back to genesis. With ``since``
   only the entries after the checkpoint are walked (and the state they touch).

What it cannot prove
--------------------

- **Anything against a writer who holds the master key**: they can recompute every
  hash. The check value only tells the wrong master key apart.
- **Truncation of the newest entries** (with their transactions and tokens, and the
  head and the state rows rolled back to match) and **a wipe back to an empty
  database**, when no checkpoint after that point is given: a shorter, consistent
  keyed chain is still a valid chain. Take checkpoints often and keep them apart.
- **Replacing the head and state with an older, consistent copy** of the database
  (a restore): the same as truncation.
- **Unkeyed entries** (before schema 0003) are protected by the first keyed entry after
  them, but a writer can make a whole ledger look unkeyed (raise ``legacy_seq`` and
  rewrite every entry by the SHA-256 rule); only a checkpoint, which signs
  ``legacy_seq``, catches that. The output always says how many entries are unkeyed.
- Rows the ledger does not record: pending key change orders and migration batches
  (their KCT sets are recorded when handed out), supply group names, request
  fingerprints, creation times. (Which vendor and operator made a transaction, its
  ``transaction_parties`` row, is recorded in its details, which its entry digests,
  and each advice has an entry: vending.ledger_parties checks both.)
- **Rows adopted** by ``sts db adopt`` (vending.adoption: vendor rows an earlier
  version wrote without an entry) are recorded as they stood when adopted: nothing
  proves what they were before.

Verify streams the entries with their transactions and tokens in one ordered query
straight from the driver's cursor (on PostgreSQL a server-side cursor, which a thread
reads a batch or two ahead so the server works while verify does). Each keyed entry's
HMAC is a copy of one HMAC object keyed once. A keyed transaction entry whose HMAC
holds is checked without parsing its JSON: the body its rows would have is rendered as
text (by the server on PostgreSQL, see vending.ledger_stream; in Python on SQLite, see
``_Walk._same``) around the body's own customer and meter state and compared whole;
only when that differs is the body parsed and compared field by field (on PostgreSQL
with the entry's columns read again), which names what changed. It keeps only one
entry at a time (and a few batches of rows) plus the last recorded state per meter,
customer, tariff, vending key, vendor, top-up and operator: memory grows with those,
not with the number of entries. A long ledger can be split over several processes,
a range of entries each, whose findings and recorded state are merged in order.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import json.scanner
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from json.encoder import encode_basestring as _enc  # type: ignore[attr-defined]
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    Text,
    and_,
    bindparam,
    cast,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType

from sts.errors import StsError
from vending import ledger_parties, ledger_stream, storage
from vending.backend import Backend
from vending.checkpoint import Checkpoint
from vending.errors import KeyStoreError, StorageError, VendingError
from vending.keystore import MasterKey, check_value, ledger_key
from vending.ledger import (
    BODY_VERSION,
    CUSTOMER,
    GENESIS_HASH,
    HEAD_ID,
    METER,
    OPERATOR,
    SQLITE_SHA256_FUNCTION,
    TARIFF,
    TRANSACTION,
    VENDING_KEY,
    VENDOR,
    amount_text,
    legacy_hash,
    movement_facts,
    operator_facts,
    tariff_digest,
    vending_key_facts,
)
from vending.models import (
    Customer,
    LedgerEntry,
    LedgerHead,
    MasterKeyCheck,
    Meter,
    TariffRecord,
    TokenRecord,
    Transaction,
    VendingKeyRecord,
)
from vending.vendor_models import FloatMovement, Operator, Vendor

REVERSAL = "reversal"
#: The kind of transaction each kind of float movement that has one belongs to.
_MOVED_BY = {"sale": "credit", "reversal": "reversal", "refund": "credit-note"}
#: The fields of a transaction entry compared with the tables, in _Walk._transaction's order.
_COMPARED = (
    "reference",
    "kind",
    "meter",
    "at",  # and the day
    "money",
    "energy_kwh",
    "free_kwh",
    "fixed_charges",
    "debt_recovered",
    "reverses",
    "tokens",
    "details",
)
#: Rows fetched from the cursor at a time.
BATCH = 5000
#: Where the debt recovered starts in vending.ledger_stream's middle text.
_RECOVERED = len(',"debt_recovered":"')

_E = LedgerEntry.__table__
_T = Transaction.__table__
_R = _T.alias("reversed")
_M = Meter.__table__
_K = TokenRecord.__table__
_HEAD = LedgerHead.__table__
_CUSTOMERS = Customer.__table__
_TARIFFS = TariffRecord.__table__
_KEYS = VendingKeyRecord.__table__
_CHECK = MasterKeyCheck.__table__
_VENDORS = Vendor.__table__
_OPERATORS = Operator.__table__
_MOVEMENTS = FloatMovement.__table__


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


def _raw(column: Any) -> Any:
    """The column as the driver returns it (no Decimal or datetime conversion: speed)."""
    return type_coerce(column, NullType())


class _details_column(FunctionElement[str]):
    """The stored details' SHA-256 hex on PostgreSQL, their text on SQLite (hashed in
    Python there); '' for an entry with no transaction (not compared)."""

    type = String()
    inherit_cache = True


@compiles(_details_column, "postgresql")
def _details_postgresql(element: _details_column, compiler: Any, **kw: Any) -> str:
    return compiler.process(sha256_hex(func.coalesce(cast(_T.c.details, Text), "")), **kw)


@compiles(_details_column)
def _details_default(element: _details_column, compiler: Any, **kw: Any) -> str:
    return compiler.process(func.coalesce(cast(_T.c.details, Text), ""), **kw)


_STREAM = (
    select(
        _raw(_E.c.seq),
        _E.c.transaction_id,
        _raw(_E.c.created_at),
        _E.c.body,
        _E.c.prev_hash,
        _E.c.hash,
        _T.c.id,
        _T.c.client_reference,
        _T.c.kind,
        _raw(_T.c.money),
        _raw(_T.c.energy),
        _raw(_T.c.free_energy),
        _raw(_T.c.fixed_charges),
        _raw(_T.c.debt_recovered),
        # the details as stored: hashed in Python (vending.ledger.details_digest) on SQLite,
        # where a Python SQL function would cost more; PostgreSQL gives the digest itself
        _details_column(),
        _raw(_T.c.created_at),
        _R.c.client_reference,
        _M.c.drn,
        _K.c.position,
        _K.c.tid,
        _K.c.token_class,
        _K.c.subclass,
        _K.c.digits,
        _K.c.key_revision,
        _K.c.units,
        _K.c.description,
        _raw(_T.c.day),
        _K.c.meter_id,
        _T.c.meter_id,
    )
    .select_from(
        _E.outerjoin(_T, _T.c.id == _E.c.transaction_id)
        .outerjoin(_R, _R.c.id == _T.c.reverses_id)
        .outerjoin(_M, _M.c.id == _T.c.meter_id)
        .outerjoin(_K, _K.c.transaction_id == _T.c.id)
    )
    .order_by(_E.c.seq, _K.c.position)
)


def _keyed_mac(key: bytes) -> Any:
    """An HMAC-SHA256 object keyed once: each entry's MAC is a ``copy()`` of it, updated
    with the message (keying costs two SHA-256 blocks and OpenSSL's set-up per entry;
    a copy costs neither). OpenSSL's own object where there is one: its copy is C."""
    try:
        from _hashlib import hmac_new
    except ImportError:  # pragma: no cover - a Python without OpenSSL's
        return hmac.new(key, digestmod=hashlib.sha256)
    return hmac_new(key, digestmod="sha256")


def _literal(value: Any) -> str:
    """A column value as canonical JSON writes it if it is a string, an integer or NULL;
    any other type (SQLite stores what a writer gives it) as text no body holds."""
    kind = type(value)
    if kind is str:
        return _enc(value)  # type: ignore[no-any-return]
    if kind is int:
        return str(value)
    if value is None:
        return "null"
    return "\x00"  # JSON escapes control characters: never in a canonical body


_AMOUNTS: dict[int, str] = {}
#: json.loads without its whitespace handling: canonical bodies have none (and anything
#: after the object makes the body "not a ledger entry").
_scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[attr-defined]


def _scaled_text(value: int) -> str:
    """A stored amount (a count of 0.00001) as vending.ledger.amount_text writes it."""
    text = _AMOUNTS.get(value)
    if text is None:
        if not isinstance(value, int) or isinstance(value, bool):
            # SQLite stores what a writer gives it; never equal to an amount's text (and
            # no quote in it, so a body rendered around it cannot be matched by accident)
            return f"not an amount ({type(value).__name__})"
        whole, part = divmod(abs(value), 100_000)
        text = str(whole) if part == 0 else f"{whole}.{part:05d}".rstrip("0")
        text = "-" + text if value < 0 else text
        if len(_AMOUNTS) < 100_000:  # amounts repeat; the cache stays bounded
            _AMOUNTS[value] = text
    return text


def _time_text(value: Any) -> str:
    """A stored time (text on SQLite, a datetime on PostgreSQL) as vending.ledger.at_text."""
    try:
        if isinstance(value, str):
            # SQLAlchemy's SQLite form "YYYY-MM-DD HH:MM:SS.ffffff", in UTC, rewritten as
            # datetime.isoformat() would write it, without parsing (verify reads millions).
            if len(value) == 26 and value[10] == " " and value[19] == "." and value.isascii():
                micro = value[20:]
                fraction = "" if micro == "000000" else "." + micro
                return f"{value[:10]}T{value[11:19]}{fraction}+00:00"
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC).isoformat()
        return value.astimezone(UTC).isoformat()
    except (AttributeError, TypeError, ValueError, OverflowError):
        return f"not a time: {value!r}"  # never equal to a time an entry records


@dataclass(frozen=True)
class LedgerCheck:
    """The outcome of :func:`verify`: entries checked and each problem found."""

    entries: int
    head_seq: int
    problems: tuple[str, ...] = field(default_factory=tuple)
    legacy_entries: int = 0  # unkeyed entries from before schema 0003
    not_covered: int = 0  # meters, customers, ... last changed before the keyed ledger
    since: int | None = None  # the checkpoint entry walking started after
    checkpoint: int | None = None  # the checkpoint entry checked, if any
    transactions: int = 0  # of the entries, those recording a transaction

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "transactions": self.transactions,
            "head": self.head_seq,
            "legacy_entries": self.legacy_entries,
            "not_covered": self.not_covered,
            "since": self.since,
            "checkpoint": self.checkpoint,
            "problems": list(self.problems),
        }


def _around(text: str, head: str, middle: str, tail: str) -> tuple[str, str] | None:
    """(customer, meter state) of a body ``text`` that is ``head`` + customer + ``middle``
    + state + ``tail``, or None when it is not: the two texts a body's own rows cannot
    render, which the fast paths take from the body itself."""
    if not text.startswith(head) or not text.endswith(tail):
        return None
    cut = text.find(middle, len(head))
    state_from = cut + len(middle)
    if cut < 0 or state_from > len(text) - len(tail):
        return None
    return text[len(head) : cut], text[state_from : len(text) - len(tail)]


class _Walk:
    """The state of one walk along the chain."""

    def __init__(
        self, key: bytes, legacy_seq: int, start: int, prev: str | None, limit: int
    ) -> None:
        self.key = key
        self.mac = _keyed_mac(key)
        self.legacy_seq = legacy_seq
        self.expected = start + 1
        self.prev: str | None = prev  # None: not known (a range walked by another process)
        self.limit = limit
        self.problems: list[str] = []
        self.count = 0
        self.last_created: Any = None
        self.last_created_text = ""
        self.transactions = 0
        self.hashes: dict[int, str] = {}  # entries whose hash a checkpoint asks for
        # drn -> [whether a meter entry set every field, the fields last recorded]
        self.meters: dict[str, list[Any]] = {}
        # customer -> [debt last set (None: not in this walk), debt recovered since]
        self.debts: dict[str, list[Any]] = {}
        self.first_prev: str | None = None  # the link of the first entry walked
        self.first_seq = 0
        self.tariffs: dict[str, str] = {}
        self.free_units: dict[str, str | None] = {}  # customer -> own free units (0005)
        self.keys: dict[str, dict[str, Any]] = {}
        # drn -> the meter state (JSON text) of its last entry the fast path took; parsed
        # into ``meters`` only when needed (see flush)
        self.pending: dict[str, str] = {}
        # vendor -> its float, credit limit and last movement number as last recorded
        self.vendors: dict[str, dict[str, Any]] = {}
        # top-ups and adjustments as recorded (movement number -> facts, with the vendor)
        self.movements: dict[int, dict[str, Any]] = {}
        # (vendor, operator) -> the operator as last recorded
        self.operators: dict[tuple[str, str], dict[str, Any]] = {}
        self.digest_in_sql = False  # PostgreSQL computes the details' digest

    @property
    def full(self) -> bool:
        return len(self.problems) >= self.limit

    def _link(
        self, seq: int, created: Any, text: Any, prev_hash: str, digest: str
    ) -> tuple[bool, bool]:
        """Check an entry's place in the chain and its hash: (keyed, hash holds)."""
        self.count += 1
        if seq != self.expected:
            gap = (
                f"entry {self.expected}"
                if seq == self.expected + 1
                else f"entries {self.expected}-{seq - 1}"
            )
            self.problems.append(f"{gap} missing: deleted from the ledger")
        if self.first_prev is None:
            self.first_prev, self.first_seq = prev_hash, seq
        if self.prev is not None and prev_hash != self.prev:
            self.problems.append(
                f"entry {seq}: previous-entry hash {prev_hash[:12]}... does not match the "
                f"hash before it ({self.prev[:12]}...)"
            )
        keyed = seq > self.legacy_seq
        if keyed:
            if created != self.last_created:
                self.last_created, self.last_created_text = created, _time_text(created)
            message = f"{seq}\n{self.last_created_text}\n{prev_hash}\n{text}".encode()
            # (No secret to time here: the verifier compares; nobody queries it as an oracle.)
            mac = self.mac.copy()
            mac.update(message)
            good = mac.hexdigest() == digest
        else:
            good = legacy_hash(prev_hash, str(text)) == digest
        if not good:
            self.problems.append(f"entry {seq}: altered (its hash does not match its contents)")
        if seq in self.hashes:
            self.hashes[seq] = digest
        self.prev = digest
        self.expected = seq + 1
        return keyed, good

    def entry(self, head: Any, tokens: list[tuple[Any, ...]]) -> None:
        """An entry from the full stream (``_STREAM``: its transaction's and tokens' columns)."""
        (seq, _txn_link, created, text, prev_hash, digest) = head[:6]
        keyed, good = self._link(seq, created, text, prev_hash, digest)
        if keyed and good and head[6] is not None and self._same(head, tokens, text):
            self.transactions += 1
            return
        self._parsed(seq, text, keyed, good, lambda: (head, tokens))

    def fast_entry(self, row: Any, tokens: list[str | None]) -> None:
        """An entry from the keyed stream (vending.ledger_stream: its body as its rows
        render it); parsed and compared field by field, on rows read again, only when
        the text differs."""
        (seq, _txn_link, created, text, prev_hash, digest) = row[:6]
        keyed, good = self._link(seq, created, text, prev_hash, digest)
        if keyed and good and self._fast(row, tokens, text):
            self.transactions += 1
            return
        self._parsed(seq, text, keyed, good, lambda: self.refetch(seq))

    def refetch(self, seq: int) -> tuple[Any, list[tuple[Any, ...]]] | None:
        """Entry ``seq``'s rows of the full stream (set by the walk that streams)."""
        raise NotImplementedError  # pragma: no cover - replaced per walk

    def _parsed(
        self,
        seq: int,
        text: Any,
        keyed: bool,
        good: bool,
        rows: Callable[[], tuple[Any, list[tuple[Any, ...]]] | None],
    ) -> None:
        """Parse an entry's body and check it against its rows field by field (``rows``
        gives them, full-stream form, for a transaction entry) or record its state."""
        try:
            body, end = _scan(text, 0)
            if end != len(text):
                body = None
        except (TypeError, ValueError, StopIteration, RecursionError):
            body = None
        if not isinstance(body, dict) or (keyed and body.get("v") != BODY_VERSION):
            self.problems.append(f"entry {seq}: altered (its body is not a ledger entry)")
            return
        try:
            kind = body.get("entry", TRANSACTION) if keyed else TRANSACTION
            if kind == TRANSACTION:
                self.transactions += 1
                fetched = rows()
                if fetched is None:
                    self.problems.append(f"entry {seq} vanished while it was being verified")
                    return
                head, tokens = fetched
                self._transaction(seq, head[1], head, self._token_dicts(head, tokens), body, keyed)
            elif keyed and good:
                self._state(kind, body)
        except (KeyError, TypeError, ValueError, ArithmeticError):
            self.problems.append(f"entry {seq}: altered (its body is not a ledger entry)")

    def _details_sha256(self, value: Any) -> Any:
        """The digest of a transaction's stored details (the database's on PostgreSQL)."""
        if self.digest_in_sql:
            return value
        if not isinstance(value, str):
            return f"not text ({type(value).__name__})"
        return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()

    def _same(self, row: Any, tokens: list[tuple[Any, ...]], text: Any) -> bool:
        """Whether a keyed entry's body (its HMAC good) is exactly the canonical body of
        its transaction's and tokens' rows, around the body's own customer and meter
        state: the fast path, no JSON parsed. On False the caller parses and compares
        field by field, which also names what differs.

        Sound because every table value is rendered as the JSON literal of its type
        (a string escaped as json.dumps does, an integer as digits, NULL as null, any
        other type as text no canonical body holds), the fixed text around them holds
        every key, and in canonical JSON a key's ``,"`` cannot occur inside a string;
        so equal text means equal facts.
        """
        (_txn_id, reference, kind, money, energy, free, fixed, recovered, details, at,
         reversed_reference, drn) = row[6:18]  # fmt: skip
        if not isinstance(text, str):
            return False
        meter_id = row[28]
        rendered = []
        for token in tokens:
            (tid, token_class, subclass, digits, key_revision, units, description) = token[19:26]
            if token[27] != meter_id:
                return False
            if (
                type(token_class) is int
                and type(subclass) is int
                and type(key_revision) is int
                and type(digits) is str
                and digits.isdigit()  # nothing JSON escapes
                and type(description) is str
                and (type(tid) is int or tid is None)
                and (type(units) is int or units is None)
            ):
                rendered.append(
                    f'{{"class":{token_class},"description":{_enc(description)},'
                    f'"digits":"{digits}","key_revision":{key_revision},'
                    f'"subclass":{subclass},"tid":{"null" if tid is None else tid},'
                    f'"units":{"null" if units is None else units}}}'
                )
            else:  # some column of another type (SQLite keeps any): render it as it is
                rendered.append(
                    f'{{"class":{_literal(token_class)},"description":{_literal(description)},'
                    f'"digits":{_literal(digits)},"key_revision":{_literal(key_revision)},'
                    f'"subclass":{_literal(subclass)},"tid":{_literal(tid)},'
                    f'"units":{_literal(units)}}}'
                )
        at_text = self.last_created_text if at == self.last_created else _time_text(at)
        day = row[26]
        if at_text[:10] != (day if isinstance(day, str) else str(day)):
            return False
        recovered_text = _scaled_text(recovered)
        head = f'{{"at":{_enc(at_text)},"customer":'
        middle = (
            f',"debt_recovered":"{recovered_text}",'
            f'"details_sha256":{_enc(self._details_sha256(details))},'
            f'"energy_kwh":"{_scaled_text(energy)}","entry":"transaction",'
            f'"fixed_charges":"{_scaled_text(fixed)}","free_kwh":"{_scaled_text(free)}",'
            f'"kind":{_literal(kind)},"meter":{_literal(drn)},"money":"{_scaled_text(money)}",'
            f'"reference":{_literal(reference)},'
            f'"reverses":{"null" if reversed_reference is None else _literal(reversed_reference)},'
            '"state":'
        )
        tail = f',"tokens":[{",".join(rendered)}],"v":{BODY_VERSION}}}'
        parts = _around(text, head, middle, tail)
        if parts is None:
            return False
        customer, state = parts
        try:
            if customer != "null":
                debt = self.debts.setdefault(json.loads(customer), [None, Decimal(0)])
                debt[1] += Decimal(recovered_text)
        except (TypeError, ValueError, ArithmeticError):
            return False
        if state != "null":
            self.pending[drn] = state
        return True

    def _fast(self, row: Any, tokens: list[str | None], text: Any) -> bool:
        """Whether a keyed entry's body (its HMAC good) is exactly the canonical body of
        its transaction's, meter's and tokens' rows as PostgreSQL rendered them
        (vending.ledger_stream), around the body's own customer and meter state: the
        fast path, no JSON parsed. On False the caller parses and compares field by
        field, which also names what differs.

        Sound because every table value is rendered as the JSON literal of its type
        (a string escaped as JSON, an integer as digits, NULL as null, an amount as
        vending.ledger.amount_text writes it; what it cannot render makes the rendering
        NULL, never equal), the fixed text around them holds every key, and in canonical JSON
        a key's ``,"`` cannot occur inside a string; so equal text means equal facts.
        The time is the entry's own (which its HMAC covers): the database rendered
        nothing unless the transaction's time is stored equal to it, and its day is that
        time's UTC day.
        """
        (middle, drn) = row[6:8]
        if middle is None or type(text) is not str or None in tokens:
            return False
        head = f'{{"at":{_enc(self.last_created_text)},"customer":'
        tail = f',"tokens":[{",".join(tokens)}],"v":{BODY_VERSION}}}'  # type: ignore[arg-type]
        parts = _around(text, head, middle, tail)
        if parts is None:
            return False
        customer, state = parts
        if customer != "null":
            try:
                recovered = Decimal(middle[_RECOVERED : middle.index('"', _RECOVERED)])
                debt = self.debts.setdefault(json.loads(customer), [None, Decimal(0)])
                debt[1] += recovered
            except (TypeError, ValueError, ArithmeticError):
                return False
        if state != "null":
            self.pending[drn] = state
        return True

    def flush(self, drn: str | None = None) -> None:
        """Apply the meter states the fast path kept as text (all, or one meter's)."""
        drns = list(self.pending) if drn is None else [drn] if drn in self.pending else []
        for name in drns:
            text = self.pending.pop(name)
            try:
                state = json.loads(text)
            except ValueError:
                self.problems.append(f"meter {name}: a ledger entry's state is not JSON")
                continue
            known = self.meters.get(name)
            if known is None:
                self.meters[name] = [False, state]
            else:
                known[1].update(state)

    @staticmethod
    def _token_dicts(row: Any, tokens: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        dicts = []
        for token in tokens:
            entry = {
                "tid": token[19],
                "class": token[20],
                "subclass": token[21],
                "digits": token[22],
                "key_revision": token[23],
                "units": token[24],
                "description": token[25],
            }
            if token[27] != row[28]:  # a token moved to another meter than its vend's
                entry["meter_id"] = token[27]
            dicts.append(entry)
        return dicts

    def _transaction(
        self,
        seq: int,
        txn_link: int | None,
        row: Any,
        tokens: list[dict[str, Any]],
        body: dict[str, Any],
        keyed: bool,
    ) -> None:
        (txn_id, reference, kind, money, energy, free, fixed, recovered, details_sha256, at,
         reversed_reference, drn) = row[6:18]  # fmt: skip
        if keyed:  # the state after it, which holds even if its transaction is gone
            state = body["state"]
            if state is not None:
                self.flush(body["meter"])
                known = self.meters.get(body["meter"])
                if known is None:
                    self.meters[body["meter"]] = [False, dict(state)]
                else:
                    known[1].update(state)
            customer = body["customer"]
            if customer is not None:
                debt = self.debts.setdefault(customer, [None, Decimal(0)])
                debt[1] += Decimal(body["debt_recovered"])
        if txn_id is None:
            self.problems.append(
                f"entry {seq}: its transaction {body.get('reference')!r} is missing "
                "(deleted, or unlinked from the entry)"
            )
            return
        if not keyed:
            if kind == REVERSAL and reference is None and reversed_reference is not None:
                reference = f"reversal:{reversed_reference}"[:100]
            for token in tokens:
                del token["key_revision"], token["units"], token["description"]
        at_text = self.last_created_text if at == self.last_created else _time_text(at)
        day = row[26]
        if at_text[:10] != (day if isinstance(day, str) else str(day)):
            # The day (what month-to-date sums and reports select by) is the time's UTC day.
            at_text = f"{at_text} (day {day})"
        expected = (
            reference,
            kind,
            drn,
            at_text,
            _scaled_text(money),
            _scaled_text(energy),
            _scaled_text(free),
            _scaled_text(fixed),
            _scaled_text(recovered),
            reversed_reference,
            tokens,
            self._details_sha256(details_sha256) if keyed else None,
        )
        get = body.get
        recorded = (
            get("reference"),
            get("kind"),
            get("meter"),
            get("at"),
            get("money"),
            get("energy_kwh"),
            get("free_kwh"),
            get("fixed_charges"),
            get("debt_recovered"),
            get("reverses"),
            get("tokens"),
            get("details_sha256"),
        )
        if recorded != expected:
            changed = sorted(
                name
                for name, got, want in zip(_COMPARED, recorded, expected, strict=True)
                if got != want
            )
            self.problems.append(
                f"transaction {reference!r} differs from ledger entry {seq} ({', '.join(changed)})"
            )

    def _state(self, kind: str, body: dict[str, Any]) -> None:
        if kind == METER:
            self.pending.pop(body["meter"], None)
            self.meters[body["meter"]] = [
                True,
                {
                    **body["state"],
                    "pan": body["pan"],
                    "tariff": body["tariff"],
                    "customer": body["customer"],
                    # service and token kind: entries from schema 0005 on
                    **{k: body[k] for k in ("service", "token_kind") if k in body},
                },
            ]
        elif kind == CUSTOMER:
            self.debts[body["name"]] = [Decimal(body["debt"]), Decimal(0)]
            self.free_units[body["name"]] = body.get("free_units_kwh")
        elif kind == TARIFF:
            self.tariffs[body["name"]] = body["definition_sha256"]
        elif kind == VENDING_KEY:
            facts = {k: v for k, v in body.items() if k not in ("v", "entry", "at")}
            self.keys[facts["label"]] = facts
        elif kind == VENDOR:
            name = body["name"]
            self.vendors[name] = {
                "balance": Decimal(body["balance"]),
                "credit_limit": body["credit_limit"],
                "movements": int(body["movements"]),
            }
            if body["movement"] is not None:
                self.movements[int(body["movement"]["id"])] = {**body["movement"], "vendor": name}
        elif kind == OPERATOR:
            facts = {k: v for k, v in body.items() if k not in ("v", "entry", "at")}
            self.operators[(facts["vendor"], facts["name"])] = facts


def _driver_rows(
    connection: Connection, sql: str, params: Any, name: str | None = None, ahead: bool = False
) -> Iterator[tuple[Any, ...]]:
    """The rows of ``sql`` straight from a driver cursor, ``BATCH`` at a time.

    With ``name``, a server-side (named) cursor on PostgreSQL; SQLite's cursor steps
    through the result as it is fetched. Either way memory holds one batch (two more
    with ``ahead``). The values need no conversion (plain integers and text), so
    SQLAlchemy's result layer is skipped: it cost more than the rest of verify's work
    per row. With ``ahead`` (PostgreSQL) a thread fetches the next batches while the
    caller works through one: the server computes them meanwhile instead of after.
    """
    driver = connection.connection.driver_connection
    assert driver is not None
    if name is not None and connection.dialect.name == "postgresql":
        cursor = driver.cursor(name=name)
    else:
        cursor = driver.cursor()
    failed = connection.dialect.loaded_dbapi.Error

    def batches() -> Iterator[list[tuple[Any, ...]]]:
        try:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(BATCH):
                yield rows
        except failed as exc:  # the driver's own (SQLAlchemy's result layer is not in the way)
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise StorageError(f"the database failed or is busy ({first}); try again") from None
        finally:
            with contextlib.suppress(failed):  # the error above is what the caller hears of
                cursor.close()

    for rows in _fetched_ahead(batches()) if ahead else batches():
        yield from rows


_DONE = object()


def _fetched_ahead(batches: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """``batches`` produced by a thread at most ``depth`` ahead of the caller; its
    exception raised here; stopped (and its generator closed) when the caller stops."""
    import queue
    import threading

    ready: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        ready.put((batch, None), timeout=0.05)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put((_DONE, None))
        except BaseException as exc:  # handed to the caller, who raises it
            ready.put((_DONE, exc))
        finally:
            with contextlib.suppress(Exception):
                batches.close()  # type: ignore[attr-defined]

    thread = threading.Thread(target=produce, name="sts-verify-fetch", daemon=True)
    thread.start()
    try:
        while True:
            batch, error = ready.get()
            if error is not None:
                raise error
            if batch is _DONE:
                return
            yield batch
    finally:
        stop.set()
        while thread.is_alive():  # let it finish (and close the cursor) before going on
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.05)
        thread.join()


def _compiled(
    connection: Connection, statement: Any, **values: Any
) -> tuple[str, Callable[..., Any]]:
    """A statement's SQL for the driver, and a function of changed values giving its
    parameters in the driver's form."""
    compiled = statement.compile(dialect=connection.dialect)
    given = {**compiled.construct_params(), **values}
    names = compiled.positiontup or ()

    def params(**changed: Any) -> Any:
        all_values = {**given, **changed}
        return tuple(all_values[n] for n in names) if compiled.positional else all_values

    return compiled.string, params


def _stream(connection: Connection, statement: Any) -> Iterator[tuple[Any, ...]]:
    """The rows of an SQLAlchemy ``statement`` from a server-side cursor (see _driver_rows)."""
    sql, params = _compiled(connection, statement)
    return _driver_rows(connection, sql, params(), "sts_ledger_verify")


def _walk_full(connection: Connection, walk: _Walk, after: int, upto: int) -> None:
    """Walk entries after..upto by the full stream (each entry with all its columns)."""
    rows = _stream(connection, _STREAM.where(_E.c.seq > after, _E.c.seq <= upto))
    try:
        current: Any = None
        seq = None
        tokens: list[tuple[Any, ...]] = []
        entry = walk.entry
        for row in rows:
            if row[0] != seq:
                if current is not None:
                    entry(current, tokens)
                    if walk.full:
                        return
                current, seq, tokens = row, row[0], []
            if row[18] is not None:  # a token (the row's columns from 18 on)
                tokens.append(row)
        if current is not None:
            entry(current, tokens)
    finally:
        rows.close()


def _walk_keyed(connection: Connection, walk: _Walk, after: int, upto: int) -> None:
    """Walk keyed entries after..upto by vending.ledger_stream's rows; an entry whose
    text differs is read again by the full stream and compared field by field."""
    sql, params = _compiled(connection, _STREAM.where(_E.c.seq == bindparam("one", 0)))

    def refetch(seq: int) -> tuple[Any, list[tuple[Any, ...]]] | None:
        rows = list(_driver_rows(connection, sql, params(one=seq)))
        return (rows[0], [r for r in rows if r[18] is not None]) if rows else None

    walk.refetch = refetch  # type: ignore[method-assign]
    rows = _driver_rows(
        connection, ledger_stream.POSTGRESQL, (after, upto), "sts_ledger_verify_keyed", ahead=True
    )
    try:
        current: Any = None
        seq = None
        tokens: list[str | None] = []
        entry = walk.fast_entry
        for row in rows:
            if row[0] != seq:
                if current is not None:
                    entry(current, tokens)
                    if walk.full:
                        return
                current, seq, tokens = row, row[0], []
            if row[8] != "":  # a token's JSON (None: one that cannot be rendered)
                tokens.append(row[8])
        if current is not None:
            entry(current, tokens)
    finally:
        rows.close()


def _walk(connection: Connection, walk: _Walk, after: int, upto: int) -> None:
    """Walk entries after..upto. On PostgreSQL the keyed ones come with their bodies
    rendered by the server (vending.ledger_stream); unkeyed ones, and every entry on
    SQLite (whose rendering in SQL cost more than Python's ``_same``), with all their
    columns."""
    walk.digest_in_sql = connection.dialect.name == "postgresql"
    try:
        full_to = upto
        if connection.dialect.name == "postgresql":
            full_to = max(after, min(upto, walk.legacy_seq))
        if after < full_to:
            _walk_full(connection, walk, after, full_to)
        if full_to < upto and not walk.full:
            _walk_keyed(connection, walk, full_to, upto)
    finally:
        walk.flush()


#: What a range walked in another process returns (no key among them).
_PART = ("problems", "count", "transactions", "first_prev", "first_seq", "prev", "expected",
         "hashes", "meters", "debts", "tariffs", "keys", "free_units", "vendors", "movements",
         "operators")  # fmt: skip
#: Ledgers shorter than this are walked in one process whatever ``workers`` says.
PARALLEL_FROM = 50_000


def _walk_part(
    url: str, key: bytes, legacy_seq: int, lo: int, hi: int, limit: int, hashes: dict[int, str]
) -> dict[str, Any]:
    """Walk entries lo..hi on a connection of this process's own (run in a worker)."""
    from vending.db import make_engine

    engine = make_engine(url, read_only=True)
    try:
        with storage.storage_errors(), engine.connect() as connection:
            walk = _Walk(key, legacy_seq, lo - 1, None, limit)
            walk.hashes = dict(hashes)
            _walk(connection, walk, lo - 1, hi)
    finally:
        engine.dispose()
    return {name: getattr(walk, name) for name in _PART}


def _gap(first: int, last: int) -> str:
    missing = f"entry {first}" if first == last else f"entries {first}-{last}"
    return f"{missing} missing: deleted from the ledger"


def _merge(walk: _Walk, part: dict[str, Any], lo: int) -> None:
    """Append a range's walk (entries from ``lo`` on) to the walk of the ranges before it."""
    if walk.expected < lo:  # the range before ended early: its last entries are gone
        walk.problems.append(_gap(walk.expected, lo - 1))
    if part["count"]:
        if walk.prev is not None and part["first_prev"] != walk.prev:
            walk.problems.append(
                f"entry {part['first_seq']}: previous-entry hash {part['first_prev'][:12]}... "
                f"does not match the hash before it ({walk.prev[:12]}...)"
            )
        walk.prev, walk.expected = part["prev"], part["expected"]
    walk.problems.extend(part["problems"])
    walk.count += part["count"]
    walk.transactions += part["transactions"]
    walk.hashes.update({seq: digest for seq, digest in part["hashes"].items() if digest})
    for drn, (replaced, fields) in part["meters"].items():
        known = walk.meters.get(drn)
        if replaced or known is None:
            walk.meters[drn] = [replaced, fields]
        else:
            known[1].update(fields)
    for name, (base, recovered) in part["debts"].items():
        debt = walk.debts.get(name)
        if base is not None or debt is None:
            walk.debts[name] = [base, recovered]
        else:
            debt[1] += recovered
    walk.tariffs.update(part["tariffs"])
    walk.keys.update(part["keys"])
    walk.free_units.update(part["free_units"])
    walk.vendors.update(part["vendors"])
    walk.movements.update(part["movements"])
    walk.operators.update(part["operators"])


def _walk_parallel(walk: _Walk, url: str, start: int, upto: int, workers: int) -> None:
    """Walk start+1..upto in ``workers`` processes, one range each, merged in order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    size = -(-(upto - start) // workers)
    ranges = [(lo, min(lo + size - 1, upto)) for lo in range(start + 1, upto + 1, size)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(ranges), mp_context=context) as pool:
        futures = [
            pool.submit(_walk_part, url, walk.key, walk.legacy_seq, lo, hi, walk.limit, walk.hashes)
            for lo, hi in ranges
        ]
        try:
            parts = [future.result() for future in futures]
        except StsError:
            raise
        except Exception as exc:
            raise StorageError(f"a process verifying part of the ledger failed: {exc}") from None
    for (lo, _hi), part in zip(ranges, parts, strict=True):
        _merge(walk, part, lo)


def _compare_state(connection: Connection, walk: _Walk, strict: bool) -> int:
    """Compare the state the walk recorded with the tables; the rows not covered."""
    problems = walk.problems
    uncovered = ledger_parties.Uncovered(problems, strict)
    tariff = _TARIFFS.alias("t")
    customer = _CUSTOMERS.alias("c")
    meters = connection.execution_options(stream_results=True, yield_per=BATCH).execute(
        select(
            _M,
            tariff.c.name.label("tariff_name"),
            customer.c.name.label("customer_name"),
        )
        .select_from(
            _M.outerjoin(tariff, tariff.c.id == _M.c.tariff_id).outerjoin(
                customer, customer.c.id == _M.c.customer_id
            )
        )
        .order_by(_M.c.id)
    )
    for row in meters:
        known = walk.meters.pop(row.drn, None)
        recorded = known[1] if known is not None else None
        if recorded is None:
            uncovered(f"meter {row.drn}")
            continue
        actual = {**row._mapping, "tariff": row.tariff_name, "customer": row.customer_name}
        for name in sorted(recorded):
            if actual.get(name) != recorded[name]:
                problems.append(
                    f"meter {row.drn}: {name} is {actual.get(name)!r} but the ledger says "
                    f"{recorded[name]!r}"
                )
    for drn in sorted(walk.meters):
        problems.append(f"meter {drn} is in the ledger but was deleted from the meters table")

    debts = {
        name: base - recovered for name, (base, recovered) in walk.debts.items() if base is not None
    }
    for name, debt in connection.execute(select(_CUSTOMERS.c.name, _CUSTOMERS.c.debt)):
        if name not in debts:
            if debt:
                uncovered(f"customer {name!r} (debt {debt})")
            continue
        recorded = debts.pop(name)
        if debt != recorded:
            problems.append(f"customer {name!r}: debt is {debt} but the ledger says {recorded}")
    for name in sorted(debts):
        problems.append(f"customer {name!r} is in the ledger but was deleted")
    for name, own in connection.execute(select(_CUSTOMERS.c.name, _CUSTOMERS.c.free_units_kwh)):
        recorded = walk.free_units.get(name)
        actual = None if own is None else amount_text(own)
        if name in walk.free_units and actual != recorded:
            problems.append(
                f"customer {name!r}: free units a month are {actual} but the ledger says {recorded}"
            )

    for name, definition in connection.execute(select(_TARIFFS.c.name, _TARIFFS.c.definition)):
        recorded = walk.tariffs.pop(name, None)
        if recorded is None:
            uncovered(f"tariff {name!r}")
        elif tariff_digest(definition) != recorded:
            problems.append(f"tariff {name!r}: its definition differs from the ledger's")
    for name in sorted(walk.tariffs):
        problems.append(f"tariff {name!r} is in the ledger but was deleted")

    for row in connection.execute(select(_KEYS)):
        recorded = walk.keys.pop(row.label, None)
        if recorded is None:
            uncovered(f"vending key {row.label!r}")
        elif vending_key_facts(row) != recorded:
            problems.append(f"vending key {row.label!r}: its record differs from the ledger's")
    for label in sorted(walk.keys):
        problems.append(f"vending key {label!r} is in the ledger but was deleted")
    _compare_vendors(connection, walk, uncovered)
    return uncovered.count


def _compare_vendors(
    connection: Connection, walk: _Walk, uncovered: Callable[[str], None]
) -> None:
    """Vendors' floats and credit limits, their top-ups and adjustments, the float
    movements of sales, reversals and refunds, and operators, against the ledger."""
    problems = walk.problems
    vendor_names = dict(connection.execute(select(_VENDORS.c.id, _VENDORS.c.name)).all())
    for row in connection.execute(
        select(_VENDORS.c.id, _VENDORS.c.name, _VENDORS.c.balance, _VENDORS.c.credit_limit)
    ):
        recorded = walk.vendors.pop(row.name, None)
        if recorded is None:
            uncovered(f"vendor {row.name!r}")
            continue
        if amount_text(row.credit_limit) != recorded["credit_limit"]:
            problems.append(
                f"vendor {row.name!r}: credit limit is {amount_text(row.credit_limit)} but the "
                f"ledger says {recorded['credit_limit']}"
            )
        # The float as last recorded, moved since only by sales, reversals and refunds
        # (each tied to its transaction below): a top-up since would have its own entry.
        since = connection.execute(
            select(func.count(), func.sum(_MOVEMENTS.c.amount)).where(
                _MOVEMENTS.c.vendor_id == row.id, _MOVEMENTS.c.id > recorded["movements"]
            )
        ).one()
        expected = recorded["balance"] + (since[1] or Decimal(0))
        if row.balance != expected:
            problems.append(
                f"vendor {row.name!r}: float is {amount_text(row.balance)} but the ledger and "
                f"the {since[0]} float movements since say {amount_text(expected)}"
            )
    for name in sorted(walk.vendors):
        problems.append(f"vendor {name!r} is in the ledger but was deleted")

    m = _MOVEMENTS
    for row in connection.execute(select(m).where(m.c.transaction_id.is_(None)).order_by(m.c.id)):
        vendor = vendor_names.get(row.vendor_id)
        recorded = walk.movements.pop(row.id, None)
        if recorded is None:
            uncovered(f"float movement {row.id} ({row.kind}) of vendor {vendor!r}")
        elif {**movement_facts(row), "vendor": vendor} != recorded:
            problems.append(
                f"float movement {row.id} ({row.kind}) of vendor {vendor!r} differs from "
                "the ledger's"
            )
    for number in sorted(walk.movements):
        problems.append(
            f"float movement {number} of the ledger is no longer a top-up or adjustment "
            "in the table (deleted, or linked to a transaction)"
        )
    # A sale, reversal or refund moves the float by minus its (chained) transaction's money.
    t = _T
    kinds = [and_(m.c.kind == moved, t.c.kind == by) for moved, by in _MOVED_BY.items()]
    wrong = connection.execute(
        select(m.c.id)
        .join(t, t.c.id == m.c.transaction_id)
        .where(or_(m.c.amount != -t.c.money, ~or_(*kinds)))
        .order_by(m.c.id)
        .limit(10)
    ).scalars().all()
    for number in wrong:
        problems.append(
            f"float movement {number} does not match its transaction (amount or kind)"
        )
    # Each movement's balance after is the one before it plus its amount (from zero).
    before = func.lag(m.c.balance_after).over(partition_by=m.c.vendor_id, order_by=m.c.id)
    steps = select(m.c.id, m.c.amount, m.c.balance_after, before.label("before")).subquery()
    broken = connection.execute(
        select(steps.c.id)
        .where(steps.c.balance_after != func.coalesce(steps.c.before, 0) + steps.c.amount)
        .order_by(steps.c.id)
        .limit(10)
    ).scalars().all()
    for number in broken:
        problems.append(
            f"float movement {number}: its balance after is not the balance before it plus "
            "its amount"
        )

    o = _OPERATORS
    for row in connection.execute(select(o)):
        vendor = vendor_names.get(row.vendor_id, "")
        recorded = walk.operators.pop((vendor, row.name), None)
        if recorded is None:
            uncovered(f"operator {row.name!r} of vendor {vendor!r}")
        elif operator_facts(row, vendor) != recorded:
            problems.append(
                f"operator {row.name!r} of vendor {vendor!r}: its record differs from the "
                "ledger's"
            )
    for vendor, name in sorted(walk.operators):
        problems.append(f"operator {name!r} of vendor {vendor!r} is in the ledger but was deleted")


def check_master(connection: Connection, master: MasterKey) -> None:
    """KeyStoreError when the database keeps another master key's check value."""
    stored = connection.execute(select(_CHECK.c.value).where(_CHECK.c.id == 1)).scalar_one_or_none()
    if stored is not None and not hmac.compare_digest(stored, check_value(master)):
        raise KeyStoreError(
            f"master key {master.fingerprint} is not this database's master key; the ledger "
            "cannot be verified without the right one"
        )


def verify_connection(
    connection: Connection,
    master: MasterKey,
    checkpoint: Checkpoint | None = None,
    since: bool = False,
    limit: int = 50,
    workers: int = 1,
    url: str | None = None,
) -> LedgerCheck:
    """Verify the ledger on ``connection`` (see the module docstring for what it proves).

    ``checkpoint`` adds its checks; ``since`` walks only the entries after it.
    At most ``limit`` problems are reported. With ``workers`` above 1 and the database's
    ``url``, a ledger of ``PARALLEL_FROM`` entries or more is walked in that many
    processes, a range of entries each, their findings merged in order.
    """
    check_master(connection, master)
    head = connection.execute(
        select(_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.legacy_seq).where(_HEAD.c.id == HEAD_ID)
    ).first()
    if head is None:
        return LedgerCheck(0, -1, ("the ledger head row is missing",))
    problems: list[str] = []
    start, prev = 0, GENESIS_HASH
    if checkpoint is not None:
        if checkpoint.legacy_seq != head.legacy_seq:
            problems.append(
                f"the ledger says entries 1-{head.legacy_seq} are unkeyed but the checkpoint "
                f"says 1-{checkpoint.legacy_seq}: the ledger was rewritten"
            )
        if head.seq < checkpoint.seq:
            problems.append(
                f"the ledger head is at entry {head.seq}, before checkpoint entry "
                f"{checkpoint.seq}: entries were removed (truncated or wiped)"
            )
        if since and checkpoint.seq > 0:
            kept = connection.execute(
                select(_E.c.hash).where(_E.c.seq == checkpoint.seq)
            ).scalar_one_or_none()
            if kept != checkpoint.hash:
                state = "is missing" if kept is None else "has another hash"
                problems.append(
                    f"checkpoint entry {checkpoint.seq} {state}: entries up to it were removed "
                    "or changed"
                )
            start, prev = checkpoint.seq, checkpoint.hash
    walk = _Walk(ledger_key(master), head.legacy_seq, start, prev, limit)
    walk.problems = problems
    if checkpoint is not None and not since and checkpoint.seq > 0:
        walk.hashes[checkpoint.seq] = ""
    # Entries up to the head read above: later vends commit their entries with the head.
    if workers > 1 and url is not None and head.seq - start >= PARALLEL_FROM:
        _walk_parallel(walk, url, start, head.seq, workers)
    else:
        _walk(connection, walk, start, head.seq)
    not_covered = 0
    if not walk.full:
        last = walk.expected - 1
        if checkpoint is not None and not since and checkpoint.seq > 0:
            kept = walk.hashes[checkpoint.seq]
            if kept != checkpoint.hash:
                state = "is missing" if not kept else "has another hash"
                problems.append(
                    f"checkpoint entry {checkpoint.seq} {state}: entries up to it were removed "
                    "or changed"
                )
        if head.seq != last:
            problems.append(
                f"the ledger head says {head.seq} entries but the last is entry {last}: "
                "entries at the end were deleted"
            )
        elif head.hash != walk.prev:
            problems.append(f"the ledger head hash does not match entry {last}")
        unrecorded = connection.execute(
            select(func.count(_T.c.id)).where(
                ~select(_E.c.seq).where(_E.c.transaction_id == _T.c.id).exists()
            )
        ).scalar_one()
        if unrecorded:
            problems.append(f"{unrecorded} transactions have no ledger entry")
        strict = head.legacy_seq == 0 and not since
        not_covered = _compare_state(connection, walk, strict)
        not_covered += ledger_parties.check(connection, problems, strict, start)
    return LedgerCheck(
        walk.count,
        head.seq,
        tuple(problems[:limit]),
        legacy_entries=head.legacy_seq,
        not_covered=not_covered,
        since=start if since else None,
        checkpoint=checkpoint.seq if checkpoint is not None else None,
        transactions=walk.transactions,
    )


def verify(
    backend: Backend,
    checkpoint: Checkpoint | None = None,
    since: bool = False,
    limit: int = 50,
    workers: int = 1,
) -> LedgerCheck:
    """Verify the backend's ledger under its master key (KeyStoreError without one);
    ``workers`` processes share a long ledger (see :func:`verify_connection`)."""
    if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= 64:
        raise VendingError(f"workers {workers!r} is not a whole number from 1 to 64")
    master = backend.sealing_key()
    url = None
    if workers > 1 and backend.database is not None:
        url = backend.database.engine.url.render_as_string(hide_password=False)
    with storage.read(backend) as session:
        return verify_connection(
            session.connection(), master, checkpoint, since, limit, workers, url
        )


def take_checkpoint(backend: Backend) -> tuple[Checkpoint, str]:
    """The head as a signed checkpoint (and its file's text), from a ledger that verifies.

    The head is read first and the whole ledger then verified against it, so entries
    vended meanwhile do not matter. VendingError if verification finds a problem.
    """
    master = backend.sealing_key()
    with storage.read(backend) as session:
        connection = session.connection()
        check_master(connection, master)
        head = connection.execute(
            select(_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.legacy_seq).where(_HEAD.c.id == HEAD_ID)
        ).first()
        if head is None:
            raise VendingError("the ledger head row is missing; no checkpoint was taken")
        checkpoint = Checkpoint(head.seq, head.hash, head.legacy_seq, backend.now())
        result = verify_connection(connection, master, checkpoint)
    if not result.ok:
        raise VendingError(
            f"the ledger failed verification ({len(result.problems)} problem(s), the first: "
            f"{result.problems[0]}); no checkpoint was taken"
        )
    return checkpoint, checkpoint.to_text(master)
