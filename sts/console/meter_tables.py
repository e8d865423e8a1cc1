"""Tables of what the simulated meter records: its registers, load-profile surveys
(as a table, CSV text or a terminal plot), billing records and event logs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sts.console.meter_views import shown_time
from sts.console.output import Part

if TYPE_CHECKING:
    from rich.table import Table

#: One survey row as the meter keeps it: (capture time as a Unix timestamp, raw values).
Row = tuple[int, Sequence[int]]


def registers_table(clock: datetime, rate: int, readings: Sequence[Any]) -> Table:
    """Every register with its OBIS code, value, unit, raw value and scaler."""
    from rich.table import Table

    table = Table(title=f"Registers at {shown_time(clock)} (TOU rate {rate})")
    table.add_column("OBIS")
    table.add_column("register")
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("raw, scaler", justify="right", style="dim")
    for r in readings:
        table.add_row(
            str(r.spec.obis),
            r.spec.name,
            str(r.quantity),
            r.spec.unit.symbol,
            f"{r.value}, {r.spec.scaler}",
        )
    return table


def profile_csv(times: Sequence[datetime], rows: Sequence[Row], specs: Sequence[Any]) -> str:
    """A survey's rows as CSV: a header of channels with units, then one line a row."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["time", *(f"{sp.obis} [{sp.unit.symbol}]" for sp in specs)])
    for when, (_, values) in zip(times, rows, strict=True):
        quantities = (sp.quantity(v) for sp, v in zip(specs, values, strict=True))
        writer.writerow([when.isoformat(), *quantities])
    return buffer.getvalue()


def profile_plot(
    times: Sequence[datetime], rows: Sequence[Row], spec: Any, wanted: int, width: int
) -> str:
    """One channel of a survey drawn as text for a terminal ``width`` columns wide."""
    import plotext

    first = rows[0][0]
    figure = plotext.figure
    figure.clear()
    plotext.terminal.limit(False, False)
    figure.plot_size(max(40, min(width, 120)), 20)
    figure.draw(
        figure.signal(
            [(t - first) / 3600 for t, _ in rows],
            [float(spec.quantity(values[wanted])) for _, values in rows],
        ).lines()
    )
    figure.title(f"{spec.obis} [{spec.unit.symbol}], hours from {shown_time(times[0])}")
    return str(figure.build().string(colorless=True))


def profile_table(
    number: int, times: Sequence[datetime], rows: Sequence[Row], specs: Sequence[Any]
) -> Table:
    """A survey's rows: the capture time, then each channel's value."""
    from rich.table import Table

    table = Table(title=f"Survey {number} ({len(rows)} rows)")
    table.add_column("time")
    for sp in specs:
        table.add_column(f"{sp.obis}\n{sp.unit.symbol}", justify="right")
    for when, (_, values) in zip(times, rows, strict=True):
        table.add_row(
            shown_time(when), *(str(sp.quantity(v)) for sp, v in zip(specs, values, strict=True))
        )
    return table


def billing_view(parts: Mapping[str, Sequence[Any]]) -> list[Part]:
    """The daily and monthly billing records, a table each (rate columns where used)."""
    from rich.table import Table

    shown = []
    for name, records in parts.items():
        rates = [k for k in range(1, 9) if any(r.imported[k] or r.exported[k] for r in records)]
        table = Table(title=f"{name.capitalize()} records (Wh)")
        for column in ("period", "import", "export", "net"):
            table.add_column(column, justify="right")
        for k in rates:
            table.add_column(f"rate {k}\nimp/exp", justify="right")
        for r in records:
            table.add_row(
                r.label,
                str(r.import_wh),
                str(r.export_wh),
                str(r.net_wh),
                *(f"{r.rate_import_wh(k)}/{r.rate_export_wh(k)}" for k in rates),
            )
        shown.append(Part(table if records else f"no {name} records closed yet"))
    return shown


def events_table(rows: Sequence[tuple[str, Any, datetime]]) -> Table:
    """Event log entries as (log name, entry, local time), oldest first."""
    from rich.table import Table

    from sts.meter.event_logs import Code

    table = Table(title="Event logs")
    for column in ("time", "log", "code", "event", "detail"):
        table.add_column(column)
    for name, e, when in rows:
        table.add_row(shown_time(when), name, str(e.code), Code(e.code).label, e.detail)
    return table
