"""The `sts` command: click commands that parse, call the library and render with rich.

No logic lives here. Each command group sits in its own section below; errors
from the library become one clear sentence on stderr and exit 1 (a refused
operation or rejected token) or 2 (bad usage).
"""

from __future__ import annotations

import json
import secrets
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from sts.codec import WithdrawnAlgorithmWarning, decode_full, encode
from sts.console.dlms import dlms_options as _dlms_options
from sts.console.dlms import dlms_ref as _dlms_ref
from sts.console.dlms import dlms_target as _dlms_target
from sts.console.dlms import dlms_value as _dlms_value
from sts.console.key_options import BASE_DATE_CHOICES as _BASE_DATE_CHOICES
from sts.console.key_options import KEY_HELP as _KEY_HELP
from sts.console.key_options import decoder_key as _decoder_key
from sts.console.key_options import derive_options as _derive_options
from sts.console.key_options import issue_options as _issue_options
from sts.console.key_options import json_option as _json_option
from sts.console.key_options import key_options as _key_options
from sts.console.key_options import key_parameters as _key_parameters
from sts.console.key_options import tid_base as _tid_base
from sts.console.meter_views import shown_time as _shown_time
from sts.console.options import chunk_option as _chunk_option
from sts.console.options import meter_file as _meter_file
from sts.console.options import meter_json as _meter_json
from sts.console.options import meter_option as _meter_option
from sts.console.options import ref_option as _ref_option
from sts.console.options import vending_options as _vending_options
from sts.console.output import LazyConsole as _LazyConsole
from sts.console.output import Part, json_text
from sts.console.params import Amount as _Amount
from sts.console.params import Duration as _Duration
from sts.console.params import IntRange as _IntRange
from sts.console.params import MeterTime as _MeterTime
from sts.console.params import Power as _Power
from sts.console.params import SafeFile as _SafeFile
from sts.console.params import SafePath as _SafePath
from sts.console.params import int_any_base as _int_any_base
from sts.console.params import listen_host as _listen_host
from sts.console.params import token_money_rule as _token_money_rule
from sts.console.params import token_quantity_rule as _token_quantity_rule
from sts.console.token_views import token_record as _token_record
from sts.console.token_views import token_view
from sts.console.usage import OneLineGroup as _Main
from sts.console.usage import refusals
from sts.crypto import DecoderKey, VendingKey, derive_decoder_key
from sts.errors import StsError
from sts.tokens import (
    ALL_TESTS,
    ClearCredit,
    ClearTamper,
    CreditKind,
    CurrencyCredit,
    KeyChangeOrder,
    MeterTestToken,
    Register,
    SetPhaseUnbalanceLimit,
    SetPowerLimit,
    SetTariffRate,
    SetWaterMeterFactor,
    TestControl,
    Token,
    TokenClass,
    TransferCredit,
)
from sts.tokens.tid import vending_tid

if TYPE_CHECKING:
    # Start-up time: the simulated meter and the conformance runner are imported by the
    # commands that use them; heavy modules never at the top of this file.
    from sts.conformance import RunResult
    from sts.meter.meter import Meter, MeterStatus, TokenOutcome


console = _LazyConsole()
err_console = _LazyConsole(stderr=True)


def emit_json(data: Any) -> None:
    """Machine output: one JSON document on stdout, nothing else."""
    click.echo(json_text(data))


def _show(parts: Sequence[Part]) -> None:
    """Print a view's parts on stdout, each as its view asks."""
    for part in parts:
        console.print(part.renderable, highlight=part.highlight, soft_wrap=part.soft_wrap)


def _shown(value: object) -> str:
    """A typed value for an error message, cut short when long (sts.errors.shown)."""
    from sts.errors import shown

    return shown(value)


def _vend_money_rule() -> Any:
    from vending import limits

    return limits.PAYMENT


def _vend_energy_rule() -> Any:
    from vending import limits

    return limits.ENERGY


def _flow_rule() -> Any:
    from sts.meter.service import FLOW

    return FLOW


def _debt_rule() -> Any:
    from vending import limits

    return limits.DEBT


def _free_units_rule() -> Any:
    from vending import limits

    return limits.FREE_UNITS


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sts-toolkit")
def main() -> None:
    """STS prepayment toolkit: tokens, conformance vectors, a simulated meter, vending."""


# --- demo -------------------------------------------------------------------------------


@main.command()
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    help="Use this database instead of a fresh SQLite file in a temporary folder. It must be "
    "empty, or used only by the demo before: the demo refuses anything else.",
)
@click.option(
    "--money",
    type=_Amount(_vend_money_rule),
    default=Decimal("250.00"),
    show_default=True,
    help="Payment.",
)
@click.option("--walkthrough", is_flag=True, help="Show the token engine walkthrough instead.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the receipt and the meter's answers as JSON."
)
def demo(db_url: str | None, money: Decimal, walkthrough: bool, as_json: bool) -> None:
    """Sell electricity to a demo meter and key the token in on a simulated meter.

    On a fresh SQLite ledger: registers a demo vending key (the public STS test
    key, sealed under a demo master key, never yours), a stepped tariff and
    meter 00999999998, vends MONEY, prints the receipt, then makes the simulated
    meter from the key store (as `sts meters simulate` does), enters the token
    and shows its display. Exits 1 if the meter does not accept it.
    """
    import random
    import tempfile
    from datetime import UTC

    if walkthrough:
        from sts.demo import walkthrough as token_walkthrough

        if as_json:
            emit_json([{"title": t, "lines": list(lines)} for t, lines in token_walkthrough()])
            return
        for title, lines in token_walkthrough():
            console.rule(f"[bold]{title}")
            for line in lines:
                console.print(line, highlight=False)
        return

    from vending import demo as vending_demo
    from vending.backend import Backend
    from vending.db import open_database, sqlite_url
    from vending.simulate import simulated_meter

    with tempfile.TemporaryDirectory(prefix="sts-demo-") as folder:
        with refusals():
            database = open_database(db_url or sqlite_url(Path(folder) / "vending.sqlite"))
        backend = Backend.open(
            database,
            vending_demo.DEMO_MASTER_KEY,
            lambda: datetime.now(UTC),
            random.SystemRandom(),
        )
        try:
            with refusals():
                vending_demo.check_database(backend)
                made = vending_demo.set_up(backend)
                receipt = vending_demo.sell(backend, money)
                simulated = simulated_meter(backend, made.drn).manufacture()
                keyed_at = max(receipt.time, simulated.clock) + timedelta(minutes=1)
                outcomes = [simulated.enter_token(t.digits, keyed_at) for t in receipt.tokens]
                wallet = simulated.short_code("1", keyed_at)
        finally:
            backend.close()
    from vending.render import money_text

    where = f"the database {database.location}" if db_url else "a fresh SQLite ledger"
    currency = receipt.breakdown.currency if receipt.breakdown is not None else None
    refused = [(n, o) for n, o in enumerate(outcomes, start=1) if not o.accepted]
    if as_json:
        emit_json(
            {
                "database": database.location if db_url else None,
                "meter": made.drn,
                "receipt": receipt.to_dict() | {"copy": False},
                "meter_answers": [outcome.to_dict() for outcome in outcomes],
                "energy_wallet": wallet,
                "accepted": not refused,
            }
        )
    else:
        _render_demo(
            made.drn, where, money_text(money, currency), currency, receipt, outcomes, wallet
        )
    if refused:
        number, outcome = refused[0]
        raise click.ClickException(
            f"the simulated meter did not accept token {number} of {len(outcomes)}: "
            f"{outcome.text} ({int(outcome.result)}); the demo failed"
        )


def _render_demo(
    drn: str,
    where: str,
    paid: str,
    currency: str | None,
    receipt: Any,
    outcomes: Sequence[TokenOutcome],
    wallet: Sequence[str],
) -> None:
    from vending.views.receipt import demo_view

    _show(demo_view(drn, where, paid, currency, receipt, outcomes, wallet))


# --- sections added by each command group follow ----------------------------------------


# --- meter ------------------------------------------------------------------------------


def _meter_at(meter: Meter, at: datetime | timedelta | None) -> datetime | None:
    """--at resolved against the meter's clock (a '+DURATION' counts from it)."""
    return meter.clock + at if isinstance(at, timedelta) else at


def _default_manufacture(now: datetime) -> datetime:
    """`meter new`'s default manufacture time: 00:00 UTC on the day before ``now``.

    A meter made "now" would hold now's TID and refuse a token made this minute
    (Used) or a minute ago (Old); one made at a round instant a day earlier
    accepts every token a user has just made, and shows plainly on `meter show`.
    """
    from datetime import UTC

    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1)


def _now_or_clock(meter: Meter, at: datetime | timedelta | None) -> datetime:
    """--at resolved against the meter's clock; without it, now (or the clock, if later)."""
    resolved = _meter_at(meter, at)
    if resolved is not None:
        return resolved
    return max(datetime.now().astimezone(), meter.clock)


def _money(amount: Decimal) -> str:
    """A meter's money figure: two decimals, more only where the meter holds them."""
    from vending.render import money_text

    return money_text(amount)


def _wallets_of(status: MeterStatus) -> str:
    from sts.console.meter_views import wallets_of

    return wallets_of(status, _money)


def _render_meter(status: MeterStatus, events: list[Any]) -> None:
    from sts.console.meter_views import meter_view

    _show(meter_view(status, events, _money))


def _render_outcome(outcome: TokenOutcome) -> None:
    from sts.console.meter_views import outcome_view

    _show([outcome_view(outcome)])


@main.group()
def meter() -> None:
    """A simulated STS keypad meter kept in a JSON state file."""


def _load_unserved(file: Path) -> Meter:
    """The meter in FILE, refused while `sts meter serve` owns it (its lock file)."""
    from sts.meter import state as meter_state
    from sts.meter.dlms.lock import check_not_served

    check_not_served(file)
    return meter_state.load(file)


@meter.command("new")
@_meter_file
@click.option("--dk", metavar="HEX", help="The decoder key (16 or 32 hex digits).")
@click.option("--vk", metavar="HEX", help="Or a vending key to derive it from (16 or 40 hex).")
@click.option("--dkga", type=click.Choice(["02", "04"]), help="02 or 04 (default: by --vk size).")
@click.option("--drn", required=True, metavar="DIGITS", help="The 11 or 13-digit meter number.")
@click.option("--sgc", type=_IntRange(0, 999_999), help="Supply group code (with --vk).")
@click.option("--krn", type=_IntRange(1, 9), default=1, show_default=True)
@click.option("--kt", type=_IntRange(0, 3), default=2, show_default=True, help="Key type.")
@click.option("--ti", type=_IntRange(0, 99), default=1, show_default=True)
@click.option("--ken", type=_IntRange(0, 255), default=255, show_default=True)
@click.option("--ea", type=click.Choice(["07", "11", "09"]), help="Default: by key size.")
@click.option(
    "--base-date",
    "--bd",
    "base_date",
    type=click.Choice(["1993", "2014", "2035"]),
    default="2014",
    show_default=True,
)
@click.option(
    "--manufactured",
    type=_MeterTime(),
    help="When the meter was made: its clock starts here and its TID memory is filled with "
    "this time's TID, so it refuses tokens issued at or before it (Old or Used). Default: "
    "00:00 UTC yesterday, so every token issued since then, e.g. a minute ago, is accepted.",
)
@click.option("--tid-memory", type=_IntRange(1, 10_000), default=50, show_default=True)
@click.option(
    "--mfr-code", type=_IntRange(0, 9999), help="Manufacturer code (default: from the DRN)."
)
@click.option(
    "--config",
    "config_file",
    type=_SafeFile("r"),
    help="Set-up as JSON: credit engine (tariff, emergency credit, friendly time, ...) and "
    "'metering' (supply, TOU calendar, rate prices, net metering, surveys).",
)
@click.option(
    "--service",
    type=click.Choice(["electricity", "water", "gas"]),
    help="What the meter measures (default: the --config's, else electricity): a water or gas "
    "meter takes its own unit tokens (class 0 subclass 1 or 2) into a volume register in m3.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing state file.")
@_meter_json
def meter_new(file: Path, config_file: TextIO | None, **o: Any) -> None:
    """Make a new simulated meter and write its state FILE."""
    from sts.meter import state as meter_state
    from sts.meter.meter import Meter

    if (o["dk"] is None) == (o["vk"] is None):
        raise click.UsageError("give the decoder key as --dk, or a vending key as --vk")
    if o["vk"] is not None and o["sgc"] is None:
        raise click.UsageError("to derive the decoder key from --vk, also give --sgc")
    if file.exists() and not o["force"]:
        raise click.ClickException(f"meter state file {file} exists already; use --force")
    if not file.parent.is_dir():
        state = "is not a folder" if file.parent.exists() else "does not exist"
        raise click.ClickException(
            f"cannot write the meter state file {file}: the folder {file.parent} {state}; "
            "expected an existing folder"
        )
    with refusals():
        from sts.meter.dlms.lock import check_not_served

        check_not_served(file)
    manufactured = o["manufactured"]
    if isinstance(manufactured, timedelta):
        raise click.BadParameter("give an absolute time", param_hint="--manufactured")
    if manufactured is None:
        manufactured = _default_manufacture(datetime.now().astimezone())
    if o["ea"] == "09":
        err_console.print("[yellow]warning:[/] EA09 (DES) was withdrawn in STS Edition 3")
    with refusals():
        from sts.meter.settings import meter_settings_from_json

        config, metering = (
            (None, None)
            if config_file is None
            else meter_settings_from_json(config_file.read(), config_file.name)
        )
        config = _with_service(config, o["service"])
        made = Meter.manufacture(
            drn=o["drn"],
            manufactured=manufactured,
            key=DecoderKey.from_hex(o["dk"]) if o["dk"] else None,
            vending_key=VendingKey.from_hex(o["vk"]) if o["vk"] else None,
            dkga=o["dkga"],
            sgc=o["sgc"] if o["sgc"] is not None else 0,
            krn=o["krn"],
            kt=o["kt"],
            ti=o["ti"],
            ken=o["ken"],
            ea=o["ea"],
            base_date=o["base_date"],
            tid_memory=o["tid_memory"],
            mfr_code=o["mfr_code"],
            config=config,
            metering=metering,
        )
        meter_state.save(made, file, overwrite=o["force"])
    if o["as_json"]:
        emit_json({"file": str(file), "meter": made.status().to_dict()})
        return
    console.print(f"[green]made[/] meter {made.status().drn} in {file}", highlight=False)
    _render_meter(made.status(), [])


def _with_service(config: Any, service: str | None) -> Any:
    """``config`` (None: the defaults) measuring ``service``, when one was given."""
    if service is None:
        return config
    from dataclasses import replace

    from sts.meter.config import CreditConfig

    return replace(config or CreditConfig(), service=service)


@meter.command("enter")
@_meter_file
@click.argument("digits", nargs=-1, required=True)
@click.option(
    "--at",
    type=_MeterTime(),
    help="When the token is keyed in: 'YYYY-MM-DD HH:MM[+HH:MM]' or '+15m' after the meter's "
    "clock (default: now, which moves the meter's clock to now; the clock stays if it is "
    "already later). Never before the meter's clock.",
)
@_meter_json
def meter_enter(
    file: Path, digits: tuple[str, ...], at: datetime | timedelta | None, as_json: bool
) -> None:
    """Key a 20-digit token into the meter in FILE (exit 1 if it is rejected)."""
    from sts.meter import state as meter_state

    with refusals():
        current = _load_unserved(file)
        outcome = current.enter_token(" ".join(digits), _now_or_clock(current, at))
        meter_state.save(current, file)
    status = current.status()
    if as_json:
        emit_json(outcome.to_dict() | {"credit": status.to_dict()["credit"]})
    else:
        _render_outcome(outcome)
        console.print(_wallets_of(status), highlight=False)
    if not outcome.accepted:
        if not as_json:
            err_console.print(
                f"token rejected: {outcome.text} ({int(outcome.result)})"
                + (f": {outcome.detail}" if outcome.detail else ""),
                highlight=False,
                soft_wrap=True,
            )
        raise click.exceptions.Exit(1)


@meter.command("run")
@_meter_file
@click.option("--load", "load", type=_Power(), help="Load in watts ('2kW', '500W'); default: "
              "the standing load.")  # fmt: skip
@click.option("--for", "duration", type=_Duration(), required=True, help="'3h', '15m', '1d'.")
@click.option("--export", "export", type=_Power(), help="Power exported to the grid instead "
              "('3kW': rooftop solar); replaces --load.")  # fmt: skip
@click.option("--reactive", type=_IntRange(-1_000_000, 1_000_000), default=None,
              help="Reactive power in var with the load (+ inductive, - capacitive).")  # fmt: skip
@click.option("--flow", type=_Amount(_flow_rule), help="Water or gas meter: the flow in m3/h "
              "('1.5'; 0.001 steps), instead of --load.")  # fmt: skip
@_meter_json
def meter_run(
    file: Path,
    load: int | None,
    duration: timedelta,
    as_json: bool,
    export: int | None = None,
    reactive: int | None = None,
    flow: Decimal | None = None,
) -> None:
    """Let time pass on the meter in FILE with a load (or, water and gas, a flow) connected."""
    from sts.meter import state as meter_state

    if flow is not None and (load, export, reactive) != (None, None, None):
        raise click.UsageError("give --flow alone, without --load, --export or --reactive")
    if load is not None and export is not None:
        raise click.UsageError("give --load or --export, not both")
    given: Any = load
    if export is not None or reactive is not None:
        from sts.meter.measurement import LoadPoint

        active = -export if export is not None else (load or 0)
        given = LoadPoint(active, reactive or 0)
    with refusals():
        current = _load_unserved(file)
        start = current.clock
        if flow is not None:
            current.advance_flow(start + duration, flow)
        else:
            _watts_for_electricity(current, given)
            current.advance(start + duration, given)
        meter_state.save(current, file)
    status = current.status()
    if as_json:
        emit_json(status.to_dict())
        return
    rate = f"{status.credit.demand_w} W" if flow is None else f"{flow} m3/h"
    console.print(
        f"ran {duration} at {rate}: {_shown_time(start)} -> {_shown_time(status.clock)}",
        highlight=False,
    )
    _render_meter(status, [])


def _watts_for_electricity(current: Meter, given: Any) -> None:
    if given is not None and current.service != "electricity":
        raise click.ClickException(
            f"meter {current.decoder.identity.drn} is a {current.service} meter; give its flow "
            "with --flow in m3/h, not a load in watts"
        )


@meter.command("show")
@_meter_file
@click.option("--events", "event_count", type=_IntRange(0, 10_000), default=10, show_default=True,
              help="How many recent events to list.")  # fmt: skip
@_meter_json
def meter_show(file: Path, event_count: int, as_json: bool) -> None:
    """Show the meter in FILE: registers, wallets, lockout, recent events."""
    from sts.meter import state as meter_state

    with refusals():
        current = meter_state.load(file)
    status = current.status()
    events = current.events.latest(event_count) if event_count else []
    if as_json:
        emit_json(status.to_dict() | {"events": [event.to_dict() for event in events]})
        return
    _render_meter(status, events)


# --- meter: registers, profiles, billing ------------------------------------------------


@meter.command("registers")
@_meter_file
@_meter_json
def meter_registers(file: Path, as_json: bool) -> None:
    """Every register of the meter in FILE with its OBIS code, value, scaler and unit."""
    from sts.console.meter_tables import registers_table
    from sts.meter import state as meter_state

    with refusals():
        current = meter_state.load(file)
        readings = current.metering.readings(current.clock, current.engine.state.relay_closed)
        rate = current.metering.rate_at(current.clock)
    if as_json:
        emit_json(
            {
                "clock": current.clock.isoformat(),
                "rate": rate,
                "registers": [r.to_dict() for r in readings],
            }
        )
        return
    console.print(registers_table(current.clock, rate, readings))


@meter.command("profile")
@_meter_file
@click.option(
    "--survey",
    "number",
    type=_IntRange(0, 3),
    default=None,
    help="Survey 1-3, or 0 for the daily survey (default: 1 if set up, else 0).",
)
@click.option("--from", "start", type=_MeterTime(), help="Rows captured at or after this time.")
@click.option("--to", "end", type=_MeterTime(), help="Rows captured at or before this time.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV on stdout.")
@click.option("--plot", "plot", is_flag=True, help="Draw the rows in the terminal.")
@click.option("--channel", metavar="OBIS", help="The channel to plot (default: the first).")
@_meter_json
def meter_profile(
    file: Path,
    number: int | None,
    start: Any,
    end: Any,
    as_csv: bool,
    plot: bool,
    channel: str | None,
    as_json: bool,
) -> None:
    """Print a load-profile survey of the meter in FILE (or draw it with --plot)."""
    from sts.console.meter_tables import profile_csv, profile_plot, profile_table
    from sts.meter import state as meter_state
    from sts.meter.obis import ObisCode, spec_of

    if sum((as_csv, plot, as_json)) > 1:
        raise click.UsageError("give at most one of --csv, --plot and --json")
    with refusals():
        current = meter_state.load(file)
        metering = current.metering
        if number is None:
            number = 1 if metering.surveys else 0
        survey = metering.survey(number)
        lo = None if start is None else int(_meter_at(current, start).timestamp())
        hi = None if end is None else int(_meter_at(current, end).timestamp())
        rows = survey.rows(lo, hi)
        specs = [spec_of(code) for code in survey.config.channels]
        wanted = 0
        if channel is not None:
            code = ObisCode.parse(channel)
            if code not in survey.config.channels:
                raise click.BadParameter(
                    f"{code} is not a channel of survey {number}", param_hint="--channel"
                )
            wanted = survey.config.channels.index(code)
    tz = datetime.now().astimezone().tzinfo
    times = [datetime.fromtimestamp(t, tz) for t, _ in rows]
    if as_json:
        emit_json(
            {
                "survey": number,
                "period_min": survey.config.period_min,
                "channels": [
                    {
                        "obis": str(sp.obis),
                        "name": sp.name,
                        "scaler": sp.scaler,
                        "unit": int(sp.unit),
                    }
                    for sp in specs
                ],
                "rows": [
                    [when.isoformat(), *values]
                    for when, (_, values) in zip(times, rows, strict=True)
                ],
            }
        )
        return
    if as_csv:
        click.echo(profile_csv(times, rows, specs), nl=False)
        return
    if not rows:
        console.print(f"survey {number}: no rows in that time range")
        return
    if plot:
        click.echo(profile_plot(times, rows, specs[wanted], wanted, console.width))
        return
    console.print(profile_table(number, times, rows, specs))


@meter.command("billing")
@_meter_file
@_meter_json
def meter_billing(file: Path, as_json: bool) -> None:
    """The closed daily (31) and monthly (13) records of the meter in FILE: import and
    export per TOU rate, and net consumption (import minus export)."""
    from sts.console.meter_tables import billing_view
    from sts.meter import state as meter_state

    with refusals():
        current = meter_state.load(file)
    billing = current.metering.billing
    parts = {"daily": list(billing.daily), "monthly": list(billing.monthly)}
    if as_json:
        emit_json(
            {
                name: [
                    {
                        "period": r.label,
                        "import_wh": r.import_wh,
                        "export_wh": r.export_wh,
                        "net_wh": r.net_wh,
                        "import_wh_by_rate": [r.rate_import_wh(k) for k in range(1, 9)],
                        "export_wh_by_rate": [r.rate_export_wh(k) for k in range(1, 9)],
                    }
                    for r in records
                ]
                for name, records in parts.items()
            }
        )
        return
    _show(billing_view(parts))


@meter.command("events")
@_meter_file
@click.option("--log", "log_name", type=click.Choice(
    ["standard", "fraud", "power_quality", "failure", "security"]),
    help="Only this event log (default: all five).")  # fmt: skip
@click.option("--last", type=_IntRange(1, 1000), default=None, help="Only the newest N.")
@_meter_json
def meter_events(file: Path, log_name: str | None, last: int | None, as_json: bool) -> None:
    """The meter's five event logs (standard, fraud, power quality, failure, security)."""
    from sts.console.meter_tables import events_table
    from sts.meter import state as meter_state
    from sts.meter.event_logs import Code, LogName

    with refusals():
        current = meter_state.load(file)
    logs = current.metering.guard.logs
    names = [LogName(log_name)] if log_name else list(LogName)
    rows = []
    for name in names:
        entries = list(logs.log(name))
        for entry in entries[-last:] if last else entries:
            when = datetime.fromtimestamp(entry.at, current.clock.tzinfo)
            rows.append((name.value, entry, when))
    rows.sort(key=lambda row: row[1].at)
    if as_json:
        emit_json(
            [
                {
                    "log": name,
                    "code": e.code,
                    "event": Code(e.code).label,
                    "at": when.isoformat(),
                    "detail": e.detail,
                }
                for name, e, when in rows
            ]
        )
        return
    if not rows:
        console.print("no events logged")
        return
    console.print(events_table(rows))


@meter.command("relay")
@_meter_file
@click.option("--disconnect", "action", flag_value="disconnect", help="Open the relay.")
@click.option("--reconnect", "action", flag_value="reconnect", help="Close it again.")
@click.option("--remote", is_flag=True, help="As the head end (default: the customer's button).")
@click.option("--at", type=_MeterTime(), help="When (default: the meter's clock).")
@_meter_json
def meter_relay(
    file: Path, action: str | None, remote: bool, at: datetime | timedelta | None, as_json: bool
) -> None:
    """Disconnect or reconnect the meter in FILE, as its disconnect control mode allows."""
    from sts.meter import state as meter_state

    if action is None:
        raise click.UsageError("give --disconnect or --reconnect")
    with refusals():
        current = _load_unserved(file)
        state = current.relay(action, remote=remote, now=_meter_at(current, at))
        meter_state.save(current, file)
    credit = current.engine.status()
    if as_json:
        emit_json(
            {
                "control_state": state,
                "relay_closed": credit.relay_closed,
                "reason": credit.relay_reason.value,
            }
        )
        return
    closed = "closed" if credit.relay_closed else "open"
    console.print(
        f"disconnect control {state.replace('_', ' ')}; relay {closed} "
        f"({credit.relay_reason.value})",
        highlight=False,
    )


@meter.command("tamper")
@_meter_file
@click.option("--kind", required=True, type=click.Choice([
    "terminal_cover", "meter_cover", "module_cover", "magnetic", "current_reversal",
    "neutral_mismatch", "memory_error", "relay_error", "battery_low", "clock_invalid",
    "fire_alarm", "tamper"]),
    help="A tamper, fault or the fire alarm input to inject ('tamper' with --clear ends every "
    "tamper).")  # fmt: skip
@click.option("--clear", is_flag=True, help="End the fault or fire alarm (or, with 'tamper', "
              "every tamper).")  # fmt: skip
@click.option("--at", type=_MeterTime(), help="When (default: the meter's clock).")
@_meter_json
def meter_tamper(
    file: Path, kind: str, clear: bool, at: datetime | timedelta | None, as_json: bool
) -> None:
    """Inject a tamper or fault condition into the meter in FILE (or clear it)."""
    from sts.meter import state as meter_state

    with refusals():
        current = _load_unserved(file)
        current.tamper(kind, _meter_at(current, at), clear=clear)
        meter_state.save(current, file)
    credit = current.engine.status()
    guard = current.metering.guard
    result = {
        "tampers": sorted(k.value for k in guard.tampers),
        "faults": sorted(k.value for k in guard.faults),
        "fire": guard.fire,
        "relay_closed": credit.relay_closed,
        "reason": credit.relay_reason.value,
        "alarm": current.short_code("15"),
    }
    if as_json:
        emit_json(result)
        return
    console.print(
        f"tamper: {', '.join(result['tampers']) or 'none'}; faults: "
        f"{', '.join(result['faults']) or 'none'}; "
        + ("fire control holding; " if guard.fire else "")
        + "relay "
        f"{'closed' if credit.relay_closed else 'open'} ({credit.relay_reason.value}); "
        f"{' '.join(result['alarm'])}",
        highlight=False,
    )


@meter.command("mode")
@_meter_file
@click.argument("payment_mode", type=click.Choice(["prepaid", "postpaid"]))
@click.option("--at", type=_MeterTime(), help="When (default: the meter's clock).")
@_meter_json
def meter_mode(
    file: Path, payment_mode: str, at: datetime | timedelta | None, as_json: bool
) -> None:
    """Switch the meter in FILE to prepaid or postpaid (a security event; registers kept)."""
    from sts.meter import state as meter_state

    with refusals():
        current = _load_unserved(file)
        current.set_payment_mode(payment_mode, _meter_at(current, at))
        meter_state.save(current, file)
    credit = current.engine.status()
    if as_json:
        emit_json(
            {
                "payment_mode": payment_mode,
                "relay_closed": credit.relay_closed,
                "reason": credit.relay_reason.value,
            }
        )
        return
    console.print(
        f"{payment_mode}; relay {'closed' if credit.relay_closed else 'open'} "
        f"({credit.relay_reason.value})",
        highlight=False,
    )


@meter.command("tariff-input")
@_meter_file
@click.argument("state", type=click.Choice(["on", "off"]))
@click.option("--at", type=_MeterTime(), help="When (default: the meter's clock).")
@_meter_json
def meter_tariff_input(
    file: Path, state: str, at: datetime | timedelta | None, as_json: bool
) -> None:
    """Switch the dual resource signal (tariff change input) of the meter in FILE."""
    from sts.meter import state as meter_state

    with refusals():
        current = _load_unserved(file)
        rate = current.tariff_input(state == "on", _meter_at(current, at))
        meter_state.save(current, file)
    if as_json:
        emit_json({"tariff_input": state, "rate": rate})
        return
    console.print(f"tariff input {state}; TOU rate {rate} in force", highlight=False)


@meter.command("clock")
@_meter_file
@click.option("--set", "to", type=_MeterTime(), help="Set the clock to this time ('YYYY-MM-DD "
              "HH:MM[+HH:MM]', or '+15m' after the clock).")  # fmt: skip
@click.option("--back", type=_Duration(), help="Set the clock back by this much ('30s', '5m'; "
              "within the meter's local day).")  # fmt: skip
@click.option("--sync", is_flag=True, help="Set the clock to this computer's time.")
@_meter_json
def meter_clock(
    file: Path,
    to: datetime | timedelta | None,
    back: timedelta | None,
    sync: bool,
    as_json: bool,
) -> None:
    """Show or set the clock of the meter in FILE (a logged clock adjustment)."""
    from sts.meter import state as meter_state

    if sum(x is not None and x is not False for x in (to, back, sync)) > 1:
        raise click.UsageError("give one of --set, --back and --sync")
    with refusals():
        current = _load_unserved(file)
        before = current.clock
        target = (
            _meter_at(current, to)
            if to is not None
            else before - back
            if back is not None
            else datetime.now().astimezone()
            if sync
            else None
        )
        if target is not None:
            current.set_clock(target, "sync" if sync else "command")
            meter_state.save(current, file)
    if as_json:
        emit_json({"before": before.isoformat(), "clock": current.clock.isoformat()})
        return
    if target is None:
        console.print(f"meter clock {_shown_time(current.clock)}", highlight=False)
        return
    console.print(
        f"meter clock {_shown_time(before)} -> {_shown_time(current.clock)}", highlight=False
    )


# --- meter keypad -----------------------------------------------------------------------


@meter.command("keypad")
@_meter_file
@click.option(
    "--at",
    type=_MeterTime(),
    help="Start the screen's clock here ('YYYY-MM-DD HH:MM[+HH:MM]' or '+15m' after the "
    "meter's clock); it then runs at real pace. Default: now, or the meter's clock if later.",
)
def meter_keypad(file: Path, at: datetime | timedelta | None) -> None:
    """Open the meter in FILE on a keypad screen: click or type the keys, Ctrl+Q quits.

    Digits, Enter, Backspace/Delete (Clear) and Escape (clear all) work from the
    keyboard. The state file is saved after every token or short code.
    """
    from sts.meter import state as meter_state
    from sts.meter.keypad_app import KeypadApp, keypad_start, running_clock

    with refusals():
        current = _load_unserved(file)
    start = _meter_at(current, at) or keypad_start(current.clock, datetime.now().astimezone())
    if start < current.clock:
        raise click.BadParameter(
            f"{_shown_time(start)} is before the meter's clock {_shown_time(current.clock)}",
            param_hint="--at",
        )

    def save(changed: Meter) -> None:
        meter_state.save(changed, file)

    KeypadApp(current, running_clock(start), save).run()


@meter.command("keys")
@_meter_file
@click.argument("keys", nargs=-1, required=True)
@click.option(
    "--at",
    type=_MeterTime(),
    help="When the first key is pressed: 'YYYY-MM-DD HH:MM[+HH:MM]' or '+15m' (default: the "
    "meter's clock). Never before the meter's clock.",
)
@click.option(
    "--gap",
    type=_Duration(),
    default="0.25s",
    show_default=True,
    help="Time between key presses. Two Clears less than 1s apart clear the whole entry; "
    "with --gap 1s or more each Clear deletes one digit. A gap of 30s or more times out "
    "every entry.",
)
@_meter_json
def meter_keys(
    file: Path,
    keys: tuple[str, ...],
    at: datetime | timedelta | None,
    gap: timedelta,
    as_json: bool,
) -> None:
    """Press KEYS on the meter in FILE: 0-9, E = Enter, C = Clear (spaces ignored).

    Prints what the display shows after each Enter and at the end; exits 1 if a
    token was rejected or an entry had the wrong length.
    """
    from sts.console.meter_views import keys_view
    from sts.meter import state as meter_state
    from sts.meter.keypad import Keypad, parse_keys, run_keys

    try:
        pressed = parse_keys(" ".join(keys))
    except StsError as exc:
        raise click.BadParameter(str(exc), param_hint="KEYS") from exc
    with refusals():
        current = _load_unserved(file)
        start = _meter_at(current, at) or current.clock
        run = run_keys(Keypad(current), pressed, start, gap)
        if run.reached_meter:
            meter_state.save(current, file)
    if as_json:
        emit_json(
            {
                "entries": [
                    entry.to_dict()
                    | ({"outcome": entry.outcome.to_dict()} if entry.outcome is not None else {})
                    for entry in run.submissions
                ],
                "display": run.final.to_dict(),
                "rejected": run.rejected,
            }
        )
    else:
        _show(keys_view(run))
    if run.rejected:
        raise click.exceptions.Exit(1)


# --- meter serve (DLMS/COSEM) -----------------------------------------------------------


@meter.command("serve")
@click.argument("target", metavar="FILE|DIR", type=_SafePath(exists=True, path_type=Path))
@click.option("--port", type=click.IntRange(0, 65535), default=4059, show_default=True,
              help="TCP port; a folder: meter i on PORT+i; 0: free ports.")  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--dlms-settings", "settings_file", type=_SafePath(dir_okay=False, path_type=Path),
              help="DLMS passwords, keys and counters of a single meter (default: FILE.dlms.json, "
              "made on first use with random passwords and keys).")  # fmt: skip
@click.option("--frozen-clock", is_flag=True,
              help="Keep the meters' own clocks (default: the wall clock).")  # fmt: skip
@click.option("--hdlc", is_flag=True,
              help="HDLC frames (IEC 62056-46) on the port instead of the wrapper.")  # fmt: skip
@click.option("--pty", is_flag=True,
              help="HDLC on a new pseudo-terminal (a serial port) instead of TCP.")  # fmt: skip
def meter_serve(
    target: Path,
    port: int,
    host: str,
    settings_file: Path | None,
    frozen_clock: bool,
    hdlc: bool,
    pty: bool,
) -> None:
    """Serve a meter state FILE, or every one in DIR, as DLMS/COSEM servers until SIGTERM.

    Clients: the public client (SAP 16, no security, read-only), the management
    client (SAP 1) with an LLS password (reader, operator or admin) or HLS GMAC
    with the settings' keys (FILE.dlms.json). A folder is served from one
    process, one port per meter from --port in file-name order. While served,
    a file belongs to the server (a lock file FILE.lock): other `sts meter`
    commands refuse it. The server saves a meter after every change and when
    it stops. The guide: docs/dlms.md.
    """
    from sts.meter.dlms.serving import Serving, serve, serve_folder

    def started(served: list[Serving]) -> None:
        made = [info.settings_file for info in served if info.settings_made]
        if made:
            err_console.print(
                f"made DLMS settings for {len(made)} meter(s), e.g. {made[0]} (random passwords "
                "and keys; owner-only)",
                highlight=False,
            )
        for info in served:  # one unwrapped line each: scripts read the ports from them
            where = f"{info.path} (HDLC)" if info.path else f"{info.host}:{info.port}"
            click.echo(
                f"serving meter {info.drn} ({info.state_file}) on {where}; "
                f"settings {info.settings_file}"
            )
        sys.stdout.flush()

    if target.is_dir() and settings_file is not None:
        raise click.UsageError("--dlms-settings names one meter's settings; not with a folder")
    if target.is_dir() and pty:
        raise click.UsageError("--pty serves one meter FILE, not a folder")
    options = {"host": host, "real_time": not frozen_clock, "hdlc": hdlc, "started": started}
    with refusals():
        try:
            if target.is_dir():
                serve_folder(target, base_port=port, **options)
            else:
                serve(target, port=port, settings_file=settings_file, pty=pty, **options)
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    click.echo(f"stopped; saved {target}")


@meter.group("fleet")
def meter_fleet() -> None:
    """Many simulated meters at once, for a head-end test bed (`sts meter serve DIR`)."""


@meter_fleet.command("new")
@click.argument("folder", metavar="DIR", type=_SafePath(file_okay=False, path_type=Path))
@click.option("--count", type=click.IntRange(1, 10_000),
              help="How many meters (with --db: at most this many of the ledger's).")  # fmt: skip
@click.option("--dk", metavar="HEX", help="One decoder key for every meter.")
@click.option("--vk", metavar="HEX", help="Or a vending key to derive each meter's key (DKGA02).")
@click.option("--sgc", type=click.IntRange(0, 999_999), help="Supply group code (with --vk).")
@click.option("--first-drn", default="00000000000", show_default=True, metavar="DIGITS",
              help="The first 11-digit meter number; the others count up.")  # fmt: skip
@click.option("--base-date", "--bd", "base_date", type=click.Choice(["1993", "2014", "2035"]),
              default="2014", show_default=True)  # fmt: skip
@click.option("--manufactured", type=_MeterTime(),
              help="When the meters were made (default: now).")  # fmt: skip
@click.option("--from-ledger", is_flag=True,
              help="Make the meters the vending ledger registers (in DRN order), each with "
              "its key, as `sts meters simulate` does.")  # fmt: skip
@click.option("--db", "db_url", metavar="URL", envvar="STS_DATABASE_URL",
              help="With --from-ledger: the ledger's database URL (default: "
              "STS_DATABASE_URL, else the SQLite file in your data folder).")  # fmt: skip
@click.option("--master-key-file", type=_SafePath(dir_okay=False, path_type=Path),
              envvar="STS_MASTER_KEY_FILE",
              help="With --from-ledger: the master key file (STS_MASTER_KEY takes "
              "precedence).")  # fmt: skip
@_meter_json
@click.pass_context
def meter_fleet_new(ctx: click.Context, folder: Path, **o: Any) -> None:
    """Make --count meters in DIR (a new or empty folder), each with its DLMS settings.

    DIR/fleet.csv lists each meter's file, DRN, port offset (for `sts meter
    serve DIR --port BASE`: meter i on BASE+i), system title, passwords and
    keys (owner-only: it holds the secrets a head-end needs). With
    --from-ledger the meters are the ledger's, so each accepts every token the
    ledger sells it (their keys are never printed).
    """
    from sts.meter.dlms.fleet import fleet_from_keys, new_fleet

    if not o["from_ledger"]:
        for name in ("db_url", "master_key_file"):
            if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
                flag = "--db" if name == "db_url" else "--master-key-file"
                raise click.UsageError(f"{flag} goes with --from-ledger")
    if o["from_ledger"]:
        given = [name for name in ("dk", "vk", "sgc", "manufactured") if o[name] is not None]
        if given:
            raise click.UsageError(
                f"--from-ledger makes the ledger's meters with their own keys; "
                f"not with --{given[0]}"
            )
        from vending.registry import list_meters
        from vending.simulate import simulated_meter

        backend = _open_vending(o)
        try:
            with refusals():
                listed = list_meters(backend, limit=o["count"])
                if not listed:
                    raise click.ClickException("the ledger has no meters to make a fleet of")
                keys = [simulated_meter(backend, info.drn) for info in listed]
                made = fleet_from_keys(folder, keys)
        finally:
            backend.close()
    else:
        made = _fleet_from_options(folder, o, new_fleet)
    if o["as_json"]:
        emit_json({"folder": str(made.folder), "count": made.count, "first_drn": made.first_drn,
                   "last_drn": made.last_drn, "index": str(made.index)})  # fmt: skip
        return
    console.print(
        f"[green]made[/] {made.count} meters ({made.first_drn} to {made.last_drn}) in "
        f"{made.folder}; head-end list {made.index}",
        highlight=False,
    )


def _fleet_from_options(folder: Path, o: dict[str, Any], new_fleet: Callable[..., Any]) -> Any:
    if o["count"] is None:
        raise click.UsageError("give --count (or --from-ledger to make the ledger's meters)")
    if (o["dk"] is None) == (o["vk"] is None):
        raise click.UsageError("give one decoder key as --dk, or a vending key as --vk")
    if o["vk"] is not None and o["sgc"] is None:
        raise click.UsageError("to derive the decoder keys from --vk, also give --sgc")
    manufactured = o["manufactured"]
    if isinstance(manufactured, timedelta):
        raise click.BadParameter("give an absolute time", param_hint="--manufactured")
    if manufactured is None:
        manufactured = datetime.now().astimezone().replace(second=0, microsecond=0)
    with refusals():
        return new_fleet(
            folder,
            o["count"],
            first_drn=o["first_drn"],
            manufactured=manufactured,
            decoder_key=DecoderKey.from_hex(o["dk"]) if o["dk"] else None,
            vending_key=VendingKey.from_hex(o["vk"]) if o["vk"] else None,
            sgc=o["sgc"] if o["sgc"] is not None else 0,
            base_date=o["base_date"],
        )


# --- conformance ------------------------------------------------------------------------


@main.group()
def conformance() -> None:
    """Check vector files (JSON Lines, sts/conformance/FORMAT.md) against the token engine."""


@conformance.command("run")
@click.argument("vector_file", metavar="FILE", type=_SafeFile("r", encoding="utf-8"))
@click.option("--json", "as_json", is_flag=True, help="Print {passed, failed, results} as JSON.")
def conformance_run(vector_file: TextIO, as_json: bool) -> None:
    """Check every line of FILE ('-' reads stdin); exit 1 when any line fails."""
    from sts.conformance import run_vectors

    try:
        text = vector_file.read()
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{vector_file.name} is not UTF-8 text ({exc.reason})") from exc
    result = run_vectors(text)
    if as_json:
        emit_json(result.to_json())
    else:
        _render_conformance(vector_file.name, result)
    if not result.results:
        raise click.ClickException(f"{vector_file.name} holds no vector lines; nothing was checked")
    if result.failed:
        click.get_current_context().exit(1)


def _render_conformance(name: str, result: RunResult) -> None:
    from sts.console.conformance_view import conformance_view

    _show(conformance_view(name, result))


# --- token and key ----------------------------------------------------------------------

_SERVICES = ("electricity", "water", "gas", "time")
_REGISTERS = {register.name.lower().replace("_", "-"): register for register in Register}
_TEST_NAMES = {flag.name.lower().replace("_", "-"): flag for flag in TestControl} | {
    "krn": TestControl.KEY_REVISION,
    "ti": TestControl.TARIFF_INDEX,
}


@contextmanager
def _withdrawn_algorithm_notice() -> Iterator[None]:
    """Show the EA09 warning as one line on stderr instead of a Python warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", WithdrawnAlgorithmWarning)
        yield
    for message in {str(w.message) for w in caught if w.category is WithdrawnAlgorithmWarning}:
        err_console.print(f"[yellow]warning:[/] {message}", highlight=False)


def _render_token(record: dict[str, Any], title: str | None = None) -> None:
    _show(token_view(record, title))

def _emit_tokens(
    tokens: Sequence[Token],
    key: DecoderKey | None,
    o: dict[str, Any],
    heading: str | None = None,
    extra: dict[str, Any] | None = None,
    reveal: bool = True,
) -> None:
    """Encode and print tokens: a heading line, then grouped digits, fields and meaning."""
    if key is None and any(t.token_class != TokenClass.TEST for t in tokens):
        raise click.UsageError(f"this token is encrypted: give the meter's key as {_KEY_HELP}")
    with refusals(), _withdrawn_algorithm_notice():
        digits = [encode(t, key, o.get("ea"), o.get("tables") or "production") for t in tokens]
    base = _tid_base(o)
    records = [_token_record(t, d, base, reveal) for t, d in zip(tokens, digits, strict=True)]
    if o.get("as_json"):
        emit_json({"tokens": records, **(extra or {})})
        return
    if heading:
        console.print(heading, highlight=False)
    for number, record in enumerate(records, start=1):
        _render_token(record, f"token {number} of {len(records)}" if len(records) > 1 else None)


def _issue(o: dict[str, Any], make: Callable[[int, int], Token]) -> None:
    """Make a TID-carrying token issued now, at --at, or with --tid, and print it."""
    if o["tid"] is not None and o["at"] is not None:
        raise click.UsageError("give --tid or --at, not both")
    with refusals():
        key_ = _decoder_key(o)
    rnd = o["rnd"] if o["rnd"] is not None else secrets.randbelow(16)
    base = _tid_base(o)
    heading, extra = None, {}
    if o["tid"] is not None:
        tid = o["tid"]
    else:
        when = o["at"] if o["at"] is not None else datetime.now().astimezone()
        with refusals():
            tid = vending_tid(when, base)
        local = when.isoformat(sep=" ", timespec="minutes")
        heading = f"issued at {local}: TID {tid} on base date {int(base)}"
        extra = {"issued_at": when.isoformat(timespec="minutes"), "tid": tid}
    with refusals():
        made = make(tid, rnd)
    _emit_tokens([made], key_, o, heading, {**extra, "base_date": int(base)})


@main.group()
def key() -> None:
    """Decoder keys: derive them from a vending key (DKGA02, DKGA04)."""


@key.command("derive")
@_derive_options
@click.option("--json", "as_json", is_flag=True, help='Print {"dk": HEX} on stdout.')
def key_derive(as_json: bool, **o: Any) -> None:
    """Print a meter's decoder key (this shows the key: you asked for it)."""
    with refusals():
        dkga, vk, params = _key_parameters(o)
        dk = derive_decoder_key(dkga, vk, params)
    if as_json:
        emit_json({"dk": dk.reveal_hex()})
        return
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    grid.add_row("MeterPAN", params.pan)
    grid.add_row("SGC KT TI KRN", f"{params.sgc:06d} {params.kt} {params.ti:02d} {params.krn}")
    if dkga == "04":
        grid.add_row("base date, EA", f"{int(params.base_date)}, EA{params.ea}")
    grid.add_row(f"DKGA{dkga} decoder key", f"[bold]{dk.reveal_hex()}[/]")
    console.print(grid, highlight=False)


@main.group()
def token() -> None:
    """Make STS tokens from their fields, and read tokens back."""


@token.group("encode")
def token_encode() -> None:
    """Make a token of one type (encrypted ones need the meter's key)."""


def _scaled(value: Decimal, scale: int, option: str) -> int:
    """A decimal option as a whole number of 1/scale steps; BadParameter if finer."""
    steps = value * scale
    if steps != steps.to_integral_value():
        raise click.BadParameter(
            f"{value} is finer than the token's step of {Decimal(1) / scale}", param_hint=option
        )
    return int(steps)


@token_encode.command("credit")
@click.option("--service", type=click.Choice(_SERVICES), default="electricity", show_default=True)
@click.option(
    "--kwh",
    "--quantity",
    "quantity",
    type=_Amount(_token_quantity_rule, usage=True),
    help="kWh (or m3, minutes), 0.1 steps.",
)
@click.option(
    "--units", type=_IntRange(0, 18_201_624), help="Tenths of a kWh (m3, minute): the raw unit."
)
@click.option(
    "--money",
    type=_Amount(_token_money_rule, usage=True),
    help="A currency amount: makes a currency token.",
)
@_issue_options
@_key_options
def encode_credit(
    service: str, quantity: Decimal | None, units: int | None, money: Decimal | None, **o: Any
) -> None:
    """TransferCredit: --kwh 25.5, --units 255 or --money 100.00."""
    if [quantity, units, money].count(None) != 2:
        raise click.UsageError("give one of --kwh (--quantity), --units or --money")
    kind = CreditKind(_SERVICES.index(service))
    if money is not None:
        steps = _scaled(abs(money), 100_000, "--money")
        currency = CreditKind(kind + 4)
        _issue(o, lambda tid, _rnd: CurrencyCredit.for_amount(currency, steps, tid, money < 0))
        return
    if quantity is not None and quantity.is_finite() and quantity < 0:
        unit = {"water": "m3", "gas": "m3", "time": "minutes"}.get(service, "kWh")
        raise click.BadParameter(
            f"{quantity} is negative; expected 0 or more {unit}", param_hint="--kwh"
        )
    tenths = units if units is not None else _scaled(quantity or Decimal(0), 10, "--kwh")
    _issue(o, lambda tid, rnd: TransferCredit.for_units(kind, tenths, tid=tid, rnd=rnd))


@token_encode.command("power-limit")
@click.option(
    "--watts", type=_IntRange(0, 18_201_624), required=True, help="Maximum power in watts."
)
@_issue_options
@_key_options
def encode_power_limit(watts: int, **o: Any) -> None:
    """SetMaximumPowerLimit (class 2, subclass 0)."""
    _issue(o, lambda tid, rnd: SetPowerLimit.for_watts(watts, tid=tid, rnd=rnd))


@token_encode.command("phase-unbalance")
@click.option(
    "--watts",
    type=_IntRange(0, 18_201_624),
    required=True,
    help="Maximum phase power unbalance in watts.",
)
@_issue_options
@_key_options
def encode_phase_unbalance(watts: int, **o: Any) -> None:
    """SetMaximumPhasePowerUnbalanceLimit (class 2, subclass 6)."""
    _issue(o, lambda tid, rnd: SetPhaseUnbalanceLimit.for_watts(watts, tid=tid, rnd=rnd))


@token_encode.command("clear-credit")
@click.option("--register", type=click.Choice(list(_REGISTERS)), default="all", show_default=True)
@_issue_options
@_key_options
def encode_clear_credit(register: str, **o: Any) -> None:
    """ClearCredit (class 2, subclass 1): empty one credit register, or all."""
    _issue(o, lambda tid, rnd: ClearCredit.for_register(_REGISTERS[register], tid=tid, rnd=rnd))


@token_encode.command("clear-tamper")
@_issue_options
@_key_options
def encode_clear_tamper(**o: Any) -> None:
    """ClearTamperCondition (class 2, subclass 5)."""
    _issue(o, lambda tid, rnd: ClearTamper(rnd, tid, 0))


@token_encode.command("tariff-rate")
@click.option("--value", type=_IntRange(0, 0xFFFF), required=True, help="The 16-bit rate, as is.")
@_issue_options
@_key_options
def encode_tariff_rate(value: int, **o: Any) -> None:
    """SetTariffRate (class 2, subclass 2): a 16-bit value reserved by the STSA."""
    _issue(o, lambda tid, rnd: SetTariffRate(rnd, tid, value))


@token_encode.command("water-factor")
@click.option("--value", type=_IntRange(0, 0xFFFF), required=True, help="The 16-bit factor, as is.")
@_issue_options
@_key_options
def encode_water_factor(value: int, **o: Any) -> None:
    """SetWaterMeterFactor (class 2, subclass 7): a 16-bit value reserved by the STSA."""
    _issue(o, lambda tid, rnd: SetWaterMeterFactor(rnd, tid, value))


@token_encode.command("test")
@click.option(
    "--show",
    "shows",
    multiple=True,
    type=click.Choice(sorted(_TEST_NAMES), case_sensitive=False),
    help="A test or display to run; repeat for more (krn, ti are short names).",
)
@click.option("--control", callback=_int_any_base, help="Control bits as a number (0x.. hex).")
@click.option("--all", "run_all", is_flag=True, help="Every test and display.")
@click.option("--mfr", default="00", show_default=True, help="Manufacturer code: 2 or 4 digits.")
@click.option(
    "--subclass",
    type=click.Choice(["0", "1"]),
    help="0 for 2-digit, 1 for 4-digit codes (default: from --mfr's length).",
)
@_json_option
def encode_test(
    shows: tuple[str, ...],
    control: int | None,
    run_all: bool,
    mfr: str,
    subclass: str | None,
    as_json: bool,
) -> None:
    """InitiateMeterTest/Display (class 1): not encrypted, needs no key."""
    if not (shows or control is not None or run_all):
        raise click.UsageError(
            f"choose what to run: --show NAME ({', '.join(sorted(_TEST_NAMES))}), "
            "--control BITS or --all"
        )
    if not (mfr.isascii() and mfr.isdigit() and len(mfr) <= 4):
        raise click.BadParameter(f"{mfr!r} is not a 2- or 4-digit code", param_hint="--mfr")
    variant = int(subclass) if subclass is not None else int(len(mfr) > 2)
    bits = ALL_TESTS[variant] if run_all else (control or 0)
    for name in shows:
        bits |= _TEST_NAMES[name.lower()]
    with refusals():
        made = MeterTestToken(variant, bits, int(mfr))
    _emit_tokens([made], None, {"as_json": as_json})


@token_encode.command("key-change")
@click.option("--new-dk", metavar="HEX", help="The new decoder key, when it is not derived.")
@click.option("--new-dkga", type=click.Choice(["02", "04"]), help="Default: --dkga.")
@click.option("--new-vk", metavar="HEX", help="Default: --vk.")
@click.option("--new-sgc", type=_IntRange(0, 999_999), help="Default: --sgc.")
@click.option("--new-kt", type=_IntRange(0, 3), help="Default: --kt.")
@click.option("--new-ti", type=_IntRange(0, 99), help="Default: --ti.")
@click.option("--new-krn", type=_IntRange(1, 9), help="Default: --krn.")
@click.option("--new-bd", type=click.Choice(_BASE_DATE_CHOICES), help="Default: --bd.")
@click.option("--new-ea", type=click.Choice(["07", "11"]), help="Default: --ea.")
@click.option(
    "--ken",
    type=_IntRange(0, 255),
    default=255,
    show_default=True,
    help="Key expiry number (255: never).",
)
@click.option(
    "--rollover/--no-rollover",
    default=None,
    help="Clear the meter's TID memory (default: when the base date changes).",
)
@click.option("--reveal-key", is_flag=True, help="Show the new key's sections in the output.")
@_key_options
def encode_key_change(**o: Any) -> None:
    """A key change set under the current key: 2 tokens (64-bit key) or 4 (128-bit)."""
    changed = {
        name: o[f"new_{name}"]
        for name in ("dkga", "vk", "sgc", "kt", "ti", "krn", "bd", "ea")
        if o[f"new_{name}"] is not None
    }
    with refusals():
        current = _decoder_key(o, dk_and_derive=True)
        if current is None:
            raise click.UsageError(f"give the meter's current key as {_KEY_HELP}")
        if o["new_dk"]:
            new = DecoderKey.from_hex(o["new_dk"])
            registers = {name: changed.get(name, o[name]) for name in ("sgc", "kt", "ti", "krn")}
            missing = [f"--new-{n}" for n in ("kt", "ti", "krn") if registers[n] is None]
            if missing:
                raise click.UsageError(f"with --new-dk also give {', '.join(missing)}")
        else:
            if not changed:
                raise click.UsageError(
                    "say what changes (--new-krn, --new-ti, --new-kt, --new-sgc, --new-bd, "
                    "--new-ea, --new-vk, --new-dkga) or give --new-dk"
                )
            dkga, vk, params = _key_parameters({**o, **changed})
            new = derive_decoder_key(dkga, vk, params)
            registers = {"sgc": params.sgc, "kt": params.kt, "ti": params.ti, "krn": params.krn}
        rollover = o["rollover"]
        if rollover is None:
            rollover = o["bd"] is not None and changed.get("bd", o["bd"]) != o["bd"]
        order = KeyChangeOrder(
            new.secret_bytes(),
            krn=registers["krn"],
            kt=registers["kt"],
            ti=registers["ti"],
            ken=o["ken"],
            rollover=rollover,
            sgc=registers["sgc"] if new.bits == 128 else None,
        )
    summary = (
        f"key change to a {new.bits}-bit key (fingerprint {new.fingerprint}), KRN {order.krn}, "
        f"KT {order.kt}, TI {order.ti:02d}"
        + (f", SGC {order.sgc:06d}" if order.sgc is not None else "")
        + (", rollover: the meter clears its TID memory" if rollover else "")
    )
    _emit_tokens(order.tokens(), current, o, summary, {"key_change": summary}, o["reveal_key"])


@token.command("decode")
@click.argument("digits", nargs=-1, required=True)
@click.option("--reveal-key", is_flag=True, help="Show a key change token's key section.")
@_key_options
def token_decode(digits: tuple[str, ...], reveal_key: bool, **o: Any) -> None:
    """Read a token: type, fields, plaintext block and what they mean.

    DIGITS may be typed in groups. Class 1 tokens need no key; a refused token
    exits 1 with the reason.
    """
    text = " ".join(digits)
    with refusals():
        key_ = _decoder_key(o)
    try:
        with _withdrawn_algorithm_notice():
            decoded = decode_full(text, key_, o["ea"], o["tables"])
    except StsError as exc:
        compact = text.replace(" ", "").replace("-", "")
        named = text in str(exc) or compact in str(exc)
        reason = str(exc) if named else f"token {_shown(text)} was refused: {exc}"
        if key_ is None and "encrypted" in str(exc):
            reason += f" as {_KEY_HELP}"
        elif exc.result_code is not None:
            reason += f" (a meter shows: {exc.result_code.text})"
        raise click.ClickException(reason) from exc
    record = _token_record(decoded.token, decoded.digits, _tid_base(o), reveal_key)
    if o["as_json"]:
        emit_json(record)
    else:
        _render_token(record)


# --- vending ----------------------------------------------------------------------------
# Groups keys, meters, tariffs, vend, keychange, migrate, report and db. Each command opens
# the database named by --db (or STS_DATABASE_URL; default: a SQLite file in the user's data
# folder, created on first use), calls one vending service and renders what it returns.


def _open_vending(o: dict[str, Any], create_master: bool = False, create: bool = False) -> Any:
    """The vending Backend for the command's --db and master key, with the real clock.

    Only the commands that can set up an empty ledger (``create``) make a missing
    SQLite file; every other command refuses a database that does not exist.
    """
    import os
    import random
    from datetime import UTC

    from vending.backend import Backend
    from vending.db import default_master_key_path, default_url, open_database
    from vending.keystore import ENV_VAR, MasterKey, create_key_file

    with refusals():
        database = open_database(o["db_url"] or default_url(), create=create)
        if database.created:
            err_console.print(
                f"Created the vending database {database.location}", highlight=False, soft_wrap=True
            )
        master: MasterKey | None = None
        from_env = bool(os.environ.get(ENV_VAR))
        # The default path needs platformdirs: not looked up when the environment has the key.
        path = o["master_key_file"] or (None if from_env else default_master_key_path())
        if from_env:
            master = MasterKey.from_env(os.environ)
        elif Path(path).exists():
            master = MasterKey.from_file(path)
        elif o["master_key_file"] and not create_master:
            raise click.ClickException(
                f"master key file {_shown(str(path))} does not exist; expected the file "
                "`sts keys add` created (or STS_MASTER_KEY)"
            )
        elif create_master:
            master = create_key_file(path)
            err_console.print(
                f"Created the master key file {path} (owner-only). Back it up: the vending "
                "keys sealed under it cannot be opened without it.",
                highlight=False,
                soft_wrap=True,
            )
    return Backend.open(database, master, lambda: datetime.now(UTC), random.SystemRandom())


def _local(when: datetime) -> str:
    from vending.views.tables import local

    return local(when)


def _table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    footer: Sequence[Sequence[Any]] = (),
    numeric_from: int | None = None,
) -> None:
    """Print vending.views.tables.table(...)."""
    from vending.views.tables import table

    console.print(table(title, columns, rows, footer, numeric_from))


def _render_receipt(receipt: Any, copy: bool = False) -> None:
    from vending.views.receipt import receipt_view

    _show([receipt_view(receipt, copy)])


@contextmanager
def _finish_once_started(what: str) -> Iterator[None]:
    """A first Ctrl-C while a sale is recorded and printed waits for it to finish.

    A vend interrupted after its commit must not look like a failure (a till
    script would count a sold token as unsold), so the first SIGINT is noted
    and the command runs to its end and exits 0; a second press aborts as usual.
    Outside the main thread (a test runner) signals cannot be handled and
    nothing changes.
    """
    import os
    import signal

    pressed: list[int] = []

    def note(signum: int, _frame: Any) -> None:
        if pressed:
            raise KeyboardInterrupt
        pressed.append(signum)
        # A plain write, not rich: the handler may run in the middle of rich's own work
        # (even one of its lazy imports), which must not be entered again.
        os.write(
            2,
            f"Ctrl-C: finishing the {what} so that it is either recorded and printed or not "
            "made at all; press Ctrl-C again to abort\n".encode(),
        )

    try:
        previous = signal.signal(signal.SIGINT, note)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _sale(o: dict[str, Any], sell: Callable[[Any], Any]) -> None:
    """Open the ledger, make one sale (a vend, management or key change tokens), print it."""
    backend = _open_vending(o)
    with _finish_once_started("vend"):
        with refusals():
            receipt = sell(backend)
        _emit_receipt(receipt, o["as_json"])


def _emit_receipt(receipt: Any, as_json: bool, copy: bool = False) -> None:
    """A receipt as JSON or a panel; a reprint is marked as a copy in both."""
    if as_json:
        emit_json(receipt.to_dict() | {"copy": copy})
    else:
        _render_receipt(receipt, copy)


# --- vending: db ------------------------------------------------------------------------


@main.group()
def db() -> None:
    """The vending database: where it is and its schema version."""


@db.command("upgrade")
@_vending_options
def db_upgrade(**o: Any) -> None:
    """Create or upgrade the schema (Alembic) to the version this release needs."""
    from vending.db import default_url, make_engine, redact, sqlite_file, upgrade

    url = o["db_url"] or default_url()
    with refusals():
        engine = make_engine(url)
        try:
            before, after = upgrade(engine)
        finally:
            engine.dispose()
    where = str(sqlite_file(url) or redact(url))
    if o["as_json"]:
        emit_json({"database": where, "before": before, "after": after})
    elif before == after:
        console.print(f"{where} is already at schema {after}", highlight=False)
    else:
        console.print(f"{where}: schema {before or '(none)'} -> {after}", highlight=False)


@db.command("status")
@_vending_options
def db_status(**o: Any) -> None:
    """Where the database is and which schema version it holds (creates nothing)."""
    from vending.db import default_url, schema_status
    from vending.views.reports import schema_text

    with refusals():
        status = schema_status(o["db_url"] or default_url())
    if o["as_json"]:
        emit_json(status.to_dict())
    else:
        console.print(schema_text(status), highlight=False, soft_wrap=True)


@db.command("adopt")
@_vending_options
def db_adopt(**o: Any) -> None:
    """Record in the ledger the vendor rows an earlier version left out of it.

    \b
    Vendors, top-ups and adjustments, operators, the vendor and operator of
    sales, and advices written before the ledger chained them make `sts report
    verify` say "is in no ledger entry". This records each of them as it now
    stands, under the master key, and says how many; run again, it adopts
    nothing. It trusts the rows: run it once, after upgrading, before selling.
    """
    from vending.adoption import adopt

    with refusals():
        result = adopt(_open_vending(o))
    if o["as_json"]:
        emit_json(result.to_dict())
        return
    counts = [
        (result.vendors, "vendor", "vendors"),
        (result.movements, "top-up or adjustment", "top-ups and adjustments"),
        (result.operators, "operator", "operators"),
        (result.parties, "sale's parties", "sales' parties"),
        (result.advices, "advice", "advices"),
    ]
    parts = ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in counts if n)
    if not result.total:
        console.print("Nothing to adopt: every vendor row is in a ledger entry", highlight=False)
    else:
        console.print(
            f"Adopted {result.total} rows into the ledger ({parts}); the head is entry "
            f"{result.head}",
            highlight=False,
            soft_wrap=True,
        )


# --- vending: keys ----------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Vending keys, sealed under the master key; never printed."""


@keys.command("add")
@click.argument("label")
@click.option("--sgc", type=_IntRange(0, 999_999), required=True, help="Supply group code.")
@click.option("--krn", type=_IntRange(1, 9), required=True, help="Key revision number.")
@click.option("--kt", type=_IntRange(0, 3), default=2, show_default=True, help="Key type.")
@click.option(
    "--base-date",
    type=click.Choice(["1993", "2014", "2035"]),
    help="Base date a DKGA02 key was issued for (DKGA04 keys serve all).",
)
@click.option("--group-name", help="Name of the supply group.")
@click.option(
    "--key-file",
    type=_SafeFile("r"),
    help="Read the key (16 or 40 hex digits) from this file instead of a hidden prompt.",
)
@click.option("--key-env", metavar="VAR", help="Read the key from this environment variable.")
@_vending_options
def keys_add(label: str, **o: Any) -> None:
    """Store a vending key: 64-bit (DKGA02) or 160-bit (DKGA04), asked for without echo."""
    import os

    from vending import registry
    from vending.views.listings import key_stored_text

    if o["key_file"] is not None:
        text = o["key_file"].read()
    elif o["key_env"]:
        text = os.environ.get(o["key_env"], "")
        if not text:
            raise click.UsageError(f"environment variable {_shown(o['key_env'])} is not set")
    elif sys.stdin.isatty():
        text = click.prompt("Vending key (hex)", hide_input=True, err=True)
    else:  # piped in: read it as it comes (no terminal to hide it on, nothing to warn about)
        text = sys.stdin.readline().strip()
        if not text:
            raise click.UsageError("no vending key on standard input; pipe in its hex digits")
    backend = _open_vending(o, create_master=True, create=True)
    with refusals():
        info = registry.add_vending_key(
            backend,
            label,
            VendingKey.from_hex(text),
            o["sgc"],
            o["krn"],
            o["kt"],
            o["base_date"],
            o["group_name"],
        )
    fingerprint = VendingKey.from_hex(text).fingerprint
    if o["as_json"]:
        emit_json(info.to_dict() | {"fingerprint": fingerprint})
    else:
        console.print(key_stored_text(info, fingerprint), highlight=False)


@keys.command("list")
@click.option("--active", is_flag=True, help="Leave out retired keys.")
@_vending_options
def keys_list(active: bool, **o: Any) -> None:
    """The stored vending keys (labels and parameters, never the keys)."""
    from vending import registry
    from vending.fingerprints import key_fingerprints
    from vending.views.listings import keys_view

    with refusals():
        backend = _open_vending(o)
        infos = registry.list_vending_keys(backend, include_retired=not active)
        prints = key_fingerprints(backend)
    if o["as_json"]:
        emit_json([i.to_dict() | {"fingerprint": prints.get(i.label)} for i in infos])
        return
    _show(keys_view(infos, prints))


@keys.command("retire")
@click.argument("label")
@_vending_options
def keys_retire(label: str, **o: Any) -> None:
    """Retire a key: no new meter or key change may use it."""
    from vending import registry

    with refusals():
        info = registry.retire_vending_key(_open_vending(o), label)
    if o["as_json"]:
        emit_json(info.to_dict())
    else:
        console.print(f"Retired vending key {info.label!r}", highlight=False)


# --- vending: tariffs -------------------------------------------------------------------


@main.group()
def tariffs() -> None:
    """Tariffs: monthly step blocks, fixed charges, debt recovery, VAT, levies, free units."""


@tariffs.command("add")
@click.argument("file", type=_SafeFile("r"))
@click.option("--replace", is_flag=True, help="Replace a tariff of the same name.")
@_vending_options
def tariffs_add(file: TextIO, replace: bool, **o: Any) -> None:
    """Store the tariff in a JSON FILE (the form `sts tariffs show --json` prints).

    Numbers may be strings; e.g. {"name": "Home", "currency": "ZAR", "blocks":
    [{"up_to_kwh": "50", "price_per_kwh": "1.50"}, {"up_to_kwh": null,
    "price_per_kwh": "2.00"}], "vat_percent": "15"}.
    """
    from vending import registry
    from vending.tariff import Tariff

    try:
        data = json.load(file, parse_float=Decimal)
    except ValueError as exc:
        raise click.ClickException(f"{file.name} is not JSON: {exc}") from None
    with refusals():
        tariff = Tariff.from_dict(data.get("definition", data) if isinstance(data, dict) else data)
        info = registry.add_tariff(_open_vending(o, create=True), tariff, replace)
    if o["as_json"]:
        emit_json(info.to_dict())
    else:
        console.print(f"Stored tariff {info.name!r}", highlight=False)


def _render_tariff(info: Any) -> None:
    from vending.views.listings import tariff_table

    console.print(tariff_table(info))


@tariffs.command("show")
@click.argument("name")
@_vending_options
def tariffs_show(name: str, **o: Any) -> None:
    """One tariff's steps, charges and rates."""
    from vending import registry

    with refusals():
        info = registry.get_tariff(_open_vending(o), name)
    if o["as_json"]:
        emit_json(info.to_dict())
    else:
        _render_tariff(info)


@tariffs.command("list")
@_vending_options
def tariffs_list(**o: Any) -> None:
    """The stored tariffs."""
    from vending import registry

    with refusals():
        infos = registry.list_tariffs(_open_vending(o))
    if o["as_json"]:
        emit_json([i.to_dict() for i in infos])
        return
    rows = [
        (i.name, i.tariff.currency, len(i.tariff.blocks), f"{i.tariff.vat_percent}%", i.meters)
        for i in infos
    ]
    _table("Tariffs", ("name", "currency", "steps", "VAT", "meters"), rows)


# --- vending: meters --------------------------------------------------------------------


@main.group()
def meters() -> None:
    """Registered meters and their customers."""


def _render_meter_info(info: Any) -> None:
    from vending.views.listings import meter_info_table

    console.print(meter_info_table(info))


@meters.command("add")
@click.argument("drn")
@click.option("--sgc", type=_IntRange(0, 999_999), required=True, help="Supply group code.")
@click.option("--krn", type=_IntRange(1, 9), default=1, show_default=True)
@click.option("--kt", type=_IntRange(0, 3), default=2, show_default=True, help="Key type.")
@click.option("--ti", type=_IntRange(0, 99), default=1, show_default=True, help="Tariff index.")
@click.option("--ea", type=click.Choice(["07", "09", "11"]), default="07", show_default=True)
@click.option("--ken", type=_IntRange(0, 255), default=255, show_default=True)
@click.option(
    "--base-date", type=click.Choice(["1993", "2014", "2035"]), help="Default: the key's."
)
@click.option("--tariff", help="Name of a stored tariff.")
@click.option("--customer", help="Customer name (created if new).")
@click.option(
    "--service",
    type=click.Choice(["electricity", "water", "gas"]),
    default="electricity",
    show_default=True,
    help="What the meter measures (its tariff must price the same).",
)
@click.option(
    "--token-kind",
    type=click.Choice(["units", "currency"]),
    default="units",
    show_default=True,
    help="Credit tokens in units (kWh, m3) or in currency (the meter's money wallet).",
)
@_vending_options
def meters_add(drn: str, **o: Any) -> None:
    """Register meter DRN under the vending key for its SGC, KRN and KT."""
    from vending import registry

    backend = _open_vending(o)
    with refusals():
        info = registry.add_meter(
            backend,
            drn,
            o["sgc"],
            o["krn"],
            o["kt"],
            o["ti"],
            o["ea"],
            o["ken"],
            o["base_date"],
            o["tariff"],
            o["customer"],
            o["service"],
            o["token_kind"],
        )
    if o["as_json"]:
        emit_json(info.to_dict())
    else:
        _render_meter_info(info)


@meters.command("show")
@click.argument("drn")
@_vending_options
def meters_show(drn: str, **o: Any) -> None:
    """One meter's record."""
    from vending import registry

    with refusals():
        info = registry.get_meter(_open_vending(o), drn)
    if o["as_json"]:
        emit_json(info.to_dict())
    else:
        _render_meter_info(info)


@meters.command("list")
@click.option("--sgc", type=_IntRange(0, 999_999))
@click.option("--krn", type=_IntRange(1, 9))
@click.option("--limit", type=_IntRange(1, 100_000), default=100, show_default=True)
@_vending_options
def meters_list(sgc: int | None, krn: int | None, limit: int, **o: Any) -> None:
    """Registered meters, by number."""
    from vending import registry
    from vending.views.reports import meters_table

    with refusals():
        infos = registry.list_meters(_open_vending(o), sgc, krn, limit)
    if o["as_json"]:
        emit_json([i.to_dict() for i in infos])
        return
    console.print(meters_table(infos))


@meters.command("set")
@click.argument("drn")
@click.option("--tariff", help="Name of a stored tariff.")
@click.option("--customer", help="Customer name (created if new).")
@click.option(
    "--service",
    type=click.Choice(["electricity", "water", "gas"]),
    help="Change what the meter measures (with --tariff for the new service if it has one).",
)
@click.option(
    "--token-kind", type=click.Choice(["units", "currency"]), help="Change its credit tokens' kind."
)
@click.option(
    "--tokens-used",
    is_flag=True,
    help="With --service/--token-kind: every credit token sold under the meter's current key "
    "has been keyed in (the ledger cannot tell; without this the change is refused).",
)
@_vending_options
def meters_set(drn: str, tariff: str | None, customer: str | None, **o: Any) -> None:
    """Move a meter to another tariff or customer, or change its service or token kind."""
    from vending import registry

    if o["service"] is not None or o["token_kind"] is not None:
        return _meters_set_kind(drn, tariff, customer, o)
    if o["tokens_used"]:
        raise click.UsageError("--tokens-used goes with --service or --token-kind")
    if tariff is None and customer is None:
        raise click.UsageError("give --tariff or --customer")
    with refusals():
        info = registry.update_meter(_open_vending(o), drn, tariff, customer)
    if o["as_json"]:
        emit_json(info.to_dict())
    else:
        _render_meter_info(info)


def _meters_set_kind(drn: str, tariff: str | None, customer: str | None, o: Any) -> None:
    """`meters set --service/--token-kind`: one ledger entry for the kind (and tariff)."""
    from vending import registry

    backend = _open_vending(o)
    with refusals():
        info = registry.set_meter_kind(
            backend, drn, o["service"], o["token_kind"], tariff, o["tokens_used"]
        )
        if customer is not None:
            info = registry.update_meter(backend, drn, customer=customer)
    if o["as_json"]:
        emit_json(info.to_dict())
    else:
        _render_meter_info(info)


@meters.command("customer")
@click.argument("name")
@click.option(
    "--debt", type=_Amount(_debt_rule), help="Set the debt outstanding, recovered by vends."
)
@click.option(
    "--free-units",
    metavar="KWH",
    type=_Amount(_free_units_rule),
    help="Free basic units a month for this customer, instead of the tariff's.",
)
@_vending_options
def meters_customer(
    name: str, debt: Decimal | None, free_units: Decimal | None, **o: Any
) -> None:
    """Create a customer, or set its debt or its own free basic units a month."""
    from vending import registry

    with refusals():
        info = registry.set_customer(_open_vending(o, create=True), name, debt, free_units)
    from vending.render import money_text
    from vending.views.reports import customer_text

    if o["as_json"]:
        emit_json(info.to_dict() | {"debt": money_text(info.debt)})
    else:
        console.print(customer_text(info), highlight=False)


@meters.command("simulate")
@click.argument("drn")
@click.argument("file", type=_SafePath(dir_okay=False, path_type=Path))
@click.option(
    "--config",
    "config_file",
    type=_SafeFile("r"),
    help="Credit engine set-up (tariff, emergency credit, ...) as JSON, as for `sts meter new`.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing state file.")
@_vending_options
def meters_simulate(
    drn: str, file: Path, config_file: TextIO | None, force: bool, **o: Any
) -> None:
    """Make a simulated meter in FILE with registered meter DRN's key (never printed).

    The simulated meter holds the meter's current key revision (SGC, KRN, KT,
    TI, KEN, base date, algorithm) and was made just before the first token sold
    under it, so it accepts every token the ledger sells this meter; key it in
    with `sts meter enter FILE DIGITS`.
    """
    from sts.meter import state as meter_state
    from vending.simulate import simulated_meter
    from vending.views.reports import simulated_text

    if file.exists() and not force:
        raise click.ClickException(f"meter state file {file} exists already; use --force")
    backend = _open_vending(o)
    try:
        with refusals():
            made = simulated_meter(backend, drn)
            config = (
                None
                if config_file is None
                else meter_state.credit_config_from_json(config_file.read(), config_file.name)
            )
            if made.tariff is not None and (config is None or config.tariff is None):
                # A currency-mode meter spends its money wallet at the vending tariff's prices.
                from dataclasses import replace

                from sts.meter.config import CreditConfig

                base = CreditConfig() if config is None else config
                config = replace(base, tariff=made.tariff)
            simulated = made.manufacture(config)
            meter_state.save(simulated, file, overwrite=force)
    finally:
        backend.close()
    status = simulated.status()
    if o["as_json"]:
        emit_json({"file": str(file), "key_revision": made.key_revision, "meter": status.to_dict()})
        return
    console.print(simulated_text(made, file, status.keys.key_fingerprint), highlight=False)


# --- vending: vend ----------------------------------------------------------------------


@main.group()
def vend() -> None:
    """Sell credit and issue management and test tokens, each recorded in the ledger."""


@vend.command("credit")
@_meter_option
@click.option(
    "--money",
    metavar="AMOUNT",
    type=_Amount(_vend_money_rule),
    help="Payment, turned into kWh by the meter's tariff.",
)
@click.option(
    "--units",
    metavar="KWH",
    type=_Amount(_vend_energy_rule),
    help="kWh to credit (multiples of 0.1).",
)
@_ref_option
@_vending_options
def vend_credit(
    drn: str, money: Decimal | None, units: Decimal | None, reference: str | None, **o: Any
) -> None:
    """Sell credit by money or by units; large amounts come as several tokens."""
    from vending import vend as service

    if (money is None) == (units is None):
        raise click.UsageError("give exactly one of --money AMOUNT or --units KWH")
    _sale(o, lambda backend: service.vend_credit(backend, drn, money, units, reference))


@vend.command("free")
@click.argument("drn")
@_ref_option
@_vending_options
def vend_free(drn: str, reference: str | None, **o: Any) -> None:
    """The month's free basic units for meter DRN as a token of their own (no money).

    Due once per UTC calendar month when the meter's tariff grants them and they
    were not given yet this month (also not on a purchase); otherwise refused
    with "no free units due".
    """
    from vending import vend as service

    _sale(o, lambda backend: service.vend_free_units(backend, drn, reference))


@vend.command("clear-credit")
@_meter_option
@click.option(
    "--register",
    type=click.Choice(sorted(_REGISTERS)),
    default="all",
    show_default=True,
    help="Credit register to clear.",
)
@_ref_option
@_vending_options
def vend_clear_credit(drn: str, register: str, reference: str | None, **o: Any) -> None:
    """A ClearCredit token."""
    from vending import vend as service

    _sale(o, lambda backend: service.clear_credit(backend, drn, _REGISTERS[register], reference))


@vend.command("clear-tamper")
@_meter_option
@_ref_option
@_vending_options
def vend_clear_tamper(drn: str, reference: str | None, **o: Any) -> None:
    """A ClearTamperCondition token."""
    from vending import vend as service

    _sale(o, lambda backend: service.clear_tamper(backend, drn, reference))


@vend.command("power-limit")
@_meter_option
@click.option(
    "--watts", type=_IntRange(0, 18_201_624), required=True, help="Maximum power in watts."
)
@_ref_option
@_vending_options
def vend_power_limit(drn: str, watts: int, reference: str | None, **o: Any) -> None:
    """A SetMaximumPowerLimit token."""
    from vending import vend as service

    _sale(o, lambda backend: service.set_power_limit(backend, drn, watts, reference))


@vend.command("phase-unbalance")
@_meter_option
@click.option(
    "--watts", type=_IntRange(0, 18_201_624), required=True, help="Maximum unbalance in W."
)
@_ref_option
@_vending_options
def vend_phase_unbalance(drn: str, watts: int, reference: str | None, **o: Any) -> None:
    """A SetMaximumPhasePowerUnbalanceLimit token."""
    from vending import vend as service

    _sale(o, lambda backend: service.set_phase_unbalance(backend, drn, watts, reference))


@vend.command("test")
@_meter_option
@click.option(
    "--show",
    "shows",
    multiple=True,
    type=click.Choice(sorted(_TEST_NAMES)),
    help="Test or display to ask for (repeatable; default: all).",
)
@_ref_option
@_vending_options
def vend_test(drn: str, shows: tuple[str, ...], reference: str | None, **o: Any) -> None:
    """A class 1 test/display token for the meter's manufacturer code."""
    from vending import vend as service

    control = None
    if shows:
        control = 0
        for name in shows:
            control |= int(_TEST_NAMES[name])
    _sale(o, lambda backend: service.meter_test(backend, drn, control, reference))


@vend.command("reprint")
@click.option("--ref", "reference", metavar="REF", help="Client reference of the vend.")
@click.option("--meter", "drn", metavar="DRN", help="The meter's last vend.")
@_vending_options
def vend_reprint(reference: str | None, drn: str | None, **o: Any) -> None:
    """Show a stored receipt again (the same tokens; nothing new is made)."""
    from vending import vend as service

    if (reference is None) == (drn is None):
        raise click.UsageError("give exactly one of --ref REF or --meter DRN")
    with refusals():
        receipt = service.reprint(_open_vending(o), reference, drn)
    _emit_receipt(receipt, o["as_json"], copy=True)


@vend.command("reverse")
@click.option("--ref", "reference", metavar="REF", required=True, help="The vend to reverse.")
@_vending_options
def vend_reverse(reference: str, **o: Any) -> None:
    """Record a compensating entry for a credit vend (refused after a later token)."""
    from vending import vend as service

    backend = _open_vending(o)
    with _finish_once_started("reversal"), refusals():
        reversal = service.reverse(backend, reference)
    from vending.render import kwh_text, money_text
    from vending.views.reports import reversal_text

    money, kwh = money_text(reversal.money), kwh_text(reversal.energy_kwh)
    if o["as_json"]:
        emit_json(reversal.to_dict() | {"money": money, "energy_kwh": kwh})
    else:
        console.print(reversal_text(reversal), highlight=False)


# --- vending: keychange -----------------------------------------------------------------


@main.group()
def keychange() -> None:
    """Key change orders: a meter's KCT set, handed out with its next vend."""


def _render_order(info: Any) -> None:
    from vending.views.listings import order_table

    console.print(order_table(info))


@keychange.command("order")
@_meter_option
@click.option("--krn", type=_IntRange(1, 9), help="New key revision number.")
@click.option("--base-date", type=click.Choice(["1993", "2014", "2035"]), help="New base date.")
@click.option("--ti", type=_IntRange(0, 99), help="New tariff index.")
@click.option("--kt", type=_IntRange(1, 3), help="New key type.")
@click.option("--sgc", type=_IntRange(0, 999_999), help="New SGC (128-bit keys only).")
@click.option("--ken", type=_IntRange(0, 255), help="Key expiry number (default 255).")
@_vending_options
def keychange_order(drn: str, **o: Any) -> None:
    """Order a key change; parameters not given stay as they are."""
    from vending import keychange as service

    with refusals():
        info = service.order_key_change(
            _open_vending(o), drn, o["krn"], o["base_date"], o["ti"], o["kt"], o["sgc"], o["ken"]
        )
    if o["as_json"]:
        emit_json(info.to_dict())
    else:
        _render_order(info)


@keychange.command("issue")
@_meter_option
@_ref_option
@_vending_options
def keychange_issue(drn: str, reference: str | None, **o: Any) -> None:
    """Hand out a meter's pending KCT set now, without credit."""
    from vending import vend as service

    _sale(o, lambda backend: service.issue_key_change(backend, drn, reference))


@keychange.command("cancel")
@_meter_option
@_vending_options
def keychange_cancel(drn: str, **o: Any) -> None:
    """Withdraw a meter's pending order (its KCTs were never handed out)."""
    from vending import keychange as service

    with refusals():
        info = service.cancel_order(_open_vending(o), drn)
    if o["as_json"]:
        emit_json(info.to_dict())
    else:
        console.print(f"Cancelled key change order {info.id} for meter {info.drn}")


@keychange.command("list")
@click.option("--meter", "drn", metavar="DRN", help="Only this meter's orders.")
@click.option("--status", type=click.Choice(["pending", "issued"]))
@click.option("--limit", type=_IntRange(1, 100_000), default=100, show_default=True)
@_vending_options
def keychange_list(drn: str | None, status: str | None, limit: int, **o: Any) -> None:
    """Key change orders."""
    from vending import keychange as service
    from vending.views.reports import orders_table

    with refusals():
        infos = service.list_orders(_open_vending(o), drn, status, limit)
    if o["as_json"]:
        emit_json([i.to_dict() for i in infos])
        return
    console.print(orders_table(infos))


# --- vending: migrate -------------------------------------------------------------------


@main.group()
def migrate() -> None:
    """The TID rollover migration: key change orders for all meters of an SGC and KRN."""


def _run_orders(backend: Any, name: str, chunk: int, as_json: bool) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from vending import migration

    with refusals():
        migration.progress(backend, name)  # an unknown name is refused before the bar shows
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console.get(),
        disable=as_json,
    ) as bar:
        task = bar.add_task(f"orders for {name}", total=None)

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        with refusals():
            result = migration.create_orders(backend, name, chunk, report)
    _show_progress([result], as_json)


def _show_progress(items: Sequence[Any], as_json: bool) -> None:
    from vending.views.listings import progress_table

    if as_json:
        emit_json([p.to_dict() for p in items])
        return
    console.print(progress_table(items))


@migrate.command("start")
@click.argument("name")
@click.option(
    "--sgc",
    type=_IntRange(0, 999_999),
    required=True,
    help="Supply group code of the meters to move.",
)
@click.option(
    "--from-krn",
    type=_IntRange(1, 9),
    required=True,
    help="Their key revision number now: every meter on this SGC and KRN is taken.",
)
@click.option(
    "--to-krn",
    type=_IntRange(1, 9),
    required=True,
    help="The key revision they move to; a vending key for it must be stored.",
)
@click.option(
    "--base-date",
    type=click.Choice(["1993", "2014", "2035"]),
    required=True,
    help="The base date they move to (a change sets RO=1: TID memory cleared).",
)
@click.option(
    "--ken",
    type=_IntRange(0, 255),
    default=255,
    show_default=True,
    help="Key expiry number of the new key (255: never expires).",
)
@_chunk_option
@_vending_options
def migrate_start(name: str, chunk: int, **o: Any) -> None:
    """Create (or resume) migration NAME and order a key change for each of its meters.

    Refused when no registered meter has the SGC and KRN, or when there is no
    vending key for the new KRN: nothing is created then.
    """
    from vending import migration

    backend = _open_vending(o)
    with refusals():
        plan = migration.MigrationPlan(
            name, o["sgc"], o["from_krn"], o["to_krn"], int(o["base_date"]), o["ken"]
        )
        migration.start(backend, plan)
    _run_orders(backend, name, chunk, o["as_json"])


@migrate.command("resume")
@click.argument("name")
@_chunk_option
@_vending_options
def migrate_resume(name: str, chunk: int, **o: Any) -> None:
    """Carry on ordering after an interruption (meters already ordered are skipped)."""
    _run_orders(_open_vending(o), name, chunk, o["as_json"])


@migrate.command("status")
@click.argument("name", required=False)
@_vending_options
def migrate_status(name: str | None, **o: Any) -> None:
    """Progress of one migration, or all."""
    from vending import reports

    with refusals():
        items = reports.migration_progress(_open_vending(o), name)
    _show_progress(items, o["as_json"])


@migrate.command("export")
@click.argument("name")
@click.option("--file", "out", type=_SafeFile("w"), required=True, help="CSV file ('-': stdout).")
@click.option("--all", "everything", is_flag=True, help="Also orders already handed out.")
@click.option(
    "--hand-out",
    is_flag=True,
    help="Also record the exported sets as handed out (the meters are pre-coded), so "
    "vends no longer carry them.",
)
@_vending_options
def migrate_export(name: str, out: TextIO, everything: bool, hand_out: bool, **o: Any) -> None:
    """Export KCT sets as CSV for pre-coding meters in the field."""
    from rich.progress import Progress

    from vending import migration

    if o["as_json"] and out.name == "<stdout>":
        raise click.UsageError(
            "--json prints its summary on stdout, where --file - would put the CSV; "
            "give --file a path, or leave out --json"
        )
    backend = _open_vending(o)
    with refusals():
        migration.progress(backend, name)  # an unknown name is refused before the file is made
        rows = migration.export_rows(backend, name, None if everything else "pending")
        count = migration.write_csv(rows, out)
    out.flush()
    result = None
    if hand_out:
        with Progress(console=err_console.get(), disable=o["as_json"]) as bar:
            task = bar.add_task("handing out", total=None)
            with refusals():
                result = migration.hand_out_exported(
                    backend, name, lambda done, total: bar.update(task, completed=done, total=total)
                )
    if o["as_json"]:
        emit_json(
            {
                "migration": name,
                "exported": count,
                "file": out.name,
                "progress": result.to_dict() if result else None,
            }
        )
    else:
        err_console.print(
            f"Exported {count} KCT sets to {out.name}", highlight=False, soft_wrap=True
        )
        if result is not None:
            _show_progress([result], False)


# --- vending: report --------------------------------------------------------------------


@main.group()
def report() -> None:
    """Sales, migration progress and the ledger's hash chain."""


@report.command("sales")
@click.option(
    "--by", type=click.Choice(["day", "month", "meter"]), default="day", show_default=True,
    help="Group by UTC day, calendar month or meter.",
)  # fmt: skip
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="First UTC day (YYYY-MM-DD).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last UTC day (YYYY-MM-DD).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV on stdout (rows, then totals).")
@_vending_options
def report_sales(
    by: str, since: datetime | None, until: datetime | None, as_csv: bool, **o: Any
) -> None:
    """Credit sold, with VAT, levies and units, by day, month or meter, and the totals.

    Reversals are subtracted in the group of their own day (or meter). Money is
    what was charged (tendered less change); VAT and levies are the taxes in it.
    Units are per service, in kWh or m3: water and gas sales get rows of their own.
    """
    from vending import reports
    from vending.views.reports import sales_table

    if as_csv and o["as_json"]:
        raise click.UsageError("give --csv or --json, not both")
    with refusals():
        result = reports.sales(
            _open_vending(o), by, since.date() if since else None, until.date() if until else None
        )
    if o["as_json"]:
        emit_json(result.to_dict())
        return
    if as_csv:
        reports.write_sales_csv(result, sys.stdout)
        return
    console.print(sales_table(result, by))


@report.command("migration")
@click.argument("name", required=False)
@_vending_options
def report_migration(name: str | None, **o: Any) -> None:
    """Progress of the TID rollover migrations."""
    from vending import reports

    with refusals():
        items = reports.migration_progress(_open_vending(o), name)
    _show_progress(items, o["as_json"])


_checkpoint_file = _SafePath(dir_okay=False, path_type=Path)


def _read_checkpoint(path: Path | None, master: Any) -> Any:
    """The signed checkpoint in ``path`` (None for None), read with a bound on its size."""
    if path is None:
        return None
    from vending.checkpoint import MAX_BYTES, Checkpoint
    from vending.errors import VendingError

    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise VendingError(f"checkpoint file {path} cannot be read: {exc.strerror}") from None
    if len(data) > MAX_BYTES:
        raise VendingError(f"checkpoint file {path} is over {MAX_BYTES} bytes; not a checkpoint")
    text = data.decode("utf-8", errors="replace")
    return Checkpoint.from_text(text, master, where=f"checkpoint file {path}")


@report.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=_checkpoint_file,
    help="Also prove against this signed checkpoint (from `sts report checkpoint`) that no "
    "entry up to it was removed or changed, and the ledger was not cut back below it.",
)
@click.option(
    "--since",
    "since_file",
    type=_checkpoint_file,
    help="Walk only the entries after this checkpoint (and check the checkpoint as above).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Processes that share a long ledger (50,000 entries or more), a range each "
    "[default: the number of CPUs, at most 8].",
)
@_vending_options
def report_verify(
    checkpoint_file: Path | None, since_file: Path | None, workers: int | None, **o: Any
) -> None:
    """Verify the keyed ledger and what it records; exit 1 on any problem.

    \b
    Proves, with the master key: no entry was edited (body, time or hash),
    inserted, deleted or reordered, nor the chain rewritten with hashes
    recomputed; every transaction and token still says what its entry says
    (amounts, details a reprint shows, TIDs); meters' key state, last TID, key
    revision, tariff and customer, customers' debts, tariffs, vending keys,
    vendors' credit limits, top-ups and adjustments and operators match what the
    ledger last recorded, and vendors' floats follow from it and the sales since
    (each float movement minus its transaction's money). With --checkpoint (or
    --since): nothing
    up to the checkpoint was removed or changed, and the ledger was not
    truncated below it or wiped back to genesis.

    \b
    Cannot prove: anything against a writer who holds the master key; that the
    newest entries were not truncated (with their transactions and the state
    rolled back), or the database not wiped or restored from an older copy,
    beyond the newest checkpoint given; nor anything of unkeyed entries from
    before schema 0003 beyond the first keyed entry's link to them (a
    checkpoint covers that too). Keep checkpoints where database writers cannot
    reach them. Rows the ledger does not record (pending key change orders,
    supply group names) are not checked; which vendor and operator made a sale,
    and advices, are (`sts db adopt` records those an earlier version left out).
    """
    from vending import ledger_check
    from vending.views.reports import verified_text

    if checkpoint_file is not None and since_file is not None:
        raise click.UsageError("give --checkpoint or --since, not both")
    with refusals():
        backend = _open_vending(o)
        master = backend.sealing_key()
        checkpoint = _read_checkpoint(since_file or checkpoint_file, master)
        if workers is None:
            import os

            workers = min(os.cpu_count() or 1, 8)
        result = ledger_check.verify(
            backend, checkpoint, since=since_file is not None, workers=workers
        )
    if o["as_json"]:
        emit_json(result.to_dict())
    elif result.ok:
        console.print(verified_text(result), highlight=False, soft_wrap=True)
    else:
        for problem in result.problems:
            err_console.print(f"[red]{problem}[/]", highlight=False)
    if not result.ok:
        raise click.ClickException(
            f"the ledger failed verification: {len(result.problems)} problem(s) found"
        )


# --- dlms client ------------------------------------------------------------------------


def _show_data(raw: bytes | None, as_json: bool) -> None:
    from sts.console.dlms import data_text, decoded_value

    if as_json:
        emit_json({"data": None if raw is None else raw.hex(), "value": decoded_value(raw)})
    elif raw is None:
        console.print("done", highlight=False)
    else:
        console.print(data_text(raw), highlight=False)
@main.group()
def dlms() -> None:
    """A small DLMS/COSEM client (TCP wrapper) for `sts meter serve` or any meter."""


@dlms.command("get")
@_dlms_options
@click.argument("obis", metavar="OBIS")
@click.argument("attribute", metavar="ATTR")
@click.option("--class", "class_id", type=click.IntRange(1, 65535),
              help="Interface class (default: from the simulated meter's objects).")  # fmt: skip
@click.option("--entry", "entries", nargs=2, type=_IntRange(0, 4_294_967_295),
              metavar="FROM TO", help="A profile's rows FROM-TO (from 1; TO 0: last).")  # fmt: skip
@click.option("--range", "span", nargs=2, type=_MeterTime(), metavar="FROM TO",
              help="A profile's rows captured FROM-TO (local, or with an offset).")  # fmt: skip
def dlms_get(
    obis: str, attribute: str, class_id: int | None, entries: tuple[int, int] | None,
    span: tuple[Any, Any] | None, **o: Any,
) -> None:  # fmt: skip
    """Read attribute ATTR of object OBIS (e.g. 0.0.1.0.0.255 2 reads the clock);
    a profile's buffer (attribute 2) by --entry or --range."""
    from sts.meter.dlms import client

    target = _dlms_target(o)
    ref, index, cls = _dlms_ref(obis, attribute, class_id, "ATTR")
    selection = None
    if entries and span:
        raise click.UsageError("give --entry or --range, not both")
    if entries:
        if entries[0] == 0:
            raise click.BadParameter("entries count from 1", param_hint="--entry")
        selection = client.ByEntry(*entries)
    if span:
        if any(not isinstance(t, datetime) for t in span):
            raise click.BadParameter("give two times, not durations", param_hint="--range")
        selection = client.by_range(*span)
    with refusals():
        raw = client.get(target, ref, index, cls, selection)
    _show_data(raw, o["as_json"])


@dlms.command("set")
@_dlms_options
@click.argument("obis", metavar="OBIS")
@click.argument("attribute", metavar="ATTR")
@click.option("--class", "class_id", type=click.IntRange(1, 65535), help="Interface class.")
@click.option("--hex", "value_hex", metavar="HEX", help="The value as A-XDR data in hex.")
@click.option("--text", help="The value as an octet-string of ASCII text.")
def dlms_set(
    obis: str, attribute: str, class_id: int | None, value_hex: str | None, text: str | None,
    **o: Any,
) -> None:  # fmt: skip
    """Write attribute ATTR of object OBIS."""
    from sts.meter.dlms import client

    target = _dlms_target(o)
    ref, index, cls = _dlms_ref(obis, attribute, class_id, "ATTR")
    value = _dlms_value(value_hex, text)
    if value is None:
        raise click.UsageError("give the value as --hex or --text")
    with refusals():
        client.set_value(target, ref, index, cls, value)
    _show_data(None, o["as_json"])


@dlms.command("action")
@_dlms_options
@click.argument("obis", metavar="OBIS")
@click.argument("method", metavar="METHOD")
@click.option("--class", "class_id", type=click.IntRange(1, 65535), help="Interface class.")
@click.option("--hex", "value_hex", metavar="HEX", help="The parameter as A-XDR data in hex.")
@click.option("--text", help="The parameter as an octet-string of ASCII text.")
def dlms_action(
    obis: str, method: str, class_id: int | None, value_hex: str | None, text: str | None,
    **o: Any,
) -> None:  # fmt: skip
    """Invoke method METHOD of object OBIS."""
    from sts.meter.dlms import client

    target = _dlms_target(o)
    ref, index, cls = _dlms_ref(obis, method, class_id, "METHOD")
    with refusals():
        raw = client.action(target, ref, index, cls, _dlms_value(value_hex, text))
    _show_data(raw, o["as_json"])


@dlms.command("push-token")
@_dlms_options
@click.argument("token", nargs=-1, required=True)
def dlms_push_token(token: tuple[str, ...], **o: Any) -> None:
    """Enter a 20-digit TOKEN through the meter's token gateway (0.0.19.40.0.255).

    Exit 1 when the meter rejects it. The answer is the gateway's token_status
    (IC 115) and the STS result code with the meter's display text.
    """
    from sts.meter.dlms import client

    if o["level"] == "admin" and o["settings_file"] is not None and not o["hls"]:
        o["level"] = "operator"  # entering tokens is the operator's right
    target = _dlms_target(o)
    with refusals():
        outcome = client.push_token(target, " ".join(token))
    accepted = outcome.status == 3
    if o["as_json"]:
        emit_json({"status": outcome.status, "sts_result": outcome.sts_result,
                   "description": list(outcome.description), "accepted": accepted})  # fmt: skip
    else:
        colour = "green" if accepted else "red"
        console.print(
            f"[{colour}]{' / '.join(outcome.description) or 'no description'}[/] "
            f"(token_status {outcome.status})",
            highlight=False,
        )
    if not accepted:
        raise click.exceptions.Exit(1)


@report.command("checkpoint")
@click.argument("file", type=_checkpoint_file)
@_vending_options
def report_checkpoint(file: Path, **o: Any) -> None:
    """Verify the ledger, then write a signed checkpoint of its head to FILE.

    The checkpoint (entry number and hash, signed under a key derived from the
    master key) lets `sts report verify --checkpoint FILE` prove later that no
    entry up to it was removed or changed. Keep it outside the database's reach.
    FILE must not exist yet.
    """
    import os
    import tempfile

    from vending import ledger_check
    from vending.errors import VendingError

    with refusals():
        checkpoint, text = ledger_check.take_checkpoint(_open_vending(o))
        folder = file.resolve().parent
        if file.exists():
            raise VendingError(f"checkpoint file {file} already exists; choose another name")
        try:
            descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".checkpoint-")
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
            try:
                os.link(temporary, file)  # fails if FILE appeared meanwhile: never replaced
            finally:
                os.unlink(temporary)
        except FileExistsError:
            raise VendingError(
                f"checkpoint file {file} already exists; choose another name"
            ) from None
        except OSError as exc:
            raise VendingError(
                f"checkpoint file {file} cannot be written: {exc.strerror}"
            ) from None
    if o["as_json"]:
        emit_json({**checkpoint.to_dict(), "file": str(file)})
    else:
        console.print(
            f"Checkpoint of entry {checkpoint.seq} written to {file}",
            highlight=False,
            soft_wrap=True,
        )


# --- vending: vendors, operators and the HTTP service ---------------------------------------
# Vendors hold floats that sales through the API reduce; operators of a vendor authenticate
# to the API with keys shown once here. `sts serve` runs the API (FastAPI on uvicorn).

SERVE_DB_ENV = "STS_SERVE_DATABASE_URL"
SERVE_MASTER_FILE_ENV = "STS_SERVE_MASTER_KEY_FILE"
SERVE_THREADS_ENV = "STS_SERVE_THREADS"


@main.group("vendors")
def vendors_group() -> None:
    """Vendors (agents, banks, mobile money) and their floats."""


def _render_vendors(items: Sequence[Any], as_json: bool) -> None:
    from vending.views.listings import vendors_table

    if as_json:
        emit_json([i.to_dict() for i in items])
        return
    console.print(vendors_table(items))


@vendors_group.command("add")
@click.argument("name")
@click.option(
    "--credit-limit",
    default="0",
    show_default=True,
    metavar="AMOUNT",
    help="How far below zero the float may go.",
)
@_vending_options
def vendors_add(name: str, credit_limit: str, **o: Any) -> None:
    """Add a vendor with an empty float."""
    from vending import vendors as service

    with refusals():
        made = service.add_vendor(_open_vending(o, create=True), name, credit_limit)
    _render_vendors([made], o["as_json"])


@vendors_group.command("list")
@_vending_options
def vendors_list(**o: Any) -> None:
    """Every vendor with its float and credit limit."""
    from vending import vendors as service

    with refusals():
        items = service.list_vendors(_open_vending(o))
    _render_vendors(items, o["as_json"])


def _render_movement(movement: Any, as_json: bool) -> None:
    from vending.views.listings import movement_text

    if as_json:
        emit_json(movement.to_dict())
        return
    console.print(movement_text(movement), highlight=False)


@vendors_group.command("topup")
@click.argument("name")
@click.argument("amount")
@click.option("--note", default="", help="A note for the float ledger (e.g. the bank reference).")
@_vending_options
def vendors_topup(name: str, amount: str, note: str, **o: Any) -> None:
    """Add AMOUNT to a vendor's float (money received from the vendor)."""
    from vending import vendors as service

    with refusals():
        movement = service.top_up(_open_vending(o), name, amount, note)
    _render_movement(movement, o["as_json"])


@vendors_group.command("adjust")
@click.argument("name")
@click.option("--amount", required=True, help="The correction, e.g. -12.50 or 3.00.")
@click.option("--note", required=True, help="Why (kept in the float ledger).")
@_vending_options
def vendors_adjust(name: str, amount: str, note: str, **o: Any) -> None:
    """Correct a vendor's float up or down."""
    from vending import vendors as service

    with refusals():
        movement = service.adjust(_open_vending(o), name, amount, note)
    _render_movement(movement, o["as_json"])


@main.group("operators")
def operators_group() -> None:
    """Operators of a vendor and their API keys."""


def _render_operators(items: Sequence[Any]) -> None:
    from vending.views.listings import operators_table

    console.print(operators_table(items))


@operators_group.command("add")
@click.argument("vendor")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["vend", "supervise", "administer"]),
    default="vend",
    show_default=True,
    help="vend < supervise (reverse, reprint, reports) < administer.",
)
@_vending_options
def operators_add(vendor: str, name: str, role: str, **o: Any) -> None:
    """Add an operator to VENDOR; its API key is shown once, here, and never again."""
    from vending import vendors as service

    with refusals():
        made = service.add_operator(_open_vending(o), vendor, name, role)
    if o["as_json"]:
        emit_json(made.to_dict())
        return
    _render_operators([made.operator])
    console.print(f"API key: [bold]{made.api_key}[/]", highlight=False, soft_wrap=True)
    err_console.print(
        "Save this key now: only its hash is stored, so it cannot be shown again.",
        highlight=False,
    )


@operators_group.command("list")
@click.option("--vendor", help="Only this vendor's operators.")
@_vending_options
def operators_list(vendor: str | None, **o: Any) -> None:
    """Operators, their roles and key ids (never the keys)."""
    from vending import vendors as service

    with refusals():
        items = service.list_operators(_open_vending(o), vendor)
    if o["as_json"]:
        emit_json([i.to_dict() for i in items])
    else:
        _render_operators(items)


@operators_group.command("revoke")
@click.argument("vendor")
@click.argument("name")
@_vending_options
def operators_revoke(vendor: str, name: str, **o: Any) -> None:
    """Revoke an operator's API key, at once."""
    from vending import vendors as service

    with refusals():
        item = service.revoke_operator(_open_vending(o), vendor, name)
    if o["as_json"]:
        emit_json(item.to_dict())
    else:
        console.print(f"Revoked {item.vendor}/{item.name} (key {item.key_id})", highlight=False)


@report.command("cashup")
@click.option("--vendor", required=True, help="The vendor's name.")
@click.option("--day", required=True, type=click.DateTime(["%Y-%m-%d"]), help="UTC day.")
@_vending_options
def report_cashup(vendor: str, day: datetime, **o: Any) -> None:
    """What each operator of a vendor sold, reversed and owes on a day; the float's day."""
    from vending import cashup
    from vending.views.reports import cashup_view

    with refusals():
        result = cashup.cashup(_open_vending(o), vendor, day.date())
    data = result.to_dict()
    if o["as_json"]:
        emit_json(data)
        return
    _show(cashup_view(data))


def _serve_master_key(key_file: Path | None) -> Any:
    """The master key the API unseals vending keys with: STS_MASTER_KEY, else the file."""
    import os

    from vending.db import default_master_key_path
    from vending.keystore import ENV_VAR, MasterKey

    if os.environ.get(ENV_VAR):
        return MasterKey.from_env(os.environ)
    path = key_file or default_master_key_path()
    if not Path(path).exists():
        raise click.ClickException(
            f"no master key: {path} does not exist and {ENV_VAR} is unset; expected the key "
            "the vending keys were sealed with (`sts keys add` creates it)"
        )
    return MasterKey.from_file(path)


def serve_app() -> Any:
    """The API for one `sts serve` worker, from what `serve` put in the environment."""
    import os
    import random
    from datetime import UTC

    from vending import serving
    from vending.api import create_app

    file = os.environ.get(SERVE_MASTER_FILE_ENV)
    master = _serve_master_key(Path(file) if file else None)
    return create_app(
        os.environ[SERVE_DB_ENV],
        master,
        lambda: datetime.now(UTC),
        random.SystemRandom(),
        threads=int(os.environ.get(SERVE_THREADS_ENV, serving.DEFAULT_THREADS)),
    )


@main.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    callback=_listen_host,
    help="Address to listen on (put a TLS reverse proxy in front for other hosts).",
)
@click.option("--port", type=_IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--workers",
    type=_IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes (several need PostgreSQL to be worth it).",
)
@click.option(
    "--threads",
    type=_IntRange(1, 64),  # vending.serving.MAX_THREADS (tests/test_api_cli.py checks)
    help="Requests each worker runs at once; the rest wait their turn.  [default: 3]",
)
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    envvar="STS_DATABASE_URL",
    help="Database URL (default: STS_DATABASE_URL, else the SQLite file in your data folder).",
)
@click.option(
    "--master-key-file",
    type=_SafePath(dir_okay=False, path_type=Path),
    envvar="STS_MASTER_KEY_FILE",
    help="The master key file (STS_MASTER_KEY first).",
)
def serve(
    host: str,
    port: int,
    workers: int,
    threads: int | None,
    db_url: str | None,
    master_key_file: Path | None,
) -> None:
    """Run the vending API (HTTP, JSON under /v1; OpenAPI at /v1/openapi.json)."""
    import os

    import uvicorn

    from vending.db import default_url, open_database

    url = db_url or default_url()
    with refusals():
        # Create or check the schema once, before any worker starts.
        open_database(url).dispose()
        _serve_master_key(master_key_file)
    os.environ[SERVE_DB_ENV] = url
    if threads is None:
        os.environ.pop(SERVE_THREADS_ENV, None)  # the library's default, not an earlier run's
    else:
        os.environ[SERVE_THREADS_ENV] = str(threads)
    if master_key_file is not None:
        os.environ[SERVE_MASTER_FILE_ENV] = str(master_key_file)
    from vending.serving import DEFAULT_THREADS

    each = threads or DEFAULT_THREADS
    err_console.print(
        f"Serving the vending API on http://{host}:{port}/v1 ({workers} worker"
        f"{'s' if workers > 1 else ''}, {each} thread{'s' if each > 1 else ''}"
        f"{' each' if workers > 1 else ''})",
        highlight=False,
    )
    uvicorn.run(
        "cli:serve_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
