"""Options several `sts` commands share: the meter state file, a registered meter and
client reference, the vending commands' database and master key, a migration's chunk.

The environment variables named here are read by click when it parses the command
line, as for any option with ``envvar``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from sts.console.params import IntRange, SafePath

#: The meter state FILE of every `sts meter` command.
meter_file = click.argument("file", type=SafePath(dir_okay=False, path_type=Path))

#: --json on the `sts meter` commands.
meter_json = click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")

#: The registered meter a vend or key change order is for.
meter_option = click.option("--meter", "drn", metavar="DRN", required=True, help="Meter number.")

#: The client reference that makes a vend idempotent.
ref_option = click.option(
    "--ref",
    "reference",
    metavar="REF",
    help="Client reference: the same reference again returns the same tokens.",
)

#: How many meters a migration orders per database transaction.
chunk_option = click.option(
    "--chunk",
    type=IntRange(1, 100_000),
    default=500,
    show_default=True,
    help="Meters ordered per database transaction; an interrupted run resumes after the "
    "last whole chunk.",
)


def vending_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--db, --master-key-file and --json: the options of every vending command."""
    command = click.option(
        "--master-key-file",
        type=SafePath(dir_okay=False, path_type=Path),
        envvar="STS_MASTER_KEY_FILE",
        help="File holding the master key that seals vending keys (default: next to the "
        "default database; STS_MASTER_KEY with 64 hex digits takes precedence).",
    )(command)
    command = click.option(
        "--db",
        "db_url",
        metavar="URL",
        envvar="STS_DATABASE_URL",
        help="Database URL, e.g. sqlite:///vending.sqlite or "
        "postgresql://user@host/dbname (default: STS_DATABASE_URL, else a SQLite file in "
        "your data folder).",
    )(command)
    return click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")(command)
