"""Decoder and vending key objects: sizes, and bytes that never show by accident."""

from __future__ import annotations

import pickle

import pytest

from sts.crypto.keys import DecoderKey, VendingKey
from sts.errors import FormatError

DK_HEX = "E653341F9D5BF36F"
DK128_HEX = "F94B6ED353C3BFDB113E2D3A7EA3C41D"
VK_HEX = "ABABABABABABABAB949494949494949401234567"


def _hex_fragments(hex_text: str) -> list[str]:
    """Every 8-digit window of the key, upper and lower case."""
    windows = [hex_text[i : i + 8] for i in range(0, len(hex_text) - 7, 4)]
    return windows + [w.lower() for w in windows]


@pytest.mark.parametrize(
    "key",
    [
        DecoderKey.from_hex(DK_HEX),
        DecoderKey.from_hex(DK128_HEX),
        VendingKey.from_hex(VK_HEX),
        VendingKey.from_hex("ABABABABABABABAB"),
    ],
)
def test_repr_and_str_hide_the_bytes(key: DecoderKey | VendingKey) -> None:
    secret = key.reveal_hex()
    for text in (repr(key), str(key), f"{key}", f"{key!r}", repr([key]), repr({"k": key})):
        for fragment in _hex_fragments(secret):
            assert fragment not in text
        assert str(key.secret_bytes()) not in text
        assert f"{key.bits}-bit key" in text


def test_repr_names_type_size_and_fingerprint() -> None:
    key = DecoderKey.from_hex(DK_HEX)
    assert repr(key) == f"DecoderKey(<64-bit key, fingerprint {key.fingerprint}>)"
    assert len(key.fingerprint) == 4


def test_fingerprint_tells_keys_apart() -> None:
    assert (
        DecoderKey.from_hex(DK_HEX).fingerprint
        != DecoderKey.from_hex("060B8643C59A27F1").fingerprint
    )


def test_reveal_and_secret_bytes() -> None:
    key = DecoderKey.from_hex("e653 341f 9d5b f36f")
    assert key.reveal_hex() == DK_HEX
    assert key.secret_bytes() == bytes.fromhex(DK_HEX)


def test_sizes() -> None:
    assert DecoderKey.from_hex(DK_HEX).bits == 64
    assert DecoderKey.from_hex(DK128_HEX).bits == 128
    assert VendingKey.from_hex("ABABABABABABABAB").bits == 64
    assert VendingKey.from_hex(VK_HEX).bits == 160


@pytest.mark.parametrize("size", [0, 7, 9, 15, 20])
def test_decoder_key_wrong_length_names_it(size: int) -> None:
    with pytest.raises(FormatError) as info:
        DecoderKey(bytes(size))
    message = str(info.value)
    assert f"has {size} bytes" in message
    assert "16 hex digits (64 bits)" in message
    assert "32 hex digits (128 bits)" in message


@pytest.mark.parametrize("size", [16, 10, 21])
def test_vending_key_wrong_length_names_it(size: int) -> None:
    with pytest.raises(FormatError) as info:
        VendingKey.from_hex("AB" * size)
    message = str(info.value)
    assert f"has {size} bytes" in message
    assert "40 hex digits (160 bits)" in message


def test_non_hex_is_format_error_without_echoing_it() -> None:
    with pytest.raises(FormatError) as info:
        DecoderKey.from_hex("E653341F9D5BF36G")
    assert "not hexadecimal" in str(info.value)
    assert "E653341F" not in str(info.value)


def test_key_must_be_bytes() -> None:
    with pytest.raises(FormatError, match="from_hex"):
        DecoderKey(DK_HEX)  # type: ignore[arg-type]


def test_bytearray_is_copied() -> None:
    raw = bytearray.fromhex(DK_HEX)
    key = DecoderKey(raw)
    raw[0] = 0
    assert key.reveal_hex() == DK_HEX


def test_equality_and_hash() -> None:
    assert DecoderKey.from_hex(DK_HEX) == DecoderKey.from_hex(DK_HEX.lower())
    assert DecoderKey.from_hex(DK_HEX) != DecoderKey.from_hex("060B8643C59A27F1")
    assert hash(DecoderKey.from_hex(DK_HEX)) == hash(DecoderKey.from_hex(DK_HEX))
    # A decoder key and a vending key with the same bytes are different things.
    assert DecoderKey.from_hex("ABABABABABABABAB") != VendingKey.from_hex("ABABABABABABABAB")


def test_keys_cannot_be_pickled() -> None:
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(DecoderKey.from_hex(DK_HEX))


def test_keys_have_no_instance_dict() -> None:
    with pytest.raises(AttributeError):
        DecoderKey.from_hex(DK_HEX).extra = 1  # type: ignore[attr-defined]
