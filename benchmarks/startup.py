"""Start-up time of the installed `sts` command, run as real processes.

Each figure is the wall time of one whole process, from spawn to exit, run
several times (``--runs``, default 7) after one unmeasured warm-up run; the
script prints min / median / max, the median CPU time (user + system, which
other load on a shared machine disturbs less than wall time) and the target:

- ``python -c pass``: the interpreter alone, as a baseline on the same machine;
- ``sts --help``: target 0.25 s;
- ``sts token encode credit --kwh 1 --dk ...``: target 0.4 s;
- ``sts vend credit`` on an existing SQLite ledger: target 0.8 s. The ledger
  (a vending key, a tariff and a meter) is set up once in a temporary folder
  with the same command; every measured vend is a real sale committed to it.

An installed package has its modules compiled (pip writes the ``.pyc`` files);
with ``PYTHONDONTWRITEBYTECODE`` set in the shell, a checkout's modules would be
compiled again by every process (about 0.2 s of a vend). So the variable is
removed for the measured processes, and the warm-up run writes the ``.pyc``
files once, as an installation does. The load average is printed before and
after: on a shared machine it says how far to trust the wall times.

Run from the repository root with the package installed (``pip install -e .``)::

    python benchmarks/startup.py
    python benchmarks/startup.py --runs 15
    python benchmarks/startup.py --sts .venv/bin/sts

The script prints; nothing here is a test and nothing asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

MASTER_HEX = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"
#: The public STS test vending key and a meter on it (STS 531-1-0-02 / CTSA03 figures).
VENDING_KEY = "ABABABABABABABAB"
DK = "E653341F9D5BF36F"
DRN = "47500150231"
TARIFF = {
    "name": "Bench",
    "currency": "ZAR",
    "blocks": [
        {"up_to_kwh": "50", "price_per_kwh": "1.50"},
        {"up_to_kwh": None, "price_per_kwh": "2.00"},
    ],
    "fixed_charges": [{"name": "Service charge", "amount": "12.50"}],
    "vat_percent": "15",
}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as `uptime` shows them."""
    try:
        return ", ".join(f"{figure:.2f}" for figure in os.getloadavg())
    except OSError:
        return "unknown"


def default_sts() -> str:
    beside = Path(sys.executable).with_name("sts")
    if beside.exists():
        return str(beside)
    found = shutil.which("sts")
    if found is None:
        sys.exit("the `sts` command is not installed: pip install -e . (or pass --sts PATH)")
    return found


def run(argv: Sequence[str], env: dict[str, str], check: bool = True) -> tuple[float, float]:
    """One process from spawn to exit: (wall time, CPU time user + system) in seconds."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if check and process.returncode != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()
            sys.exit(f"{' '.join(argv)} exited {process.returncode}: {message}")
    return elapsed, usage.ru_utime + usage.ru_stime


def measure(argv: Sequence[str], env: dict[str, str], runs: int) -> list[tuple[float, float]]:
    run(argv, env)  # warm-up: file system caches, .pyc files
    return [run(argv, env) for _ in range(runs)]


def set_up_ledger(sts: str, folder: Path, env: dict[str, str]) -> None:
    tariff = folder / "tariff.json"
    tariff.write_text(json.dumps(TARIFF))
    key_env = env | {"BENCH_VK": VENDING_KEY}
    steps = [
        [
            "keys",
            "add",
            "bench",
            "--sgc",
            "123456",
            "--krn",
            "1",
            "--base-date",
            "2014",
            "--key-env",
            "BENCH_VK",
        ],
        ["tariffs", "add", str(tariff)],
        ["meters", "add", DRN, "--sgc", "123456", "--tariff", "Bench"],
    ]
    for step in steps:
        run([sts, *step], key_env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="measured runs per figure")
    parser.add_argument("--sts", default=None, help="the sts command (default: beside python)")
    args = parser.parse_args()
    if not 1 <= args.runs <= 1000:
        parser.error(f"--runs {args.runs} is out of range; expected 1 to 1000")
    sts = args.sts or default_sts()

    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs")
    print(f"cpu:     {cpu_model()}")
    print(f"python:  {platform.python_implementation()} {platform.python_version()}")
    print(f"command: {sts}")
    print(f"each figure: {args.runs} runs after one warm-up, wall time per process")
    print()

    with tempfile.TemporaryDirectory(prefix="sts-startup-") as name:
        folder = Path(name)
        env = os.environ | {
            "STS_DATABASE_URL": f"sqlite:///{folder / 'vending.sqlite'}",
            "STS_MASTER_KEY": MASTER_HEX,
            "HOME": str(folder),  # nothing lands in the real user's data folder
            "XDG_DATA_HOME": str(folder / "data"),
        }
        env.pop("STS_MASTER_KEY_FILE", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: compiled once, then loaded
        set_up_ledger(sts, folder, env)
        figures = [
            ("python -c pass", [sys.executable, "-c", "pass"], None),
            ("sts --help", [sts, "--help"], 0.25),
            (
                "sts token encode credit",
                [sts, "token", "encode", "credit", "--kwh", "1", "--dk", DK],
                0.4,
            ),
            (
                "sts vend credit (SQLite)",
                [sts, "vend", "credit", "--meter", DRN, "--money", "20"],
                0.8,
            ),
        ]
        print(f"load average before: {load_average()}")
        print(
            f"{'':26} {'wall: min':>9} {'median':>7} {'max':>7}   "
            f"{'CPU: min':>8} {'median':>7} {'max':>7}  target"
        )
        for label, argv, target in figures:
            times = measure(argv, env, args.runs)
            wall = [w for w, _ in times]
            cpu = [c for _, c in times]
            low, mid, high = min(wall), statistics.median(wall), max(wall)
            verdict = ""
            if target is not None:
                verdict = f"{target:.2f} s  " + ("ok" if mid < target else "ABOVE TARGET")
            print(
                f"{label:26} {low:8.3f}s {mid:6.3f}s {high:6.3f}s   "
                f"{min(cpu):7.3f}s {statistics.median(cpu):6.3f}s {max(cpu):6.3f}s  {verdict}"
            )
        print(f"load average after:  {load_average()}")
        print()
        print(
            "wall: spawn to exit; CPU: user + system time of the process (os.wait4), which "
            "other load on the machine disturbs less. The verdict is on the median wall time."
        )


if __name__ == "__main__":
    main()
