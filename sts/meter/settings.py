"""A new meter's whole set-up from one JSON document: credit engine and metering.

``sts meter new --config FILE`` reads one JSON object: the credit engine's
settings (:func:`sts.meter.state.credit_config_from_json`: ``timezone``,
``tariff``, ``emergency``, ``friendly``, ``alarms``, ``load_control``, ...)
and, under the key ``"metering"``, the measuring side
(:meth:`sts.meter.metering.Metering.from_settings`: ``supply``,
``net_metering``, ``rate_prices``, ``calendar``, ``load``, ``surveys``,
``daily_survey``)::

    >>> text = '{"timezone": "+02:00", "metering": {"supply": {"frequency_hz": 60}}}'
    >>> credit, metering = meter_settings_from_json(text)
    >>> credit.timezone, metering.config.supply.frequency_hz
    ('+02:00', 60)
"""

from __future__ import annotations

import json

from sts.errors import FormatError, StsError
from sts.meter.config import CreditConfig
from sts.meter.metering import Metering
from sts.meter.state import credit_config_from_json


def meter_settings_from_json(
    text: str, source: str = "meter configuration"
) -> tuple[CreditConfig, Metering]:
    """The credit engine's configuration and a new meter's metering from JSON text."""
    try:
        given = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"{source} is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    if not isinstance(given, dict):
        raise FormatError(f"{source} is not a JSON object of meter settings")
    metering_settings = given.pop("metering", {})
    credit = credit_config_from_json(json.dumps(given), source)
    try:
        metering = Metering.from_settings(metering_settings)
    except StsError as exc:
        raise FormatError(f"{source}: {exc}") from None
    return credit, metering
