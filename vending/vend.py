"""Vending: credit by money or units, management and test tokens, reprint and reversal.

Every vend is one database transaction, in this order:

1. lock the meter's row (vending.tids.lock_meter);
2. look up the client reference: the same reference with the same request
   returns the stored receipt (a retry never mints a second token), with a
   different request it is a :class:`~vending.errors.ConflictError`;
3. hand out a pending key change order's KCT set first, and switch the meter to
   its new key (vending.keychange);
4. price the credit (month-to-date summed from the meter's transactions this
   UTC month), split it over as many tokens as one token's maximum needs, and
   give each token the meter's next TID (vending.tids.allocate_tid);
5. store the transaction and its tokens and chain its ledger entry.

Anything that fails rolls the whole transaction back: the ledger, the meter's
last TID and the orders are as they were. Time and randomness come from the
:class:`~vending.backend.Backend`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import (
    ARRAY,
    Boolean,
    Connection,
    bindparam,
    func,
    insert,
    select,
    true,
    update,
)

from sts.amounts import parse_amount
from sts.codec import encode
from sts.errors import shown
from sts.tokens.base import Token
from sts.tokens.credit import CreditKind, CurrencyCredit, TransferCredit
from sts.tokens.management import (
    ClearCredit,
    ClearTamper,
    Register,
    SetPhaseUnbalanceLimit,
    SetPowerLimit,
)
from sts.tokens.meter_number import validate_drn
from sts.tokens.meter_test import ALL_TESTS, MeterTestToken
from vending import keychange, ledger, limits, storage, tables
from vending.backend import Backend
from vending.errors import (
    AmountTooHigh,
    ConcurrentVendError,
    DuplicateReference,
    NoFreeUnitsDue,
    NotFoundError,
    PaymentError,
    ReversalRefused,
    UnknownRecord,
    VendingError,
    WrongService,
)
from vending.kinds import Service, TokenKind
from vending.prepared import Prepared
from vending.receipt import Receipt, ReceiptToken
from vending.tariff import (
    Breakdown,
    MonthToDate,
    Tariff,
    price_currency,
    price_free_units,
    price_money,
    price_units,
    split_units,
)
from vending.tids import LockedMeter, allocate_tid, lock_meter, lock_meter_row, save_meter

if TYPE_CHECKING:
    from vending.models import Transaction

CREDIT = "credit"
CLEAR_CREDIT = "clear-credit"
CLEAR_TAMPER = "clear-tamper"
POWER_LIMIT = "power-limit"
PHASE_UNBALANCE = "phase-unbalance"
TEST = "test"
KEY_CHANGE = "key-change"
REVERSAL = "reversal"
FREE_UNITS = "free-units"


class VendContext(Protocol):
    """Who a transaction is made for (vending.vendors.SaleContext): told of each new
    transaction inside its database transaction, before its ledger entry, and may refuse
    it by raising (a vendor's float that cannot pay)."""

    def record(
        self, connection: Connection, transaction_id: int, kind: str, money: Decimal, now: datetime
    ) -> None: ...


#: Subclasses of a KCT set in the order sts.tokens.keychange.KeyChangeOrder.tokens() gives.
KCT_SUBCLASSES = (3, 4, 8, 9)


# --- one vend ----------------------------------------------------------------------------

_TRANSACTIONS = tables.transactions
_TOKENS = tables.tokens
_CUSTOMERS = tables.customers
_METERS = tables.meters
ZERO = Decimal(0)


def _all_but_id(table: Any) -> list[str]:
    """The columns a vend inserts: all but the id the database assigns."""
    return [column.name for column in table.c if column.name != "id"]


_INSERT_TRANSACTION = Prepared(
    insert(_TRANSACTIONS).returning(_TRANSACTIONS.c.id), _all_but_id(_TRANSACTIONS)
)
_INSERT_TOKENS = Prepared(insert(_TOKENS), _all_but_id(_TOKENS))
#: A token row's own fields (the rest are the transaction's and the meter's).
_TOKEN_FIELDS = [
    name for name in _all_but_id(_TOKENS) if name not in ("transaction_id", "meter_id")
]


def _store_all(arrays: bool = True) -> Any:
    """PostgreSQL: the transaction, its tokens (one array per field, or with ``arrays``
    False one token's fields as they are) and the meter's last TID in one statement,
    returning the transaction's id; three round trips fewer than one statement each (see
    vending.prepared on why statements cost). Most vends make one token, and arrays cost
    the driver more to send than plain values."""
    txn = (
        insert(_TRANSACTIONS)
        .values(
            {
                name: bindparam(name, type_=_TRANSACTIONS.c[name].type)
                for name in _all_but_id(_TRANSACTIONS)
            }
        )
        .returning(_TRANSACTIONS.c.id)
        .cte("txn")
    )
    meter_id = bindparam("meter_id", type_=_TOKENS.c.meter_id.type)
    if arrays:
        fields = (
            func.unnest(
                *(
                    bindparam(f"t_{name}", type_=ARRAY(_TOKENS.c[name].type))
                    for name in _TOKEN_FIELDS
                )
            )
            .table_valued(*_TOKEN_FIELDS)
            .render_derived(name="t")
        )
        rows = (
            select(txn.c.id, meter_id, *(fields.c[name] for name in _TOKEN_FIELDS))
            .select_from(txn)
            .join(fields, true())
        )
    else:
        rows = select(
            txn.c.id,
            meter_id,
            *(bindparam(f"t_{name}", type_=_TOKENS.c[name].type) for name in _TOKEN_FIELDS),
        ).select_from(txn)
    tokens = insert(_TOKENS).from_select(["transaction_id", "meter_id", *_TOKEN_FIELDS], rows)
    save_tid = (
        update(_METERS)
        .where(_METERS.c.id == meter_id, bindparam("save_tid", type_=Boolean()))
        .values(last_tid=bindparam("last_tid", type_=_METERS.c.last_tid.type))
    )
    return select(txn.c.id).add_cte(tokens.cte("tokens")).add_cte(save_tid.cte("save_tid"))


_STORE_ALL = Prepared(_store_all())
_STORE_ONE = Prepared(_store_all(arrays=False))
_RECOVER_DEBT = (
    update(_CUSTOMERS)
    .where(_CUSTOMERS.c.id == bindparam("customer_id"))
    .values(debt=_CUSTOMERS.c.debt - bindparam("recovered", type_=_CUSTOMERS.c.debt.type))
)


@dataclass(frozen=True)
class _IssuedToken:
    tid: int | None
    token_class: int
    subclass: int
    digits: str
    description: str
    units: int | None
    key_revision: int


class _Vend:
    """The tokens and amounts of one transaction being built, in the order they are entered."""

    def __init__(
        self, backend: Backend, connection: Connection, meter: LockedMeter, now: datetime
    ) -> None:
        self.backend = backend
        self.connection = connection
        self.meter = meter
        self.now = now
        self.tokens: list[_IssuedToken] = []
        self.details: dict[str, Any] = {}
        self.breakdown: Breakdown | None = None
        self.energy = ZERO  # kWh credited without a tariff
        self.key_change_order_id: int | None = None

    def key_change_first(self) -> None:
        """Hand out the meter's pending KCT set, then move the meter to its new key."""
        if self.meter.pending_order_id is None:
            return
        order = keychange.order_by_id(self.connection, self.meter.pending_order_id)
        for position, digits in enumerate(order.kct_digits.split()):
            self._add(digits, None, 2, KCT_SUBCLASSES[position], f"Key change {position + 1}")
        keychange.apply_order(self.connection, self.meter, order, self.now)
        self.key_change_order_id = order.id
        self.details["key_change_order"] = order.id

    def _add(
        self,
        digits: str,
        tid: int | None,
        token_class: int,
        subclass: int,
        description: str,
        units: int | None = None,
    ) -> None:
        self.tokens.append(
            _IssuedToken(
                tid, token_class, subclass, digits, description, units, self.meter.key_revision
            )
        )

    def issue(
        self,
        make: Callable[[int, int], Token],
        describe: Callable[[Token], str],
        units: int | None = None,
    ) -> Token:
        """Allocate the next TID, make the token with (tid, rnd), encrypt and add it."""
        tid = allocate_tid(self.meter, self.now)
        token = make(tid, self.backend.random_nibble())
        key = self.backend.meter_key(self.connection, self.meter)
        digits = encode(token, key, ea=self.meter.ea)
        self._add(digits, tid, int(token.token_class), token.subclass, describe(token), units)
        return token

    def credit_units(
        self,
        units: int,
        max_token_kwh: Decimal,
        kind: CreditKind = CreditKind.ELECTRICITY,
        label: str = "Credit",
    ) -> None:
        """Credit tokens of ``kind`` (subclass 0, 1 or 2) for ``units`` (0.1 kWh or 0.1 m3),
        split where one token (or the meter's register, ``max_token_kwh``) cannot carry them."""
        unit = kind.unit
        for chunk in split_units(units, int(max_token_kwh.scaleb(1))):
            self.issue(
                lambda tid, rnd, chunk=chunk: TransferCredit.for_units(kind, chunk, tid, rnd),
                lambda _token, chunk=chunk: f"{label} {Decimal(chunk).scaleb(-1)} {unit}",
                units=chunk,
            )

    def credit_currency(self, kind: CreditKind, money: Decimal, currency: str) -> None:
        """One currency token (subclass 4, 5 or 6) carrying ``money`` exactly (the caller
        rounded it to what the amount field holds: vending.tariff.currency_carried)."""
        scaled = int(money.scaleb(5))
        self.issue(
            lambda tid, _rnd: CurrencyCredit.for_amount(kind, scaled, tid),
            lambda _token: f"Credit {money:f} {currency}",
        )

    def unencrypted(self, token: Token, description: str) -> None:
        """A class 1 token: no key, no TID."""
        self._add(encode(token), None, int(token.token_class), token.subclass, description)

    def facts(self, reference: str, kind: str) -> ledger.EntryFacts:
        b = self.breakdown
        return ledger.EntryFacts(
            reference=reference,
            kind=kind,
            meter=self.meter.drn,
            at=self.now,
            money=b.charged if b else ZERO,
            energy=b.energy_kwh if b else self.energy,
            free_energy=b.free_kwh if b else ZERO,
            fixed_charges=b.fixed_charges if b else ZERO,
            debt_recovered=b.debt_recovered if b else ZERO,
            reverses=None,
            tokens=tuple(
                ledger.EntryToken(
                    t.tid,
                    t.token_class,
                    t.subclass,
                    t.digits,
                    t.key_revision,
                    t.units,
                    t.description,
                )
                for t in self.tokens
            ),
        )


def fingerprint(data: dict[str, Any]) -> str:
    """SHA-256 of the request's canonical JSON: what "the same details" means."""
    return hashlib.sha256(ledger.canonical_json(data).encode()).hexdigest()


def _new_reference(backend: Backend, drn: str, now: datetime) -> str:
    return f"{now:%Y%m%d%H%M%S}-{drn}-{backend.rng.getrandbits(32):08x}"


def _run(
    backend: Backend,
    drn: str,
    kind: str,
    reference: str | None,
    request: dict[str, Any],
    build: Callable[[_Vend], None],
    key_change: bool = True,
    context: VendContext | None = None,
) -> Receipt:
    number = validate_drn(drn)
    if reference is not None:
        reference = _reference(reference)
    print_ = fingerprint({"meter": number, "kind": kind, **request})
    for attempt in (1, 2):
        try:
            return _attempt(backend, number, kind, reference, print_, build, key_change, context)
        except storage.ConcurrentWriteError:
            # Another vend took this reference at the same moment (for another meter, or a
            # TID clash that the row lock should have prevented): the retry finds it.
            if attempt == 2:
                raise ConcurrentVendError(
                    f"vend for meter {number} clashed with a concurrent vend; nothing was "
                    "written, try again"
                ) from None
    raise AssertionError("unreachable")


REFERENCE_LENGTH = 100  # = the transactions.client_reference column


def _reference(reference: object) -> str:
    """A client reference: 1 to 100 characters of printable text."""
    return limits.check_text(reference, "client reference", REFERENCE_LENGTH)


def _stored(connection: Connection, earlier_id: int, earlier_print: str, print_: str) -> Receipt:
    """The receipt of the earlier vend with this reference, if the request is the same."""
    # A retry is rare: the ORM is loaded for it, not for every vend.
    from sqlalchemy.orm import Session

    from vending.models import Transaction

    session = Session(bind=connection)
    existing = session.get_one(Transaction, earlier_id)
    reference = existing.client_reference
    if earlier_print != print_:
        raise DuplicateReference(
            f"client reference {shown(reference)} was already used for another request "
            f"({existing.kind} for meter {existing.meter.drn}); use a new reference"
        )
    return receipt_of(existing)


def _attempt(
    backend: Backend,
    number: str,
    kind: str,
    reference: str | None,
    print_: str,
    build: Callable[[_Vend], None],
    key_change: bool,
    context: VendContext | None = None,
) -> Receipt:
    with storage.connect(backend) as connection:
        now = backend.now()
        meter = lock_meter_row(connection, number, reference, _month_start(now))
        if reference is None:
            reference = _new_reference(backend, number, now)
        elif meter.earlier_id is not None:
            assert meter.earlier_fingerprint is not None
            return _stored(connection, meter.earlier_id, meter.earlier_fingerprint, print_)
        vend = _Vend(backend, connection, meter, now)
        revision, last_tid = meter.key_revision, meter.last_tid
        if key_change:
            vend.key_change_first()
        build(vend)
        if not vend.tokens:
            raise VendingError(f"{kind} for meter {number} produced no token")
        facts = vend.facts(reference, kind)
        details = dict(vend.details)
        if vend.breakdown is not None:
            details["breakdown"] = vend.breakdown.to_dict()
        if (parties := getattr(context, "parties", None)) is not None:
            details["parties"] = parties  # who sold: chained by the entry's details digest
        transaction = {
            "client_reference": reference,
            "fingerprint": print_,
            "kind": kind,
            "meter_id": meter.id,
            "money": facts.money,
            "energy": facts.energy,
            "free_energy": facts.free_energy,
            "fixed_charges": facts.fixed_charges,
            "debt_recovered": facts.debt_recovered,
            "details": details,
            "reverses_id": None,
            "key_change_order_id": vend.key_change_order_id,
            "day": now.date(),
            "created_at": now,
        }
        tokens = [
            {
                "key_revision": t.key_revision,
                "position": position,
                "tid": t.tid,
                "token_class": t.token_class,
                "subclass": t.subclass,
                "digits": t.digits,
                "units": t.units,
                "description": t.description,
            }
            for position, t in enumerate(vend.tokens)
        ]
        key_changed = meter.key_revision != revision
        if connection.dialect.name == "postgresql" and not key_changed:
            if len(tokens) == 1:
                store, fields = _STORE_ONE, {f"t_{name}": tokens[0][name] for name in _TOKEN_FIELDS}
            else:
                store = _STORE_ALL
                fields = {f"t_{name}": [t[name] for t in tokens] for name in _TOKEN_FIELDS}
            (stored,) = store.run(
                connection,
                {
                    **transaction,
                    **fields,
                    "last_tid": meter.last_tid,
                    "save_tid": meter.last_tid != last_tid,
                },
            )
            txn_id = stored["id"]
        else:
            (inserted,) = _INSERT_TRANSACTION.run(connection, transaction)
            txn_id = inserted["id"]
            rows = [{"transaction_id": txn_id, "meter_id": meter.id, **t} for t in tokens]
            _INSERT_TOKENS.run(connection, rows[0] if len(rows) == 1 else rows)
            if key_changed or meter.last_tid != last_tid:
                save_meter(connection, meter, key_changed)
        if facts.debt_recovered and meter.customer_id is not None:
            connection.execute(
                _RECOVER_DEBT, {"customer_id": meter.customer_id, "recovered": facts.debt_recovered}
            )
        recovered_from = meter.customer_name if facts.debt_recovered else None
        # Everything the entry needs is made before the context charges a float: from
        # there to the commit the vendor's row (and the ledger head) stay locked.
        key = backend.ledger_key(connection)
        body = ledger.canonical_json(
            replace(
                facts, details=details, customer=recovered_from, state=ledger.meter_state(meter)
            ).body()
        )
        if context is not None:
            context.record(connection, txn_id, kind, facts.money, now)
        # A context may have moved the ledger head in its own statement (vending.sales).
        moved = getattr(context, "moved_head", None)
        ledger.append_text(connection, key, txn_id, now, body, moved)
        return Receipt(
            transaction_id=txn_id,
            meter_drn=meter.drn,
            time=now,
            tokens=tuple(ReceiptToken(t.digits, t.description, t.units) for t in vend.tokens),
            kind=kind,
            customer=meter.customer_name,
            tariff_name=meter.tariff_name,
            client_reference=reference,
            breakdown=vend.breakdown,
        )


# --- credit ------------------------------------------------------------------------------


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f")


_TARIFF_CACHE: dict[int, tuple[str, Tariff]] = {}


def _tariff(tariff_id: int, definition: str) -> Tariff:
    """The tariff stored as JSON text ``definition``, parsed once per text.

    A replaced tariff (or another database's tariff with the same id) has other
    text and is parsed afresh.
    """
    cached = _TARIFF_CACHE.get(tariff_id)
    if cached is not None and cached[0] == definition:
        return cached[1]
    tariff = Tariff.from_dict(json.loads(definition))
    _TARIFF_CACHE[tariff_id] = (definition, tariff)
    return tariff


_MONTH = select(
    func.sum(_TRANSACTIONS.c.energy),
    func.sum(_TRANSACTIONS.c.free_energy),
    func.sum(_TRANSACTIONS.c.fixed_charges),
).where(
    _TRANSACTIONS.c.meter_id == bindparam("meter_id"), _TRANSACTIONS.c.day >= bindparam("first")
)
_DEBT = select(_CUSTOMERS.c.debt).where(_CUSTOMERS.c.id == bindparam("customer_id"))


def _month_start(now: datetime) -> date:
    return date(now.year, now.month, 1)


def month_to_date(
    connection: Connection, meter: LockedMeter, now: datetime, lock_debt: bool
) -> MonthToDate:
    """The meter's kWh bought, free kWh and fixed charges paid this UTC month, and its
    customer's debt (the customer row locked when the vend may recover debt)."""
    first = _month_start(now)
    if meter.month_start == first:
        energy, free, fixed = meter.month_energy, meter.month_free, meter.month_fixed
    else:
        energy, free, fixed = connection.execute(
            _MONTH, {"meter_id": meter.id, "first": first}
        ).one()
    debt = ZERO
    if meter.customer_id is not None:
        if lock_debt:
            debt = connection.execute(
                _DEBT.with_for_update(), {"customer_id": meter.customer_id}
            ).scalar_one()
        else:
            debt = meter.customer_debt or ZERO
    return MonthToDate(
        kwh_this_month=max(energy or ZERO, ZERO),
        fixed_charges_paid=(fixed or ZERO) > 0,
        free_units_given=max(free or ZERO, ZERO),
        debt_outstanding=debt,
    )


def vend_credit(
    backend: Backend,
    drn: str,
    money: Decimal | str | None = None,
    units: Decimal | str | None = None,
    reference: str | None = None,
    context: VendContext | None = None,
) -> Receipt:
    """Credit a meter by ``money`` (through its tariff) or by ``units`` in kWh.

    By money the tariff's breakdown decides the kWh; by units a meter with a
    tariff is charged what the tariff asks for them, a meter without one is
    credited without charge. Amounts above the tariff's ``max_token_kwh`` (the
    meter's register) are split over several tokens; a vend above its
    ``max_vend_kwh`` is refused (vending.limits has the defaults for a meter
    without a tariff). Form and absolute ceilings are checked before the
    database is touched.
    """
    if (money is None) == (units is None):
        raise PaymentError("give either money or units (kWh) to vend, not both or neither")
    if money is not None:
        amount = parse_amount(money, limits.PAYMENT, PaymentError)
        request = {"money": _plain(amount)}
    else:
        amount = parse_amount(units, limits.ENERGY, PaymentError)
        request = {"kwh": _plain(amount)}

    def build(vend: _Vend) -> None:
        meter = vend.meter
        service, token_kind = Service(meter.service), TokenKind(meter.token_kind)
        if token_kind is TokenKind.CURRENCY and money is None:
            raise WrongService(
                f"meter {meter.drn} takes currency tokens; vend it by money, not by units",
                "kwh",
                str(amount),
            )
        if meter.tariff_id is None or meter.tariff_definition is None:
            if money is not None:
                raise NotFoundError(
                    f"meter {meter.drn} has no tariff, so money cannot be turned into "
                    "units; give it one with `sts meters set --tariff` or vend by units"
                )
            if amount > limits.DEFAULT_MAX_VEND_KWH:
                raise AmountTooHigh(
                    f"energy {amount} kWh is above the limit of {limits.DEFAULT_MAX_VEND_KWH} "
                    f"kWh per vend for meter {meter.drn}, which has no tariff"
                )
            vend.energy = amount
            vend.credit_units(
                int(amount.scaleb(1)),
                limits.DEFAULT_MAX_TOKEN_KWH,
                service.credit_kind(TokenKind.UNITS),
            )
            return
        tariff = _checked_tariff(meter)
        month = month_to_date(
            vend.connection, meter, vend.now, lock_debt=bool(tariff.debt_recovery_percent)
        )
        if token_kind is TokenKind.CURRENCY:
            assert money is not None
            breakdown = price_currency(tariff, amount, month)
            assert breakdown.currency_credit is not None
            vend.breakdown = breakdown
            vend.credit_currency(
                service.credit_kind(token_kind), breakdown.currency_credit, tariff.currency
            )
            return
        if money is not None:
            breakdown = price_money(tariff, amount, month)
        else:
            breakdown = price_units(tariff, amount, month)
        vend.breakdown = breakdown
        vend.credit_units(breakdown.units, tariff.max_token_kwh, service.credit_kind(token_kind))

    return _run(backend, drn, CREDIT, reference, request, build, context=context)


def _checked_tariff(meter: LockedMeter) -> Tariff:
    """The meter's tariff, refused when it prices another service than the meter's."""
    assert meter.tariff_id is not None and meter.tariff_definition is not None
    tariff = _tariff(meter.tariff_id, meter.tariff_definition)
    if meter.customer_free_units is not None:  # the customer's own allowance wins
        own = meter.customer_free_units.quantize(Decimal("0.1"))
        tariff = replace(tariff, free_units_kwh=own)
    if tariff.service != meter.service:
        raise WrongService(
            f"tariff {tariff.name!r} prices {tariff.service} ({tariff.unit}) but meter "
            f"{meter.drn} is a {meter.service} meter; give it a {meter.service} tariff",
            "tariff",
            tariff.name,
        )
    return tariff


def vend_free_units(
    backend: Backend,
    drn: str,
    reference: str | None = None,
    context: VendContext | None = None,
) -> Receipt:
    """The month's free basic units (Electrum's BSST) as a token of their own, no money.

    Due once per UTC calendar month when the meter's customer (its own
    allowance, vending.registry.set_customer) or tariff grants them
    (``free_units_kwh``) and they were not given yet this month, by an earlier
    free units vend or on the month's first purchase (vending.tariff adds what is
    left of the allowance to a unit token bought). Otherwise :class:`NoFreeUnitsDue`.
    The token is a unit token of the meter's service (subclass 0, 1 or 2), also
    for a meter in currency mode: its units go to the meter's energy (or water,
    gas) register. Recorded in the ledger like a sale, with no money.
    """

    def build(vend: _Vend) -> None:
        meter = vend.meter
        if meter.tariff_id is None or meter.tariff_definition is None:
            raise NoFreeUnitsDue(
                f"no free units due: meter {meter.drn} has no tariff to grant them", "meter", drn
            )
        tariff = _checked_tariff(meter)
        month = month_to_date(vend.connection, meter, vend.now, lock_debt=False)
        breakdown = price_free_units(tariff, month)
        vend.breakdown = breakdown
        vend.credit_units(
            int(breakdown.free_kwh.scaleb(1)),
            tariff.max_token_kwh,
            Service(meter.service).credit_kind(TokenKind.UNITS),
            label="Free basic",
        )

    return _run(backend, drn, FREE_UNITS, reference, {}, build, context=context)


# --- management and test tokens ----------------------------------------------------------


def clear_credit(
    backend: Backend,
    drn: str,
    register: Register = Register.ALL,
    reference: str | None = None,
    context: VendContext | None = None,
) -> Receipt:
    """A ClearCredit token for one register, or all."""
    register = Register(register)

    def build(vend: _Vend) -> None:
        vend.issue(
            lambda tid, rnd: ClearCredit.for_register(register, tid, rnd),
            lambda _token: f"Clear credit ({register.name.lower().replace('_', ' ')})",
        )

    return _run(
        backend, drn, CLEAR_CREDIT, reference, {"register": int(register)}, build, context=context
    )


def clear_tamper(
    backend: Backend, drn: str, reference: str | None = None, context: VendContext | None = None
) -> Receipt:
    """A ClearTamperCondition token."""

    def build(vend: _Vend) -> None:
        vend.issue(lambda tid, rnd: ClearTamper(rnd, tid, 0), lambda _token: "Clear tamper")

    return _run(backend, drn, CLEAR_TAMPER, reference, {}, build, context=context)


def _watts(watts: int, what: str) -> int:
    if not isinstance(watts, int) or isinstance(watts, bool) or watts < 0:
        raise VendingError(f"{what} {watts!r} W is not a whole number of watts, 0 or more")
    return watts


def _watts_of(token: Token) -> int:
    assert isinstance(token, SetPowerLimit | SetPhaseUnbalanceLimit)
    return token.watts


def set_power_limit(
    backend: Backend,
    drn: str,
    watts: int,
    reference: str | None = None,
    context: VendContext | None = None,
) -> Receipt:
    """A SetMaximumPowerLimit token (the amount coding may round the watts up)."""
    watts = _watts(watts, "power limit")

    def build(vend: _Vend) -> None:
        token = vend.issue(
            lambda tid, rnd: SetPowerLimit.for_watts(watts, tid, rnd),
            lambda token: f"Power limit {_watts_of(token)} W",
        )
        vend.details["watts"] = _watts_of(token)

    return _run(backend, drn, POWER_LIMIT, reference, {"watts": watts}, build, context=context)


def set_phase_unbalance(
    backend: Backend, drn: str, watts: int, reference: str | None = None
) -> Receipt:
    """A SetMaximumPhasePowerUnbalanceLimit token."""
    watts = _watts(watts, "phase unbalance limit")

    def build(vend: _Vend) -> None:
        token = vend.issue(
            lambda tid, rnd: SetPhaseUnbalanceLimit.for_watts(watts, tid, rnd),
            lambda token: f"Phase unbalance limit {_watts_of(token)} W",
        )
        vend.details["watts"] = _watts_of(token)

    return _run(backend, drn, PHASE_UNBALANCE, reference, {"watts": watts}, build)


def meter_test(
    backend: Backend,
    drn: str,
    control: int | None = None,
    reference: str | None = None,
    context: VendContext | None = None,
) -> Receipt:
    """A class 1 InitiateMeterTest/Display token for the meter's manufacturer code.

    ``control`` is the bit mask of tests (sts.tokens.meter_test.TestControl);
    None asks for all of them. No key, no TID, no key change.
    """
    number = validate_drn(drn)
    variant = 0 if len(number) == 11 else 1
    mfr = int(number[:2]) if variant == 0 else int(number[:4])
    bits = ALL_TESTS[variant] if control is None else int(control)
    token = MeterTestToken(variant, bits, mfr)

    def build(vend: _Vend) -> None:
        vend.unencrypted(token, "Meter test" if control is None else f"Meter test {bits:#x}")

    return _run(
        backend, drn, TEST, reference, {"control": bits}, build, key_change=False, context=context
    )


def issue_key_change(backend: Backend, drn: str, reference: str | None = None) -> Receipt:
    """Hand out a meter's pending KCT set on its own, without credit."""

    def build(vend: _Vend) -> None:
        if not vend.tokens:
            raise NotFoundError(f"meter {vend.meter.drn} has no pending key change order")

    return _run(backend, drn, KEY_CHANGE, reference, {}, build)


# --- receipts, reprints and reversals ------------------------------------------------------


def receipt_of(txn: Transaction) -> Receipt:
    """The receipt of a stored transaction."""
    breakdown = txn.details.get("breakdown")
    meter = txn.meter
    tokens = tuple(ReceiptToken(t.digits, t.description, t.units) for t in txn.tokens)
    return Receipt(
        transaction_id=txn.id,
        meter_drn=meter.drn,
        time=txn.created_at,
        tokens=tokens,
        kind=txn.kind,
        customer=meter.customer.name if meter.customer else None,
        tariff_name=meter.tariff.name if meter.tariff else None,
        client_reference=txn.client_reference,
        breakdown=Breakdown.from_dict(breakdown) if breakdown else None,
    )


def reprint(backend: Backend, reference: str | None = None, drn: str | None = None) -> Receipt:
    """The stored receipt of a reference, or of the meter's last token-bearing transaction."""
    from vending.models import Meter, Transaction

    if reference is not None:
        reference = _reference(reference)
    with storage.read(backend) as session:
        if reference is not None:
            txn = session.execute(
                select(Transaction).where(Transaction.client_reference == reference)
            ).scalar_one_or_none()
            if txn is None:
                raise UnknownRecord(f"no transaction has client reference {shown(reference)}")
        elif drn is not None:
            number = validate_drn(drn)
            txn = session.execute(
                select(Transaction)
                .join(Meter, Meter.id == Transaction.meter_id)
                .where(Meter.drn == number, Transaction.kind != REVERSAL)
                .order_by(Transaction.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            if txn is None:
                raise NotFoundError(f"meter {number} has no transaction to reprint")
        else:
            raise VendingError("give a client reference or a meter number to reprint")
        if txn.kind == REVERSAL:
            raise VendingError(f"transaction {shown(reference)} is a reversal; it has no tokens")
        return receipt_of(txn)


@dataclass(frozen=True)
class Reversal:
    """A compensating entry: the reversed vend's amounts, negated."""

    reference: str
    reverses: str
    meter: str
    money: Decimal
    energy_kwh: Decimal
    time: datetime
    already: bool = False  # True when the vend had been reversed before this call

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "reverses": self.reverses,
            "meter": self.meter,
            "money": str(self.money),
            "energy_kwh": str(self.energy_kwh),
            "time": self.time.isoformat(),
            "already_reversed": self.already,
        }


def _reversal_of(txn: Transaction) -> Reversal:
    assert txn.reverses is not None and txn.reverses.client_reference is not None
    # A reversal has no client reference of its own (it names the vend it reverses by
    # id), so it can never collide with one; this text is only for display.
    return Reversal(
        f"reversal:{txn.reverses.client_reference}",
        txn.reverses.client_reference,
        txn.meter.drn,
        txn.money,
        txn.energy,
        txn.created_at,
    )


def reverse(backend: Backend, reference: str, context: VendContext | None = None) -> Reversal:
    """Record a compensating entry for a credit vend.

    Refused once the meter has been given a later token (it may have seen the
    reversed one); a token is never revoked. Reversing again returns the same
    reversal.
    """
    from vending.models import Customer, TokenRecord, Transaction

    reference = _reference(reference)
    with storage.write(backend) as session:
        original = session.execute(
            select(Transaction).where(Transaction.client_reference == reference)
        ).scalar_one_or_none()
        if original is None:
            raise NotFoundError(f"no transaction has client reference {shown(reference)}")
        meter = lock_meter(session, original.meter.drn)
        done = session.execute(
            select(Transaction).where(Transaction.reverses_id == original.id)
        ).scalar_one_or_none()
        if done is not None:
            return replace(_reversal_of(done), already=True)
        if original.kind != CREDIT:
            raise VendingError(
                f"transaction {shown(reference)} is a {original.kind}; only credit can be reversed"
            )
        later = session.execute(
            select(TokenRecord.id)
            .where(TokenRecord.meter_id == meter.id, TokenRecord.transaction_id > original.id)
            .limit(1)
        ).first()
        if later is not None:
            raise ReversalRefused(
                f"meter {meter.drn} has been given a later token than {shown(reference)}; it "
                "can no longer be reversed"
            )
        now = backend.now()
        txn = Transaction(
            client_reference=None,
            fingerprint=fingerprint({"reverses": reference}),
            kind=REVERSAL,
            meter=meter,
            money=-original.money,
            energy=-original.energy,
            free_energy=-original.free_energy,
            fixed_charges=-original.fixed_charges,
            debt_recovered=-original.debt_recovered,
            details={"reverses": reference}
            | ({} if (who := getattr(context, "parties", None)) is None else {"parties": who}),
            reverses=original,
            day=now.date(),
            created_at=now,
        )
        session.add(txn)
        debtor = None
        if original.debt_recovered and meter.customer_id is not None:
            customer = session.execute(
                select(Customer).where(Customer.id == meter.customer_id).with_for_update()
            ).scalar_one()
            customer.debt += original.debt_recovered
            debtor = customer.name
        session.flush()
        connection = session.connection()
        if context is not None:
            context.record(connection, txn.id, REVERSAL, txn.money, now)
        ledger.append(
            connection, backend.ledger_key(connection), txn.id, ledger.facts_of(txn, debtor)
        )
        return _reversal_of(txn)
