"""Sales reports by day and by meter, with reversals subtracted."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from conftest import VECTOR_SGC, Clock, register_vector_meter

from vending import registry, reports, vend
from vending.backend import Backend
from vending.errors import VendingError
from vending.tariff import Block, FixedCharge, Tariff

HOME = Tariff(
    name="Home",
    currency="ZAR",
    blocks=(Block(Decimal(50), Decimal("1.50")), Block(None, Decimal("2.00"))),
    fixed_charges=(FixedCharge("Service charge", Decimal("12.50")),),
    vat_percent=Decimal(15),
)
OTHER = "47500150231"


@pytest.fixture
def sales(backend: Backend, clock: Clock) -> Backend:
    """1 March: 200.00 (charged 199.95, 94 kWh) and 100.00 (99.82, 43.4 kWh) to one meter.
    2 March: 200.00 to another meter (199.95, 94 kWh), then reversed; 5 kWh by units."""
    registry.add_tariff(backend, HOME)
    meter = register_vector_meter(backend, tariff="Home")
    registry.add_meter(backend, OTHER, VECTOR_SGC, krn=1, base_date=1993, tariff="Home")
    vend.vend_credit(backend, meter, money="200.00")
    vend.vend_credit(backend, meter, money="100.00")
    clock.advance(days=1)
    vend.vend_credit(backend, OTHER, money="200.00", reference="other-1")
    vend.reverse(backend, "other-1")
    vend.clear_tamper(backend, meter)  # not a sale
    return backend


def test_sales_by_day(sales: Backend) -> None:
    first, second = reports.sales_by_day(sales)
    assert (first.key, first.vends, first.reversals) == ("2024-03-01", 2, 0)
    assert (first.money, first.energy_kwh) == (Decimal("299.77"), Decimal("137.4"))
    assert (second.key, second.vends, second.reversals) == ("2024-03-02", 1, 1)
    assert (second.money, second.energy_kwh) == (0, 0)
    assert second.to_dict()["money"] == "0"


def test_sales_by_meter_and_period(sales: Backend) -> None:
    by_meter = {s.key: s for s in reports.sales_by_meter(sales)}
    assert by_meter["00000000000"].money == Decimal("299.77")
    assert by_meter[OTHER].vends == 1 and by_meter[OTHER].money == 0
    only_second = reports.sales_by_meter(sales, since=date(2024, 3, 2))
    assert [s.key for s in only_second] == [OTHER]
    with pytest.raises(VendingError, match="ends"):
        reports.sales_by_day(sales, since=date(2024, 3, 2), until=date(2024, 3, 1))


def test_verify_through_reports(sales: Backend) -> None:
    result = reports.verify_ledger(sales)
    assert result.ok and result.transactions == 5
