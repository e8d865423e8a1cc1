"""Water and gas on the vending side: sales reports per service, and changing a meter's kind.

On SQLite and PostgreSQL (the conftest fixtures). Figures are worked by hand in
the comments: a flat electricity tariff at 2.00 per kWh and a water tariff at
10.00 per m3, no VAT, no charges.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from conftest import VECTOR_SGC, register_vector_meter
from sqlalchemy import func, select

from vending import ledger_check, registry, reports, storage, vend
from vending.backend import Backend
from vending.errors import ConflictError, VendingError, WrongService
from vending.models import LedgerEntry
from vending.tariff import Block, Tariff

FLAT = Tariff(name="Flat", currency="ZAR", blocks=(Block(None, Decimal("2.00")),))
WATER = Tariff(
    name="Water", currency="ZAR", blocks=(Block(None, Decimal("10.00")),), service="water"
)
WATER_DRN = "47500150231"


def _entries(backend: Backend) -> int:
    with storage.read(backend) as session:
        return session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()


@pytest.fixture
def sold(backend: Backend) -> Backend:
    """20.00 of electricity (10 kWh) and 25.00 + 5.00 of water (2.5 m3 + 0.5 m3, the second
    reversed), all on one day."""
    registry.add_tariff(backend, FLAT)
    registry.add_tariff(backend, WATER)
    register_vector_meter(backend, tariff="Flat")
    registry.add_meter(
        backend, WATER_DRN, VECTOR_SGC, krn=1, base_date=1993, tariff="Water", service="water"
    )
    vend.vend_credit(backend, "00000000000", money="20.00")
    water = vend.vend_credit(backend, WATER_DRN, money="25.00")
    assert water.tokens[0].units == 25  # 2.5 m3 = 25 units of 0.1 m3 in the token
    vend.vend_credit(backend, WATER_DRN, money="5.00", reference="water-2")
    vend.reverse(backend, "water-2")
    return backend


def test_sales_keep_kwh_and_m3_apart(sold: Backend) -> None:
    report = reports.sales(sold, "day")
    assert report.services == ("electricity", "water")
    electricity, water = report.rows
    assert (electricity.service, electricity.unit, electricity.energy_kwh) == (
        "electricity",
        "kWh",
        Decimal("10.0"),
    )
    # 2.5 m3 + 0.5 m3 - 0.5 m3 reversed = 2.5 m3; money 25.00 + 5.00 - 5.00 = 25.00
    assert (water.service, water.unit, water.energy_kwh, water.money) == (
        "water",
        "m3",
        Decimal("2.5"),
        Decimal("25.00"),
    )
    assert (water.vends, water.reversals) == (2, 1)
    totals = {t.service: t for t in report.totals}
    assert (totals["electricity"].energy_kwh, totals["water"].energy_kwh) == (
        Decimal("10.0"),
        Decimal("2.5"),
    )


def test_sales_json_and_csv_name_each_rows_unit(sold: Backend) -> None:
    report = reports.sales(sold, "meter")
    rows = {r["key"]: r for r in report.to_dict()["rows"]}
    assert (rows[WATER_DRN]["units"], rows[WATER_DRN]["unit"]) == ("2.5", "m3")
    assert rows[WATER_DRN]["energy_kwh"] is None  # no kWh on a water row
    assert (rows["00000000000"]["energy_kwh"], rows["00000000000"]["unit"]) == ("10.0", "kWh")
    stream = io.StringIO()
    reports.write_sales_csv(report, stream)
    written = list(csv.DictReader(io.StringIO(stream.getvalue())))
    water = next(r for r in written if r["group"] == WATER_DRN)
    assert (water["kwh"], water["service"], water["units"], water["unit"]) == (
        "",
        "water",
        "2.5",
        "m3",
    )


def test_a_meter_changes_service_as_one_chained_entry(backend: Backend) -> None:
    registry.add_tariff(backend, WATER)
    drn = register_vector_meter(backend)
    before = _entries(backend)
    info = registry.set_meter_kind(backend, drn, service="water", tariff="Water")
    assert (info.service, info.token_kind, info.tariff) == ("water", "units", "Water")
    assert _entries(backend) == before + 1
    check = ledger_check.verify(backend)
    assert check.ok, check.problems
    # asking for what it already is records nothing
    registry.set_meter_kind(backend, drn, service="water")
    assert _entries(backend) == before + 1


def test_a_change_is_refused_while_sold_tokens_may_be_unused(backend: Backend) -> None:
    registry.add_tariff(backend, FLAT)
    drn = register_vector_meter(backend, tariff="Flat")
    vend.vend_credit(backend, drn, money="2.00", reference="one")
    before = _entries(backend)
    with pytest.raises(ConflictError, match="1 credit token"):
        registry.set_meter_kind(backend, drn, token_kind="currency")
    assert registry.get_meter(backend, drn).token_kind == "units"
    assert _entries(backend) == before  # nothing written
    vend.reverse(backend, "one")  # a reversed sale's token does not hold the change back
    info = registry.set_meter_kind(backend, drn, token_kind="currency")
    assert info.token_kind == "currency"


def test_the_operator_may_say_the_tokens_were_keyed_in(backend: Backend) -> None:
    registry.add_tariff(backend, FLAT)
    drn = register_vector_meter(backend, tariff="Flat")
    vend.vend_credit(backend, drn, money="2.00")
    info = registry.set_meter_kind(backend, drn, token_kind="currency", tokens_used=True)
    assert info.token_kind == "currency"


def test_a_service_change_needs_a_tariff_for_the_new_service(backend: Backend) -> None:
    registry.add_tariff(backend, FLAT)
    registry.add_tariff(backend, WATER)
    drn = register_vector_meter(backend, tariff="Flat")
    with pytest.raises(WrongService, match="tariff 'Flat' prices electricity; give it a water"):
        registry.set_meter_kind(backend, drn, service="water")
    with pytest.raises(WrongService, match="tariff 'Flat' prices electricity"):
        registry.set_meter_kind(backend, drn, service="gas", tariff="Flat")
    with pytest.raises(VendingError, match="service 'steam' is not one of"):
        registry.set_meter_kind(backend, drn, service="steam")
    assert registry.get_meter(backend, drn).service == "electricity"
