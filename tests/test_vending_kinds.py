"""Token kinds and free basic units, on SQLite and PostgreSQL.

Water and gas meters are sold unit tokens of class 0 subclass 1 and 2 (0.1 m3),
currency-mode meters subclass 4 tokens (0.00001 of the currency); the month's
free basic units come as their own token. Every token is checked by decoding it
with the compliance meter's published decoder key (E653341F9D5BF36F), never
against a value the vending code computed. Figures are worked by hand below.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
import sqlalchemy as sa
from conftest import (
    TEST_MASTER_KEY,
    VECTOR_DK,
    VECTOR_DRN,
    VECTOR_SGC,
    VECTOR_VK,
    Clock,
)
from sqlalchemy import select

import sts
from sts.crypto.keys import VendingKey
from sts.tokens.credit import CreditKind, CurrencyCredit, TransferCredit
from vending import registry, reports, vend
from vending.backend import Backend
from vending.db import Database, make_engine, open_database, upgrade
from vending.errors import (
    AmountTooLow,
    NoFreeUnitsDue,
    VendingError,
    WrongService,
)
from vending.models import Transaction
from vending.tariff import Block, FixedCharge, Tariff

DK = sts.DecoderKey.from_hex(VECTOR_DK)

WATER = Tariff("Water", "ZAR", (Block(None, D("10.00")),), service="water")
GAS = Tariff("Gas", "ZAR", (Block(None, D("5.00")),), service="gas")
MONEY = Tariff(
    "Money", "ZAR", (Block(None, D("2.00")),), fixed_charges=(FixedCharge("Service", D("10")),)
)
LIFELINE = Tariff("Lifeline", "ZAR", (Block(None, D("2.00")),), free_units_kwh=D(50))


def register(backend: Backend, tariff: Tariff | None, **kinds: str) -> str:
    """The compliance-test key and meter (DKGA02, SGC 123456, KRN 1, 1993) with ``kinds``."""
    registry.add_vending_key(
        backend, "ctsa-krn1", VendingKey.from_hex(VECTOR_VK), VECTOR_SGC, krn=1, kt=2,
        base_date=1993,
    )  # fmt: skip
    if tariff is not None:
        registry.add_tariff(backend, tariff)
    info = registry.add_meter(
        backend, VECTOR_DRN, VECTOR_SGC, tariff=tariff.name if tariff else None, **kinds
    )
    assert (info.service, info.token_kind) == (
        kinds.get("service", "electricity"),
        kinds.get("token_kind", "units"),
    )
    return VECTOR_DRN


def decoded(digits: str) -> sts.Token:
    return sts.decode(digits, DK)


def test_a_water_meter_gets_subclass_1_tokens_in_tenths_of_a_cubic_metre(
    backend: Backend,
) -> None:
    drn = register(backend, WATER, service="water")
    # 55.00 at 10.00 per m3 is 5.5 m3: 55 units of 0.1 m3.
    receipt = vend.vend_credit(backend, drn, money="55.00", reference="w1")
    (token,) = [decoded(t.digits) for t in receipt.tokens]
    assert isinstance(token, TransferCredit)
    assert (token.kind, token.subclass, token.units) == (CreditKind.WATER, 1, 55)
    assert receipt.breakdown is not None and receipt.breakdown.unit == "m3"
    assert receipt.breakdown.lines[0].label == "Water step 1 at 10.00/m3"


def test_a_gas_meter_bought_by_units(backend: Backend) -> None:
    drn = register(backend, GAS, service="gas")
    # 12.3 m3 at 5.00 is 61.50; the token carries 123 units of 0.1 m3.
    receipt = vend.vend_credit(backend, drn, units="12.3", reference="g1")
    (token,) = [decoded(t.digits) for t in receipt.tokens]
    assert isinstance(token, TransferCredit)
    assert (token.kind, token.subclass, token.units) == (CreditKind.GAS, 2, 123)
    assert receipt.breakdown is not None and receipt.breakdown.tendered == D("61.50")


def test_a_currency_meter_gets_subclass_4_tokens_rounded_up(backend: Backend) -> None:
    drn = register(backend, MONEY, token_kind="currency")
    # 110.00 less the 10.00 service charge leaves 100.00 for the meter. The amount
    # field holds 100.00 only approximately (sts-reference 3): e=3, m=8182 is
    # 1,818,624 + 8,182,000 = 10,000,624 hundred-thousandths, 100.00624.
    receipt = vend.vend_credit(backend, drn, money="110.00", reference="c1")
    (token,) = [decoded(t.digits) for t in receipt.tokens]
    assert isinstance(token, CurrencyCredit)
    assert (token.kind, token.subclass, token.value) == (
        CreditKind.ELECTRICITY_CURRENCY,
        4,
        D("100.00624"),
    )
    b = receipt.breakdown
    assert b is not None
    assert (b.fixed_charges, b.currency_credit, b.charged) == (D("10.00"), D("100.00624"), 110)
    assert sum(line.amount for line in b.lines) == b.tendered
    # The month's second vend pays no service charge: 50.00 is 5,000,000 units;
    # (5,000,000 - 1,818,624) / 1000 = 3181.376, rounded up to m=3182: 50.00624.
    second = vend.vend_credit(backend, drn, money="50.00", reference="c2")
    (token,) = [decoded(t.digits) for t in second.tokens]
    assert isinstance(token, CurrencyCredit) and token.value == D("50.00624")


def test_a_currency_meter_is_not_sold_units(backend: Backend) -> None:
    drn = register(backend, MONEY, token_kind="currency")
    with pytest.raises(WrongService, match="takes currency tokens; vend it by money"):
        vend.vend_credit(backend, drn, units="10")
    with pytest.raises(AmountTooLow, match="does not cover the monthly fixed charges"):
        vend.vend_credit(backend, drn, money="10.00")


def test_a_tariff_for_another_service_is_refused(backend: Backend) -> None:
    registry.add_tariff(backend, WATER)
    drn = register(backend, LIFELINE)
    with pytest.raises(WrongService, match="prices water but meter 00000000000 is a electricity"):
        registry.update_meter(backend, drn, tariff="Water")
    # A tariff replaced by one for another service is refused at the vend, whole.
    registry.add_tariff(
        backend, Tariff("Lifeline", "ZAR", (Block(None, D("1")),), service="gas"), replace=True
    )
    with pytest.raises(WrongService, match=r"prices gas \(m3\) but meter 00000000000") as caught:
        vend.vend_credit(backend, drn, money="20.00", reference="x")
    assert (caught.value.field, caught.value.value) == ("tariff", "Lifeline")


def test_free_basic_units_once_a_month_as_their_own_token(
    backend: Backend, database: Database, clock: Clock
) -> None:
    drn = register(backend, LIFELINE)
    # 50 free kWh: 500 units of 0.1 kWh on a subclass 0 token, no money.
    free = vend.vend_free_units(backend, drn, reference="f1")
    (token,) = [decoded(t.digits) for t in free.tokens]
    assert isinstance(token, TransferCredit)
    assert (token.kind, token.units) == (CreditKind.ELECTRICITY, 500)
    assert free.kind == "free-units" and free.breakdown is not None
    assert (free.breakdown.tendered, free.breakdown.free_kwh) == (0, D(50))
    with database.read_sessions() as session:
        row = session.execute(
            select(Transaction).where(Transaction.client_reference == "f1")
        ).scalar_one()
        assert (row.kind, row.money, row.energy, row.free_energy) == ("free-units", 0, 0, 50)
    # The same reference again is the same token; a new one in March is refused.
    assert vend.vend_free_units(backend, drn, reference="f1").tokens == free.tokens
    with pytest.raises(NoFreeUnitsDue, match="no free units due: this month's 50 kWh"):
        vend.vend_free_units(backend, drn, reference="f2")
    # A purchase in March carries no free units now: 20.00 / 2.00 = 10 kWh, 100 units.
    bought = vend.vend_credit(backend, drn, money="20.00", reference="p1")
    assert [decoded(t.digits).units for t in bought.tokens] == [100]  # type: ignore[attr-defined]
    # The sales report counts the free units vend as a vend with no money: 50 free kWh,
    # and the purchase's 10 kWh for 20.00.
    (total,) = reports.sales(backend, by="month").totals
    assert (total.vends, total.money, total.energy_kwh, total.free_kwh) == (2, 20, 10, 50)
    # April 1st (UTC) is a new month.
    clock.now = datetime(2024, 4, 1, 0, 5, tzinfo=UTC)
    april = vend.vend_free_units(backend, drn, reference="f3")
    assert [decoded(t.digits).units for t in april.tokens] == [500]  # type: ignore[attr-defined]


def test_free_units_given_on_a_purchase_are_not_due_again(backend: Backend) -> None:
    drn = register(backend, LIFELINE)
    # The month's first purchase carries what is left of the allowance: 10 + 50 kWh.
    bought = vend.vend_credit(backend, drn, money="20.00", reference="p1")
    assert [decoded(t.digits).units for t in bought.tokens] == [600]  # type: ignore[attr-defined]
    with pytest.raises(NoFreeUnitsDue):
        vend.vend_free_units(backend, drn)


def test_no_free_units_without_an_allowance(backend: Backend) -> None:
    drn = register(backend, WATER, service="water")
    with pytest.raises(NoFreeUnitsDue, match="tariff 'Water' grants no free basic units"):
        vend.vend_free_units(backend, drn)


def test_water_free_units_are_a_water_token(backend: Backend) -> None:
    tariff = Tariff("FBW", "ZAR", (Block(None, D("10")),), free_units_kwh=D(6), service="water")
    drn = register(backend, tariff, service="water")
    (token,) = [decoded(t.digits) for t in vend.vend_free_units(backend, drn).tokens]
    assert isinstance(token, TransferCredit)
    assert (token.kind, token.units) == (CreditKind.WATER, 60)  # 6 m3


def test_registration_choices_are_bounded(backend: Backend) -> None:
    with pytest.raises(VendingError, match="service 'steam' is not one of electricity, water"):
        registry.add_meter(backend, VECTOR_DRN, VECTOR_SGC, service="steam")
    with pytest.raises(VendingError, match="token kind 'coins' is not one of units, currency"):
        registry.add_meter(backend, VECTOR_DRN, VECTOR_SGC, token_kind="coins")


@pytest.mark.parametrize("empty_database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_0004_ledger_upgrades_with_every_meter_electricity_units(
    empty_database_url: str,
) -> None:
    engine = make_engine(empty_database_url)
    upgrade(engine, "0004")
    meta = sa.MetaData()
    meta.reflect(engine)
    t = meta.tables
    assert "service" not in t["meters"].c
    at = datetime(2024, 3, 1, tzinfo=UTC)
    naive = at.replace(tzinfo=None) if engine.dialect.name == "sqlite" else at
    with engine.begin() as c:
        c.execute(t["supply_groups"].insert(), {"sgc": VECTOR_SGC, "name": "", "created_at": naive})
        c.execute(t["vending_keys"].insert(), {
            "label": "k", "sgc": VECTOR_SGC, "krn": 1, "kt": 2, "dkga": "02", "base_date": 1993,
            "bits": 64, "sealed": b"x", "created_at": naive, "retired_at": None})  # fmt: skip
        c.execute(t["meters"].insert(), {
            "drn": VECTOR_DRN, "pan": "600727000000000009", "sgc": VECTOR_SGC, "krn": 1,
            "kt": 2, "ti": 1, "ea": "07", "dkga": "02", "base_date": 1993, "ken": 255,
            "vending_key_id": 1, "tariff_id": None, "customer_id": None, "last_tid": None,
            "key_revision": 1, "created_at": naive})  # fmt: skip
    assert upgrade(engine) == ("0004", "0005")
    engine.dispose()
    backend = Backend.open(
        open_database(empty_database_url), TEST_MASTER_KEY, Clock(), random.Random(1)
    )
    try:
        info = registry.get_meter(backend, VECTOR_DRN)
    finally:
        backend.close()
    assert (info.service, info.token_kind) == ("electricity", "units")


def test_a_customer_own_free_units_replace_the_tariffs(backend: Backend) -> None:
    drn = register(backend, LIFELINE)
    info = registry.set_customer(backend, "A. Customer", free_units=D("20"))
    assert str(info.free_units_kwh) == "20.0"
    registry.update_meter(backend, drn, customer="A. Customer")
    # 20 kWh rather than the tariff's 50: 200 units.
    (token,) = [decoded(t.digits) for t in vend.vend_free_units(backend, drn).tokens]
    assert isinstance(token, TransferCredit) and token.units == 200
    with pytest.raises(NoFreeUnitsDue, match=r"this month's 20\.0 kWh"):
        vend.vend_free_units(backend, drn)
    with pytest.raises(VendingError, match="free basic units 2000000 kWh is above"):
        registry.set_customer(backend, "A. Customer", free_units=D(2_000_000))
