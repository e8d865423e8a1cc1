"""Disconnect control, shaped like DLMS/COSEM class 70.

Three control states: 0 *disconnected*, 1 *connected*, 2 *ready for
reconnection*; ``output_state`` is True only when connected. The control mode
(0-6) decides which triggers may move it (class 70's transitions):

    a  remote reconnect   disconnected -> connected               (modes 2, 4)
    d  remote reconnect   disconnected -> ready for reconnection  (modes 1, 3, 5, 6)
    b  remote disconnect  ready for reconnection -> disconnected  (modes 1-6)
    c  remote disconnect  connected -> disconnected               (modes 1-6)
    e  manual reconnect   ready for reconnection -> connected     (modes 1-6)
    f  manual disconnect  connected -> ready for reconnection     (modes 1, 2, 5)
    g  local disconnect   connected -> ready for reconnection     (modes 1-6)
    h  local reconnect    ready for reconnection -> connected     (modes 5, 6)

Mode 0: always connected; every trigger is refused. *Manual* is the
customer's button on the meter or the keypad (``sts meter relay`` without
``--remote``); *local* is the meter's own self-protection (tamper, abnormal
voltage, malfunction: :mod:`sts.meter.protection`); *remote* is the head end.
A trigger the mode does not allow, or that does not apply to the present
state, is refused with a FunctionError naming the state and mode, and
changes nothing::

    >>> dc = DisconnectControl(mode=1)
    >>> dc.apply(Trigger.REMOTE_DISCONNECT).name, dc.apply(Trigger.REMOTE_RECONNECT).name
    ('DISCONNECTED', 'READY_FOR_RECONNECTION')
    >>> dc.apply(Trigger.MANUAL_RECONNECT).name, dc.output_state
    ('CONNECTED', True)
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Any

from sts.errors import FormatError, FunctionError
from sts.meter import strict


class ControlState(IntEnum):
    DISCONNECTED = 0
    CONNECTED = 1
    READY_FOR_RECONNECTION = 2


class Trigger(StrEnum):
    REMOTE_DISCONNECT = "remote disconnect"
    REMOTE_RECONNECT = "remote reconnect"
    MANUAL_DISCONNECT = "manual disconnect"
    MANUAL_RECONNECT = "manual reconnect"
    LOCAL_DISCONNECT = "local disconnect"
    LOCAL_RECONNECT = "local reconnect"


_C, _D, _R = ControlState.CONNECTED, ControlState.DISCONNECTED, ControlState.READY_FOR_RECONNECTION
_ALL = frozenset(range(1, 7))
# (trigger, from state) -> (to state, modes that allow it)
_TRANSITIONS: dict[tuple[Trigger, ControlState], tuple[ControlState, frozenset[int]]] = {
    (Trigger.REMOTE_RECONNECT, _D): (_C, frozenset({2, 4})),
    (Trigger.REMOTE_DISCONNECT, _R): (_D, _ALL),
    (Trigger.REMOTE_DISCONNECT, _C): (_D, _ALL),
    (Trigger.MANUAL_RECONNECT, _R): (_C, _ALL),
    (Trigger.MANUAL_DISCONNECT, _C): (_R, frozenset({1, 2, 5})),
    (Trigger.LOCAL_DISCONNECT, _C): (_R, _ALL),
    (Trigger.LOCAL_RECONNECT, _R): (_C, frozenset({5, 6})),
}
_REMOTE_TO_READY = frozenset({1, 3, 5, 6})


class DisconnectControl:
    """Control mode and state (class 70 attributes 2-4)."""

    def __init__(self, mode: int = 1, state: ControlState = ControlState.CONNECTED) -> None:
        if not isinstance(mode, int) or not 0 <= mode <= 6:
            raise FormatError(f"disconnect control mode {mode!r} is not 0-6")
        self.mode = mode
        self.state = ControlState.CONNECTED if mode == 0 else state

    @property
    def output_state(self) -> bool:
        return self.state is ControlState.CONNECTED

    def allows(self, trigger: Trigger) -> bool:
        """True when ``trigger`` would move the state now."""
        return self._target(trigger) is not None

    def _target(self, trigger: Trigger) -> ControlState | None:
        if self.mode == 0:
            return None
        if (
            trigger is Trigger.REMOTE_RECONNECT
            and self.state is _D
            and self.mode in _REMOTE_TO_READY
        ):
            return _R
        found = _TRANSITIONS.get((trigger, self.state))
        if found is None or self.mode not in found[1]:
            return None
        return found[0]

    def apply(self, trigger: Trigger) -> ControlState:
        """Move by ``trigger``; FunctionError when the mode or state does not allow it."""
        target = self._target(trigger)
        if target is None:
            raise FunctionError(
                f"{trigger.value} is not possible in state {self.state.name.lower()} "
                f"under control mode {self.mode}"
            )
        self.state = target
        return target

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "state": int(self.state)}

    @classmethod
    def from_dict(cls, data: Any, path: str = "disconnect") -> DisconnectControl:
        d = strict.obj(data, path, ("mode", "state"))
        mode = strict.read_int(d, "mode", path, 0, 6)
        state = ControlState(strict.read_int(d, "state", path, 0, 2))
        if mode == 0 and state is not ControlState.CONNECTED:
            raise FormatError(f"{path}.state must be 1 (connected) under control mode 0")
        return cls(mode, state)
