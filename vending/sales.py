"""What a vendor's operator does, as library calls: lookups, purchases, advices, reprints.

These are the services behind the HTTP API (vending.api), each for an
authenticated :class:`~vending.vendors.Principal`. A vendor's client ids are its
own: the transaction's client reference is ``v<vendor id>:<client id>``, so two
vendors may use the same id, and no vendor can see or replay another's.

- :func:`purchase` sells credit by money or kWh. The same client id with the
  same details returns the same receipt (and the float after that sale); with
  other details it is a :class:`~vending.errors.ConflictError`. A purchase whose
  id was reversed (or cancelled by an earlier reversal advice) is refused.
- :func:`confirm` and :func:`reverse` take the till's advices, in any order and
  any number of times. Both run under the vendor's row lock, as the float charge
  of a purchase does, so a reversal advice that overtakes its purchase cancels
  it: the purchase, when it comes, is refused.
- :func:`reprint` and :func:`last_sale` give a stored receipt again.
- :func:`management` issues clear credit, clear tamper, power limit and meter
  test tokens, recorded like a sale (no charge).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, bindparam, insert, literal, select, true, update
from sqlalchemy.orm import Session

from sts.tokens.management import Register
from sts.tokens.meter_number import validate_drn
from vending import keychange, ledger, ledger_parties, vend
from vending.backend import Backend
from vending.cashup import CREDIT_NOTE
from vending.errors import (
    DuplicateReference,
    NotFoundError,
    ReversedReference,
    UnknownRecord,
    VendingError,
)
from vending.models import Meter, Transaction
from vending.prepared import Prepared
from vending.receipt import Receipt
from vending.registry import meter_by_drn
from vending.vendor_models import Advice, FloatMovement, TransactionParty, Vendor
from vending.vendors import (
    CONFIRM,
    REVERSAL,
    SALE,
    InsufficientFloat,
    PermissionDenied,
    Principal,
    Role,
    SaleContext,
    advice_exists,
    amount_text,
    client_reference,
)

CLIENT_ID_MAX = 64
CLIENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
_CLIENT_ID = re.compile(CLIENT_ID_PATTERN)


@dataclass(frozen=True)
class Sale:
    """A receipt as the vendor sees it: its client id and the float after the sale."""

    client_id: str
    receipt: Receipt
    balance_after: Decimal | None

    def receipt_dict(self) -> dict[str, Any]:
        data = self.receipt.to_dict()
        data["client_reference"] = self.client_id
        return data


@dataclass(frozen=True)
class MeterLookup:
    drn: str
    customer: str | None
    tariff: str | None
    currency: str | None
    key_change_pending: bool
    service: str = "electricity"
    token_kind: str = "units"

    def to_dict(self) -> dict[str, Any]:
        return {
            "meter": self.drn,
            "service": self.service,
            "token_kind": self.token_kind,
            "customer": self.customer,
            "tariff": self.tariff,
            "currency": self.currency,
            "key_change_pending": self.key_change_pending,
        }


class AdviceStatus(StrEnum):
    CONFIRMED = "confirmed"
    REVERSED = "reversed"
    AWAITING_PURCHASE = "awaiting_purchase"  # a confirm for a purchase not seen (yet)


@dataclass(frozen=True)
class AdviceResult:
    client_id: str
    advice: str
    status: AdviceStatus
    balance: Decimal


def check_client_id(client_id: str) -> str:
    if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
        raise VendingError(
            f"client id {str(client_id)[:80]!r} must be 1 to {CLIENT_ID_MAX} letters, digits, "
            "'.', '_', ':' or '-', starting with a letter or digit"
        )
    return client_id


def reference(principal: Principal, client_id: str) -> str:
    """The transaction's client reference for a vendor's client id."""
    return client_reference(principal.vendor_id, check_client_id(client_id))


# --- lookups ------------------------------------------------------------------------------


def lookup(backend: Backend, drn: str) -> MeterLookup:
    """A meter as a till shows it before selling: customer, tariff, key change pending."""
    number = validate_drn(drn)
    with backend.read_sessions() as session:
        meter = meter_by_drn(session, number)
        pending = keychange.pending_order(session.connection(), meter.id, meter.key_revision)
        currency = None
        if meter.tariff is not None:
            currency = str(meter.tariff.definition.get("currency") or "") or None
        return MeterLookup(
            meter.drn,
            meter.customer.name if meter.customer else None,
            meter.tariff.name if meter.tariff else None,
            currency,
            pending is not None,
            meter.service,
            meter.token_kind,
        )


def _party(session: Session, transaction_id: int) -> TransactionParty | None:
    return session.get(TransactionParty, transaction_id)


def _balance_after(session: Session, transaction_id: int) -> Decimal | None:
    return session.execute(
        select(FloatMovement.balance_after).where(FloatMovement.transaction_id == transaction_id)
    ).scalar_one_or_none()


def _is_reversed(session: Session, transaction_id: int) -> bool:
    return (
        session.execute(
            select(Transaction.id).where(Transaction.reverses_id == transaction_id)
        ).first()
        is not None
    )


def _stored_sale(backend: Backend, principal: Principal, client_id: str, receipt: Receipt) -> Sale:
    """The sale behind a receipt a vend returned from store (a retry): it must be ours."""
    with backend.read_sessions() as session:
        party = _party(session, int(receipt.transaction_id))
        if party is None or party.vendor_id != principal.vendor_id:
            raise DuplicateReference(
                f"client id {client_id!r} belongs to a transaction not made through this "
                "vendor; use a new id"
            )
        if _is_reversed(session, int(receipt.transaction_id)):
            raise ReversedReference(f"purchase {client_id!r} was reversed; use a new id")
        return Sale(client_id, receipt, _balance_after(session, int(receipt.transaction_id)))


# --- a purchase's float charge on PostgreSQL ------------------------------------------------
#
# A sale locks two rows that every sale of the vendor (and every writer) needs: the vendor's
# float and the ledger head. Each stays locked from the statement that takes it to the
# commit, so the sales of a vendor go one at a time through that stretch, and on a busy
# machine each round trip in it costs milliseconds of waiting for a CPU. On PostgreSQL a
# purchase therefore takes both in ONE statement, its last but one: it records who sold,
# charges the float (vendor row first, then the head: the head's move joins the sale's
# movement, so no deadlock with writers that take them one by one in that order), writes
# the sale's movement and moves the head. Then only the entry's HMAC (Python), the entry
# and the commit remain. A reversal advice that cancelled the client id while the
# purchase waited for the vendor's row is seen by the entry's own statement (a snapshot
# taken after the lock), which then writes nothing, and the purchase is refused.

_VENDORS = Vendor.__table__
_MOVEMENTS = FloatMovement.__table__
_PARTIES = TransactionParty.__table__
_ADVICES = Advice.__table__
_AMOUNT = bindparam("amount", type_=_VENDORS.c.balance.type)


def _charge_and_move_head() -> Any:
    party = (
        insert(_PARTIES)
        .values({c.name: bindparam(f"p_{c.name}", type_=c.type) for c in _PARTIES.c})
        .returning(_PARTIES.c.transaction_id)
        .cte("party")
    )
    charge = (
        update(_VENDORS)
        .where(_VENDORS.c.id == bindparam("vendor_id"))
        .where(_VENDORS.c.balance - _AMOUNT >= -_VENDORS.c.credit_limit)
        .values(balance=_VENDORS.c.balance - _AMOUNT)
        .returning(_VENDORS.c.balance)
        .cte("charge")
    )
    movement = {
        "vendor_id": bindparam("vendor_id", type_=_MOVEMENTS.c.vendor_id.type),
        "operator_id": bindparam("operator_id", type_=_MOVEMENTS.c.operator_id.type),
        "kind": literal(SALE, _MOVEMENTS.c.kind.type),
        "amount": -bindparam("amount", type_=_MOVEMENTS.c.amount.type),
        "balance_after": charge.c.balance,
        "transaction_id": bindparam("p_transaction_id", type_=_MOVEMENTS.c.transaction_id.type),
        "note": literal("", _MOVEMENTS.c.note.type),
        "day": bindparam("p_day", type_=_MOVEMENTS.c.day.type),
        "created_at": bindparam("created_at", type_=_MOVEMENTS.c.created_at.type),
    }
    sale = (
        insert(_MOVEMENTS)
        .from_select(list(movement), select(*movement.values()).select_from(charge))
        .returning(_MOVEMENTS.c.balance_after)
        .cte("sale")
    )
    head = ledger.MOVE_HEAD.where(sale.c.balance_after.is_not(None)).cte("head")
    return select(charge.c.balance, head.c.seq, head.c.prev).select_from(
        party.outerjoin(charge, true()).outerjoin(head, true())
    )


_CHARGE_AND_MOVE_HEAD = Prepared(_charge_and_move_head())
_ENTRY_UNLESS_CANCELLED = ledger.entry_statement(
    ~select(_ADVICES.c.id)
    .where(
        _ADVICES.c.vendor_id == bindparam("g_vendor_id"),
        _ADVICES.c.client_id == bindparam("g_client_id"),
        _ADVICES.c.kind == REVERSAL,
    )
    .exists()
)


class _PurchaseContext(SaleContext):
    """A :class:`SaleContext` that, for a credit sale on PostgreSQL, charges the float and
    moves the ledger head in one statement (see above); ``moved_head`` tells the vend."""

    moved_head: ledger.MovedHead | None = None

    def record(
        self, connection: Connection, transaction_id: int, kind: str, money: Decimal, now: datetime
    ) -> None:
        if connection.dialect.name != "postgresql" or kind != vend.CREDIT or money <= 0:
            super().record(connection, transaction_id, kind, money, now)
            return
        principal = self.principal
        (row,) = _CHARGE_AND_MOVE_HEAD.run(
            connection,
            {
                "p_transaction_id": transaction_id,
                "p_vendor_id": principal.vendor_id,
                "p_operator_id": principal.operator_id,
                "p_client_id": self.client_id,
                "p_day": now.date(),
                "vendor_id": principal.vendor_id,
                "operator_id": principal.operator_id,
                "amount": money,
                "created_at": now,
            },
        )
        if row["balance"] is None:
            have, limit = connection.execute(
                select(_VENDORS.c.balance, _VENDORS.c.credit_limit).where(
                    _VENDORS.c.id == principal.vendor_id
                )
            ).one()
            raise InsufficientFloat(
                f"vendor {principal.vendor!r} has {amount_text(have + limit)} available "
                f"(float {amount_text(have)}, credit limit {amount_text(limit)}); the sale "
                f"needs {amount_text(money)}"
            )
        self.moved_head = ledger.MovedHead(
            row["seq"],
            row["prev"],
            _ENTRY_UNLESS_CANCELLED,
            {"g_vendor_id": principal.vendor_id, "g_client_id": self.client_id},
            ReversedReference(
                f"client id {self.client_id!r} was cancelled by a reversal advice before "
                "the purchase arrived; use a new id"
            ),
        )
        self.recorded = True
        self.balance_after = row["balance"]


def _run(backend: Backend, principal: Principal, client_id: str, call: Any) -> Sale:
    ref = reference(principal, client_id)
    context = _PurchaseContext(principal, client_id)
    receipt = call(ref, context)
    if not context.recorded:
        return _stored_sale(backend, principal, client_id, receipt)
    return Sale(client_id, receipt, context.balance_after)


def purchase(
    backend: Backend,
    principal: Principal,
    client_id: str,
    drn: str,
    money: Decimal | str | None = None,
    kwh: Decimal | str | None = None,
) -> Sale:
    """Sell credit for a meter by money or by kWh, charging the vendor's float."""
    principal.require(Role.VEND)
    return _run(
        backend,
        principal,
        client_id,
        lambda ref, context: vend.vend_credit(
            backend, drn, money=money, units=kwh, reference=ref, context=context
        ),
    )


def free_units(backend: Backend, principal: Principal, client_id: str, drn: str) -> Sale:
    """The month's free basic units for a meter (vending.vend.vend_free_units), no charge."""
    principal.require(Role.VEND)
    return _run(
        backend,
        principal,
        client_id,
        lambda ref, context: vend.vend_free_units(backend, drn, reference=ref, context=context),
    )


class ManagementKind(StrEnum):
    CLEAR_CREDIT = "clear_credit"
    CLEAR_TAMPER = "clear_tamper"
    POWER_LIMIT = "power_limit"
    METER_TEST = "meter_test"


def management(
    backend: Backend,
    principal: Principal,
    client_id: str,
    drn: str,
    kind: ManagementKind | str,
    register: Register | None = None,
    watts: int | None = None,
) -> Sale:
    """A management token for a meter, recorded for the vendor and operator."""
    principal.require(Role.ADMINISTER)
    kind = ManagementKind(kind)

    def call(ref: str, context: SaleContext) -> Receipt:
        if kind is ManagementKind.CLEAR_CREDIT:
            return vend.clear_credit(
                backend, drn, register or Register.ALL, reference=ref, context=context
            )
        if kind is ManagementKind.CLEAR_TAMPER:
            return vend.clear_tamper(backend, drn, reference=ref, context=context)
        if kind is ManagementKind.POWER_LIMIT:
            if watts is None:
                raise VendingError("a power limit token needs watts; expected 0 or more")
            return vend.set_power_limit(backend, drn, watts, reference=ref, context=context)
        return vend.meter_test(backend, drn, reference=ref, context=context)

    return _run(backend, principal, client_id, call)


# --- reprints -----------------------------------------------------------------------------


def reprint(backend: Backend, principal: Principal, client_id: str) -> Sale:
    """The stored receipt of one of the vendor's transactions."""
    principal.require(Role.SUPERVISE)
    ref = reference(principal, client_id)
    with backend.read_sessions() as session:
        txn = session.execute(
            select(Transaction).where(Transaction.client_reference == ref)
        ).scalar_one_or_none()
        if txn is None:
            raise UnknownRecord(f"no transaction of this vendor has client id {client_id!r}")
        return Sale(client_id, vend.receipt_of(txn), _balance_after(session, txn.id))


def last_sale(backend: Backend, principal: Principal, drn: str) -> Sale:
    """The receipt of the vendor's last token-bearing transaction for a meter."""
    principal.require(Role.SUPERVISE)
    number = validate_drn(drn)
    with backend.read_sessions() as session:
        row = session.execute(
            select(Transaction, TransactionParty.client_id)
            .join(TransactionParty, TransactionParty.transaction_id == Transaction.id)
            .join(Meter, Meter.id == Transaction.meter_id)
            .where(
                Meter.drn == number,
                TransactionParty.vendor_id == principal.vendor_id,
                Transaction.kind.not_in((vend.REVERSAL, CREDIT_NOTE)),
            )
            .order_by(Transaction.id.desc())
            .limit(1)
        ).first()
        if row is None:
            meter_by_drn(session, number)  # an unknown meter says so
            raise NotFoundError(f"this vendor has sold nothing for meter {number}")
        txn, client_id = row
        return Sale(client_id, vend.receipt_of(txn), _balance_after(session, txn.id))


# --- advices ------------------------------------------------------------------------------


def _lock_vendor(session: Session, vendor_id: int) -> Decimal:
    return session.execute(
        select(Vendor.balance).where(Vendor.id == vendor_id).with_for_update()
    ).scalar_one()


def confirm(backend: Backend, principal: Principal, client_id: str) -> AdviceResult:
    """A confirm advice: the till delivered the purchase's tokens. Idempotent."""
    principal.require(Role.VEND)
    ref = reference(principal, client_id)
    now = backend.now()
    with backend.sessions.begin() as session:
        balance = _lock_vendor(session, principal.vendor_id)
        txn_id = session.execute(
            select(Transaction.id).where(Transaction.client_reference == ref)
        ).scalar_one_or_none()
        connection = session.connection()
        if advice_exists(connection, principal.vendor_id, client_id, REVERSAL) or (
            txn_id is not None and _is_reversed(session, txn_id)
        ):
            return AdviceResult(client_id, CONFIRM, AdviceStatus.REVERSED, balance)
        if not advice_exists(connection, principal.vendor_id, client_id, CONFIRM):
            ledger_parties.add_advice(backend, session, principal, client_id, CONFIRM, now)
        status = AdviceStatus.CONFIRMED if txn_id is not None else AdviceStatus.AWAITING_PURCHASE
        return AdviceResult(client_id, CONFIRM, status, balance)


def reverse(backend: Backend, principal: Principal, client_id: str) -> AdviceResult:
    """A reversal advice: the till did not deliver the purchase. Idempotent.

    A purchase not seen yet is cancelled in advance (recorded as an advice); a
    purchase seen is reversed (vending.vend.reverse), its money back on the
    float, unless it was confirmed or the meter has had a later token. An
    operator with the vend role may reverse only its own purchases.
    """
    principal.require(Role.VEND)
    ref = reference(principal, client_id)
    now = backend.now()
    with backend.sessions.begin() as session:
        balance = _lock_vendor(session, principal.vendor_id)
        row = session.execute(
            select(Transaction.id, Transaction.kind).where(Transaction.client_reference == ref)
        ).first()
        if row is None:
            if not advice_exists(session.connection(), principal.vendor_id, client_id, REVERSAL):
                ledger_parties.add_advice(backend, session, principal, client_id, REVERSAL, now)
            return AdviceResult(client_id, REVERSAL, AdviceStatus.REVERSED, balance)
        party = _party(session, row.id)
        if party is None:
            raise NotFoundError(f"no transaction of this vendor has client id {client_id!r}")
        if not principal.role.allows(Role.SUPERVISE) and party.operator_id != principal.operator_id:
            raise PermissionDenied(
                f"operator {principal.operator!r} has role vend and may reverse only its own "
                f"purchases; {client_id!r} was made by another operator"
            )
    context = SaleContext(principal, client_id)
    vend.reverse(backend, ref, context=context)
    if context.balance_after is not None:
        balance = context.balance_after
    else:
        with backend.read_sessions() as session:
            balance = session.execute(
                select(Vendor.balance).where(Vendor.id == principal.vendor_id)
            ).scalar_one()
    return AdviceResult(client_id, REVERSAL, AdviceStatus.REVERSED, balance)


def current_float(backend: Backend, principal: Principal) -> tuple[Decimal, Decimal]:
    """The vendor's float and credit limit now."""
    with backend.read_sessions() as session:
        row = session.execute(
            select(Vendor.balance, Vendor.credit_limit).where(Vendor.id == principal.vendor_id)
        ).one()
        return row.balance, row.credit_limit
