"""A walkthrough of the token engine, as data for the CLI's `sts demo` to render.

It derives a decoder key from a vending key, makes a credit token and a
power-limit token, decodes them back and shows a key change set, using the
figures of the public STS compliance tests so every number can be checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from sts.codec import decode, encode
from sts.crypto.dkga import KeyParameters, derive_decoder_key
from sts.crypto.keys import VendingKey
from sts.tokens.credit import CreditKind, TransferCredit
from sts.tokens.digits import format_token, parse_token
from sts.tokens.keychange import KeyChangeOrder
from sts.tokens.management import SetPowerLimit
from sts.tokens.meter_number import meter_pan
from sts.tokens.tid import BaseDate, datetime_from_tid, vending_tid

# The vending key and meter of compliance test STS 531-1-0-02 CTSA03.
DEMO_VENDING_KEY = "ABABABABABABABAB"
DEMO_PAN = "600727000000000009"


def walkthrough(now: datetime | None = None) -> Iterator[tuple[str, list[str]]]:
    """Sections of (title, lines) describing each step with its figures."""
    issued = now or datetime(2004, 3, 28, 9, 1, tzinfo=UTC)
    vk = VendingKey.from_hex(DEMO_VENDING_KEY)
    params = KeyParameters(pan=DEMO_PAN, sgc=123456, kt=2, ti=1, krn=1)
    dk = derive_decoder_key("02", vk, params)
    yield (
        "1. Decoder key (DKGA02)",
        [
            f"MeterPAN {params.pan} (DRN 47500150231 would give {meter_pan('47500150231')})",
            f"SGC {params.sgc}, KT {params.kt}, TI {params.ti:02d}, KRN {params.krn}",
            f"decoder key: {dk!r} (use `sts key derive` to reveal it)",
        ],
    )
    tid = vending_tid(issued, BaseDate.Y1993)
    limit = SetPowerLimit.for_watts(1000, tid=tid, rnd=5)
    limit_digits = encode(limit, dk)
    yield (
        "2. A set-power-limit token (class 2, EA07)",
        [
            f"issued {issued:%Y-%m-%d %H:%M} UTC -> TID {tid} on the 1993 base",
            f"plaintext block {limit.to_block():016X}",
            f"token  [bold green]{format_token(parse_token(limit_digits))}[/]",
        ],
    )
    credit = TransferCredit.for_units(CreditKind.ELECTRICITY, 255, tid=tid + 1, rnd=7)
    credit_digits = encode(credit, dk)
    back = decode(credit_digits, dk)
    assert isinstance(back, TransferCredit)
    yield (
        "3. A 25.5 kWh credit token, and back",
        [
            f"token  [bold green]{format_token(parse_token(credit_digits))}[/]",
            f"decodes to {back.quantity} kWh, TID {back.tid} = "
            f"{datetime_from_tid(back.tid, BaseDate.Y1993):%Y-%m-%d %H:%M} UTC",
        ],
    )
    new_dk = derive_decoder_key("02", vk, KeyParameters(DEMO_PAN, 123456, 2, 2, 1))
    order = KeyChangeOrder(new_dk.secret_bytes(), krn=1, kt=2, ti=2)
    kct = [format_token(parse_token(encode(t, dk))) for t in order.tokens()]
    yield (
        "4. A key change set to tariff index 02",
        [f"KCT {i}  [bold green]{digits}[/]" for i, digits in enumerate(kct, start=1)],
    )
