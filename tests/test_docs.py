"""The examples in the documentation run and give what they show.

README.md is run with ``doctest.testfile``; every module of the ``sts``
package whose source holds an interactive example (``>>>``) is run with
``doctest.testmod``.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

import sts

REPO_ROOT = Path(__file__).resolve().parent.parent
OPTIONS = doctest.ELLIPSIS


def _modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(sts.__path__, prefix="sts."):
        spec = importlib.util.find_spec(info.name)
        origin = spec.origin if spec is not None else None
        if origin and origin.endswith(".py") and ">>>" in Path(origin).read_text("utf-8"):
            names.append(info.name)
    return sorted(["sts", *names])


MODULES = _modules_with_examples()


def test_readme_examples_run() -> None:
    result = doctest.testfile(
        str(REPO_ROOT / "README.md"), module_relative=False, optionflags=OPTIONS, verbose=False
    )
    assert result.attempted > 0
    assert result.failed == 0


def test_engine_modules_with_examples_are_found() -> None:
    # The modules whose docstrings teach by example today; more may join.
    for name in ("sts", "sts.tokens.amount", "sts.tokens.crc", "sts.tokens.digits"):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_module_examples_run(name: str) -> None:
    module: ModuleType = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=OPTIONS, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0
