"""Offline QR payload: a whole signed credential packed into the fragment of a label's URL.

A label printed in ``offline`` mode encodes ``<base>/v/<certificate id>#<digits>``. A phone
that is online just opens the page (the fragment never reaches the server); a verifier that is
offline unpacks the digits back into the compact JWS, byte for byte the token the certification
body signed, and checks its signature against a trust list it already holds.

Format version 1 (see ``docs/formats.md`` "Offline QR payload" and ``docs/labels.md``)::

    packed = raw-DEFLATE(header-JSON ‖ 0x00 ‖ payload-JSON, preset dictionary v1) ‖ signature
    digits = "1" ‖ decimal(big-endian unsigned integer of (0x01 ‖ packed))

The signature is the last 64 bytes (EdDSA and ES256 both sign with 64 bytes). The DEFLATE
stream is raw (no zlib header, window bits -15), compressed at level 9 with the preset
dictionary :data:`ZDICT_V1`. Decimal digits let a QR encoder put the fragment in a numeric
segment (10 bits per 3 digits, ~3.33 bits a digit, i.e. ~8.3 % more than the binary size)
instead of a byte segment (8 bits a character).

This module is part of the standalone verifier: it imports the standard library only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import zlib
from urllib.parse import urlsplit

__all__ = [
    "FORMAT_VERSION",
    "MAX_DIGITS",
    "ZDICT_V1",
    "ZDICT_V1_SHA256",
    "OfflineFormatError",
    "UnsupportedOfflineVersion",
    "pack",
    "unpack",
    "offline_url",
    "split_offline_url",
    "extract_jws",
]

#: The format version digit this module writes (the first digit of the fragment).
FORMAT_VERSION = "1"

#: Signature length in bytes for every algorithm the registry signs with (EdDSA, ES256).
SIGNATURE_LENGTH = 64

#: Longest digit string :func:`unpack` accepts. A version 40 QR code holds at most 7,089
#: numeric characters, so nothing longer can come from a label; the cap also bounds the
#: (quadratic) decimal conversion.
MAX_DIGITS = 7089

#: Largest header+payload size :func:`unpack` will inflate (a guard against DEFLATE bombs).
MAX_INFLATED = 64 * 1024

# Decimal conversion works in chunks of this many digits so that it never trips
# ``sys.set_int_max_str_digits`` (4,300 by default) and needs no global setting.
_CHUNK = 1000
_TEN_CHUNK = 10**_CHUNK

_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


class OfflineFormatError(ValueError):
    """The text is not a well-formed offline payload (or compact JWS) of a known format."""


class UnsupportedOfflineVersion(OfflineFormatError):
    """The offline payload names a format version this verifier does not know."""


# --------------------------------------------------------------------------------------------
# Preset dictionary, version 1.  FROZEN.
#
# Every byte of this constant is part of format version 1: a verifier needs exactly these bytes
# to inflate what a label carries, and labels stay in circulation for years. Never edit it.
# A better dictionary needs a new format version digit ("2"), a new constant next to this one,
# and verifiers that keep accepting "1". tests/verifier/test_offline.py pins its SHA-256.
#
# It is a representative credential (docs/formats.md) written the way pyjwt serialises it
# (compact separators, header keys sorted), rare members first and the most common ones last:
# DEFLATE reaches back at most 32 KiB and codes near distances in fewer bits, and the header,
# compressed first, sits at the very end.
# --------------------------------------------------------------------------------------------
ZDICT_V1 = (
    # Rarest: common words of Chinese product and company names, as UTF-8 and as the
    # \u-escapes (six characters each) json.dumps, and so pyjwt, writes for them by default:
    # 股份有限公司 有限公司 集团 科技 新材料 实业 制造 普通硅酸盐水泥 浮法玻璃 铝合金型材 三相异步电动机 陶瓷砖 瓷砖 轮胎
    # 纺织面料 锂离子电池 光伏组件 钢材 电解铝 尿素 磷酸一铵 磷酸二铵 木制品 地板 再生 产品 毫米 千克
    '股份有限公司有限公司集团科技新材料实业制造普通硅酸盐水泥浮法玻璃铝合金型材'
    '三相异步电动机陶瓷砖瓷砖轮胎纺织面料锂离子电池光伏组件钢材电解铝尿素磷酸一铵'
    '磷酸二铵木制品地板再生产品毫米千克'
    r'\u80a1\u4efd\u6709\u9650\u516c\u53f8\u6709\u9650\u516c\u53f8\u96c6\u56e2\u79d1\u6280'
    r'\u65b0\u6750\u6599\u5b9e\u4e1a\u5236\u9020\u666e\u901a\u7845\u9178\u76d0\u6c34\u6ce5'
    r'\u6d6e\u6cd5\u73bb\u7483\u94dd\u5408\u91d1\u578b\u6750'
    r'\u4e09\u76f8\u5f02\u6b65\u7535\u52a8\u673a\u9676\u74f7\u7816\u74f7\u7816\u8f6e\u80ce'
    r'\u7eba\u7ec7\u9762\u6599\u9502\u79bb\u5b50\u7535\u6c60\u5149\u4f0f\u7ec4\u4ef6'
    r'\u94a2\u6750\u7535\u89e3\u94dd\u5c3f\u7d20\u78f7\u9178\u4e00\u94f5'
    r'\u78f7\u9178\u4e8c\u94f5\u6728\u5236\u54c1\u5730\u677f\u518d\u751f\u4ea7\u54c1'
    r'\u6beb\u7c73\u5343\u514b'
    # Rare: other units, boundaries, standards, categories, the second algorithm.
    '"declaredUnitOfMeasurement":"liter","cubic meter","kilowatt hour","megajoule",'
    '"ton kilometer","square meter","piece","cradle-to-grave","PAS2050","GB/T 24067",'
    '"GHG Protocol Product Standard","ISO14044","AR5","T/CECA-G 0171-2022",'
    '"category":"flat-glass","aluminium-profile","motor-3phase","ceramic-tile","tyre",'
    '"textile-fabric","lithium-battery","pv-module","steel","electrolytic-aluminium","urea",'
    '"ammonium-phosphate","wood-product","cement",'
    '{"alg":"ES256","cty":"vc","kid":"did:web:'
    # Carbon-neutral.
    '"type":["VerifiableCredential","CarbonNeutralCertificate"],'
    '"certificateType":"carbon-neutral",'
    '"neutrality":{"coveredQuantity":"1000","emissionsCovered":"820.000","offsetsTotal":"0.900",'
    '"renewableElectricityShare":"1","basedOn":"urn:uuid:'
    '","offsets":[{"registry":"CCER","serialNumber":"CCER-'
    '","quantity":"0.500","vintage":"2024","kind":"avoidance","retiredAt":"2025-'
    '","project":"'
    '"},{"registry":"CCER","serialNumber":"CCER-'
    '","quantity":"0.400","vintage":"2025","kind":"removal","retiredAt":"2025-'
    'T00:00:00Z","project":"'
    '"}]},'
    # Reduced-carbon.
    '"type":["VerifiableCredential","ReducedCarbonCertificate"],'
    '"certificateType":"reduced-carbon",'
    '"reduction":{"basedOn":["urn:uuid:'
    '","urn:uuid:'
    '"],"baseline":{"id":"urn:uuid:'
    '","certificateNumber":"'
    '","referencePeriodStart":"2021-01-01T00:00:00Z","referencePeriodEnd":"2021-12-31T23:59:59Z",'
    '"pcf":"1.20"},"current":{"id":"urn:uuid:'
    '","certificateNumber":"'
    '","referencePeriodStart":"2022-01-01T00:00:00Z","referencePeriodEnd":"2022-12-31T23:59:59Z",'
    '"pcf":"1.068"},"reduction":"0.1100"},'
    '"precedingIds":["urn:uuid:'
    # Low-carbon.
    '"type":["VerifiableCredential","LowCarbonCertificate"],'
    '"certificateType":"low-carbon",'
    # Common to most footprints: benchmark, gases, stages.
    '"benchmark":{"value":"1.00","standard":"GB/T 32151","source":"'
    '"},"grade":{"scheme":"cn-carbon-label","schemeVersion":"1","value":"B"},'
    '"gases":{"CO2":"0.80","CH4":"0.01","N2O":"0.01","HFCs":"0","PFCs":"0","SF6":"0","NF3":"0"}},'
    '"stages":{"rawMaterialAcquisition":"0.10","rawMaterialTransport":"0.02",'
    '"manufacturing":"0.70","distribution":"0.01","use":"0","endOfLife":"0.01"},'
    # The skeleton every credential has, in payload order.
    '{"@context":["https://www.w3.org/ns/credentials/v2","https://'
    '/contexts/carbon-label/v1"],"id":"urn:uuid:'
    '","type":["VerifiableCredential","CarbonFootprintCertificate"],"issuer":"did:web:'
    ':bodies:'
    '","validFrom":"2026-01-01T00:00:00Z","validUntil":"2028-12-31T23:59:59Z",'
    '"credentialSubject":{"id":"https://'
    '/v/'
    '","type":"CarbonLabelledProduct","certificateNumber":"CQC-2026-000'
    '","certificateType":"carbon-footprint",'
    '"product":{"name":"'
    '","nameZh":"'
    '","category":"'
    '","gtin":"0690'
    '","model":"'
    '","manufacturer":{"name":"'
    ' Co., Ltd.","id":"urn:uscc:91'
    '"}},"footprint":{"declaredUnitOfMeasurement":"kilogram","declaredUnitAmount":"1",'
    '"pcfExcludingBiogenicUptake":"'
    '","pcfIncludingBiogenicUptake":"'
    '","referencePeriodStart":"2025-01-01T00:00:00Z","referencePeriodEnd":"2025-12-31T23:59:59Z",'
    '"boundary":"cradle-to-gate","ipccCharacterizationFactors":["AR6"],'
    '"crossSectoralStandards":["ISO14067"],'
    '"grade":{"scheme":"cn-carbon-label","schemeVersion":"1","value":"'
    '"}},"credentialStatus":[{"id":"https://'
    '/status/r1#'
    '","type":"BitstringStatusListEntry","statusPurpose":"revocation","statusListIndex":"'
    '","statusListCredential":"https://'
    '/status/r1"},{"id":"https://'
    '/status/s1#'
    '","type":"BitstringStatusListEntry","statusPurpose":"suspension","statusListIndex":"'
    '","statusListCredential":"https://'
    '/status/s1"}]}'
    # The header, compressed first: closest to the data.
    '{"alg":"EdDSA","cty":"vc","kid":"did:web:'
    ':bodies:'
    '#key-1","typ":"vc+jwt"}\x00'
).encode("utf-8")

#: SHA-256 of :data:`ZDICT_V1`; the test suite pins it so the dictionary cannot drift.
ZDICT_V1_SHA256 = hashlib.sha256(ZDICT_V1).hexdigest()

_DICTIONARIES = {"1": ZDICT_V1}


def _b64url_decode(part: str, what: str) -> bytes:
    if not _B64URL.match(part) or len(part) % 4 == 1:
        raise OfflineFormatError(f"the JWS {what} is not base64url")
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as err:
        raise OfflineFormatError(f"the JWS {what} is not base64url") from err
    if _b64url_encode(raw) != part:
        # Non-canonical base64url (stray bits in the last character): the rebuilt token
        # would differ from the signed one, so refuse rather than silently change it.
        raise OfflineFormatError(f"the JWS {what} is not canonical base64url")
    return raw


def _b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _int_to_decimal(n: int) -> str:
    """``str(n)`` for any size, without the interpreter's int/str digit limit."""
    chunks = []
    while n >= _TEN_CHUNK:
        n, rest = divmod(n, _TEN_CHUNK)
        chunks.append(str(rest).zfill(_CHUNK))
    chunks.append(str(n))
    return "".join(reversed(chunks))


def _decimal_to_int(digits: str) -> int:
    """``int(digits)`` for any length, without the interpreter's int/str digit limit."""
    head = len(digits) % _CHUNK or _CHUNK
    n = int(digits[:head])
    for i in range(head, len(digits), _CHUNK):
        n = n * _TEN_CHUNK + int(digits[i:i + _CHUNK])
    return n


def pack(compact_jws: str) -> str:
    """Pack a compact JWS into the decimal digits of an offline QR fragment (format "1").

    Returns a string of ASCII digits starting with the format version ``"1"``.

    Raises:
        OfflineFormatError: if ``compact_jws`` is not a compact JWS with three canonical
            base64url parts, a header containing a NUL byte, or a 64-byte signature.
    """
    if not isinstance(compact_jws, str):
        raise OfflineFormatError("a compact JWS must be a str")
    parts = compact_jws.strip().split(".")
    if len(parts) != 3:
        raise OfflineFormatError("a compact JWS has three parts separated by '.'")
    header = _b64url_decode(parts[0], "header")
    payload = _b64url_decode(parts[1], "payload")
    signature = _b64url_decode(parts[2], "signature")
    if b"\x00" in header:
        raise OfflineFormatError("the JWS header contains a NUL byte")
    if len(signature) != SIGNATURE_LENGTH:
        raise OfflineFormatError(
            f"the signature is {len(signature)} bytes; offline format {FORMAT_VERSION} "
            f"carries {SIGNATURE_LENGTH}-byte signatures (EdDSA, ES256) only"
        )
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, ZDICT_V1)
    packed = compressor.compress(header + b"\x00" + payload) + compressor.flush() + signature
    return FORMAT_VERSION + _int_to_decimal(int.from_bytes(b"\x01" + packed, "big"))


def unpack(digits: str) -> str:
    """Rebuild the compact JWS from the digits of an offline QR fragment.

    The result is byte for byte the token that was packed; it is *not* verified here.

    Raises:
        OfflineFormatError: if ``digits`` is empty, not all ASCII digits, too long, lacks the
            sentinel byte, or does not inflate to ``header ‖ 0x00 ‖ payload`` followed by a
            64-byte signature.
        UnsupportedOfflineVersion: if the first digit names an unknown format version.
    """
    if not isinstance(digits, str):
        raise OfflineFormatError("offline digits must be a str")
    digits = digits.strip()
    if not digits:
        raise OfflineFormatError("the offline payload is empty")
    if not (digits.isascii() and digits.isdigit()):
        raise OfflineFormatError("the offline payload must consist of decimal digits only")
    if len(digits) > MAX_DIGITS:
        raise OfflineFormatError(
            f"the offline payload has {len(digits)} digits; at most {MAX_DIGITS} are accepted"
        )
    version, body = digits[0], digits[1:]
    zdict = _DICTIONARIES.get(version)
    if zdict is None:
        raise UnsupportedOfflineVersion(
            f"offline payload format version {version!r} is not supported (known: "
            f"{', '.join(sorted(_DICTIONARIES))}); a newer verifier may read it"
        )
    if not body or body[0] == "0":
        raise OfflineFormatError("the offline payload is truncated or has leading zeros")
    n = _decimal_to_int(body)
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    if raw[:1] != b"\x01":
        raise OfflineFormatError("the offline payload lacks its 0x01 sentinel byte (damaged?)")
    packed = raw[1:]
    if len(packed) <= SIGNATURE_LENGTH:
        raise OfflineFormatError("the offline payload is too short to hold a signed credential")
    signature = packed[-SIGNATURE_LENGTH:]
    decompressor = zlib.decompressobj(-15, zdict)
    try:
        signed = decompressor.decompress(packed[:-SIGNATURE_LENGTH], MAX_INFLATED)
    except zlib.error as err:
        raise OfflineFormatError(f"the offline payload does not inflate: {err}") from err
    if decompressor.unconsumed_tail:
        raise OfflineFormatError(f"the offline payload inflates to more than {MAX_INFLATED} bytes")
    if not decompressor.eof:
        raise OfflineFormatError("the offline payload's DEFLATE stream is truncated")
    if decompressor.unused_data:
        raise OfflineFormatError("the offline payload has bytes between the DEFLATE stream "
                                 "and the signature")
    header, sep, payload = signed.partition(b"\x00")
    if not sep or not header or not payload:
        raise OfflineFormatError("the offline payload lacks the header/payload separator")
    return ".".join((_b64url_encode(header), _b64url_encode(payload), _b64url_encode(signature)))


def offline_url(verify_url: str, compact_jws: str) -> str:
    """The text an offline-mode label encodes: ``verify_url + "#" + pack(compact_jws)``.

    Raises:
        OfflineFormatError: if ``verify_url`` already has a fragment, or as :func:`pack`.
    """
    if "#" in verify_url:
        raise OfflineFormatError("the verification URL must not have a fragment")
    return f"{verify_url}#{pack(compact_jws)}"


def split_offline_url(text: str) -> tuple[str, str | None]:
    """Split scanned text into ``(url, compact_jws or None)``.

    ``compact_jws`` is None when the URL has no (or an empty) fragment.

    Raises:
        OfflineFormatError: if ``text`` is not an http(s) URL, or its fragment is not an offline
            payload (as :func:`unpack`).
        UnsupportedOfflineVersion: as :func:`unpack`.
    """
    text = text.strip()
    url, _, fragment = text.partition("#")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise OfflineFormatError("not an http(s) URL")
    if not fragment:
        return url, None
    return url, unpack(fragment)


def extract_jws(text: str) -> str | None:
    """Find the credential in text scanned from a label (or pasted by a person).

    - an offline URL (``https://…/v/<id>#1…``) → the compact JWS its fragment carries;
    - a bare offline payload (digits only) → the compact JWS it carries;
    - a compact JWS (three base64url parts) → itself, without surrounding whitespace;
    - an http(s) link without a fragment (a ``link``-mode label) → ``None``: the credential
      must be fetched from the registry.

    The JWS is returned unverified.

    Raises:
        OfflineFormatError: for anything else (a ``ValueError``), with a message that says why.
        UnsupportedOfflineVersion: for an offline payload of an unknown format version.
    """
    if not isinstance(text, str):
        raise OfflineFormatError("scanned text must be a str")
    text = text.strip()
    if not text:
        raise OfflineFormatError("the scanned text is empty")
    if _COMPACT_JWS.match(text):
        return text
    if text.isascii() and text.isdigit():
        return unpack(text)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        return split_offline_url(text)[1]
    raise OfflineFormatError(
        "the text is neither a label URL, an offline payload nor a compact JWS"
    )
