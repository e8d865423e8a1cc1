"""The conformance runner: check vector files (``sts/conformance/FORMAT.md``) against the engine.

    >>> from sts.conformance import run_vectors
    >>> line = ('{"id": "luhn-1", "kind": "luhn", "source": "hand", '
    ...         '"input": {"digits": "4750015023"}, "expect": {"check": 1}}')
    >>> result = run_vectors(line)
    >>> result.passed, result.failed
    (1, 0)

``parse_vectors`` splits a file's text into numbered lines (the loader for
``pytest.mark.parametrize``), ``check_vector`` checks one, ``run_vectors``
checks them all. Results are frozen dataclasses; nothing here prints or
reads files.
"""

from sts.conformance.runner import KindSummary, LineResult, RunResult, check_vector, run_vectors
from sts.conformance.token_checks import build_token
from sts.conformance.vectors import KINDS, VectorLine, parse_vectors

__all__ = [
    "KINDS",
    "KindSummary",
    "LineResult",
    "RunResult",
    "VectorLine",
    "build_token",
    "check_vector",
    "parse_vectors",
    "run_vectors",
]
