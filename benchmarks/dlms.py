"""A head-end against a fleet of simulated meters served by one `sts meter serve DIR` process.

The benchmark makes N meter state files (default 1,000; each its own DRN,
the CTSA decoder key, frozen clocks) with DLMS settings of known keys, starts
``sts meter serve DIR --port 0 --frozen-clock`` as a separate process (one
port per meter), and then, as a head-end with dlms-cosem's own client, does
on every meter: associate with HLS GMAC (suite 0), read three registers
(clock, +A, the energy wallet), push one 0.1 kWh token through the token
gateway, read its status, release. It does the whole fleet sequentially and
with 16 concurrent connections, several runs each, and prints per run the
wall time, and over all requests (GET/ACTION round trips) the median and
99th-percentile latency, and the same for the association (AARQ and the HLS
reply).

Run from the repository root::

    python benchmarks/dlms.py                    # 1,000 meters, 3 runs each way
    python benchmarks/dlms.py --meters 100 --runs 1

It prints; nothing here is a test and nothing asserts a time.
"""

from __future__ import annotations

import argparse
import logging
import platform
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import structlog
from dlms_cosem import cosem
from dlms_cosem import enumerations as E
from dlms_cosem.client import DlmsClient
from dlms_cosem.io import BlockingTcpIO, TcpTransport
from dlms_cosem.security import HighLevelSecurityGmacAuthentication

import sts
from sts.meter import state as meter_state
from sts.meter.dlms.device import Counters, SecuritySettings
from sts.meter.dlms.files import config_path, save_settings
from sts.meter.dlms.model import Level
from sts.meter.meter import Meter
from sts.tokens import CreditKind, TransferCredit
from sts.tokens.meter_number import luhn_check_digit

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

DK = sts.DecoderKey.from_hex("E653341F9D5BF36F")
MADE = datetime(2004, 1, 1, tzinfo=UTC)
FIRST_TID = 5_871_715  # 2004-03-01 on the 1993 base: after MADE, before the frozen clock moves
READS = [
    cosem.CosemAttribute(E.CosemInterface.CLOCK, cosem.Obis(0, 0, 1, 0, 0), 2),
    cosem.CosemAttribute(E.CosemInterface.REGISTER, cosem.Obis(1, 0, 1, 8, 0), 2),
    cosem.CosemAttribute(E.CosemInterface.CREDIT, cosem.Obis(0, 0, 19, 10, 0), 2),
]
ENTER = cosem.CosemMethod(E.CosemInterface.TOKEN_GATEWAY, cosem.Obis(0, 0, 19, 40, 0), 1)
STATUS = cosem.CosemAttribute(E.CosemInterface.TOKEN_GATEWAY, cosem.Obis(0, 0, 19, 40, 0), 6)


def make_fleet(folder: Path, count: int) -> list[tuple[bytes, bytes]]:
    """``count`` meters in ``folder``; their (encryption, authentication) keys."""
    keys = []
    for index in range(count):
        body = f"{index:010d}"
        drn = body + str(luhn_check_digit(body))
        meter = Meter.manufacture(drn=drn, key=DK, sgc=123456, base_date=1993, manufactured=MADE)
        file = folder / f"m{index:05d}.json"
        meter_state.save(meter, file)
        ek, ak = index.to_bytes(16, "big"), (index + 1_000_000).to_bytes(16, "big")
        settings = SecuritySettings(
            b"STS" + index.to_bytes(5, "big"), {b"admin-pw": Level.ADMIN}, ek, ak
        )
        save_settings(config_path(file), settings, Counters())
        keys.append((ek, ak))
    return keys


class HeadEnd:
    """dlms-cosem clients for every meter, remembering each meter's invocation counter."""

    def __init__(self, ports: list[int], keys: list[tuple[bytes, bytes]]) -> None:
        self.ports = ports
        self.keys = keys
        self.counters = [0] * len(ports)
        self.requests: list[float] = []
        self.associations: list[float] = []
        self.lock = threading.Lock()

    def visit(self, index: int, token: str) -> None:
        ek, ak = self.keys[index]
        client = DlmsClient(
            transport=TcpTransport(
                client_logical_address=1,
                server_logical_address=1,
                io=BlockingTcpIO("127.0.0.1", self.ports[index]),
            ),
            authentication=HighLevelSecurityGmacAuthentication(challenge_length=32),
            encryption_key=ek,
            authentication_key=ak,
            client_system_title=b"HEADEND1",
            client_initial_invocation_counter=self.counters[index],
        )
        laps: list[float] = []
        client.connect()
        start = time.perf_counter()
        client.associate()
        association = time.perf_counter() - start
        for attribute in READS:
            start = time.perf_counter()
            client.get(attribute)
            laps.append(time.perf_counter() - start)
        start = time.perf_counter()
        client.action(ENTER, b"\x09\x14" + token.encode("ascii"))
        laps.append(time.perf_counter() - start)
        start = time.perf_counter()
        status = client.get(STATUS)
        laps.append(time.perf_counter() - start)
        client.release_association()
        client.disconnect()
        if status[:4] != bytes.fromhex("02021603"):
            raise SystemExit(f"meter {index}: the token was not accepted ({status.hex()})")
        self.counters[index] = client.client_invocation_counter
        with self.lock:
            self.requests.extend(laps)
            self.associations.append(association)


def run_fleet(head: HeadEnd, token: str, workers: int) -> float:
    todo: queue.Queue[int] = queue.Queue()
    for index in range(len(head.ports)):
        todo.put(index)
    failures: list[BaseException] = []

    def work() -> None:
        while True:
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            try:
                head.visit(index, token)
            except BaseException as exc:  # report, do not hang the other workers
                failures.append(exc)
                return

    start = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"the head-end failed: {failures[0]!r}")
    return time.perf_counter() - start


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not 1 <= args.meters <= 10_000 or not 1 <= args.runs <= 20:
        raise SystemExit("--meters is 1-10000 and --runs 1-20")
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"{args.meters} meters, {args.runs} runs each way")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        made = time.perf_counter()
        keys = make_fleet(Path(folder), args.meters)
        print(f"made the fleet in {time.perf_counter() - made:.1f} s")
        root = Path(__file__).resolve().parent.parent
        server = subprocess.Popen(
            [sys.executable, "cli.py", "meter", "serve", folder, "--port", "0", "--frozen-clock"],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            ports = []
            for _ in range(args.meters):
                line = server.stdout.readline()
                if " on 127.0.0.1:" not in line:
                    raise SystemExit(f"the server did not start: {line!r}")
                ports.append(int(line.split(" on 127.0.0.1:")[1].split(";")[0]))
            head = HeadEnd(ports, keys)
            tid = FIRST_TID
            for label, workers in (("sequential", 1), ("16 connections", 16)):
                times = []
                head.requests, head.associations = [], []
                for _ in range(args.runs):
                    token = sts.encode(
                        TransferCredit.for_units(CreditKind.ELECTRICITY, 1, tid, 3), DK
                    )
                    tid += 1
                    times.append(run_fleet(head, token, workers))
                print(
                    f"{label:15s} fleet {min(times):6.1f} / {statistics.median(times):6.1f} / "
                    f"{max(times):6.1f} s (min/median/max); request median "
                    f"{statistics.median(head.requests) * 1000:.2f} ms, p99 "
                    f"{percentile(head.requests, 0.99) * 1000:.2f} ms; association (HLS) median "
                    f"{statistics.median(head.associations) * 1000:.2f} ms, p99 "
                    f"{percentile(head.associations, 0.99) * 1000:.2f} ms"
                )
        finally:
            server.send_signal(signal.SIGTERM)
            server.communicate()


if __name__ == "__main__":
    main()
