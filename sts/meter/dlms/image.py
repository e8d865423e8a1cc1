"""Firmware upgrade: image transfer (IC 18) and its activation schedule (IC 22).

The simulated meter takes a new firmware image in blocks, checks it and
activates it, after which the firmware version object (1.0.0.2.0.255) shows
the image's identifier:

1. ``image_transfer_initiate({identifier, size})`` (method 1) starts a
   transfer (size at most :data:`MAX_IMAGE`);
2. ``image_block_transfer({number, value})`` (method 2) takes the blocks of
   :data:`BLOCK_SIZE` octets (the last may be shorter), numbered from 0;
3. ``image_verify(0)`` (method 3) checks the image: every block there, and its
   last 32 octets the SHA-256 of the rest. That hash is this simulator's image
   signature; an image whose hash does not match is refused (status 4,
   verification failed) and cannot be activated;
4. ``image_activate(0)`` (method 4) activates a verified image at once; or the
   single action schedule 0.0.15.0.2.255 (IC 22, attribute 4: an array of one
   ``{time, date}``, set by an admin) activates it when the meter's clock
   reaches that time, checked before every request.

image_transfer_status (attribute 6): 0 not initiated, 1 initiated,
2 verification initiated, 3 verification successful, 4 verification failed,
5 activation initiated, 6 activation successful, 7 activation failed.

The state of a transfer lives in the server's notes; the active firmware
version is saved with the DLMS settings (``firmware``), so it survives a
restart of the server.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dlms_cosem.dlms_data import AbstractDlmsData, DataArray, DataStructure

from sts.meter.dlms import axdr
from sts.meter.dlms.errors import DlmsError, TypeUnmatched
from sts.meter.dlms.model import Attribute, Context, CosemObject, Level, Method, cosem_object
from sts.meter.meter import SOFTWARE_VERSION

IMAGE_TRANSFER = (0, 0, 44, 0, 0, 255)
ACTIVATION_SCHEDULE = (0, 0, 15, 0, 2, 255)
BLOCK_SIZE = 128
MAX_IMAGE = 1 << 20
HASH_SIZE = 32

NOT_INITIATED, INITIATED, VERIFYING, VERIFIED, VERIFY_FAILED = 0, 1, 2, 3, 4
ACTIVATING, ACTIVATED, ACTIVATION_FAILED = 5, 6, 7


@dataclass
class ImageState:
    identifier: bytes = b""
    size: int = 0
    blocks: dict[int, bytes] = field(default_factory=dict)
    status: int = NOT_INITIATED
    activate_at: datetime | None = None

    @property
    def block_count(self) -> int:
        return -(-self.size // BLOCK_SIZE)


def _state(ctx: Context) -> ImageState:
    state = ctx.notes.get("image")
    if not isinstance(state, ImageState):
        state = ctx.notes["image"] = ImageState()
    return state


def firmware_version(ctx: Context) -> str:
    """The active firmware: the last activated image's identifier, or the meter's own."""
    return str(ctx.notes.get("firmware") or SOFTWARE_VERSION)


def _fields(value: AbstractDlmsData | None, count: int, what: str) -> list:
    items = value.value if isinstance(value, DataStructure) else None
    if not items or len(items) != count:
        raise TypeUnmatched(f"{what} takes a structure of {count}")
    return [item.to_python() for item in items]


def _initiate(ctx: Context, value: AbstractDlmsData | None) -> bytes | None:
    identifier, size = _fields(value, 2, "image_transfer_initiate")
    if not isinstance(identifier, bytes | bytearray) or not 1 <= len(identifier) <= 64:
        raise TypeUnmatched("the image identifier is an octet-string of 1-64 octets")
    if not isinstance(size, int) or not HASH_SIZE < size <= MAX_IMAGE:
        raise TypeUnmatched(f"the image size is {size}; expected 33 to {MAX_IMAGE} octets")
    ctx.notes["image"] = ImageState(bytes(identifier), size, {}, INITIATED)
    return None


def _block(ctx: Context, value: AbstractDlmsData | None) -> bytes | None:
    state = _state(ctx)
    if state.status not in (INITIATED, VERIFY_FAILED):
        raise DlmsError("no image transfer is initiated")
    number, block = _fields(value, 2, "image_block_transfer")
    if not isinstance(number, int) or not 0 <= number < state.block_count:
        raise TypeUnmatched(f"block {number} is not one of 0-{state.block_count - 1}")
    expected = min(BLOCK_SIZE, state.size - number * BLOCK_SIZE)
    if not isinstance(block, bytes | bytearray) or len(block) != expected:
        raise TypeUnmatched(f"block {number} is {expected} octets")
    state.blocks[number] = bytes(block)
    state.status = INITIATED
    return None


def _verify(ctx: Context, _value: AbstractDlmsData | None) -> bytes | None:
    state = _state(ctx)
    if state.status in (NOT_INITIATED, ACTIVATED):
        raise DlmsError("no image to verify")
    if len(state.blocks) != state.block_count:
        state.status = VERIFY_FAILED
        raise DlmsError("blocks are missing")
    image = b"".join(state.blocks[n] for n in range(state.block_count))
    if hashlib.sha256(image[:-HASH_SIZE]).digest() != image[-HASH_SIZE:]:
        state.status = VERIFY_FAILED
        raise DlmsError("the image's hash does not match: it is refused")
    state.status = VERIFIED
    return None


def _activate_now(ctx: Context) -> None:
    state = _state(ctx)
    ctx.notes["firmware"] = state.identifier.decode("ascii", "replace")
    state.status = ACTIVATED
    state.activate_at = None
    ctx.changed = True


def _activate(ctx: Context, _value: AbstractDlmsData | None) -> bytes | None:
    if _state(ctx).status != VERIFIED:
        raise DlmsError("only a verified image is activated")
    _activate_now(ctx)
    return None


def activate_when_due(ctx: Context) -> None:
    """Activate a verified image whose scheduled time the meter's clock has reached."""
    state = ctx.notes.get("image")
    if isinstance(state, ImageState) and state.status == VERIFIED and state.activate_at:
        now = ctx.now if ctx.now.tzinfo else ctx.now.replace(tzinfo=UTC)
        if state.activate_at <= now:
            _activate_now(ctx)


def image_transfer() -> CosemObject:
    def status_bits(ctx: Context) -> bytes:
        state = _state(ctx)
        return axdr.bit_string(
            "".join("1" if n in state.blocks else "0" for n in range(state.block_count))
        )

    def first_missing(ctx: Context) -> bytes:
        state = _state(ctx)
        missing = next((n for n in range(state.block_count) if n not in state.blocks), None)
        return axdr.double_long_unsigned(state.block_count if missing is None else missing)

    def to_activate(ctx: Context) -> bytes:
        state = _state(ctx)
        if state.status not in (VERIFIED, ACTIVATED):
            return axdr.array([])
        image = b"".join(state.blocks[n] for n in range(state.block_count))
        entry = axdr.structure(
            axdr.double_long_unsigned(state.size),
            axdr.octet_string(state.identifier),
            axdr.octet_string(image[-HASH_SIZE:]),
        )
        return axdr.array([entry])

    return cosem_object(
        IMAGE_TRANSFER,
        18,
        0,
        {
            2: Attribute(lambda _c: axdr.double_long_unsigned(BLOCK_SIZE)),
            3: Attribute(status_bits),
            4: Attribute(first_missing),
            5: Attribute(lambda _c: axdr.boolean(True)),
            6: Attribute(lambda c: axdr.enum(_state(c).status)),
            7: Attribute(to_activate),
        },
        {
            1: Method(_initiate, Level.ADMIN),
            2: Method(_block, Level.ADMIN),
            3: Method(_verify, Level.ADMIN),
            4: Method(_activate, Level.ADMIN),
        },
    )


def _set_schedule(ctx: Context, value: AbstractDlmsData) -> None:
    items = value.value if isinstance(value, DataArray) else None
    if items is None or len(items) > 1:
        raise TypeUnmatched("execution_time is an array of at most one {time, date}")
    state = _state(ctx)
    if not items:
        state.activate_at = None
        return
    when, day = _fields(items[0], 2, "an execution time")
    if not isinstance(when, bytes | bytearray) or not isinstance(day, bytes | bytearray):
        raise TypeUnmatched("an execution time is {time octet-string(4), date octet-string(5)}")
    if len(when) != 4 or len(day) != 5:
        raise TypeUnmatched("an execution time is {time octet-string(4), date octet-string(5)}")
    try:
        state.activate_at = datetime(
            int.from_bytes(day[:2], "big"), day[2], day[3], when[0], when[1], when[2], tzinfo=UTC
        )
    except ValueError:
        raise TypeUnmatched("the execution time is not a time (no wildcards here)") from None


def activation_schedule() -> CosemObject:
    def execution_time(ctx: Context) -> bytes:
        at = _state(ctx).activate_at
        if at is None:
            return axdr.array([])
        time_part = bytes([at.hour, at.minute, at.second, 0])
        date_part = at.year.to_bytes(2, "big") + bytes([at.month, at.day, 0xFF])
        return axdr.array(
            [axdr.structure(axdr.octet_string(time_part), axdr.octet_string(date_part))]
        )

    script = axdr.structure(
        axdr.octet_string(bytes((0, 0, 10, 0, 107, 255))), axdr.long_unsigned(1)
    )
    return cosem_object(
        ACTIVATION_SCHEDULE,
        22,
        0,
        {
            2: Attribute(lambda _c: script),  # the image activation script table, script 1
            3: Attribute(lambda _c: axdr.enum(1)),  # type 1: one execution time
            4: Attribute(execution_time, Level.READER, _set_schedule, Level.ADMIN),
        },
    )
