"""Make the guide's pictures from the application itself: ``python docs/pictures.py``.

``docs/keypad.svg`` is the keypad screen (``sts meter keypad``) of the
simulated-meter chapter's meter, after the chapter's 25.5 kWh token was typed
in and Enter pressed, saved by Textual's own screenshot. Times are fixed, so
the picture changes only when the screen does. tests/test_guide.py makes it
again and checks what it shows.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sts.crypto.keys import DecoderKey
from sts.meter.keypad_app import KeypadApp
from sts.meter.meter import Meter

HERE = Path(__file__).resolve().parent
SIZE = (100, 30)
MADE = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
TYPED_AT = datetime(2026, 1, 2, 9, 5, tzinfo=UTC)
TOKEN = "66841963576586460597"  # docs/simulated-meter.md: 25.5 kWh, TID of 2026-01-02 09:00


def keypad_svg() -> str:
    """The keypad screen after TOKEN and Enter, as SVG text."""
    meter = Meter.manufacture(
        drn="00000000000",
        manufactured=MADE,
        key=DecoderKey.from_hex("E653341F9D5BF36F"),
        sgc=123456,
        base_date=2014,
    )

    async def shoot() -> str:
        app = KeypadApp(meter, lambda: TYPED_AT, lambda _meter: None)
        async with app.run_test(size=SIZE) as pilot:
            for key in TOKEN:
                await pilot.press(key)
            await pilot.press("enter")
            await pilot.pause()
            return app.export_screenshot(title="sts meter keypad m.json")

    return asyncio.run(shoot())


if __name__ == "__main__":
    (HERE / "keypad.svg").write_text(keypad_svg(), encoding="utf-8")
