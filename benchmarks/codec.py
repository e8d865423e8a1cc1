"""Token engine throughput: tokens per second on one core.

Four figures, each the best of three timed runs of a few seconds:

- STA encode: ``sts.encode`` of a new TransferCredit (a new TID each token)
  under one known 64-bit decoder key, to the 20-digit string;
- STA decode: ``sts.decode`` of 20-digit strings under that key;
- new meter per token: DKGA02 key derivation for a distinct MeterPAN, then
  STA encode of one credit token under the fresh key;
- MISTY1 encode: ``sts.encode`` of a new TransferCredit under a known 128-bit
  key (EA11).

Run from the repository root::

    python benchmarks/codec.py            # about 3 s per figure
    python benchmarks/codec.py --seconds 3

The script prints; nothing here is a test and nothing asserts a time.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sts
from sts.tokens.meter_number import luhn_check_digit, meter_pan

# Keys of the public compliance tests (STS 531-1-0-02 and -04, CTSA03).
DK64 = sts.DecoderKey.from_hex("E653341F9D5BF36F")
DK128 = sts.DecoderKey.from_hex("F94B6ED353C3BFDB113E2D3A7EA3C41D")
VK = sts.VendingKey.from_hex("ABABABABABABABAB")
FIRST_TID = 5_910_301  # 2004-03-28 09:01 on the 1993 base
TARGETS = {
    "STA encode": 60_000,
    "STA decode": 60_000,
    "DKGA02 + STA encode, new meter each token": 20_000,
    "MISTY1 encode": 20_000,
}

# A benchmark is "prepare(n)" returning a callable that does n tokens.
Prepared = Callable[[], object]


def _credit(tid: int) -> sts.TransferCredit:
    return sts.TransferCredit(sts.CreditKind.ELECTRICITY, tid & 0xF, tid, 100)


def sta_encode(n: int) -> Prepared:
    key = DK64
    encode, credit = sts.encode, _credit

    def run() -> object:
        last = ""
        for tid in range(FIRST_TID, FIRST_TID + n):
            last = encode(credit(tid), key)
        return last

    return run


def sta_decode(n: int) -> Prepared:
    key = DK64
    tokens = [sts.encode(_credit(tid), key) for tid in range(FIRST_TID, FIRST_TID + n)]
    decode = sts.decode

    def run() -> object:
        last = None
        for digits in tokens:
            last = decode(digits, key)
        return last

    return run


_next_serial = 0


def _pans(n: int) -> list[str]:
    """n MeterPANs (manufacturer code 47) never used before in this process."""
    global _next_serial
    first, _next_serial = _next_serial, _next_serial + n
    pans = []
    for serial in range(first, first + n):
        body = f"47{serial:08d}"
        drn = body + str(luhn_check_digit(body))
        pans.append(meter_pan(drn))
    return pans


def new_meter_each_token(n: int) -> Prepared:
    pans = _pans(n)
    derive, params, encode, credit = (
        sts.derive_decoder_key,
        sts.KeyParameters,
        sts.encode,
        _credit,
    )

    def run() -> object:
        last = ""
        for tid, pan in enumerate(pans, start=FIRST_TID):
            key = derive("02", VK, params(pan=pan, sgc=123456, kt=2, ti=1, krn=1))
            last = encode(credit(tid), key)
        return last

    return run


def misty1_encode(n: int) -> Prepared:
    key = DK128
    encode, credit = sts.encode, _credit

    def run() -> object:
        last = ""
        for tid in range(FIRST_TID, FIRST_TID + n):
            last = encode(credit(tid), key)
        return last

    return run


BENCHMARKS: dict[str, Callable[[int], Prepared]] = {
    "STA encode": sta_encode,
    "STA decode": sta_decode,
    "DKGA02 + STA encode, new meter each token": new_meter_each_token,
    "MISTY1 encode": misty1_encode,
}


def tokens_per_second(prepare: Callable[[int], Prepared], seconds: float) -> float:
    """Best of three runs, each sized to take about ``seconds`` / 3."""
    probe = 2_000
    run = prepare(probe)
    start = time.perf_counter()
    run()
    elapsed = time.perf_counter() - start
    n = max(probe, int(probe * (seconds / 3) / max(elapsed, 1e-9)))
    best = 0.0
    for _ in range(3):
        run = prepare(n)  # new meters get new PANs in every run: no key is derived twice
        start = time.perf_counter()
        run()
        best = max(best, n / (time.perf_counter() - start))
    return best


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per figure (3 runs)")
    parser.add_argument("--only", help="run only benchmarks whose name contains this text")
    args = parser.parse_args()

    print(f"machine: {platform.platform()}")
    print(f"cpu:     {cpu_model()}")
    print(f"python:  {platform.python_implementation()} {platform.python_version()}")
    print()
    print(f"{'benchmark':<44} {'tokens/s':>10} {'target':>10}")
    for name, prepare in BENCHMARKS.items():
        if args.only and args.only.lower() not in name.lower():
            continue
        rate = tokens_per_second(prepare, args.seconds)
        target = TARGETS[name]
        mark = "ok" if rate >= target else "BELOW TARGET"
        print(f"{name:<44} {rate:>10,.0f} {target:>10,}  {mark}", flush=True)


if __name__ == "__main__":
    main()
