"""The TID rollover migration in bulk: orders, resumption without duplicates, hand-out, export."""

from __future__ import annotations

import csv
import dataclasses
import io

import pytest
from conftest import VECTOR_DK, VECTOR_DRN, VECTOR_SGC, Clock, register_vector_meter

import sts
from sts.tokens.keychange import KeyChange1
from sts.tokens.meter_number import luhn_check_digit
from vending import migration, registry, reports, vend
from vending.backend import Backend
from vending.errors import ConflictError, NotFoundError

PLAN = migration.MigrationPlan("rollover", VECTOR_SGC, from_krn=1, to_krn=2, to_base_date=2014)


def drn(serial: int) -> str:
    body = f"12{serial:08d}"
    return body + str(luhn_check_digit(body))


@pytest.fixture
def fleet(backend: Backend) -> list[str]:
    """The compliance-test meter and five more on SGC 123456 KRN 1; one on KRN 3 apart."""
    register_vector_meter(backend)
    registry.add_vending_key(
        backend, "krn2", sts.VendingKey.from_hex("9494949494949494"), VECTOR_SGC, 2, 2, 2014
    )
    registry.add_vending_key(
        backend, "krn3", sts.VendingKey.from_hex("0ABC12DEF3456789"), VECTOR_SGC, 3, 2, 1993
    )
    numbers = [VECTOR_DRN] + [drn(n) for n in range(1, 6)]
    for number in numbers[1:]:
        registry.add_meter(backend, number, VECTOR_SGC, krn=1, base_date=1993)
    registry.add_meter(backend, drn(99), VECTOR_SGC, krn=3, base_date=1993)
    return numbers


def test_orders_are_made_in_chunks_and_resume_without_duplicates(
    backend: Backend, fleet: list[str]
) -> None:
    started = migration.start(backend, PLAN)
    assert (started.meters, started.ordered, started.to_order) == (6, 0, 6)
    seen: list[tuple[int, int]] = []
    first = migration.create_orders(
        backend, "rollover", chunk=2, limit=3, on_progress=lambda d, t: seen.append((d, t))
    )
    assert (first.ordered, first.to_order) == (3, 3)
    assert seen == [(0, 6), (2, 6), (3, 6)]
    resumed = migration.create_orders(backend, "rollover", chunk=2)
    assert (resumed.ordered, resumed.to_order, resumed.issued) == (6, 0, 0)
    again = migration.create_orders(backend, "rollover")
    assert again.ordered == 6
    rows = list(migration.export_rows(backend, "rollover"))
    assert sorted(r.drn for r in rows) == sorted(fleet)
    assert all(r.rollover and r.to_krn == 2 and len(r.kcts) == 2 for r in rows)


def test_each_set_is_a_rollover_to_krn_2_under_the_meter_key(
    backend: Backend, fleet: list[str]
) -> None:
    migration.start(backend, PLAN)
    migration.create_orders(backend, "rollover")
    row = next(r for r in migration.export_rows(backend, "rollover") if r.drn == VECTOR_DRN)
    first = sts.decode(row.kcts[0], sts.DecoderKey.from_hex(VECTOR_DK))
    assert isinstance(first, KeyChange1)
    assert (first.krn, first.ro, first.kt, first.ken_ho) == (2, 1, 2, 0xF)


def test_the_next_vend_hands_the_set_out_and_progress_counts_it(
    backend: Backend, fleet: list[str], clock: Clock
) -> None:
    migration.start(backend, PLAN)
    migration.create_orders(backend, "rollover")
    receipt = vend.vend_credit(backend, fleet[2], units="10")
    assert [t.label for t in receipt.tokens] == ["Key change 1", "Key change 2", "Credit 10.0 kWh"]
    (progress,) = reports.migration_progress(backend, "rollover")
    assert (progress.meters, progress.ordered, progress.issued, progress.pending) == (6, 6, 1, 5)
    assert registry.get_meter(backend, fleet[2]).krn == 2
    assert len(list(migration.export_rows(backend, "rollover"))) == 5


def test_csv_export_lists_each_pending_set(backend: Backend, fleet: list[str]) -> None:
    migration.start(backend, PLAN)
    migration.create_orders(backend, "rollover")
    out = io.StringIO()
    assert migration.write_csv(migration.export_rows(backend, "rollover"), out) == 6
    lines = list(csv.DictReader(io.StringIO(out.getvalue())))
    vector = next(line for line in lines if line["drn"] == VECTOR_DRN)
    assert vector["pan"] == "600727000000000009"
    assert (vector["from_krn"], vector["to_krn"], vector["to_base_date"], vector["ro"]) == (
        "1",
        "2",
        "2014",
        "1",
    )
    assert len(vector["kct1"]) == 20 and vector["kct3"] == ""


def test_a_name_reused_with_another_plan_is_refused(backend: Backend, fleet: list[str]) -> None:
    migration.start(backend, PLAN)
    assert migration.start(backend, PLAN).meters == 6  # same plan: resumes
    other = migration.MigrationPlan("rollover", VECTOR_SGC, 1, 3, 1993)
    with pytest.raises(ConflictError, match="another plan"):
        migration.start(backend, other)
    with pytest.raises(NotFoundError, match="no migration is named 'nope'"):
        migration.create_orders(backend, "nope")


def test_a_missing_target_key_is_refused_before_the_migration_is_created(
    backend: Backend,
) -> None:
    register_vector_meter(backend)
    with pytest.raises(NotFoundError, match="no vending key for SGC 123456 KRN 2 KT 2"):
        migration.start(backend, PLAN)
    with pytest.raises(NotFoundError, match="no migration is named 'rollover'"):
        migration.progress(backend, "rollover")


def test_a_plan_that_selects_no_meter_is_refused(backend: Backend) -> None:
    register_vector_meter(backend)  # SGC 123456 KRN 1: the plan below takes KRN 3
    with pytest.raises(NotFoundError, match="no registered meter has SGC 123456 and KRN 3"):
        migration.start(backend, dataclasses.replace(PLAN, from_krn=3))
    assert migration.all_progress(backend) == []


def test_pre_coded_sets_are_handed_out_once(backend: Backend, fleet: list[str]) -> None:
    migration.start(backend, PLAN)
    migration.create_orders(backend, "rollover")
    vend.vend_credit(backend, fleet[0], units="1")  # this meter gets its set with a vend
    seen: list[tuple[int, int]] = []
    result = migration.hand_out_exported(backend, "rollover", lambda d, t: seen.append((d, t)))
    assert (result.issued, result.pending) == (6, 0)
    assert seen[0] == (0, 5) and seen[-1] == (5, 5)
    assert migration.hand_out_exported(backend, "rollover").issued == 6
    receipt = vend.vend_credit(backend, fleet[3], units="1")
    assert [t.label for t in receipt.tokens] == ["Credit 1.0 kWh"]
    assert registry.get_meter(backend, fleet[3]).krn == 2
