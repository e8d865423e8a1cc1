"""The view of a conformance run: passed and failed lines by kind, then each failure."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sts.console.output import Part

if TYPE_CHECKING:
    from sts.conformance import RunResult


def conformance_view(name: str, result: RunResult) -> list[Part]:
    """The run of vector file ``name``: a table by kind, the failures, a summary line."""
    from rich.markup import escape
    from rich.table import Table

    parts = [Part(f"[bold]Conformance run of {escape(name)}[/]")]
    table = Table()
    table.add_column("kind")
    table.add_column("passed", justify="right")
    table.add_column("failed", justify="right")
    for summary in result.by_kind():
        failed = f"[bold red]{summary.failed}[/]" if summary.failed else "0"
        table.add_row(summary.kind or "(unreadable)", str(summary.passed), failed)
    table.add_section()
    table.add_row("[bold]all", f"[bold]{result.passed}", f"[bold]{result.failed}")
    parts.append(Part(table))
    for failure in result.failures:
        where = "" if failure.id == f"line {failure.line}" else f" [dim](line {failure.line})[/]"
        parts.append(Part(f"[bold red]FAIL[/] {escape(failure.id)}{where}"))
        parts.extend(
            Part(f"  - {escape(mismatch)}", highlight=False) for mismatch in failure.mismatches
        )
    colour = "green" if result.ok else "red"
    parts.append(Part(f"[bold {colour}]{result.passed} passed, {result.failed} failed[/]"))
    return parts
