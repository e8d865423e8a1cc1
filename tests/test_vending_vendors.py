"""Vendors, floats, operators and API keys, and sales through a vendor (library level).

Every figure is worked by hand on the "Flat" tariff: 2.00 per kWh, no charges or
VAT, so money M buys M / 2 kWh and costs the float exactly M.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from conftest import TEST_MASTER_KEY, register_vector_meter
from sqlalchemy import func, select, text

from vending import registry, sales, vendors
from vending.backend import Backend
from vending.db import Database
from vending.errors import ConflictError, DuplicateError, NotFoundError, PaymentError
from vending.ledger_check import verify_connection
from vending.models import LedgerEntry, Transaction
from vending.tariff import Block, Tariff
from vending.vendor_models import FloatMovement, Operator, TransactionParty

FLAT = Tariff(name="Flat", currency="ZAR", blocks=(Block(None, Decimal("2.00")),))


@pytest.fixture
def flat_meter(backend: Backend) -> str:
    registry.add_tariff(backend, FLAT)
    return register_vector_meter(backend, tariff="Flat")


def count(database: Database, model: type) -> int:
    with database.sessions() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def principal(backend: Backend, vendor: str, name: str, role: str) -> vendors.Principal:
    return vendors.authenticate(backend, vendors.add_operator(backend, vendor, name, role).api_key)


def test_floats_move_by_top_ups_and_adjustments(backend: Backend) -> None:
    shop = vendors.add_vendor(backend, "Corner Shop", credit_limit="100")
    assert (shop.balance, shop.credit_limit, shop.available) == (0, 100, 100)
    assert vendors.top_up(backend, "Corner Shop", "500.00").balance_after == Decimal(500)
    moved = vendors.adjust(backend, "Corner Shop", "-50.25", note="bank charge")
    assert moved.balance_after == Decimal("449.75")
    # An adjustment may use the credit limit but not pass it: 449.75 - 549.75 = -100.
    assert vendors.adjust(backend, "Corner Shop", "-549.75", note="x").balance_after == -100
    with pytest.raises(vendors.InsufficientFloat, match=r"-100\.01"):
        vendors.adjust(backend, "Corner Shop", "-0.01", note="one cent more")
    listed = vendors.movements(backend, "Corner Shop")
    assert [(m.kind, m.amount) for m in listed] == [
        ("adjustment", Decimal("-549.75")),
        ("adjustment", Decimal("-50.25")),
        ("topup", Decimal(500)),
    ]
    assert vendors.get_vendor(backend, "Corner Shop").balance == -100


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("0", "zero"),
        ("-5", "negative"),
        ("abc", "not a number"),
        ("1.000001", "decimal places"),
        ("1000000000.01", "beyond"),
        ("NaN", "finite"),
    ],
)
def test_bad_top_ups_are_refused(backend: Backend, amount: str, reason: str) -> None:
    vendors.add_vendor(backend, "Shop")
    with pytest.raises(PaymentError, match=reason):
        vendors.top_up(backend, "Shop", amount)
    assert vendors.get_vendor(backend, "Shop").balance == 0


def test_vendor_names_are_unique_and_known(backend: Backend) -> None:
    vendors.add_vendor(backend, "Bank")
    with pytest.raises(DuplicateError, match="Bank"):
        vendors.add_vendor(backend, "Bank")
    with pytest.raises(NotFoundError, match="Nobody"):
        vendors.top_up(backend, "Nobody", "1")
    with pytest.raises(vendors.VendingError, match="adjustment needs a note"):
        vendors.adjust(backend, "Bank", "5", note=" ")


def test_api_keys_are_shown_once_stored_hashed_and_revocable(
    backend: Backend, database: Database
) -> None:
    vendors.add_vendor(backend, "Bank")
    made = vendors.add_operator(backend, "Bank", "till-1", "vend")
    assert re.fullmatch(r"sts_[0-9a-f]{16}\.[A-Za-z0-9_-]{43}", made.api_key)
    assert made.api_key not in repr(made)
    with database.sessions() as session:
        stored = session.execute(select(Operator)).scalar_one()
        dump = " ".join(str(v) for v in session.execute(text("SELECT * FROM operators")).one())
    assert made.api_key not in dump and made.api_key.split(".")[1] not in dump
    assert len(stored.key_hash) == 64
    who = vendors.authenticate(backend, made.api_key)
    assert (who.vendor, who.operator, who.role) == ("Bank", "till-1", vendors.Role.VEND)
    # One character changed, a key of the wrong form, no key: all refused alike.
    last = made.api_key[-1]
    wrong = made.api_key[:-1] + ("A" if last != "A" else "B")
    for bad in (wrong, "sts_123", "", None):
        with pytest.raises(vendors.AuthenticationError):
            vendors.authenticate(backend, bad)
    vendors.revoke_operator(backend, "Bank", "till-1")
    with pytest.raises(vendors.AuthenticationError, match="revoked"):
        vendors.authenticate(backend, made.api_key)
    with pytest.raises(DuplicateError):
        vendors.add_operator(backend, "Bank", "till-1", "vend")
    with pytest.raises(vendors.VendingError, match="role 'boss'"):
        vendors.add_operator(backend, "Bank", "till-2", "boss")


def test_a_sale_charges_the_float_once_and_records_who_sold(
    backend: Backend, database: Database, flat_meter: str
) -> None:
    vendors.add_vendor(backend, "Bank")
    vendors.top_up(backend, "Bank", "150")
    till = principal(backend, "Bank", "till-1", "vend")
    sale = sales.purchase(backend, till, "sale-1", flat_meter, money="100")
    assert sale.receipt.kwh == Decimal(50)
    assert sale.balance_after == Decimal(50)
    # A retry returns the same tokens and does not charge again.
    again = sales.purchase(backend, till, "sale-1", flat_meter, money="100")
    assert again.receipt.tokens == sale.receipt.tokens
    assert again.balance_after == Decimal(50)
    assert vendors.get_vendor(backend, "Bank").balance == Decimal(50)
    with pytest.raises(ConflictError, match="another request"):
        sales.purchase(backend, till, "sale-1", flat_meter, money="20")
    # 50.00 left: a 60.00 sale is refused and writes nothing.
    before = (count(database, Transaction), count(database, LedgerEntry))
    with pytest.raises(vendors.InsufficientFloat, match=r"50\.00 available"):
        sales.purchase(backend, till, "sale-2", flat_meter, money="60")
    assert (count(database, Transaction), count(database, LedgerEntry)) == before
    assert vendors.get_vendor(backend, "Bank").balance == Decimal(50)
    with database.sessions() as session:
        party = session.execute(select(TransactionParty)).scalar_one()
        movement = session.execute(
            select(FloatMovement).where(FloatMovement.kind == "sale")
        ).scalar_one()
    assert (party.client_id, party.operator_id) == ("sale-1", till.operator_id)
    assert (movement.amount, movement.balance_after) == (Decimal(-100), Decimal(50))
    with database.sessions() as session:
        assert verify_connection(session.connection(), TEST_MASTER_KEY).ok


def test_another_vendor_has_its_own_client_ids(backend: Backend, flat_meter: str) -> None:
    for name in ("Bank", "Mobile"):
        vendors.add_vendor(backend, name)
        vendors.top_up(backend, name, "100")
    bank = principal(backend, "Bank", "a", "supervise")
    mobile = principal(backend, "Mobile", "b", "supervise")
    first = sales.purchase(backend, bank, "id-1", flat_meter, money="10")
    other = sales.purchase(backend, mobile, "id-1", flat_meter, money="10")
    assert first.receipt.tokens != other.receipt.tokens
    with pytest.raises(NotFoundError):
        sales.reprint(backend, mobile, "id-2")
    assert sales.reprint(backend, bank, "id-1").receipt.tokens == first.receipt.tokens


def test_advices_in_any_order(backend: Backend, flat_meter: str) -> None:
    vendors.add_vendor(backend, "Bank")
    vendors.top_up(backend, "Bank", "100")
    till = principal(backend, "Bank", "till", "vend")
    # A reversal advice that overtakes its purchase cancels it.
    early = sales.reverse(backend, till, "lost-1")
    assert early.status is sales.AdviceStatus.REVERSED
    with pytest.raises(ConflictError, match="reversal advice"):
        sales.purchase(backend, till, "lost-1", flat_meter, money="10")
    assert vendors.get_vendor(backend, "Bank").balance == 100
    # A purchase then its reversal (twice): the float is back, the id is spent.
    sales.purchase(backend, till, "sale-2", flat_meter, money="30")
    assert sales.reverse(backend, till, "sale-2").balance == Decimal(100)
    assert sales.reverse(backend, till, "sale-2").balance == Decimal(100)
    assert sales.confirm(backend, till, "sale-2").status is sales.AdviceStatus.REVERSED
    with pytest.raises(ConflictError, match="reversed"):
        sales.purchase(backend, till, "sale-2", flat_meter, money="30")
    # Confirmed first: a later reversal advice is refused, the float stays charged.
    sales.purchase(backend, till, "sale-3", flat_meter, money="40")
    assert sales.confirm(backend, till, "sale-3").status is sales.AdviceStatus.CONFIRMED
    assert sales.confirm(backend, till, "sale-3").status is sales.AdviceStatus.CONFIRMED
    with pytest.raises(ConflictError, match="confirmed"):
        sales.reverse(backend, till, "sale-3")
    assert vendors.get_vendor(backend, "Bank").balance == Decimal(60)
    assert sales.confirm(backend, till, "never").status is sales.AdviceStatus.AWAITING_PURCHASE


def test_roles(backend: Backend, flat_meter: str) -> None:
    vendors.add_vendor(backend, "Bank")
    vendors.top_up(backend, "Bank", "100")
    till = principal(backend, "Bank", "till", "vend")
    other = principal(backend, "Bank", "till-2", "vend")
    boss = principal(backend, "Bank", "boss", "supervise")
    sales.purchase(backend, till, "s1", flat_meter, money="10")
    with pytest.raises(vendors.PermissionDenied, match="supervise"):
        sales.reprint(backend, till, "s1")
    with pytest.raises(vendors.PermissionDenied, match="its own"):
        sales.reverse(backend, other, "s1")
    with pytest.raises(vendors.PermissionDenied, match="administer"):
        sales.management(backend, boss, "m1", flat_meter, "clear_tamper")
    assert sales.reverse(backend, boss, "s1").balance == Decimal(100)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_reversal_advice_committed_while_a_purchase_waits_cancels_it(
    backend: Backend, database: Database, flat_meter: str
) -> None:
    # PostgreSQL: the purchase waits for the vendor's row, locked by an advice being
    # recorded; once that commits, the purchase must see the advice and sell nothing.
    import threading

    from vending.vendor_models import Advice, Vendor

    vendors.add_vendor(backend, "Bank")
    vendors.top_up(backend, "Bank", "100")
    till = principal(backend, "Bank", "till", "vend")
    outcome: list[BaseException | sales.Sale] = []
    with database.engine.connect() as holder:
        holder.execute(select(Vendor.id).with_for_update())
        buyer = threading.Thread(
            target=lambda: outcome.append(_try(backend, till, flat_meter)), daemon=True
        )
        buyer.start()
        while not _waiting_for_a_lock(database):
            buyer.join(0.02)
        holder.execute(
            Advice.__table__.insert().values(
                vendor_id=till.vendor_id,
                operator_id=till.operator_id,
                client_id="race-1",
                kind="reversal",
                created_at=backend.now(),
            )
        )
        holder.commit()
    buyer.join()
    (result,) = outcome
    assert isinstance(result, ConflictError), result
    assert vendors.get_vendor(backend, "Bank").balance == 100
    assert count(database, Transaction) == 0


def _waiting_for_a_lock(database: Database) -> int:
    # A connection of its own per look: pg_stat_activity is a snapshot per transaction.
    with database.engine.connect() as look:
        return look.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
        ).scalar_one()


def _try(backend: Backend, till: vendors.Principal, meter: str) -> BaseException | sales.Sale:
    try:
        return sales.purchase(backend, till, "race-1", meter, money="10")
    except Exception as exc:
        return exc
