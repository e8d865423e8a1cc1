"""The vending side of ``sts demo``: a demo key, tariff, customer and meter, and one vend.

Everything here goes through the ordinary services, so the demo shows what a
vending point does: :func:`set_up` registers (or finds, on a second run against
the same database) the demo vending key, a stepped residential tariff and a
meter; :func:`sell` vends to it by money. The CLI then makes the simulated
meter with :func:`vending.simulate.simulated_meter` and keys the tokens in.

The demo never touches real data. :func:`check_database` refuses a database
that holds anything the demo did not put there (another key, tariff,
customer or meter, or a migration), so it runs only on an empty ledger or one
it has used before. Its meter number (:data:`DEMO_DRN`, manufacturer code 00,
serial 99999999) is its own. The vending key is the public key of the STS
compliance tests (``ABABABABABABABAB``), sealed under a master key of the
demo's own (:data:`DEMO_MASTER_KEY`, public too), so the demo neither needs nor
creates the user's master key: fine for a demo, never for real meters.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select

from sts.crypto.keys import VendingKey
from vending import registry, vend
from vending.backend import Backend
from vending.errors import DuplicateError, NotFoundError, VendingError
from vending.keystore import MasterKey
from vending.models import (
    Customer,
    MigrationBatch,
    TariffRecord,
    VendingKeyRecord,
)
from vending.models import Meter as MeterRecord
from vending.receipt import Receipt
from vending.tariff import Block, FixedCharge, Levy, Tariff

DEMO_VENDING_KEY = "ABABABABABABABAB"
DEMO_KEY_LABEL = "demo-sgc123456-krn1"
DEMO_SGC = 123456
DEMO_KRN = 1
DEMO_KT = 2
DEMO_TI = 1
DEMO_BASE_DATE = 2014
DEMO_DRN = "00999999998"
DEMO_CUSTOMER = "Demo Customer"
DEMO_PAYMENT = Decimal("250.00")
#: The demo's own master key: public (SHA-256 of a fixed phrase), as the demo's vending key is.
DEMO_MASTER_KEY = MasterKey(hashlib.sha256(b"sts-toolkit demo master key").digest())

DEMO_TARIFF = Tariff(
    name="Demo residential",
    currency="ZAR",
    blocks=(
        Block(Decimal(50), Decimal("1.85")),
        Block(Decimal(350), Decimal("2.35")),
        Block(None, Decimal("3.10")),
    ),
    fixed_charges=(FixedCharge("Service charge", Decimal("15.00")),),
    vat_percent=Decimal(15),
    levies=(Levy("Electrification levy", Decimal(2)),),
    free_units_kwh=Decimal(10),
)


@dataclass(frozen=True)
class DemoMeter:
    """What the simulated meter needs to be made with the same key as the vending side."""

    drn: str
    vending_key: VendingKey
    sgc: int
    krn: int
    kt: int
    ti: int
    base_date: int


class NotADemoDatabase(VendingError):
    """The database holds data the demo did not make: the demo refuses to touch it."""


def check_database(backend: Backend) -> None:
    """Refuse a database holding anything but the demo's own key, tariff, customer and meter."""
    others = []
    with backend.read_sessions() as session:
        for what, column, own in (
            ("vending key", VendingKeyRecord.label, DEMO_KEY_LABEL),
            ("tariff", TariffRecord.name, DEMO_TARIFF.name),
            ("customer", Customer.name, DEMO_CUSTOMER),
            ("meter", MeterRecord.drn, DEMO_DRN),
            ("migration", MigrationBatch.name, None),
        ):
            count = session.execute(
                select(func.count()).select_from(column.class_).where(column != own)
                if own is not None
                else select(func.count()).select_from(column.class_)
            ).scalar_one()
            if count:
                others.append(f"{count} {what}{'s' if count > 1 else ''}")
    if others:
        where = backend.database.location if backend.database is not None else "given"
        raise NotADemoDatabase(
            f"the database {where} holds data the demo did not make ({', '.join(others)}); "
            "the demo runs only on an empty database or one only it has used: leave out --db for a "
            "fresh temporary ledger"
        )


def set_up(backend: Backend) -> DemoMeter:
    """Register the demo key, tariff and meter unless they are there already."""
    key = VendingKey.from_hex(DEMO_VENDING_KEY)
    with contextlib.suppress(DuplicateError):
        registry.add_vending_key(
            backend,
            DEMO_KEY_LABEL,
            key,
            DEMO_SGC,
            krn=DEMO_KRN,
            kt=DEMO_KT,
            base_date=DEMO_BASE_DATE,
            group_name="Demo supply group",
        )
    try:
        registry.get_tariff(backend, DEMO_TARIFF.name)
    except NotFoundError:
        registry.add_tariff(backend, DEMO_TARIFF)
    try:
        registry.get_meter(backend, DEMO_DRN)
    except NotFoundError:
        registry.add_meter(
            backend,
            DEMO_DRN,
            DEMO_SGC,
            krn=DEMO_KRN,
            kt=DEMO_KT,
            ti=DEMO_TI,
            base_date=DEMO_BASE_DATE,
            tariff=DEMO_TARIFF.name,
            customer=DEMO_CUSTOMER,
        )
    return DemoMeter(DEMO_DRN, key, DEMO_SGC, DEMO_KRN, DEMO_KT, DEMO_TI, DEMO_BASE_DATE)


def sell(backend: Backend, money: Decimal = DEMO_PAYMENT) -> Receipt:
    """Vend ``money`` to the demo meter through its tariff."""
    return vend.vend_credit(backend, DEMO_DRN, money=money)
