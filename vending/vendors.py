"""Vendors, their floats and operators, API keys, and the sale context a vend runs in.

A *vendor* (an agent, a bank, a mobile-money operator) holds a float: top-ups
and adjustments add to it, sales take from it, reversals give back. Every
change is a row in ``float_movements`` with the balance after it, so the float
is the sum of its movements. A sale is refused when it would take the float
below minus the vendor's credit limit (0 by default: below zero).

An *operator* belongs to one vendor, has a role and an API key. The key is
``sts_`` + a 16-hex-digit key id + ``.`` + 43 characters of base64url (32
random bytes); the database keeps the key id and the SHA-256 of the whole key,
never the key. It is shown once, when the operator is made. A revoked
operator's key no longer authenticates.

:class:`SaleContext` is what the HTTP service hands to the vend functions of
:mod:`vending.vend`: inside the vend's own database transaction it charges the
float (an ``UPDATE ... WHERE balance - amount >= -credit_limit``, which also
locks the vendor's row until the vend commits), records the float movement and
the transaction's vendor and operator, and refuses a purchase whose client id
a reversal advice has already cancelled (vending.advices).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vending import ledger
from vending.backend import Backend
from vending.errors import (
    DuplicateError,
    NotFoundError,
    PaymentError,
    ReversalRefused,
    ReversedReference,
    VendingError,
)
from vending.ledger_parties import parties_details
from vending.models import Transaction
from vending.prepared import Prepared
from vending.vendor_models import Advice, FloatMovement, Operator, TransactionParty, Vendor

#: The largest float movement, top-up, credit limit or sale the service accepts.
MAX_AMOUNT = Decimal("1000000000")
#: Amounts are stored to this many decimal places (vending.models.ScaledDecimal).
AMOUNT_PLACES = 5
NAME_MAX = 100
NOTE_MAX = 200
KEY_PREFIX = "sts_"
_KEY_RE = re.compile(r"^sts_([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$")

TOPUP = "topup"
ADJUSTMENT = "adjustment"
SALE = "sale"
REVERSAL = "reversal"
CONFIRM = "confirm"


class InsufficientFloat(PaymentError):
    """A sale or adjustment that would take a vendor's float below its credit limit."""


class AuthenticationError(VendingError):
    """An API key that is missing, malformed, unknown or revoked."""


class PermissionDenied(VendingError):
    """An operator whose role does not allow the operation."""


class Role(StrEnum):
    """What an operator may do; each role includes the ones before it."""

    VEND = "vend"  # lookups, purchases, confirm and reversal advices for its own sales
    SUPERVISE = "supervise"  # also reversals of any of the vendor's sales, reprints, reports
    ADMINISTER = "administer"  # also management tokens and key change orders

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


# --- summaries ---------------------------------------------------------------------------


def amount_text(value: Decimal) -> str:
    """An amount as a plain decimal string with at least two places: "12.50", "-3.00"."""
    text = format(value.normalize(), "f")
    whole, _, places = text.partition(".")
    return f"{whole}.{places.ljust(2, '0')}"


@dataclass(frozen=True)
class VendorInfo:
    id: int
    name: str
    balance: Decimal
    credit_limit: Decimal
    created_at: datetime

    @property
    def available(self) -> Decimal:
        """What the vendor can still sell: the float plus its credit limit."""
        return self.balance + self.credit_limit

    @classmethod
    def of(cls, vendor: Vendor) -> VendorInfo:
        return cls(vendor.id, vendor.name, vendor.balance, vendor.credit_limit, vendor.created_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "balance": amount_text(self.balance),
            "credit_limit": amount_text(self.credit_limit),
            "available": amount_text(self.available),
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class OperatorInfo:
    id: int
    vendor: str
    name: str
    role: Role
    key_id: str
    created_at: datetime
    revoked_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "name": self.name,
            "role": self.role.value,
            "key_id": self.key_id,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


@dataclass(frozen=True)
class NewOperator:
    """An operator just made, with its API key: the only time the key is available."""

    operator: OperatorInfo
    api_key: str

    def __repr__(self) -> str:
        return f"NewOperator(operator={self.operator!r}, api_key=<hidden>)"

    def to_dict(self) -> dict[str, Any]:
        return {**self.operator.to_dict(), "api_key": self.api_key}


@dataclass(frozen=True)
class Movement:
    """One float movement."""

    vendor: str
    kind: str
    amount: Decimal
    balance_after: Decimal
    note: str
    time: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "kind": self.kind,
            "amount": amount_text(self.amount),
            "balance_after": amount_text(self.balance_after),
            "note": self.note,
            "time": self.time.isoformat(),
        }


@dataclass(frozen=True)
class Principal:
    """Who an API key belongs to: the operator, its role and its vendor."""

    operator_id: int
    operator: str
    role: Role
    vendor_id: int
    vendor: str

    def require(self, needed: Role) -> None:
        if not self.role.allows(needed):
            raise PermissionDenied(
                f"operator {self.operator!r} has role {self.role.value}; this needs "
                f"{needed.value} or above"
            )


# --- checks ------------------------------------------------------------------------------


def parse_amount(
    value: Decimal | int | str, what: str, *, allow_negative: bool = False, allow_zero: bool = False
) -> Decimal:
    """A money amount within +-MAX_AMOUNT with at most AMOUNT_PLACES decimal places."""
    if isinstance(value, float | bool):
        raise PaymentError(f"{what} {value!r} must be a decimal string, not {type(value).__name__}")
    text = str(value).strip()
    if len(text) > 40:
        raise PaymentError(f"{what} {text[:40]!r}... is too long; expected a decimal amount")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise PaymentError(f"{what} {text!r} is not a number; expected e.g. 100.00") from None
    if not amount.is_finite():
        raise PaymentError(f"{what} {text!r} is not a finite number")
    if amount.as_tuple().exponent < -AMOUNT_PLACES:  # type: ignore[operator]
        raise PaymentError(f"{what} {text} has more than {AMOUNT_PLACES} decimal places")
    if abs(amount) > MAX_AMOUNT:
        raise PaymentError(f"{what} {text} is beyond {MAX_AMOUNT}; expected at most that")
    if amount < 0 and not allow_negative:
        raise PaymentError(f"{what} {text} is negative; expected 0 or more")
    if amount == 0 and not allow_zero:
        raise PaymentError(f"{what} {text} is zero; expected an amount above zero")
    return amount


def _name(value: str, what: str) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > NAME_MAX or not name.isprintable():
        raise VendingError(f"{what} {value!r} must be 1 to {NAME_MAX} printable characters")
    return name


def _note(value: str) -> str:
    if len(value) > NOTE_MAX or not value.isprintable():
        raise VendingError(f"note {value[:40]!r} must be at most {NOTE_MAX} printable characters")
    return value


def _role(value: Role | str) -> Role:
    try:
        return Role(value)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise VendingError(f"role {value!r} is not one of {names}") from None


# --- vendors and floats ------------------------------------------------------------------


def _chain_vendor(
    backend: Backend, session: Session, vendor_id: int, now: datetime, movement: int | None = None
) -> None:
    """The vendor's ledger entry, as the transaction's last statements (vending.ledger)."""
    connection = session.connection()
    ledger.record_vendor(connection, backend.ledger_key(connection), vendor_id, now, movement)


def _vendor(session: Session, name: str, lock: bool = False) -> Vendor:
    query = select(Vendor).where(Vendor.name == name.strip())
    if lock:
        query = query.with_for_update()
    vendor = session.execute(query).scalar_one_or_none()
    if vendor is None:
        raise NotFoundError(f"vendor {name!r} does not exist; add it with `sts vendors add`")
    return vendor


def add_vendor(backend: Backend, name: str, credit_limit: Decimal | str = "0") -> VendorInfo:
    """A new vendor with an empty float."""
    name = _name(name, "vendor name")
    limit = parse_amount(credit_limit, "credit limit", allow_zero=True)
    now = backend.now()
    try:
        with backend.sessions.begin() as session:
            if session.execute(select(Vendor.id).where(Vendor.name == name)).first():
                raise DuplicateError(f"a vendor named {name!r} already exists")
            vendor = Vendor(name=name, balance=Decimal(0), credit_limit=limit, created_at=now)
            session.add(vendor)
            session.flush()
            _chain_vendor(backend, session, vendor.id, now)
            return VendorInfo.of(vendor)
    except IntegrityError:
        raise DuplicateError(f"a vendor named {name!r} already exists") from None


def list_vendors(backend: Backend) -> list[VendorInfo]:
    with backend.read_sessions() as session:
        rows = session.execute(select(Vendor).order_by(Vendor.name)).scalars().all()
        return [VendorInfo.of(v) for v in rows]


def get_vendor(backend: Backend, name: str) -> VendorInfo:
    with backend.read_sessions() as session:
        return VendorInfo.of(_vendor(session, name))


def vendor_by_id(backend: Backend, vendor_id: int) -> VendorInfo:
    with backend.read_sessions() as session:
        vendor = session.get(Vendor, vendor_id)
        if vendor is None:
            raise NotFoundError(f"vendor {vendor_id} does not exist")
        return VendorInfo.of(vendor)


def set_credit_limit(backend: Backend, name: str, credit_limit: Decimal | str) -> VendorInfo:
    limit = parse_amount(credit_limit, "credit limit", allow_zero=True)
    with backend.sessions.begin() as session:
        vendor = _vendor(session, name, lock=True)
        vendor.credit_limit = limit
        session.flush()
        _chain_vendor(backend, session, vendor.id, backend.now())
        return VendorInfo.of(vendor)


def _move(
    backend: Backend, name: str, kind: str, amount: Decimal, note: str, check_limit: bool
) -> Movement:
    now = backend.now()
    with backend.sessions.begin() as session:
        vendor = _vendor(session, name, lock=True)
        after = vendor.balance + amount
        if check_limit and after < -vendor.credit_limit:
            raise InsufficientFloat(
                f"adjustment {amount_text(amount)} would take vendor {vendor.name!r}'s float to "
                f"{amount_text(after)}, below minus its credit limit "
                f"{amount_text(vendor.credit_limit)}"
            )
        if abs(after) > MAX_AMOUNT:
            raise PaymentError(
                f"{kind} {amount_text(amount)} would take vendor {vendor.name!r}'s float to "
                f"{amount_text(after)}, beyond {MAX_AMOUNT}"
            )
        vendor.balance = after
        movement = FloatMovement(
            vendor_id=vendor.id,
            operator_id=None,
            kind=kind,
            amount=amount,
            balance_after=after,
            transaction_id=None,
            note=note,
            day=now.date(),
            created_at=now,
        )
        session.add(movement)
        session.flush()
        _chain_vendor(backend, session, vendor.id, now, movement.id)
        return Movement(vendor.name, kind, amount, after, note, now)


def top_up(backend: Backend, name: str, amount: Decimal | str, note: str = "") -> Movement:
    """Add money to a vendor's float (a payment the utility received from it)."""
    value = parse_amount(amount, "top-up")
    return _move(backend, name, TOPUP, value, _note(note), check_limit=False)


def adjust(backend: Backend, name: str, amount: Decimal | str, note: str) -> Movement:
    """Correct a vendor's float up or down; a note saying why is required."""
    value = parse_amount(amount, "adjustment", allow_negative=True)
    if not note.strip():
        raise VendingError("an adjustment needs a note saying why; expected --note TEXT")
    return _move(backend, name, ADJUSTMENT, value, _note(note), check_limit=value < 0)


def movements(backend: Backend, name: str, limit: int = 100) -> list[Movement]:
    """The vendor's latest float movements, newest first."""
    with backend.read_sessions() as session:
        vendor = _vendor(session, name)
        rows = session.execute(
            select(FloatMovement)
            .where(FloatMovement.vendor_id == vendor.id)
            .order_by(FloatMovement.id.desc())
            .limit(limit)
        ).scalars()
        return [
            Movement(vendor.name, m.kind, m.amount, m.balance_after, m.note, m.created_at)
            for m in rows
        ]


# --- operators and keys ------------------------------------------------------------------


def _hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("ascii")).hexdigest()


def _info(operator: Operator, vendor: str) -> OperatorInfo:
    return OperatorInfo(
        operator.id,
        vendor,
        operator.name,
        Role(operator.role),
        operator.key_id,
        operator.created_at,
        operator.revoked_at,
    )


def add_operator(backend: Backend, vendor: str, name: str, role: Role | str) -> NewOperator:
    """A new operator of ``vendor`` with a fresh API key (returned once, stored hashed)."""
    name = _name(name, "operator name")
    role = _role(role)
    secret = backend.rng.getrandbits(256).to_bytes(32, "big")
    key_id = f"{backend.rng.getrandbits(64):016x}"
    api_key = f"{KEY_PREFIX}{key_id}.{base64.urlsafe_b64encode(secret).decode().rstrip('=')}"
    now = backend.now()
    try:
        with backend.sessions.begin() as session:
            owner = _vendor(session, vendor)
            if session.execute(
                select(Operator.id).where(Operator.vendor_id == owner.id, Operator.name == name)
            ).first():
                raise DuplicateError(f"vendor {owner.name!r} already has an operator {name!r}")
            operator = Operator(
                vendor_id=owner.id,
                name=name,
                role=role.value,
                key_id=key_id,
                key_hash=_hash(api_key),
                created_at=now,
            )
            session.add(operator)
            session.flush()
            connection = session.connection()
            ledger.record_operator(connection, backend.ledger_key(connection), operator.id, now)
            return NewOperator(_info(operator, owner.name), api_key)
    except IntegrityError:
        raise DuplicateError(f"operator {name!r} of vendor {vendor!r} already exists") from None


def list_operators(backend: Backend, vendor: str | None = None) -> list[OperatorInfo]:
    with backend.read_sessions() as session:
        query = (
            select(Operator, Vendor.name)
            .join(Vendor, Vendor.id == Operator.vendor_id)
            .order_by(Vendor.name, Operator.name)
        )
        if vendor is not None:
            query = query.where(Vendor.id == _vendor(session, vendor).id)
        return [_info(op, vendor_name) for op, vendor_name in session.execute(query)]


def revoke_operator(backend: Backend, vendor: str, name: str) -> OperatorInfo:
    """Revoke an operator's API key (at once; revoking again changes nothing)."""
    now = backend.now()
    with backend.sessions.begin() as session:
        owner = _vendor(session, vendor)
        operator = session.execute(
            select(Operator).where(Operator.vendor_id == owner.id, Operator.name == name.strip())
        ).scalar_one_or_none()
        if operator is None:
            raise NotFoundError(f"vendor {owner.name!r} has no operator {name!r}")
        if operator.revoked_at is None:
            operator.revoked_at = now
            session.flush()
            connection = session.connection()
            ledger.record_operator(connection, backend.ledger_key(connection), operator.id, now)
        return _info(operator, owner.name)


_OPERATORS = Operator.__table__
_VENDORS = Vendor.__table__
_AUTH = Prepared(
    select(
        _OPERATORS.c.id,
        _OPERATORS.c.name,
        _OPERATORS.c.role,
        _OPERATORS.c.key_hash,
        _OPERATORS.c.revoked_at,
        _VENDORS.c.id.label("vendor_id"),
        _VENDORS.c.name.label("vendor_name"),
    )
    .select_from(_OPERATORS.join(_VENDORS, _VENDORS.c.id == _OPERATORS.c.vendor_id))
    .where(_OPERATORS.c.key_id == bindparam("key_id"))
)
_MISSING = object()


def authenticate(backend: Backend, api_key: str | None) -> Principal:
    """The operator an API key belongs to; AuthenticationError for any bad key.

    The message never says whether the key id exists.
    """
    if not api_key:
        raise AuthenticationError("no API key given; expected the X-API-Key header")
    match = _KEY_RE.match(api_key)
    if match is None:
        raise AuthenticationError(
            "the API key is not in the form sts_<16 hex digits>.<43 characters>"
        )
    # One statement: on PostgreSQL in autocommit, without a BEGIN and a ROLLBACK round trip.
    single = (
        {"isolation_level": "AUTOCOMMIT"} if backend.engine.dialect.name == "postgresql" else None
    )
    with backend.read_engine.connect() as connection:
        if single is not None:
            connection.execution_options(**single)
        rows = _AUTH.run(connection, {"key_id": match.group(1)})
    row = rows[0] if rows else None
    if (
        row is None
        or not hmac.compare_digest(row["key_hash"], _hash(api_key))
        or row["revoked_at"] is not None
    ):
        raise AuthenticationError("the API key is unknown or revoked")
    return Principal(
        row["id"], row["name"], Role(row["role"]), row["vendor_id"], row["vendor_name"]
    )


# --- the sale context --------------------------------------------------------------------


def client_reference(vendor_id: int, client_id: str) -> str:
    """A transaction's client reference for a vendor's own client id (ids are per vendor)."""
    return f"v{vendor_id}:{client_id}"


def refund_reference(purchase_reference: str) -> str:
    """The client reference of the credit note against a purchase (vending.refunds)."""
    return f"refund:{purchase_reference}"


_MOVEMENTS = FloatMovement.__table__
_PARTIES = TransactionParty.__table__
_ADVICES = Advice.__table__
_AMOUNT = bindparam("amount", type_=_VENDORS.c.balance.type)
_ADVICE = select(_ADVICES.c.id).where(
    _ADVICES.c.vendor_id == bindparam("vendor_id"),
    _ADVICES.c.client_id == bindparam("client_id"),
    _ADVICES.c.kind == bindparam("kind"),
)
# Charges the float and locks the vendor's row (no row back: the float cannot pay).
_CHARGE = Prepared(
    update(_VENDORS)
    .where(_VENDORS.c.id == bindparam("vendor_id"))
    .where(_VENDORS.c.balance - _AMOUNT >= -_VENDORS.c.credit_limit)
    .values(balance=_VENDORS.c.balance - _AMOUNT)
    .returning(_VENDORS.c.balance)
)
_REFUND = Prepared(
    update(_VENDORS)
    .where(_VENDORS.c.id == bindparam("vendor_id"))
    .values(balance=_VENDORS.c.balance - _AMOUNT)
    .returning(_VENDORS.c.balance)
)
_MOVEMENT_COLUMNS = [c.name for c in _MOVEMENTS.c if c.name != "id"]
_INSERT_MOVEMENT = Prepared(insert(_MOVEMENTS), _MOVEMENT_COLUMNS)
# A sale's movement, written only if no reversal advice has cancelled its client id. Run
# after the charge has locked the vendor's row, as a statement of its own: on PostgreSQL
# its snapshot is taken then, so it sees an advice committed while the vend waited.
_INSERT_SALE_UNLESS_CANCELLED = Prepared(
    insert(_MOVEMENTS)
    .from_select(
        _MOVEMENT_COLUMNS,
        select(
            *(bindparam(name, type_=_MOVEMENTS.c[name].type) for name in _MOVEMENT_COLUMNS)
        ).where(
            ~select(_ADVICES.c.id)
            .where(
                _ADVICES.c.vendor_id == bindparam("vendor_id"),
                _ADVICES.c.client_id == bindparam("client_id"),
                _ADVICES.c.kind == REVERSAL,
            )
            .exists()
        ),
    )
    .returning(_MOVEMENTS.c.id)
)
_INSERT_PARTY = Prepared(insert(_PARTIES), [c.name for c in _PARTIES.c])
_TRANSACTIONS = Transaction.__table__
_BY_REFERENCE = Prepared(
    select(_TRANSACTIONS.c.id).where(_TRANSACTIONS.c.client_reference == bindparam("reference"))
)
_BALANCE = select(_VENDORS.c.balance, _VENDORS.c.credit_limit).where(
    _VENDORS.c.id == bindparam("vendor_id")
)


def advice_exists(connection: Connection, vendor_id: int, client_id: str, kind: str) -> bool:
    params = {"vendor_id": vendor_id, "client_id": client_id, "kind": kind}
    return connection.execute(_ADVICE, params).first() is not None


class SaleContext:
    """The vendor and operator a transaction is made for (vending.vend.VendContext).

    One per request. After a vend it holds the float after the sale
    (``balance_after``) and whether this call made the transaction (``recorded``:
    False when the vend returned the stored receipt of an earlier call).
    """

    def __init__(self, principal: Principal, client_id: str) -> None:
        self.principal = principal
        self.client_id = client_id
        self.recorded = False
        self.balance_after: Decimal | None = None

    @property
    def parties(self) -> dict[str, Any]:
        """Who makes the transaction, as its details record it (vending.ledger_parties)."""
        return parties_details(self.principal.vendor, self.principal.operator, self.client_id)

    def record(
        self, connection: Connection, transaction_id: int, kind: str, money: Decimal, now: datetime
    ) -> None:
        vendor_id = self.principal.vendor_id
        movement: str | None = None
        # The party first: the float's row lock (below) is held to the commit, so the
        # statements after it are kept few.
        _INSERT_PARTY.run(
            connection,
            {
                "transaction_id": transaction_id,
                "vendor_id": vendor_id,
                "operator_id": self.principal.operator_id,
                "client_id": self.client_id,
                "day": now.date(),
            },
        )
        values = {
            "vendor_id": vendor_id,
            "operator_id": self.principal.operator_id,
            "amount": -money,
            "transaction_id": transaction_id,
            "note": "",
            "day": now.date(),
            "created_at": now,
        }
        if kind == "credit":
            if money <= 0:
                raise PaymentError(
                    "this meter has no tariff, so the sale would cost nothing; a vendor "
                    "sells only priced credit"
                )
            charged = _CHARGE.run(connection, {"vendor_id": vendor_id, "amount": money})
            if not charged:
                have, limit = connection.execute(_BALANCE, {"vendor_id": vendor_id}).one()
                raise InsufficientFloat(
                    f"vendor {self.principal.vendor!r} has {amount_text(have + limit)} available "
                    f"(float {amount_text(have)}, credit limit {amount_text(limit)}); the sale "
                    f"needs {amount_text(money)}"
                )
            balance = charged[0]["balance"]
            # Now under the vendor's row lock: a reversal advice that came first cancels
            # the client id (and then no movement is written).
            written = _INSERT_SALE_UNLESS_CANCELLED.run(
                connection,
                {
                    **values,
                    "kind": SALE,
                    "balance_after": balance,
                    "client_id": self.client_id,
                },
            )
            if not written:
                raise ReversedReference(
                    f"client id {self.client_id!r} was cancelled by a reversal advice before "
                    "the purchase arrived; use a new id"
                )
        elif kind == "reversal" and money != 0:
            balance = _REFUND.run(connection, {"vendor_id": vendor_id, "amount": money})[0][
                "balance"
            ]
            if advice_exists(connection, vendor_id, self.client_id, CONFIRM):
                raise ReversalRefused(
                    f"purchase {self.client_id!r} was confirmed by a confirm advice; it can no "
                    "longer be reversed"
                )
            note = refund_reference(client_reference(vendor_id, self.client_id))
            if _BY_REFERENCE.run(connection, {"reference": note}):
                raise ReversalRefused(
                    f"purchase {self.client_id!r} has a credit note (a refund); it can no "
                    "longer be reversed"
                )
            movement = REVERSAL
        else:
            balance = connection.execute(_BALANCE, {"vendor_id": vendor_id}).one()[0]
        if movement is not None:
            _INSERT_MOVEMENT.run(connection, {**values, "kind": movement, "balance_after": balance})
        self.recorded = True
        self.balance_after = balance
