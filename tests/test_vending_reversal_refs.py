"""Reversals stay out of the client reference namespace, and one master key per database.

Before schema 0003 a reversal was stored under the reference "reversal:" + the reversed
reference cut to 100 characters: two long references sharing their first 91 characters,
or a vend whose own reference was "reversal:foo", made a later reversal fail with an
IntegrityError, and that vend could never be reversed. A reversal now has no client
reference and names the vend it reverses by id.
"""

from __future__ import annotations

import dataclasses
import random
from decimal import Decimal

import pytest
from conftest import VECTOR_SGC, VECTOR_VK, Clock
from sqlalchemy import func, select

from sts.crypto.keys import VendingKey
from vending import ledger_check, registry, vend
from vending.backend import Backend
from vending.db import Database
from vending.errors import KeyStoreError, NotFoundError
from vending.keystore import MasterKey
from vending.models import MasterKeyCheck, Transaction, VendingKeyRecord


def test_two_long_references_with_one_prefix_are_both_reversed(
    backend: Backend, vector_meter: str, clock: Clock, database: Database
) -> None:
    first, second = "x" * 91 + "aaaa", "x" * 91 + "bbbb"
    vend.vend_credit(backend, vector_meter, units="1", reference=first)
    one = vend.reverse(backend, first)
    clock.advance(minutes=1)
    vend.vend_credit(backend, vector_meter, units="2", reference=second)
    two = vend.reverse(backend, second)
    assert (one.reverses, two.reverses) == (first, second)
    assert (one.energy_kwh, two.energy_kwh) == (Decimal(-1), Decimal(-2))
    again = vend.reverse(backend, second)  # reversing again returns the same one, marked so
    assert again.already and not two.already
    assert dataclasses.replace(again, already=False) == two
    with database.read_sessions() as session:
        reversals = session.execute(
            select(Transaction.client_reference, Transaction.reverses_id).where(
                Transaction.kind == vend.REVERSAL
            )
        ).all()
    assert sorted(reversals) == [(None, 1), (None, 3)]
    assert ledger_check.verify(backend).ok


def test_a_vend_named_like_a_reversal_does_not_block_the_reversal(
    backend: Backend, vector_meter: str, clock: Clock
) -> None:
    vend.vend_credit(backend, vector_meter, units="1", reference="reversal:foo")
    clock.advance(minutes=1)
    vend.vend_credit(backend, vector_meter, units="3", reference="foo")
    reversal = vend.reverse(backend, "foo")
    assert (reversal.reverses, reversal.energy_kwh) == ("foo", Decimal(-3))
    # The reference "reversal:foo" is still the client's own vend, not the reversal.
    assert vend.reprint(backend, "reversal:foo").tokens[0].label == "Credit 1.0 kWh"
    clock.advance(minutes=1)
    vend.vend_credit(backend, vector_meter, units="4", reference="reversal:bar")
    with pytest.raises(NotFoundError, match="no transaction has client reference 'bar'"):
        vend.reverse(backend, "bar")
    assert ledger_check.verify(backend).ok


def test_keys_add_under_another_master_key_is_refused_at_once(
    backend: Backend, vector_meter: str, database: Database, clock: Clock
) -> None:
    other = Backend.open(database, MasterKey(bytes(32)), clock, random.Random(1))
    with pytest.raises(KeyStoreError, match="is not this database's master key"):
        registry.add_vending_key(other, "krn2", VendingKey.from_hex(VECTOR_VK), VECTOR_SGC, krn=2)
    with pytest.raises(KeyStoreError, match="is not this database's master key"):
        registry.set_customer(other, "Mallory", Decimal(1))
    with database.read_sessions() as session:
        assert session.execute(select(func.count(VendingKeyRecord.id))).scalar_one() == 1
    assert [k.label for k in registry.list_vending_keys(backend)] == ["ctsa-krn1"]
    assert ledger_check.verify(backend).ok


def test_a_database_without_a_check_value_checks_its_sealed_keys_first(
    backend: Backend, vector_meter: str, database: Database, clock: Clock
) -> None:
    """A database upgraded from 0002 has keys but no check value yet."""
    with database.sessions.begin() as session:
        session.execute(MasterKeyCheck.__table__.delete())
    other = Backend.open(database, MasterKey(bytes(32)), clock, random.Random(1))
    with pytest.raises(KeyStoreError, match="does not open this database's vending keys"):
        registry.add_vending_key(other, "krn2", VendingKey.from_hex(VECTOR_VK), VECTOR_SGC, krn=2)
    fresh = Backend.open(database, backend.master, clock, random.Random(1))
    registry.add_vending_key(fresh, "krn2", VendingKey.from_hex(VECTOR_VK), VECTOR_SGC, krn=2)
    with database.read_sessions() as session:
        assert session.execute(select(func.count(MasterKeyCheck.id))).scalar_one() == 1
