"""STS ciphers (STA/EA07, MISTY1/EA11, DES/EA09), key objects and decoder key generation."""

from sts.crypto.dkga import KeyParameters, derive_decoder_key, dkga02, dkga04
from sts.crypto.keys import DecoderKey, VendingKey

__all__ = ["DecoderKey", "KeyParameters", "VendingKey", "derive_decoder_key", "dkga02", "dkga04"]
