"""The vending side of ``sts demo``: a demo key, tariff, customer and meter, and one vend.

Everything here goes through the ordinary services, so the demo shows what a
vending point does: :func:`set_up` registers (or finds, on a second run against
the same database) the demo vending key, a stepped residential tariff and a
meter; :func:`sell` vends to it by money. The CLI then keys the tokens into a
simulated meter (sts.meter), which is outside this package on purpose.

The vending key is the public key of the STS compliance tests
(``ABABABABABABABAB``): fine for a demo, never for real meters.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from decimal import Decimal

from sts.crypto.keys import VendingKey
from vending import registry, vend
from vending.backend import Backend
from vending.errors import DuplicateError, NotFoundError
from vending.receipt import Receipt
from vending.tariff import Block, FixedCharge, Levy, Tariff

DEMO_VENDING_KEY = "ABABABABABABABAB"
DEMO_KEY_LABEL = "demo-sgc123456-krn1"
DEMO_SGC = 123456
DEMO_KRN = 1
DEMO_KT = 2
DEMO_TI = 1
DEMO_BASE_DATE = 2014
DEMO_DRN = "47500150231"
DEMO_CUSTOMER = "Demo Customer"
DEMO_PAYMENT = Decimal("250.00")

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
