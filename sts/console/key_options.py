"""The options the token and key commands share, and what they name: the meter's
decoder key (given as --dk or derived from a vending key), the issue time and the
base date TIDs count from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from sts.console.params import IntRange, parse_at
from sts.crypto import DecoderKey, KeyParameters, VendingKey, derive_decoder_key
from sts.tokens.meter_number import meter_pan
from sts.tokens.tid import BaseDate

BASE_DATE_CHOICES = ("1993", "2014", "2035")
#: TIDs count from this base date when --bd is not given: nearly every meter has been
#: on 2014 since the 2024 TID rollover.
DEFAULT_TID_BASE = 2014
_DERIVE_NAMES = ("dkga", "vk", "pan", "drn", "sgc", "kt", "ti", "krn")
KEY_HELP = "--dk HEX, or --dkga/--vk/--pan (or --drn)/--sgc/--kt/--ti/--krn to derive it"


def options(*options: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Several click options as one decorator."""

    def decorate(function: Any) -> Any:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")

derive_options = options(
    click.option("--dkga", type=click.Choice(["02", "04"]), help="Key derivation algorithm."),
    click.option("--vk", metavar="HEX", help="Vending key: 16 hex digits (02) or 40 (04)."),
    click.option("--pan", metavar="18DIGITS", help="The meter's MeterPAN."),
    click.option("--drn", metavar="DIGITS", help="Or its 11/13-digit meter number."),
    click.option("--sgc", type=IntRange(0, 999_999), help="Supply group code."),
    click.option("--kt", type=IntRange(0, 3), help="Key type, 0-3."),
    click.option("--ti", type=IntRange(0, 99), help="Tariff index, 0-99."),
    click.option("--krn", type=IntRange(1, 9), help="Key revision number, 1-9."),
    click.option(
        "--bd",
        "--base-date",
        "bd",
        type=click.Choice(BASE_DATE_CHOICES),
        help=f"The meter's base date: a DKGA04 input; TIDs count from it "
        f"(default {DEFAULT_TID_BASE}).",
    ),
    click.option(
        "--ea",
        type=click.Choice(["07", "11", "09"]),
        help="07 STA, 11 MISTY1, 09 DES (default: by key size).",
    ),
)

key_options = options(
    click.option("--dk", metavar="HEX", help="The meter's decoder key (16 or 32 hex digits)."),
    derive_options,
    click.option(
        "--tables",
        type=click.Choice(["production", "sample"]),
        default="production",
        show_default=True,
        help="STA tables ('sample': the IEC example tables, for tests only).",
    ),
    json_option,
)


issue_options = options(
    click.option(
        "--tid",
        type=IntRange(0, 2**24 - 1),
        help="The token identifier as is (minutes since base).",
    ),
    click.option(
        "--at",
        metavar="'YYYY-MM-DD HH:MM[+HH:MM]'",
        callback=parse_at,
        help="Issue time, local unless an offset is given (default: now).",
    ),
    click.option("--rnd", type=IntRange(0, 15), help="The 4 random bits (default: random)."),
)


def key_parameters(o: dict[str, Any]) -> tuple[str, VendingKey, KeyParameters]:
    """(DKGA, vending key, parameters) from the derivation options; UsageError if incomplete."""
    missing = [f"--{name}" for name in ("dkga", "vk", "sgc", "kt", "ti", "krn") if o[name] is None]
    if o["pan"] is None and o["drn"] is None:
        missing.append("--pan or --drn")
    if missing:
        raise click.UsageError(f"to derive the decoder key, also give {', '.join(missing)}")
    if o["pan"] is not None and o["drn"] is not None:
        raise click.UsageError("give the meter as --pan or as --drn, not both")
    if o["dkga"] == "04" and (o["bd"] is None or o["ea"] is None):
        raise click.UsageError(
            "a DKGA04 key depends on the base date and algorithm: give --bd, --ea"
        )
    pan = o["pan"] if o["pan"] is not None else meter_pan(o["drn"])
    params = KeyParameters(
        pan=pan,
        sgc=o["sgc"],
        kt=o["kt"],
        ti=o["ti"],
        krn=o["krn"],
        base_date=BaseDate.parse(o["bd"] or 1993),
        ea=o["ea"] or "07",
    )
    return o["dkga"], VendingKey.from_hex(o["vk"]), params


def decoder_key(o: dict[str, Any], *, dk_and_derive: bool = False) -> DecoderKey | None:
    """The key from --dk or from the derivation options; None when neither is given."""
    given = [f"--{name}" for name in _DERIVE_NAMES if o.get(name) is not None]
    if o.get("dk"):
        if given and not dk_and_derive:
            raise click.UsageError(f"give the key as --dk or derive it, not both ({given[0]})")
        return DecoderKey.from_hex(o["dk"])
    if not given:
        return None
    dkga, vk, params = key_parameters(o)
    return derive_decoder_key(dkga, vk, params)


def tid_base(o: dict[str, Any]) -> BaseDate:
    """The base date TIDs count from: --bd, else the default."""
    return BaseDate.parse(o.get("bd") or DEFAULT_TID_BASE)
