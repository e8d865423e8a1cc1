"""The `sts dlms` client's command-line inputs and outputs: the server and credentials
its options name, object references and values typed on the command line, and the
data a reply carries, shown for people."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from sts.console.params import SafePath
from sts.console.usage import refusals


def dlms_target(o: dict[str, Any]) -> Any:
    """The server and credentials the `sts dlms` options name."""
    from sts.meter.dlms.client import Credentials, Target
    from sts.meter.dlms.files import LEVEL_NAMES, load_settings

    address = o["address"]
    host, _, port_text = address.rpartition(":") if ":" in address else (address, "", "4059")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536 or not host:
        raise click.BadParameter(f"{address!r} is not HOST or HOST:PORT", param_hint="HOST[:PORT]")
    password = o["password"]
    keys: tuple[bytes, bytes] | None = None
    if o["settings_file"] is not None:
        with refusals():
            settings, _counters = load_settings(o["settings_file"])
        if o["hls"]:
            if settings.encryption_key is None or settings.authentication_key is None:
                raise click.ClickException(f"{o['settings_file']} holds no suite-0 keys for HLS")
            keys = (settings.encryption_key, settings.authentication_key)
        elif password is None and o["level"] != "public":
            wanted = LEVEL_NAMES[o["level"]]
            password = next(
                (p.decode("ascii") for p, lv in settings.passwords.items() if lv == wanted), None
            )
            if password is None:
                raise click.ClickException(f"{o['settings_file']} has no {o['level']} password")
    elif o["hls"]:
        try:
            keys = (bytes.fromhex(o["ek"] or ""), bytes.fromhex(o["ak"] or ""))
        except ValueError:
            keys = (b"", b"")
        if any(len(k) != 16 for k in keys):
            raise click.UsageError("--hls needs --ek and --ak (32 hex digits each) or --settings")
    if keys is not None:
        credentials = Credentials.hls(*keys)
    elif password is not None:
        if not password.isascii() or not 1 <= len(password) <= 64:
            raise click.BadParameter("1-64 ASCII characters", param_hint="--password")
        credentials = Credentials.lls(password.encode("ascii"))
    else:
        credentials = Credentials.public()
    return Target(host, int(port_text), credentials)


_DLMS_OPTIONS = [
    click.argument("address", metavar="HOST[:PORT]"),
    click.option("--password", help="LLS password: the management client (SAP 1)."),
    click.option(
        "--settings",
        "settings_file",
        type=SafePath(dir_okay=False, path_type=Path),
        help="Take the password or keys from a DLMS settings file (`sts meter serve` makes "
        "FILE.dlms.json).",
    ),
    click.option(
        "--level",
        type=click.Choice(["public", "reader", "operator", "admin"]),
        default="admin",
        show_default=True,
        help="Which password of --settings to use; public: none.",
    ),
    click.option("--hls", is_flag=True, help="HLS GMAC (suite 0), keys: --ek/--ak or --settings."),
    click.option("--ek", metavar="HEX", help="Global unicast encryption key (HLS)."),
    click.option("--ak", metavar="HEX", help="Authentication key (HLS)."),
    click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout."),
]


def dlms_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The options every `sts dlms` command takes: the server and how to log in."""
    for option in reversed(_DLMS_OPTIONS):
        function = option(function)
    return function


def dlms_ref(obis_text: str, index: str, class_id: int | None, kind: str) -> tuple[Any, int, int]:
    """(OBIS code, attribute or method index, interface class) from the command line."""
    from sts.meter.dlms.errors import DlmsError
    from sts.meter.dlms.model import parse_obis
    from sts.meter.dlms.objects import meter_objects
    from sts.meter.service import MeterService

    try:
        obis = parse_obis(obis_text)
    except DlmsError as exc:
        raise click.BadParameter(str(exc), param_hint="OBIS") from None
    if not index.isdigit() or not 1 <= int(index) <= 255:
        raise click.BadParameter(f"{index!r} is not a number 1-255", param_hint=kind)
    if class_id is None:
        # Any service's meter: water and gas meters serve registers of their own.
        found = (meter_objects(service).find(obis) for service in MeterService)
        known = next((o for o in found if o is not None), None)
        if known is None:
            raise click.UsageError(f"give --class: {obis_text} is not one of the meter's objects")
        class_id = known.class_id
    return obis, int(index), class_id


def dlms_value(value_hex: str | None, text: str | None) -> bytes | None:
    """The A-XDR data given as --hex, or an octet string from --text; None if neither."""
    if value_hex is not None and text is not None:
        raise click.UsageError("give the value as --hex or --text, not both")
    if text is not None:
        raw = text.encode("ascii", "strict") if text.isascii() else None
        if raw is None or len(raw) > 1000:
            raise click.BadParameter("up to 1000 ASCII characters", param_hint="--text")
        from sts.meter.dlms.axdr import octet_string

        return octet_string(raw)
    if value_hex is not None:
        try:
            raw = bytes.fromhex(value_hex.replace(" ", ""))
        except ValueError:
            raise click.BadParameter(f"{value_hex!r} is not hex", param_hint="--hex") from None
        if not 1 <= len(raw) <= 4096:
            raise click.BadParameter("1-4096 octets of A-XDR data", param_hint="--hex")
        return raw
    return None


def dlms_plain(value: Any) -> Any:
    """A decoded COSEM value for people: printable octet strings as text, others as hex."""
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
        printable = raw.isascii() and raw.decode("ascii").isprintable()
        return raw.decode("ascii") if printable else raw.hex()
    if isinstance(value, list | tuple):
        return [dlms_plain(item) for item in value]
    return value


def data_text(raw: bytes) -> str:
    """A reply's A-XDR data as hex, with its decoded value where it decodes."""
    value = decoded_value(raw)
    return f"{raw.hex()}" + (f"  = {value!r}" if value is not None else "")


def decoded_value(raw: bytes | None) -> Any:
    """A reply's data decoded for people (see :func:`dlms_plain`); None if it does not decode."""
    if not raw:
        return None
    from sts.meter.dlms.axdr import decode
    from sts.meter.dlms.errors import DlmsError

    try:
        return dlms_plain(decode(raw).to_python())
    except (DlmsError, ValueError, TypeError, NotImplementedError):
        return None
