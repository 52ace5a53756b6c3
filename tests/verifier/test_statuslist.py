"""Bitstring Status List v1.0 codec."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import os

import pytest

from verifier import LIST_SIZE, build_status_list_credential, decode_list, encode_list, get_bit, set_bit
from verifier import new_list

# The 16 KiB all-zero list of the W3C Bitstring Status List v1.0 examples.
SPEC_EMPTY_LIST = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"


def test_spec_example_decodes_to_16_kib_of_zeros():
    bits = decode_list(SPEC_EMPTY_LIST)
    assert len(bits) == LIST_SIZE // 8 == 16384
    assert not any(bits)


def test_round_trip_random_bits():
    bits = os.urandom(LIST_SIZE // 8)
    assert decode_list(encode_list(bits)) == bits


def test_encoding_is_multibase_base64url_no_pad_of_gzip():
    bits = new_list()
    set_bit(bits, 12345, True)
    encoded = encode_list(bits)
    assert encoded.startswith("u") and "=" not in encoded and "+" not in encoded and "/" not in encoded
    raw = base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))
    assert gzip.decompress(raw) == bytes(bits)


def test_encoding_is_deterministic():
    bits = new_list()
    set_bit(bits, 7, True)
    a = encode_list(bits)
    b = encode_list(bytes(bits))
    assert a == b
    raw = base64.urlsafe_b64decode(a[1:] + "=" * (-len(a[1:]) % 4))
    assert raw[4:8] == b"\0\0\0\0"  # gzip MTIME is zero


def test_bit_order_index_zero_is_the_most_significant_bit_of_the_first_byte():
    bits = bytearray(4)
    set_bit(bits, 0, True)
    assert bits == bytearray([0x80, 0, 0, 0])
    set_bit(bits, 7, True)
    assert bits == bytearray([0x81, 0, 0, 0])
    set_bit(bits, 8, True)
    set_bit(bits, 31, True)
    assert bits == bytearray([0x81, 0x80, 0, 0x01])
    assert [i for i in range(32) if get_bit(bits, i)] == [0, 7, 8, 31]
    set_bit(bits, 0, False)
    assert bits[0] == 0x01 and not get_bit(bits, 0)


def test_get_bit_out_of_range():
    with pytest.raises(IndexError):
        get_bit(bytes(2), 16)
    with pytest.raises(IndexError):
        get_bit(bytes(2), -1)
    with pytest.raises(IndexError):
        set_bit(bytearray(2), -1, True)


def test_padding_is_accepted():
    encoded = encode_list(os.urandom(64))
    body = encoded[1:]
    assert decode_list("u" + body + "=" * (-len(body) % 4)) == decode_list(encoded)


@pytest.mark.parametrize("bad", [
    "z" + SPEC_EMPTY_LIST[1:],          # base58btc multibase prefix
    SPEC_EMPTY_LIST[1:],                # no multibase prefix
    "u" + base64.b64encode(gzip.compress(bytes(16), mtime=0)).decode().rstrip("=") + "+/",  # std alphabet
    "u" + base64.urlsafe_b64encode(b"not gzip").decode().rstrip("="),
    "u" + base64.urlsafe_b64encode(gzip.compress(bytes(16), mtime=0)[:-6]).decode().rstrip("="),  # truncated
    "uA",
    None,
])
def test_decode_rejects(bad):
    with pytest.raises(ValueError):
        decode_list(bad)


def test_decode_refuses_gzip_bombs():
    bomb = encode_list(bytes(8 << 20))  # 8 MiB of zeros compresses to a few KiB
    assert len(bomb) < 20000
    with pytest.raises(ValueError, match="more than"):
        decode_list(bomb)


def test_build_status_list_credential():
    t = dt.datetime(2026, 11, 24, 17, 0, tzinfo=dt.timezone.utc)
    c = build_status_list_credential(list_url="https://labels.test/status/r1", issuer="did:web:labels.test",
                                     purpose="revocation", encoded_list=SPEC_EMPTY_LIST, valid_from=t,
                                     valid_until=t + dt.timedelta(days=1))
    assert c == {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": "https://labels.test/status/r1",
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": "did:web:labels.test",
        "validFrom": "2026-11-24T17:00:00Z",
        "validUntil": "2026-11-25T17:00:00Z",
        "credentialSubject": {"id": "https://labels.test/status/r1#list", "type": "BitstringStatusList",
                              "statusPurpose": "revocation", "encodedList": SPEC_EMPTY_LIST},
    }
    with pytest.raises(ValueError):
        build_status_list_credential(list_url="u", issuer="i", purpose="refresh", encoded_list=SPEC_EMPTY_LIST,
                                     valid_from=t, valid_until=t + dt.timedelta(days=1))
