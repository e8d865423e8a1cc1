"""Running a vector file: one :class:`LineResult` per line, gathered in a :class:`RunResult`.

:func:`check_vector` checks one parsed line and never raises: a malformed
line, an engine error or even a crash inside the engine becomes a failure of
that line whose mismatches say what happened (malformed lines name their line
number). :func:`run_vectors` does that for every line of a file's text.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sts.codec import WithdrawnAlgorithmWarning
from sts.conformance.checks import (
    check_amount,
    check_cipher,
    check_crc,
    check_decoder_key,
    check_luhn,
    check_tid,
)
from sts.conformance.report import MalformedLine, Report
from sts.conformance.token_checks import check_reject, check_token
from sts.conformance.vectors import VectorLine, parse_vectors

_CHECKS: dict[str, Callable[[Mapping[str, Any], Report], None]] = {
    "decoder_key": check_decoder_key,
    "token": check_token,
    "amount": check_amount,
    "crc": check_crc,
    "tid": check_tid,
    "luhn": check_luhn,
    "cipher": check_cipher,
    "reject": check_reject,
}


@dataclass(frozen=True)
class LineResult:
    """The outcome of one line: passed when nothing it states differs."""

    line: int
    id: str
    kind: str
    mismatches: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "ok": self.ok, "mismatches": list(self.mismatches)}


@dataclass(frozen=True)
class KindSummary:
    """Passed and failed lines of one kind."""

    kind: str
    passed: int
    failed: int


@dataclass(frozen=True)
class RunResult:
    """Every line's result, in file order."""

    results: tuple[LineResult, ...]

    @property
    def passed(self) -> int:
        return sum(result.ok for result in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        """True when there was at least one line and every line passed."""
        return bool(self.results) and not self.failed

    @property
    def failures(self) -> tuple[LineResult, ...]:
        return tuple(result for result in self.results if not result.ok)

    def by_kind(self) -> tuple[KindSummary, ...]:
        """Counts per kind, in the order the kinds first appear."""
        counts: dict[str, list[int]] = {}
        for result in self.results:
            counts.setdefault(result.kind, [0, 0])[0 if result.ok else 1] += 1
        return tuple(KindSummary(kind, p, f) for kind, (p, f) in counts.items())

    def to_json(self) -> dict[str, Any]:
        """``{"passed": N, "failed": N, "results": [{"id", "ok", "mismatches"}, ...]}``."""
        return {
            "passed": self.passed,
            "failed": self.failed,
            "results": [result.to_json() for result in self.results],
        }


def check_vector(line: VectorLine) -> LineResult:
    """Check every figure one line states."""
    if line.problem is not None:
        return LineResult(line.number, line.id, line.kind, (f"line {line.number}: {line.problem}",))
    report = Report()
    try:
        with warnings.catch_warnings():
            # A line that names EA09 asks for DES on purpose; the warning is noise here.
            warnings.simplefilter("ignore", WithdrawnAlgorithmWarning)
            _CHECKS[line.kind](line.data, report)
    except MalformedLine as exc:
        report.add(f"line {line.number}: {exc}")
    except Exception as exc:  # a crash in the engine fails this line, not the run
        report.add(f"line {line.number}: the check crashed with {type(exc).__name__}: {exc}")
    return LineResult(line.number, line.id, line.kind, tuple(report.mismatches))


def run_vectors(source: str | Iterable[str]) -> RunResult:
    """Check every line of a vector file, given as its text or as its lines."""
    return RunResult(tuple(check_vector(line) for line in parse_vectors(source)))
