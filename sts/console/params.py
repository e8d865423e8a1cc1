"""The `sts` command's option types: every number, amount, path, power, duration and
time a user types is parsed here, within stated bounds, before any work.

Numbers are ASCII digits only (no '1_000', no Arabic-Indic or other Unicode digits,
no exponent, inf or nan). A value refused here is bad usage: one sentence naming
the value and what was expected, exit 2.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import click

from sts.console.usage import refusals
from sts.errors import StsError


def _shown(value: object) -> str:
    """A typed value for an error message, cut short when long (sts.errors.shown)."""
    from sts.errors import shown

    return shown(value)


_ASCII_INT = re.compile(r"[+-]?[0-9]{1,30}", re.ASCII)


class IntRange(click.IntRange):
    """click.IntRange for ASCII whole numbers only (click's own takes '1_000', Unicode digits)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not _ASCII_INT.fullmatch(value.strip()):
            self.fail(f"{_shown(value)} is not a whole number written in ASCII digits", param, ctx)
        return super().convert(value, param, ctx)


class Amount(click.ParamType):
    """A decimal amount, parsed by sts.amounts with the rule ``rule()`` gives.

    Text that is not a plain ASCII decimal is bad usage (exit 2, like a letter in a
    whole-number option). A number outside the rule's bounds or finer than its
    places is bad usage too where the option is a token field (``usage=True``),
    and elsewhere an operation refused (exit 1) with the library's sentence, as
    the library itself would refuse it. The rule is looked up when the option is
    used, so that the modules defining it are imported only then.
    """

    name = "amount"

    def __init__(self, rule: Callable[[], Any], usage: bool = False) -> None:
        self.rule = rule
        self.usage = usage

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Decimal:
        from sts.amounts import check_amount, to_decimal

        if isinstance(value, Decimal):
            return value
        rule = self.rule()
        try:
            number = to_decimal(value, rule.what)
        except StsError as exc:
            self.fail(str(exc), param, ctx)
        if self.usage:
            try:
                return check_amount(number, rule)
            except StsError as exc:
                self.fail(str(exc), param, ctx)
        with refusals():
            return check_amount(number, rule)


_MAX_PATH = 4096
_MAX_PATH_PART = 255


def _check_path(
    kind: click.ParamType, value: Any, param: click.Parameter | None, ctx: click.Context | None
) -> None:
    """Refuse a path the operating system would choke on, before it is used."""
    if not isinstance(value, str) or value == "-":
        return
    bad = next((ch for ch in value if ord(ch) < 32 or ord(ch) == 127), None)
    if bad is not None:
        kind.fail(
            f"{_shown(value)} contains the control character U+{ord(bad):04X}; expected a path",
            param,
            ctx,
        )
    if len(value) > _MAX_PATH or any(len(part) > _MAX_PATH_PART for part in value.split("/")):
        kind.fail(
            f"{_shown(value)} is too long for a path; expected at most {_MAX_PATH} characters "
            f"and {_MAX_PATH_PART} per name",
            param,
            ctx,
        )


class SafePath(click.Path):
    """click.Path that refuses control characters and over-long names first."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        _check_path(self, value, param, ctx)
        return super().convert(value, param, ctx)


class SafeFile(click.File):
    """click.File that refuses control characters and over-long names first."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        _check_path(self, value, param, ctx)
        return super().convert(value, param, ctx)


_POWER_UNITS = {"w": 1, "kw": 1000, "mw": 1_000_000}
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_MAX_WATTS = 10_000_000  # 10 MW: more than any meter's load
_MAX_DURATION_DAYS = 366


class Power(click.ParamType):
    """A power such as '2kW', '500W', '1.5kW' or '0' (watts)."""

    name = "power"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().lower().replace(" ", "")
        number = text.rstrip("kmw")
        unit = text[len(number) :] or "w"
        if not re.fullmatch(r"[+-]?[0-9]{1,12}(?:\.[0-9]{1,6})?", number, re.ASCII) or (
            unit not in _POWER_UNITS
        ):
            self.fail(f"{_shown(value)} is not a power like '2kW', '500W' or '1.5kW'", param, ctx)
        watts = Decimal(number) * _POWER_UNITS[unit]
        if watts < 0 or watts != watts.to_integral_value():
            self.fail(f"{_shown(value)} is not a whole number of watts of 0 or more", param, ctx)
        if watts > _MAX_WATTS:
            self.fail(f"{_shown(value)} is above the limit of {_MAX_WATTS:,} W", param, ctx)
        return int(watts)


class Duration(click.ParamType):
    """A duration such as '3h', '15m', '1d', '90s' or '1h30m'."""

    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        if isinstance(value, timedelta):
            return value
        text = str(value).strip().lower().replace(" ", "")
        parts = re.fullmatch(r"(?:[0-9]{1,12}(?:\.[0-9]{1,6})?[smhdw]){1,5}", text, re.ASCII)
        if not parts:
            self.fail(
                f"{_shown(value)} is not a duration like '3h', '15m', '1d' or '1h30m'", param, ctx
            )
        seconds = sum(
            Decimal(amount) * _DURATION_UNITS[unit]
            for amount, unit in re.findall(r"([0-9]+(?:\.[0-9]+)?)([smhdw])", text, re.ASCII)
        )
        if seconds > _MAX_DURATION_DAYS * 86_400:
            self.fail(
                f"{_shown(value)} is longer than the limit of {_MAX_DURATION_DAYS} days", param, ctx
            )
        return timedelta(seconds=float(seconds))


class MeterTime(click.ParamType):
    """A time: 'YYYY-MM-DD HH:MM' (local), with an offset ('+02:00', 'Z'), or '+DURATION'.

    '+DURATION' is relative to the meter's clock and converts to a timedelta.
    """

    name = "time"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime | timedelta:
        if isinstance(value, datetime | timedelta):
            return value
        text = str(value).strip()
        if text.startswith("+"):
            return Duration().convert(text[1:], param, ctx)
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            self.fail(
                f"{_shown(value)} is not a time like '2025-03-01 14:30', '2025-03-01 14:30+02:00' "
                "or '+1h' (after the meter's clock)",
                param,
                ctx,
            )
        return when.astimezone() if when.tzinfo is None else when


def parse_at(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    """--at as an aware time: local time unless it carries an offset."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{_shown(value)} is not a time like '2025-03-01 14:30' or '2025-03-01 14:30+02:00'"
        ) from None
    return when.astimezone() if when.tzinfo is None else when


def int_any_base(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    """A whole number of at most 64 bits, decimal or 0x-prefixed hex (a click callback)."""
    if value is None:
        return None
    text = value.strip()
    if not re.fullmatch(r"0[xX][0-9a-fA-F]{1,16}|[0-9]{1,20}", text, re.ASCII):
        raise click.BadParameter(
            f"{_shown(value)} is not a number of at most 64 bits (use 0x... for hex)"
        )
    return int(text[2:], 16) if text[:2] in ("0x", "0X") else int(text)


def token_quantity_rule() -> Any:
    """The bound of a token's quantity field (`token encode credit --kwh/--quantity`)."""
    from sts.amounts import AmountRule
    from sts.tokens.amount import MAX_AMOUNT

    return AmountRule("quantity", Decimal(MAX_AMOUNT).scaleb(-1), places=1)


def token_money_rule() -> Any:
    """The bound of a currency token's amount (`token encode credit --money`)."""
    from sts.amounts import AmountRule

    limit = Decimal(10) ** 12
    return AmountRule("currency amount", limit, low=-limit, places=5)


def listen_host(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """An address to listen on: an IP address or a host name that resolves here."""
    import ipaddress
    import socket

    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    labels = value.split(".")
    if not (
        0 < len(value) <= 253
        and all(re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?", lb) for lb in labels)
    ):
        raise click.BadParameter(f"{_shown(value)} is not an IP address or host name")
    try:
        socket.getaddrinfo(value, None)
    except (OSError, UnicodeError):
        raise click.BadParameter(f"host name {_shown(value)} does not resolve here") from None
    return value
