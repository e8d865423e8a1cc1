"""MISTY1 against its published vectors (RFC 2994 and STS), plus round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sts.crypto.misty1 import Misty1
from sts.errors import FormatError

RFC_KEY = "00112233445566778899AABBCCDDEEFF"

# (key, plaintext, ciphertext), hex as published.
VECTORS = [
    # RFC 2994 section 4 (test data).
    (RFC_KEY, "0123456789ABCDEF", "8B1DA5F56AB3D07C"),
    (RFC_KEY, "FEDCBA9876543210", "04B68240B13BE95D"),
    # STS (IEC 62055-41) MISTY1 example.
    ("F94B6ED353C3BFDB113E2D3A7EA3C41D", "055A2F1D03E8F8F4", "7010D8F4AA0A7BC6"),
]


@pytest.mark.parametrize(("key", "plain", "cipher"), VECTORS)
def test_encrypt_matches_published_vector(key: str, plain: str, cipher: str) -> None:
    assert Misty1(bytes.fromhex(key)).encrypt_block(int(plain, 16)) == int(cipher, 16)


@pytest.mark.parametrize(("key", "plain", "cipher"), VECTORS)
def test_decrypt_matches_published_vector(key: str, plain: str, cipher: str) -> None:
    assert Misty1(bytes.fromhex(key)).decrypt_block(int(cipher, 16)) == int(plain, 16)


def test_one_instance_serves_many_blocks() -> None:
    cipher = Misty1(bytes.fromhex(RFC_KEY))
    assert cipher.encrypt_block(0x0123456789ABCDEF) == 0x8B1DA5F56AB3D07C
    assert cipher.encrypt_block(0xFEDCBA9876543210) == 0x04B68240B13BE95D
    assert cipher.decrypt_block(0x8B1DA5F56AB3D07C) == 0x0123456789ABCDEF


def test_bytearray_key_is_accepted() -> None:
    cipher = Misty1(bytearray.fromhex(RFC_KEY))
    assert cipher.encrypt_block(0x0123456789ABCDEF) == 0x8B1DA5F56AB3D07C


@settings(deadline=None)
@given(key=st.binary(min_size=16, max_size=16), block=st.integers(0, 2**64 - 1))
def test_decrypt_inverts_encrypt(key: bytes, block: int) -> None:
    cipher = Misty1(key)
    encrypted = cipher.encrypt_block(block)
    assert 0 <= encrypted < 2**64
    assert cipher.decrypt_block(encrypted) == block
    assert cipher.encrypt_block(cipher.decrypt_block(block)) == block


def test_short_key_raises_format_error() -> None:
    with pytest.raises(FormatError, match=r"15 bytes.*16 bytes"):
        Misty1(bytes(15))


@pytest.mark.parametrize("length", [0, 8, 17, 32])
def test_wrong_key_lengths_raise_format_error(length: int) -> None:
    with pytest.raises(FormatError, match=rf"\b{length} bytes"):
        Misty1(bytes(length))


def test_non_bytes_key_raises_type_error() -> None:
    with pytest.raises(TypeError):
        Misty1(RFC_KEY)  # type: ignore[arg-type]


@pytest.mark.parametrize("block", [-1, 2**64])
def test_block_outside_64_bits_raises_format_error(block: int) -> None:
    cipher = Misty1(bytes.fromhex(RFC_KEY))
    with pytest.raises(FormatError):
        cipher.encrypt_block(block)
    with pytest.raises(FormatError):
        cipher.decrypt_block(block)


def test_repr_hides_the_key() -> None:
    key = bytes.fromhex(RFC_KEY)
    text = repr(Misty1(key))
    assert text == "Misty1(<128-bit key>)"
    assert RFC_KEY.lower() not in text.lower()
