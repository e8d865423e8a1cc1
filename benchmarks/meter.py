"""Credit engine speed: how long it takes to advance a meter one year.

Three runs, each the best of three, on a meter with a two-step money tariff,
monthly charges, friendly hours 18:00-07:00 and weekends, three alarm levels,
a power limit and enough credit for the year:

- constant load: 1.2 kW all year;
- daily profile: 24 hourly values (night base load, morning and evening peaks);
- sampled function: a function of local time called once per simulated minute
  (525,600 samples), the one-minute resolution the issue asks for.

Run from the repository root::

    python benchmarks/meter.py

The script prints; nothing here is a test and nothing asserts a time.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from datetime import time as clock
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sts.meter.config import (
    CreditConfig,
    EnergyStep,
    FixedCharge,
    FriendlyConfig,
    LoadControlConfig,
    ServiceChargeStep,
    TariffConfig,
    VatRate,
)
from sts.meter.credit import CreditEngine
from sts.tokens.credit import CreditKind

START = datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=2)))
END = START.replace(year=2026)
HOURLY = [300] * 6 + [1500, 2500, 1200] + [600] * 8 + [1800, 3000, 2800, 2000, 900] + [400] * 2


def meter() -> CreditEngine:
    config = CreditConfig(
        timezone="+02:00",
        tariff=TariffConfig(
            steps=(EnergyStep(Decimal(350), Decimal("1.80")), EnergyStep(None, Decimal("2.40"))),
            service_charge=(
                ServiceChargeStep(Decimal(500), Decimal("50")),
                ServiceChargeStep(None, Decimal("120")),
            ),
            fixed_charges=(FixedCharge("network", Decimal("25")),),
            vat=(VatRate("VAT", Decimal(15)),),
        ),
        friendly=FriendlyConfig(hours=(clock(18), clock(7)), weekdays=frozenset({5, 6})),
        load_control=LoadControlConfig(power_limit_w=10_000),
    )
    engine = CreditEngine.new(START, config)
    engine.apply_credit(CreditKind.ELECTRICITY_CURRENCY, Decimal(50_000), START)
    return engine


def minute_load(local: datetime) -> int:
    return HOURLY[local.hour] + (local.minute % 7) * 10


def best_of_three(load: Callable[[], object]) -> tuple[float, CreditEngine]:
    best = float("inf")
    engine = meter()
    for _ in range(3):
        engine = meter()
        started = time.perf_counter()
        engine.advance(END, load())
        best = min(best, time.perf_counter() - started)
    return best, engine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs")
    print(f"cpu:     {cpu_model()}")
    print(f"python:  {platform.python_implementation()} {platform.python_version()}")
    print()
    print("Advancing one year (2025-01-01 to 2026-01-01, UTC+2), best of 3:")
    runs = {
        "constant 1.2 kW": lambda: 1200,
        "daily profile, 24 hourly values": lambda: HOURLY,
        "function sampled every minute": lambda: minute_load,
    }
    for name, load in runs.items():
        seconds, engine = best_of_three(load)
        status = engine.status()
        print(
            f"  {name:34} {seconds * 1000:8.1f} ms   "
            f"{status.totals.energy_kwh:>9} kWh used, money left {status.money:.2f}"
        )


if __name__ == "__main__":
    main()
