"""Key change orders for one meter: the published KCT set, hand-out with the next vend."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import VECTOR_DK, VECTOR_DRN, VECTOR_SGC, Clock

import sts
from sts.tokens.credit import TransferCredit
from vending import keychange, registry, vend
from vending.backend import Backend
from vending.errors import ConflictError, NotFoundError

OLD_DK = sts.DecoderKey.from_hex(VECTOR_DK)
# CTSA05 step 1: the same meter moved to TI 02 gets decoder key 060B8643C59A27F1.
TI2_DK = sts.DecoderKey.from_hex("060B8643C59A27F1")
CTSA05_KCTS = ("51638423060042734509", "15361891762113502242")


def test_order_makes_the_published_ctsa05_kct_set(backend: Backend, vector_meter: str) -> None:
    order = keychange.order_key_change(backend, vector_meter, ti=2)
    assert order.kcts == CTSA05_KCTS
    assert (order.status, order.rollover, order.to_ti, order.ken) == ("pending", False, 2, 255)


def test_next_vend_hands_out_kcts_first_then_credit_under_the_new_key(
    backend: Backend, vector_meter: str, clock: Clock
) -> None:
    before = vend.vend_credit(backend, vector_meter, units="1")
    keychange.order_key_change(backend, vector_meter, ti=2)
    clock.advance(minutes=1)
    receipt = vend.vend_credit(backend, vector_meter, units="20")
    digits = [t.digits for t in receipt.tokens]
    assert tuple(digits[:2]) == CTSA05_KCTS
    assert [t.label for t in receipt.tokens[:2]] == ["Key change 1", "Key change 2"]
    credit = sts.decode(digits[2], TI2_DK)
    assert isinstance(credit, TransferCredit) and credit.units == 200
    # Same base date, no rollover: TIDs carry on from the last one.
    assert credit.tid == sts.decode(before.tokens[0].digits, OLD_DK).tid + 1  # type: ignore[attr-defined]
    meter = registry.get_meter(backend, vector_meter)
    assert (meter.ti, meter.key_revision) == (2, 2)
    assert keychange.list_orders(backend, vector_meter)[0].status == "issued"
    # The order is used once: the vend after is plain credit under the new key.
    later = vend.vend_credit(backend, vector_meter, units="1")
    assert len(later.tokens) == 1
    assert isinstance(sts.decode(later.tokens[0].digits, TI2_DK), TransferCredit)


def test_rollover_to_2014_sets_ro_and_restarts_tids(
    backend: Backend, vector_meter: str, clock: Clock
) -> None:
    new_vk = sts.VendingKey.from_hex("9494949494949494")
    registry.add_vending_key(backend, "krn2", new_vk, VECTOR_SGC, krn=2, kt=2, base_date=2014)
    vend.vend_credit(backend, vector_meter, units="1")
    order = keychange.order_key_change(backend, vector_meter, krn=2, base_date=2014)
    assert order.rollover
    kct = [sts.decode(d, OLD_DK) for d in order.kcts]
    assert (kct[0].ro, kct[0].krn) == (1, 2)  # type: ignore[attr-defined]
    receipt = vend.vend_credit(backend, vector_meter, units="5")
    params = sts.KeyParameters("600727000000000009", VECTOR_SGC, kt=2, ti=1, krn=2)
    new_dk = sts.derive_decoder_key("02", new_vk, params)
    credit = sts.decode(receipt.tokens[2].digits, new_dk)
    # 2024-03-01 08:00 on the 2014 base: 3,712 days (10 years with 2 leap days, then 60)
    # and 480 minutes.
    assert credit.tid == 3712 * 1440 + 480  # type: ignore[attr-defined]
    meter = registry.get_meter(backend, vector_meter)
    assert (meter.krn, meter.base_date, meter.last_tid) == (2, 2014, 3712 * 1440 + 480)


def test_a_rollover_lets_a_1993_meter_vend_after_november_2024(
    backend: Backend, vector_meter: str, clock: Clock
) -> None:
    registry.add_vending_key(
        backend, "krn2", sts.VendingKey.from_hex("9494949494949494"), VECTOR_SGC, 2, 2, 2014
    )
    keychange.order_key_change(backend, vector_meter, krn=2, base_date=2014)
    clock.now = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
    assert len(vend.vend_credit(backend, vector_meter, units="5").tokens) == 3


def test_one_pending_order_per_meter(backend: Backend, vector_meter: str) -> None:
    keychange.order_key_change(backend, vector_meter, ti=2)
    with pytest.raises(ConflictError, match="pending key change order"):
        keychange.order_key_change(backend, vector_meter, ti=3)
    cancelled = keychange.cancel_order(backend, vector_meter)
    assert cancelled.to_ti == 2
    assert keychange.order_key_change(backend, vector_meter, ti=3).to_ti == 3


def test_key_change_without_credit_and_unknown_target_key(
    backend: Backend, vector_meter: str
) -> None:
    with pytest.raises(NotFoundError, match="no pending key change order"):
        vend.issue_key_change(backend, vector_meter)
    with pytest.raises(NotFoundError, match="KRN 7"):
        keychange.order_key_change(backend, vector_meter, krn=7)
    keychange.order_key_change(backend, vector_meter, ti=2)
    receipt = vend.issue_key_change(backend, vector_meter)
    assert tuple(t.digits for t in receipt.tokens) == CTSA05_KCTS
    assert receipt.kind == "key-change"


def test_a_test_token_does_not_take_the_kcts(backend: Backend, vector_meter: str) -> None:
    keychange.order_key_change(backend, VECTOR_DRN, ti=2)
    assert len(vend.meter_test(backend, vector_meter).tokens) == 1
    assert keychange.list_orders(backend, vector_meter)[0].status == "pending"
