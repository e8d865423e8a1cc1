"""The one table shape every vending listing uses, and times as the listings show them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table


def local(when: datetime) -> str:
    """A time in local time with its offset, to the second."""
    return when.astimezone().isoformat(sep=" ", timespec="seconds")


def table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    footer: Sequence[Sequence[Any]] = (),
    numeric_from: int | None = None,
) -> Table:
    """A table that fits 80 columns: light rules, no side borders, long cells folded
    (never cut short with an ellipsis); numbers right-aligned from column ``numeric_from``."""
    from rich import box
    from rich.table import Table

    made = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        show_header=any(columns),
    )
    for index, column in enumerate(columns):
        numeric = numeric_from is not None and index >= numeric_from
        # The first column names the row (a DRN, a label, a day): kept whole if it can be.
        made.add_column(
            column, overflow="fold", justify="right" if numeric else "left", no_wrap=index == 0
        )
    for row in rows:
        made.add_row(*("" if cell is None else str(cell) for cell in row))
    if footer:
        made.add_section()
        for row in footer:
            made.add_row(*("" if cell is None else str(cell) for cell in row))
    return made
