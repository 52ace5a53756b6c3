"""W3C Bitstring Status List v1.0: the bitstring codec and the status list credential.

Each list holds :data:`LIST_SIZE` entries (16 KiB). Index 0 is the most significant bit of
the first byte. ``encodedList`` is ``"u"`` + base64url-no-pad(gzip(bitstring)) (multibase
base64url). A set bit means revoked (revocation list) or suspended (suspension list).
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import gzip
import io
import re
import zlib

from ._base import STATUS_PURPOSES, VC_CONTEXT, format_time

__all__ = [
    "LIST_SIZE",
    "MAX_DECODED_BYTES",
    "new_list",
    "encode_list",
    "decode_list",
    "get_bit",
    "set_bit",
    "build_status_list_credential",
]

#: Entries per list (the spec's minimum, 131,072 bits = 16 KiB).
LIST_SIZE = 131072
#: Largest bitstring :func:`decode_list` inflates (guards against gzip bombs): 1 MiB.
MAX_DECODED_BYTES = 1 << 20

_B64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}", re.ASCII)


def new_list(size: int = LIST_SIZE) -> bytearray:
    """An all-zero bitstring of *size* bits.

    Raises:
        ValueError: *size* is not a positive multiple of 8.
    """
    if size <= 0 or size % 8:
        raise ValueError("a status list size must be a positive multiple of 8 bits")
    return bytearray(size // 8)


def encode_list(bits: bytes) -> str:
    """Encode a bitstring as ``encodedList``: ``"u"`` + base64url-no-pad(gzip(bits)).

    The gzip header has mtime 0 and no file name, so equal bitstrings encode identically.

    Raises:
        TypeError: *bits* is not bytes-like.
    """
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(bytes(bits))
    return "u" + base64.urlsafe_b64encode(buf.getvalue()).rstrip(b"=").decode("ascii")


def decode_list(encoded: str, *, max_bytes: int = MAX_DECODED_BYTES) -> bytes:
    """Decode ``encodedList`` back to the bitstring (base64url with or without padding).

    Raises:
        ValueError: not a string, not multibase base64url (prefix ``u``), bad base64url,
            not gzip, or inflating to more than *max_bytes*.
    """
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise ValueError("encodedList must be a multibase base64url string starting with 'u'")
    body = encoded[1:]
    if not _B64URL.fullmatch(body) or len(body.rstrip("=")) % 4 == 1:
        raise ValueError("encodedList is not base64url")
    try:
        compressed = base64.urlsafe_b64decode(body.rstrip("=") + "=" * (-len(body.rstrip("=")) % 4))
    except (binascii.Error, ValueError) as err:
        raise ValueError(f"encodedList is not base64url: {err}") from err
    inflater = zlib.decompressobj(wbits=31)  # gzip framing only
    try:
        bits = inflater.decompress(compressed, max_bytes)
        if inflater.unconsumed_tail:
            raise ValueError(f"encodedList inflates to more than {max_bytes} bytes")
        bits += inflater.flush()
    except zlib.error as err:
        raise ValueError(f"encodedList is not gzip: {err}") from err
    if not inflater.eof:
        raise ValueError("encodedList gzip stream is truncated")
    if inflater.unused_data:
        raise ValueError("encodedList has data after the gzip stream")
    if len(bits) > max_bytes:
        raise ValueError(f"encodedList inflates to more than {max_bytes} bytes")
    return bytes(bits)


def get_bit(bits: bytes, index: int) -> bool:
    """The bit at *index* (0 = most significant bit of the first byte).

    Raises:
        IndexError: *index* is negative or beyond the bitstring.
    """
    if index < 0:
        raise IndexError("status list index must not be negative")
    return bool(bits[index >> 3] & (0x80 >> (index & 7)))


def set_bit(bits: bytearray, index: int, value: bool) -> None:
    """Set or clear the bit at *index* in place (0 = most significant bit of the first byte).

    Raises:
        IndexError: *index* is negative or beyond the bitstring.
        TypeError: *bits* is immutable.
    """
    if index < 0:
        raise IndexError("status list index must not be negative")
    mask = 0x80 >> (index & 7)
    if value:
        bits[index >> 3] |= mask
    else:
        bits[index >> 3] &= ~mask & 0xFF


def build_status_list_credential(
    *,
    list_url: str,
    issuer: str,
    purpose: str,
    encoded_list: str,
    valid_from: _dt.datetime,
    valid_until: _dt.datetime,
) -> dict:
    """The payload of a ``BitstringStatusListCredential`` published at *list_url* (``docs/formats.md``).

    Raises:
        ValueError: *purpose* is not ``revocation`` or ``suspension``, *encoded_list* is not
            multibase base64url, or *valid_until* is not after *valid_from*.
    """
    if purpose not in STATUS_PURPOSES:
        raise ValueError(f"status purpose must be one of {STATUS_PURPOSES}, not {purpose!r}")
    if not isinstance(encoded_list, str) or not encoded_list.startswith("u"):
        raise ValueError("encoded_list must come from encode_list()")
    vf, vu = format_time(valid_from), format_time(valid_until)
    if vu <= vf:
        raise ValueError("validUntil must be after validFrom")
    return {
        "@context": [VC_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": vf,
        "validUntil": vu,
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encoded_list,
        },
    }
