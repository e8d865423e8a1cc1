"""Credit engine speed: how long it takes to advance a meter one year.

Three runs, each the best of three, on a meter with a two-step money tariff,
monthly charges, friendly hours 18:00-07:00 and weekends, three alarm levels,
a power limit and enough credit for the year:

- constant load: 1.2 kW all year;
- daily profile: 24 hourly values (night base load, morning and evening peaks);
- sampled function: a function of local time called once per simulated minute
  (525,600 samples), the one-minute resolution the issue asks for.

The second part runs the whole simulated Magno 22 (``sts.meter.meter.Meter``)
for a year at one-minute resolution: a load point (active and reactive power,
with midday solar export) from a function of local time, a TOU activity
calendar of two seasons and four rates, three load-profile surveys of 8
channels each (15, 5 and 60 minutes) plus the daily survey, per-rate billing
and every energy register; three runs, min/median/max. It also times saving
and loading the state file of that year (JSON with packed survey arrays), and
``sts meter enter`` on it as a process (bytecode compiled first, as an install
has it; wall and CPU time).

Run from the repository root::

    python benchmarks/meter.py

The script prints; nothing here is a test and nothing asserts a time.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from datetime import time as clock
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sts.codec import encode
from sts.crypto.keys import DecoderKey
from sts.meter import state as meter_state
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
from sts.meter.measurement import LoadPoint
from sts.meter.meter import Meter
from sts.meter.metering import Metering
from sts.tokens.credit import CreditKind, TransferCredit
from sts.tokens.tid import BaseDate, tid_from_datetime

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
    if hasattr(os, "getloadavg"):
        print(f"load:    {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min)")
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


TOU = {
    "name": "bench",
    "seasons": [
        {"name": "winter", "start": "10-01", "week": "winter"},
        {"name": "summer", "start": "04-01", "week": "summer"},
    ],
    "weeks": [
        {"name": "summer", "days": [1, 1, 1, 1, 1, 2, 2]},
        {"name": "winter", "days": [3, 3, 3, 3, 3, 2, 2]},
    ],
    "days": [
        {"id": 1, "switches": [["00:00", 1], ["07:00", 2], ["23:00", 1]]},
        {"id": 2, "switches": [["00:00", 3]]},
        {"id": 3, "switches": [["00:00", 1], ["17:00", 4], ["20:00", 1]]},
    ],
}
CHANNELS = [
    "1.0.1.8.0.255",
    "1.0.2.8.0.255",
    "1.0.5.8.0.255",
    "1.0.8.8.0.255",
    "1.0.32.7.0.255",
    "1.0.31.7.0.255",
    "1.0.1.7.0.255",
    "1.0.13.7.0.255",
]


def point_load(local: datetime) -> LoadPoint:
    """Household load with reactive power, exporting around midday (rooftop solar)."""
    watts = minute_load(local)
    if 10 <= local.hour < 15:
        watts -= 2500
    return LoadPoint(watts, 300 if watts > 0 else -200)


def whole_meter() -> Meter:
    metering = Metering.from_settings(
        {
            "calendar": {"active": TOU},
            "surveys": [
                {"channels": CHANNELS, "period_min": 15, "capacity": 35_040},
                {"channels": CHANNELS, "period_min": 5, "capacity": 105_120},
                {"channels": CHANNELS, "period_min": 60, "capacity": 8_760},
            ],
        }
    )
    meter = Meter.manufacture(
        drn="00000000000",
        key=DecoderKey.from_hex("E653341F9D5BF36F"),
        sgc=123456,
        manufactured=START,
        config=CreditConfig(timezone="+02:00"),
        metering=metering,
    )
    meter.engine.apply_credit(CreditKind.ELECTRICITY, 200_000, START)
    return meter


def whole_meter_year() -> None:
    print()
    print("The whole meter for a year at one-minute resolution (TOU, 3 surveys x 8 channels,")
    print("daily survey, measurement, per-rate billing), 3 runs:")
    times, cpu = [], []
    meter = whole_meter()
    for _ in range(3):
        meter = whole_meter()
        started, cpu_started = time.perf_counter(), time.process_time()
        meter.advance(END, point_load)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    print(
        f"  min {min(times):.2f} s   median {statistics.median(times):.2f} s   "
        f"max {max(times):.2f} s   (CPU time {min(cpu):.2f}/{statistics.median(cpu):.2f}/"
        f"{max(cpu):.2f} s: on a shared machine the wall time includes waiting)"
    )
    registers = meter.metering.registers
    rows = [len(s) for s in meter.metering.surveys]
    print(
        f"  +A {registers.value('1.0.1.8.0.255')} Wh, -A {registers.value('1.0.2.8.0.255')} Wh,"
        f" survey rows {rows}, daily rows {len(meter.metering.daily_survey)}"
    )
    saves, loads = [], []
    text = ""
    for _ in range(3):
        started = time.perf_counter()
        text = meter_state.dumps(meter)
        saves.append(time.perf_counter() - started)
        started = time.perf_counter()
        meter_state.loads(text)
        loads.append(time.perf_counter() - started)
    compile_bytecode()
    enter_times, enter_cpu = time_enter(meter)
    fresh = whole_meter()
    fresh.advance(START + timedelta(hours=1), 0)  # past the manufacture TID
    fresh_times, fresh_cpu = time_enter(fresh)
    print(
        f"  state file {len(text) / 1e6:.1f} MB: dumps min/median/max "
        f"{min(saves) * 1000:.0f}/{statistics.median(saves) * 1000:.0f}/{max(saves) * 1000:.0f} ms,"
        f" loads {min(loads) * 1000:.0f}/{statistics.median(loads) * 1000:.0f}/"
        f"{max(loads) * 1000:.0f} ms"
    )
    print(
        "  `sts meter enter` (a real process, 5 runs) on that year's file, min/median/max: "
        f"{spread(enter_times)} (CPU time {spread(enter_cpu)})"
    )
    print(
        "  the same on a new meter's file (process start-up and imports), min/median/max: "
        f"{spread(fresh_times)} (CPU time {spread(fresh_cpu)})"
    )


ROOT = Path(__file__).resolve().parent.parent


def compile_bytecode() -> None:
    """Byte-compile the toolkit as an install does (pip writes .pyc files): a process that
    compiles every module from source on each start (PYTHONDONTWRITEBYTECODE=1 and no
    __pycache__) measures the compiler, not the command."""
    import compileall

    for part in ("sts", "vending"):
        compileall.compile_dir(ROOT / part, quiet=1)
    compileall.compile_file(ROOT / "cli.py", quiet=1)


def time_enter(meter: Meter, runs: int = 5) -> tuple[list[float], list[float]]:
    """Wall and CPU time of `sts meter enter FILE TOKEN --at +1m` as a process, each on a
    fresh copy of the file with a fresh credit token. ``--at +1m`` keys the token in a
    minute after the meter's clock (without it the command would first run the meter from
    its clock to today's date, which measures the simulation, not the stored year)."""
    times, cpu = [], []
    with tempfile.TemporaryDirectory() as folder:
        original = Path(folder) / "original.json"
        path = Path(folder) / "year.json"
        meter_state.save(meter, original)
        for k in range(runs):
            path.write_bytes(original.read_bytes())
            tid = tid_from_datetime(meter.clock - timedelta(minutes=k + 1), BaseDate.Y2014)
            token = TransferCredit.for_units(CreditKind.ELECTRICITY, 10, tid, k)
            digits = encode(token, DecoderKey.from_hex("E653341F9D5BF36F"))
            before = os.times()
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "cli.py", "meter", "enter", str(path), digits, "--at", "+1m"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            times.append(time.perf_counter() - started)
            after = os.times()
            cpu.append(
                after.children_user
                - before.children_user
                + after.children_system
                - before.children_system
            )
            if done.returncode != 0:
                raise SystemExit(f"sts meter enter failed: {done.stderr or done.stdout}")
    return times, cpu


def spread(values: list[float], scale: float = 1000, unit: str = "ms") -> str:
    """min/median/max of ``values`` (seconds) in ``unit``."""
    shown = (min(values), statistics.median(values), max(values))
    return "/".join(f"{v * scale:.0f}" for v in shown) + f" {unit}"


if __name__ == "__main__":
    main()
    whole_meter_year()
