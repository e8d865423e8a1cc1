"""Meter state file speed: reading (parse, check every rule, build) and writing (check, dump).

Two meters:

- typical: a meter with a tariff, some tokens, a held key change section and a few
  days of load (about 10 KB of JSON, what `sts meter enter` reads and writes);
- largest: the same with a full 10,000-TID memory and a full 10,000-event log
  (the bounds the state file allows; about 1.5 MB).

Each figure is min / median / max of 15 runs, in milliseconds. Run from the
repository root::

    python benchmarks/meter_state.py

The script prints; nothing here is a test and nothing asserts a time.
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sts
from sts.meter import state
from sts.meter.config import CreditConfig, EnergyStep, TariffConfig
from sts.meter.events import EventKind, EventLog
from sts.meter.meter import Meter
from sts.meter.tid_memory import TidMemory
from sts.tokens import CreditKind, TransferCredit

DK = "E653341F9D5BF36F"
MADE = datetime(2004, 1, 1, tzinfo=UTC)
RUNS = 15


def typical() -> Meter:
    config = CreditConfig(tariff=TariffConfig(steps=(EnergyStep(None, Decimal("2.00")),)))
    meter = Meter.manufacture(
        drn="00000000000",
        key=sts.DecoderKey.from_hex(DK),
        sgc=123456,
        base_date=1993,
        manufactured=MADE,
        config=config,
    )
    start = datetime(2004, 6, 1, tzinfo=UTC)
    for minute in range(5):
        tid = 5_990_000 + minute
        token = TransferCredit.for_units(CreditKind.ELECTRICITY, 100, tid, 1)
        meter.enter_token(sts.encode(token, sts.DecoderKey.from_hex(DK)), start)
    meter.enter_token("51638423060042734509", start)  # CTSA05: first key change section
    meter.advance(start + timedelta(days=3), [300] * 12 + [1500] * 12)
    return meter


def largest() -> Meter:
    meter = typical()
    first = meter.decoder.tids.newest or 0
    tids = tuple(range(first, first + 10_000))
    meter.decoder = meter.decoder.__class__(
        meter.decoder.identity,
        meter.decoder.keys,
        TidMemory(10_000, tids),
        meter.decoder.kct,
        meter.decoder.lockout,
    )
    events = EventLog(10_000)
    for n in range(10_000):
        events.record(meter.clock, EventKind.TOKEN_REJECTED, f"entry: Format (token {n:020d})")
    meter.events = events
    meter.engine.events = events
    return meter


def timed(action: Callable[[], object]) -> str:
    runs = []
    for _ in range(RUNS):
        start = time.perf_counter()
        action()
        runs.append((time.perf_counter() - start) * 1000)
    return f"{min(runs):8.2f} {statistics.median(runs):8.2f} {max(runs):8.2f}"


def main() -> None:
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"{'':28} {'min':>8} {'median':>8} {'max':>8}  (ms, {RUNS} runs)")
    for name, meter in (("typical", typical()), ("largest", largest())):
        text = state.dumps(meter)
        print(f"{name} meter: {len(text):,} characters")
        print(f"  {'read (state.loads)':26} {timed(lambda t=text: state.loads(t))}")
        print(f"  {'write (state.dumps)':26} {timed(lambda m=meter: state.dumps(m))}")
        body = meter.to_dict()
        print(f"  {'rules alone':26} {timed(lambda b=body: state.validate(state.METER, b, 'm'))}")


if __name__ == "__main__":
    main()
