"""A schema 0002 ledger upgrades to the keyed chain and keeps verifying.

The 0002 rows are written here by hand in the old format (bodies without details, the
unkeyed rule hash = SHA-256(prev || body), a reversal stored under "reversal:" + the
reversed reference), as the code of that time wrote them. After the upgrade those
entries are checked by the old rule, the next entry is keyed and chains from the last of
them, and an edit of an old entry is found through that link.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from conftest import TEST_MASTER_KEY, VECTOR_SGC, VECTOR_VK, Clock

from sts.crypto.keys import VendingKey
from vending import ledger_check, vend
from vending.backend import Backend, key_record_associated_data
from vending.db import make_engine, open_database, upgrade
from vending.keystore import seal

AT = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
GENESIS = "0" * 64
TIDS = (16390560, 16390561)


def _old_body(reference: str, kind: str, money: str, kwh: str, reverses: str | None,
              tokens: list[dict[str, object]], minute: int) -> str:  # fmt: skip
    body = {
        "reference": reference,
        "kind": kind,
        "meter": "00000000000",
        "at": AT.replace(minute=minute).isoformat(),
        "money": money,
        "energy_kwh": kwh,
        "free_kwh": "0",
        "fixed_charges": "0",
        "debt_recovered": "0",
        "reverses": reverses,
        "tokens": tokens,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def _write_0002_ledger(url: str) -> list[str]:
    """Key, meter, two vends and a reversal of the second, as schema 0002 held them."""
    engine = make_engine(url)
    upgrade(engine, "0002")
    meta = sa.MetaData()
    meta.reflect(engine)
    t = meta.tables

    class Record:  # what key_record_associated_data reads
        sgc, krn, kt, dkga = VECTOR_SGC, 1, 2, "02"

    sealed = seal(
        TEST_MASTER_KEY, VendingKey.from_hex(VECTOR_VK), key_record_associated_data(Record)
    )
    naive = AT.replace(tzinfo=None) if engine.dialect.name == "sqlite" else AT
    with engine.begin() as c:
        c.execute(t["supply_groups"].insert(), {"sgc": VECTOR_SGC, "name": "", "created_at": naive})
        c.execute(t["vending_keys"].insert(), {
            "label": "ctsa-krn1", "sgc": VECTOR_SGC, "krn": 1, "kt": 2, "dkga": "02",
            "base_date": 1993, "bits": 64, "sealed": sealed, "created_at": naive,
            "retired_at": None})  # fmt: skip
        c.execute(t["meters"].insert(), {
            "drn": "00000000000", "pan": "600727000000000009", "sgc": VECTOR_SGC,
            "krn": 1, "kt": 2, "ti": 1, "ea": "07", "dkga": "02", "base_date": 1993, "ken": 255,
            "vending_key_id": 1, "tariff_id": None, "customer_id": None, "last_tid": TIDS[1],
            "key_revision": 1, "created_at": naive})  # fmt: skip
        rows = [  # reference, kind, units (0.1 kWh), reverses_id, minute
            ("v1", "credit", 10, None, 0),
            ("v2", "credit", 20, None, 1),
            ("reversal:v2", "reversal", -20, 2, 2),
        ]
        prev, hashes = GENESIS, []
        for number, (reference, kind, units, reverses, minute) in enumerate(rows, start=1):
            when = naive.replace(minute=minute)
            c.execute(t["transactions"].insert(), {
                "client_reference": reference, "fingerprint": "f" * 64,
                "kind": kind, "meter_id": 1, "money": 0, "energy": units * 10_000,
                "free_energy": 0, "fixed_charges": 0, "debt_recovered": 0, "details": {},
                "reverses_id": reverses, "key_change_order_id": None, "day": AT.date(),
                "created_at": when})  # fmt: skip
            tokens = []
            if kind == "credit":
                digits = f"{number:020d}"
                c.execute(t["tokens"].insert(), {
                    "transaction_id": number, "meter_id": 1, "key_revision": 1, "position": 0,
                    "tid": TIDS[number - 1], "token_class": 0, "subclass": 0, "digits": digits,
                    "units": units, "description": "Credit"})  # fmt: skip
                tokens = [{"tid": TIDS[number - 1], "class": 0, "subclass": 0, "digits": digits}]
            kwh = str(units / 10).removesuffix(".0")
            body = _old_body(reference, kind, "0", kwh, "v2" if reverses else None, tokens, minute)
            digest = hashlib.sha256((prev + body).encode()).hexdigest()
            c.execute(t["ledger_entries"].insert(), {
                "seq": number, "transaction_id": number, "created_at": when, "body": body,
                "prev_hash": prev, "hash": digest})  # fmt: skip
            hashes.append(digest)
            prev = digest
        c.execute(t["ledger_head"].update().values(seq=3, hash=prev, prev=hashes[1]))
    upgrade(engine)
    engine.dispose()
    return hashes


@pytest.mark.parametrize("empty_database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_0002_ledger_upgrades_and_keeps_verifying(empty_database_url: str) -> None:
    hashes = _write_0002_ledger(empty_database_url)
    database = open_database(empty_database_url, create=False)
    clock = Clock(now=AT.replace(minute=5))
    backend = Backend.open(database, TEST_MASTER_KEY, clock, random.Random(1))
    try:
        result = ledger_check.verify(backend)
        assert result.ok, result.problems
        # The meter and the key predate the keyed ledger: not covered until they change.
        assert (result.entries, result.legacy_entries, result.not_covered) == (3, 3, 2)
        with database.read_sessions() as session:
            references = session.execute(
                sa.text("SELECT client_reference FROM transactions ORDER BY id")
            ).scalars()
            assert list(references) == ["v1", "v2", None]
        # A vend now: a keyed entry chained from the last unkeyed one.
        vend.vend_credit(backend, "00000000000", units="3", reference="v3")
        assert vend.reverse(backend, "v3").reverses == "v3"
        result = ledger_check.verify(backend)
        assert result.ok, result.problems
        assert (result.entries, result.legacy_entries, result.not_covered) == (5, 3, 1)
        with database.read_sessions() as session:
            fourth = session.execute(
                sa.text("SELECT prev_hash, hash FROM ledger_entries WHERE seq = 4")
            ).one()
        assert fourth.prev_hash == hashes[2]
        assert fourth.hash != hashlib.sha256(b"").hexdigest()
        # An old entry rewritten by the old rule, its followers re-linked up to the keyed one.
        with database.sessions.begin() as session:
            c = session.connection()
            old = c.execute(sa.text("SELECT body FROM ledger_entries WHERE seq = 1")).scalar_one()
            forged = old.replace('"energy_kwh":"1"', '"energy_kwh":"100"')
            prev = hashlib.sha256((GENESIS + forged).encode()).hexdigest()
            c.execute(sa.text("UPDATE ledger_entries SET body = :b, hash = :h WHERE seq = 1"),
                      {"b": forged, "h": prev})  # fmt: skip
            for seq in (2, 3):
                body = c.execute(
                    sa.text("SELECT body FROM ledger_entries WHERE seq = :s"), {"s": seq}
                ).scalar_one()
                digest = hashlib.sha256((prev + body).encode()).hexdigest()
                relink = "UPDATE ledger_entries SET prev_hash = :p, hash = :h WHERE seq = :s"
                c.execute(sa.text(relink), {"p": prev, "h": digest, "s": seq})
                prev = digest
            c.execute(
                sa.text("UPDATE ledger_entries SET prev_hash = :p WHERE seq = 4"), {"p": prev}
            )
        problems = ledger_check.verify(backend).problems
        assert "entry 4: altered (its hash does not match its contents)" in problems
        assert "transaction 'v1' differs from ledger entry 1 (energy_kwh)" in problems
    finally:
        database.dispose()
