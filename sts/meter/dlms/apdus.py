"""The few server-side APDU encodings dlms-cosem lacks or gets wrong.

dlms-cosem is written from the client's side. Its server-side encoders that
this package needs work except four, written here from IEC 62056-5-3:

* ``GetResponseNormal.to_bytes`` appends the invoke-id octet as bytes to a
  bytearray (a TypeError);
* ``ExceptionResponse.to_bytes`` writes the expected invocation counter in one
  octet (it is a double-long-unsigned);
* ``GetResponseWithList`` encodes parsed Data objects only (the server holds
  encoded values);
* ``GeneralGlobalCipher.to_bytes`` writes the ciphered content's length in one
  octet (wrong past 127 octets: a ciphered object list is longer).

Everything else (AARE, RLRE, Initiate-Response, Set/Action responses, block
responses) is dlms-cosem's own.
"""

from __future__ import annotations

from dlms_cosem.dlms_data import encode_variable_integer
from dlms_cosem.protocol.xdlms import InvokeIdAndPriority
from dlms_cosem.security import SecurityControlField

EXCEPTION_RESPONSE = 216
GENERAL_GLO_CIPHER = 219

# ExceptionResponse state-error and service-error.
SERVICE_NOT_ALLOWED = 1
SERVICE_UNKNOWN = 2
OPERATION_NOT_POSSIBLE = 1
SERVICE_NOT_SUPPORTED = 2
OTHER_REASON = 3
PDU_TOO_LONG = 4
DECIPHERING_ERROR = 5
INVOCATION_COUNTER_ERROR = 6


def get_response_normal(invoke: InvokeIdAndPriority, data: bytes) -> bytes:
    """Get-Response-Normal carrying ``data`` (an encoded Data value)."""
    return bytes([196, 1]) + invoke.to_bytes() + b"\x00" + data


def get_response_with_list(invoke: InvokeIdAndPriority, results: list[bytes | int]) -> bytes:
    """Get-Response-With-List: each result is Data bytes, or a Data-Access-Result number.

    dlms-cosem's ``GetResponseWithList`` wants parsed Data objects; the server has bytes.
    """
    return bytes([196, 3]) + invoke.to_bytes() + list_results(results)


def list_results(results: list[bytes | int]) -> bytes:
    """The SEQUENCE OF Get-Data-Result of a with-list answer (also what its blocks carry)."""
    out = bytearray(encode_variable_integer(len(results)))
    for result in results:
        out += b"\x00" + result if isinstance(result, bytes) else bytes([1, result])
    return bytes(out)


def exception_response(
    state_error: int, service_error: int, expected_ic: int | None = None
) -> bytes:
    """ExceptionResponse; the invocation-counter error carries the counter the server expects."""
    out = bytes([EXCEPTION_RESPONSE, state_error, service_error])
    if service_error == INVOCATION_COUNTER_ERROR and expected_ic is not None:
        out += expected_ic.to_bytes(4, "big")
    return out


def general_glo_cipher(
    system_title: bytes, security_control: SecurityControlField, ic: int, ciphered: bytes
) -> bytes:
    """general-glo-cipher: system title, then SC || IC || ciphertext+tag as one octet string."""
    content = security_control.to_bytes() + ic.to_bytes(4, "big") + ciphered
    return (
        bytes([GENERAL_GLO_CIPHER])
        + encode_variable_integer(len(system_title))
        + system_title
        + encode_variable_integer(len(content))
        + content
    )
