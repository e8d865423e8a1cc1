"""The `sts` command: click commands that parse, call the library and render with rich.

No logic lives here. Each command group sits in its own section below; errors
from the library become one clear sentence on stderr and exit 1 (a refused
operation or rejected token) or 2 (bad usage).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console

from sts.errors import StsError

console = Console()
err_console = Console(stderr=True)


def emit_json(data: Any) -> None:
    """Machine output: one JSON document on stdout, nothing else."""
    click.echo(json.dumps(data, indent=2, default=str))


@contextmanager
def refusals() -> Iterator[None]:
    """Turn the library's errors into a one-sentence ClickException (exit 1)."""
    try:
        yield
    except StsError as exc:
        raise click.ClickException(str(exc)) from exc


def group_digits(digits: str) -> str:
    """A 20-digit token in groups of four."""
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sts-toolkit")
def main() -> None:
    """STS prepayment toolkit: tokens, conformance vectors, a simulated meter, vending."""


# --- demo -------------------------------------------------------------------------------


@main.command()
def demo() -> None:
    """Walk through making and reading STS tokens (no set-up needed)."""
    from sts.demo import walkthrough

    for title, lines in walkthrough():
        console.rule(f"[bold]{title}")
        for line in lines:
            console.print(line, highlight=False)


# --- sections added by each command group follow ----------------------------------------


# --- meter ------------------------------------------------------------------------------


@main.group()
def meter() -> None:
    """A simulated STS keypad meter kept in a JSON state file."""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
