"""The simulated STS keypad meter.

One :class:`Meter` decides on every token as a real keypad meter does and runs
a dual-wallet credit engine on a clock the caller drives::

    >>> from datetime import datetime, timezone
    >>> import sts
    >>> from sts.meter import Meter
    >>> meter = Meter.manufacture(
    ...     drn="00000000000", key=sts.DecoderKey.from_hex("E653341F9D5BF36F"),
    ...     sgc=123456, base_date=1993, manufactured=datetime(2004, 1, 1, tzinfo=timezone.utc))
    >>> outcome = meter.enter_token("2371 6100 5011 8319 4197")   # STS 531-1 CTSA01: 0.1 kWh
    >>> outcome.result, outcome.display
    (<ResultCode.ACCEPT: 1>, ('Accept', '+0.1 kWh', 'Energy 0.100 kWh'))
    >>> meter.enter_token("2371 6100 5011 8319 4197").text
    'Used'

The parts, each in its own module:

* :mod:`sts.meter.decoder`: token acceptance, pure (processing order, result codes);
* :mod:`sts.meter.tid_memory`, :mod:`sts.meter.key_change`, :mod:`sts.meter.lockout`:
  the TID memory, the key change set state machine and the wrong-entry lockout;
* :mod:`sts.meter.credit` and the modules it uses: the credit engine;
* :mod:`sts.meter.meter`: the :class:`Meter` facade;
* :mod:`sts.meter.state`: the JSON state file (the one module here that touches disk);
* :mod:`sts.meter.keypad`: the 12-key keypad model.
"""

from sts.meter.meter import SHORT_CODES, Meter, MeterStatus, TokenOutcome

__all__ = ["SHORT_CODES", "Meter", "MeterStatus", "TokenOutcome"]
