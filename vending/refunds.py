"""Refunds: a credit note in the ledger for money a customer is given back, never a token revoked.

A token once sold may already be on the meter, so a refund does not undo it: it
records a *credit note*, a transaction of its own (kind ``credit-note``, money
negative, no tokens) chained into the ledger like any other, against one of the
vendor's purchases, with a reason. The vendor pays the customer back and its
float is credited with the amount. One credit note per purchase, for at most
what the purchase cost; asking again with the same amount and reason returns
the same credit note, with others it is a :class:`~vending.errors.ConflictError`.
A reversed purchase cannot be refunded, and a refunded one cannot be reversed
(vending.vendors.SaleContext checks that side).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from vending import ledger
from vending.backend import Backend
from vending.cashup import CREDIT_NOTE
from vending.errors import ConflictError, NotFoundError, PaymentError, VendingError
from vending.ledger_parties import PARTIES, parties_details
from vending.models import Transaction
from vending.sales import reference
from vending.vend import CREDIT, fingerprint
from vending.vendor_models import FloatMovement, TransactionParty, Vendor
from vending.vendors import (
    NOTE_MAX,
    Principal,
    Role,
    amount_text,
    parse_amount,
    refund_reference,
)

REFUND = "refund"


@dataclass(frozen=True)
class CreditNote:
    purchase: str  # the vendor's client id of the purchase refunded
    meter: str
    amount: Decimal
    reason: str
    time: datetime
    balance_after: Decimal | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "purchase": self.purchase,
            "meter": self.meter,
            "amount": amount_text(self.amount),
            "reason": self.reason,
            "time": self.time.isoformat(),
        }


def _reason(value: str) -> str:
    reason = value.strip() if isinstance(value, str) else ""
    if not reason or len(reason) > NOTE_MAX or not reason.isprintable():
        raise VendingError(
            f"refund reason {str(value)[:40]!r} must be 1 to {NOTE_MAX} printable characters"
        )
    return reason


def refund(
    backend: Backend, principal: Principal, purchase: str, amount: Decimal | str, reason: str
) -> CreditNote:
    """A credit note of ``amount`` against the vendor's purchase ``purchase``."""
    principal.require(Role.SUPERVISE)
    value = parse_amount(amount, "refund")
    why = _reason(reason)
    original_ref = reference(principal, purchase)
    note_ref = refund_reference(original_ref)
    print_ = fingerprint({"refunds": original_ref, "amount": amount_text(value), "reason": why})
    now = backend.now()
    with backend.sessions.begin() as session:
        # The vendor's row first: refunds, reversals and sales of one vendor take turns.
        vendor = session.execute(
            select(Vendor).where(Vendor.id == principal.vendor_id).with_for_update()
        ).scalar_one()
        original = session.execute(
            select(Transaction).where(Transaction.client_reference == original_ref)
        ).scalar_one_or_none()
        if original is None or original.kind != CREDIT:
            raise NotFoundError(f"this vendor has no purchase with client id {purchase!r}")
        done = session.execute(
            select(Transaction).where(Transaction.client_reference == note_ref)
        ).scalar_one_or_none()
        if done is not None:
            if done.fingerprint != print_:
                raise ConflictError(
                    f"purchase {purchase!r} already has a credit note of "
                    f"{amount_text(-done.money)} ({done.details.get('reason')!r}); a purchase "
                    "is refunded once"
                )
            balance = session.execute(
                select(FloatMovement.balance_after).where(FloatMovement.transaction_id == done.id)
            ).scalar_one_or_none()
            return CreditNote(
                purchase, original.meter.drn, -done.money, why, done.created_at, balance
            )
        if session.execute(
            select(Transaction.id).where(Transaction.reverses_id == original.id)
        ).first():
            raise ConflictError(f"purchase {purchase!r} was reversed; there is nothing to refund")
        if value > original.money:
            raise PaymentError(
                f"refund {amount_text(value)} is more than purchase {purchase!r} cost "
                f"({amount_text(original.money)})"
            )
        note = Transaction(
            client_reference=note_ref,
            fingerprint=print_,
            kind=CREDIT_NOTE,
            meter=original.meter,
            money=-value,
            energy=Decimal(0),
            free_energy=Decimal(0),
            fixed_charges=Decimal(0),
            debt_recovered=Decimal(0),
            details={
                "refunds": purchase,
                "reason": why,
                PARTIES: parties_details(principal.vendor, principal.operator, purchase),
            },
            reverses=None,
            day=now.date(),
            created_at=now,
        )
        session.add(note)
        session.flush()
        vendor.balance += value
        session.add_all(
            [
                FloatMovement(
                    vendor_id=vendor.id,
                    operator_id=principal.operator_id,
                    kind=REFUND,
                    amount=value,
                    balance_after=vendor.balance,
                    transaction_id=note.id,
                    note=why,
                    day=now.date(),
                    created_at=now,
                ),
                TransactionParty(
                    transaction_id=note.id,
                    vendor_id=vendor.id,
                    operator_id=principal.operator_id,
                    client_id=purchase,
                    day=now.date(),
                ),
            ]
        )
        session.flush()
        connection = session.connection()
        ledger.append(connection, backend.ledger_key(connection), note.id, ledger.facts_of(note))
        return CreditNote(purchase, original.meter.drn, value, why, now, vendor.balance)
