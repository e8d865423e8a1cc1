"""Save docs/keypad.svg: the keypad screen of `sts meter keypad`, drawn by the application itself.

Run from the repository root (with the project installed)::

    python docs/keypad_screenshot.py            # writes docs/keypad.svg

It makes a simulated meter with the key of the public STS compliance tests
(decoder key E653341F9D5BF36F), keys in a 25.5 kWh credit token made for it,
through Textual's own test driver (``App.run_test``
and its pilot) on a clock fixed at 2025-01-02 09:05 UTC, and saves the screen
with ``App.save_screenshot``. Nothing is written but the SVG (the meter lives
in memory). tests/test_guide.py runs :func:`screenshot` too, into a temporary
folder, and checks what the picture shows.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sts
from sts.meter.keypad_app import KeypadApp
from sts.meter.meter import Meter
from sts.tokens.tid import BaseDate, vending_tid

DECODER_KEY = "E653341F9D5BF36F"
DRN = "47500150231"
MADE = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
ISSUED = datetime(2025, 1, 2, 9, 0, tzinfo=UTC)
KEYED = ISSUED + timedelta(minutes=5)
SIZE = (110, 32)
OUT = Path(__file__).resolve().parent / "keypad.svg"


def credit_token() -> str:
    """A 25.5 kWh electricity token for the meter, issued at ISSUED on the 2014 base date."""
    token = sts.TransferCredit.for_units(
        sts.CreditKind.ELECTRICITY, 255, tid=vending_tid(ISSUED, BaseDate.Y2014), rnd=7
    )
    return sts.encode(token, sts.DecoderKey.from_hex(DECODER_KEY))


def new_meter() -> Meter:
    return Meter.manufacture(
        drn=DRN,
        key=sts.DecoderKey.from_hex(DECODER_KEY),
        sgc=123456,
        manufactured=MADE,
        base_date=2014,
    )


async def _drive(path: Path) -> str:
    app = KeypadApp(new_meter(), lambda: KEYED, lambda _meter: None)
    async with app.run_test(size=SIZE) as pilot:
        for key in credit_token() + "E":
            await pilot.press("enter" if key == "E" else key)
        await pilot.pause()
        app.save_screenshot(filename=path.name, path=str(path.parent))
    return path.read_text("utf-8")


def screenshot(path: Path = OUT) -> str:
    """Drive the keypad screen and save its SVG at ``path``; returns the SVG text."""
    return asyncio.run(_drive(path))


def main() -> int:
    # The event log shows local times: draw them in UTC, whoever runs this.
    os.environ["TZ"] = "UTC"
    time.tzset()
    screenshot(OUT)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
