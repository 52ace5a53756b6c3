"""Compact JWS and JWK handling: keys, algorithms pinned from the key type, signatures.

Used by the trust list, status list and credential checks alike.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from ._errors import MalformedCredential, SignatureInvalid, UnsupportedKey

__all__ = [
    "ALGS",
    "COMPACT",
    "Compact",
    "SignatureCache",
    "alg_for_key",
    "b64d",
    "b64e",
    "check_jose_header",
    "jwk_fingerprint",
    "jws_header",
    "key_from_jwk",
    "media_type",
    "parse_compact",
    "public_jwk",
    "verify_signature",
]

ALGS = ("EdDSA", "ES256")
_SIG_LENGTH = 64  # both Ed25519 and ES256 (r ‖ s, 32 bytes each)


def jws_header(*, alg: str, kid: str, typ: str = "vc+jwt", cty: str | None = "vc") -> dict:
    """The protected header of a signed object: ``{"alg", "typ", "cty", "kid"}`` (no ``cty`` if None).

    Raises:
        ValueError: *alg* is not ``EdDSA`` or ``ES256``, or *kid* is empty.
    """
    if alg not in ALGS:
        raise ValueError(f"alg must be one of {ALGS}, not {alg!r}")
    if not kid:
        raise ValueError("kid is required")
    header = {"alg": alg, "typ": typ}
    if cty is not None:
        header["cty"] = cty
    header["kid"] = kid
    return header


# --------------------------------------------------------------------------------------------
# Keys


def alg_for_key(public_key: Any) -> str:
    """The JWS algorithm a key type dictates: Ed25519 → ``EdDSA``, EC P-256 → ``ES256``.

    Private keys are accepted too (their public half decides).

    Raises:
        UnsupportedKey: any other key type or curve (RSA, P-384, Ed448, bytes, …).
    """
    if isinstance(public_key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)):
        return "EdDSA"
    if isinstance(public_key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        if isinstance(public_key.curve, ec.SECP256R1):
            return "ES256"
        raise UnsupportedKey(f"EC curve {public_key.curve.name} is not supported (P-256 only)")
    raise UnsupportedKey(f"key type {type(public_key).__name__} is not supported (Ed25519 or P-256 only)")


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL = re.compile(r"[A-Za-z0-9_-]*", re.ASCII)


def b64d(text: str) -> bytes:
    """Strict base64url (no padding, URL alphabet, canonical trailing bits)."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if len(text) % 4 and b64e(raw) != text:
        raise ValueError("non-canonical base64url")
    return raw


def public_jwk(public_key: Any) -> dict:
    """The public JWK of an Ed25519 (``OKP``) or P-256 (``EC``) key; never any private member.

    A private key is accepted and only its public half is exported.

    Raises:
        UnsupportedKey: any other key type or curve.
    """
    alg_for_key(public_key)
    if hasattr(public_key, "private_bytes"):
        public_key = public_key.public_key()
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64e(raw)}
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64e(numbers.x.to_bytes(32, "big")),
        "y": b64e(numbers.y.to_bytes(32, "big")),
    }


_KEY_CACHE: dict[tuple, Any] = {}
_KEY_CACHE_MAX = 1024
_JWK_ALGS = {"OKP": "EdDSA", "EC": "ES256"}


def jwk_fingerprint(jwk: Any) -> tuple:
    """(kty, crv, x, y). Raises UnsupportedKey unless a JSON object with string members."""
    if not isinstance(jwk, dict):
        raise UnsupportedKey("a JWK must be a JSON object")
    fp = (jwk.get("kty"), jwk.get("crv"), jwk.get("x"), jwk.get("y"))
    if not all(v is None or isinstance(v, str) for v in fp):
        raise UnsupportedKey("JWK kty, crv, x and y must be strings")
    return fp


def key_from_jwk(jwk: dict) -> Any:
    """Parse a public JWK into a ``cryptography`` public key (parsed keys are cached).

    Only ``{"kty": "OKP", "crv": "Ed25519"}`` and ``{"kty": "EC", "crv": "P-256"}`` are
    accepted; ``kid``, ``alg`` (if it matches), ``use: sig`` and ``key_ops`` may accompany them.

    Raises:
        UnsupportedKey: any other key type (RSA, symmetric ``oct``, other curves), a JWK with
            private material (``d``), a declared ``alg``/``use`` that does not fit, or
            coordinates that are not a valid point.
    """
    fp = jwk_fingerprint(jwk)
    kty, crv, x, y = fp
    if "d" in jwk:
        raise UnsupportedKey("JWK holds private key material; only public keys are accepted")
    if kty not in _JWK_ALGS:
        raise UnsupportedKey(f"JWK kty {kty!r} is not supported (OKP Ed25519 or EC P-256 only)")
    if "alg" in jwk and jwk["alg"] != _JWK_ALGS[kty]:
        raise UnsupportedKey(f"JWK alg {jwk['alg']!r} does not fit a {kty} {crv} key")
    if jwk.get("use", "sig") != "sig":
        raise UnsupportedKey(f"JWK use {jwk['use']!r} is not 'sig'")
    cached = _KEY_CACHE.get(fp)
    if cached is not None:
        return cached
    try:
        if kty == "OKP":
            if crv != "Ed25519" or "y" in jwk:
                raise UnsupportedKey(f"OKP curve {crv!r} is not supported (Ed25519 only)")
            raw = b64d(x)
            if len(raw) != 32:
                raise UnsupportedKey("Ed25519 JWK x must be 32 bytes")
            key = ed25519.Ed25519PublicKey.from_public_bytes(raw)
        else:
            if crv != "P-256":
                raise UnsupportedKey(f"EC curve {crv!r} is not supported (P-256 only)")
            xb, yb = b64d(x), b64d(y)
            if len(xb) != 32 or len(yb) != 32:
                raise UnsupportedKey("P-256 JWK x and y must be 32 bytes each")
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + xb + yb)
    except UnsupportedKey:
        raise
    except (ValueError, TypeError) as err:
        raise UnsupportedKey(f"invalid {kty} JWK: {err}") from err
    if len(_KEY_CACHE) >= _KEY_CACHE_MAX:
        _KEY_CACHE.clear()
    _KEY_CACHE[fp] = key
    return key


# --------------------------------------------------------------------------------------------
# Compact JWS parsing and signature verification (shared by the trust list, status list and credential checks)

COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*", re.ASCII)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@dataclass(frozen=True, slots=True)
class Compact:
    token: str
    header: dict
    payload: dict
    signing_input: bytes
    signature: bytes | None  # None: the segment is not canonical base64url


_URL_TO_STD = bytes.maketrans(b"-_", b"+/")
_JSON = json.JSONDecoder(parse_constant=_no_constants)  # refuses NaN / Infinity


def _b64d_segment(segment: str) -> bytes:
    """Decode a segment already known to be in the base64url alphabet (the signature covers
    the exact text, so non-canonical trailing bits need no check here)."""
    if len(segment) % 4 == 1:
        raise ValueError("impossible base64url length")
    return binascii.a2b_base64(segment.encode("ascii").translate(_URL_TO_STD) + b"=" * (-len(segment) % 4))


def _json(raw: bytes) -> Any:
    return _JSON.decode(raw.decode("utf-8"))


def parse_compact(token: str, *, checked: bool = False) -> Compact:
    """Split and decode a compact JWS; nothing is verified. Raises MalformedCredential.

    *checked*: the caller has already matched *token* against ``COMPACT``.
    """
    if not checked and (not isinstance(token, str) or not COMPACT.fullmatch(token)):
        raise MalformedCredential("not a compact JWS (three base64url segments separated by dots)")
    h64, p64, s64 = token.split(".")
    try:
        header = _json(_b64d_segment(h64))
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise MalformedCredential(f"JWS header is not base64url JSON: {err}") from err
    try:
        payload = _json(_b64d_segment(p64))
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise MalformedCredential(f"JWS payload is not base64url JSON: {err}") from err
    try:
        signature: bytes | None = b64d(s64)
    except (ValueError, binascii.Error):
        signature = None  # reported by the signature check, not as a structure problem
    if not isinstance(header, dict):
        raise MalformedCredential("JWS header is not a JSON object")
    if not isinstance(payload, dict):
        raise MalformedCredential("JWS payload is not a JSON object")
    signing_input = token[: len(h64) + 1 + len(p64)].encode("ascii")
    return Compact(token, header, payload, signing_input, signature)


def media_type(value: Any) -> str | None:
    """*value* as a full, lower-case media type, or None when it is not a string.

    RFC 7515 §4.1.9: a ``typ``/``cty`` without a ``/`` is read with ``application/`` prepended
    (``vc+jwt`` is ``application/vc+jwt``); media type names are case-insensitive. Raises nothing.
    """
    if not isinstance(value, str):
        return None
    value = value.strip().lower()
    return value if "/" in value else "application/" + value


def check_jose_header(header: dict, *, typ: str, cty: str | None) -> None:
    """Check the header's shape: an ``alg``, a ``kid``, ``typ`` equal to *typ* and, when the header
    has a ``cty`` and *cty* is given, ``cty`` equal to *cty* (both compared as media types, so
    ``vc+jwt`` and ``application/vc+jwt`` are the same); ``cty`` itself is optional.

    Raises MalformedCredential when the header does not have the expected shape.
    """
    alg = header.get("alg")
    if not isinstance(alg, str) or not alg:
        raise MalformedCredential("JWS header has no alg")
    if media_type(header.get("typ")) != media_type(typ):
        raise MalformedCredential(f"JWS header typ is {header.get('typ')!r}, expected {typ!r}")
    if cty is not None and "cty" in header and media_type(header["cty"]) != media_type(cty):
        raise MalformedCredential(f"JWS header cty is {header.get('cty')!r}, expected {cty!r}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise MalformedCredential("JWS header has no kid")
    if "crit" in header or "b64" in header:
        raise MalformedCredential("JWS header uses crit/b64 extensions, which are not supported")


# One pyjwt PyJWS per algorithm, each allowing only that algorithm.
_PINNED = {alg: jwt.PyJWS(algorithms=[alg]) for alg in ALGS}
_ALG_IMPL = {alg: _PINNED[alg].get_algorithm_by_name(alg) for alg in ALGS}


def verify_signature(compact: Compact, public_key: Any, *, alg: str | None = None) -> str:
    """Verify *compact*'s signature with *public_key*, the algorithm pinned from the key type.

    The header's alg must equal the pinned one (so ``none`` and ``HS256`` fail); the
    signature is checked with pyjwt's implementation of the pinned algorithm only. The token
    is not passed through ``PyJWS.decode_complete`` because that re-parses it (a
    per-character base64 check costing ~60 µs on a 1.6 kB token); the signing input and
    signature are the exact bytes decode_complete would verify.

    Returns the pinned alg. Raises SignatureInvalid, UnsupportedKey.
    """
    pinned = alg_for_key(public_key)
    if alg is not None and alg != pinned:
        raise UnsupportedKey(f"key is declared {alg} but its type requires {pinned}")
    header_alg = compact.header.get("alg")
    if header_alg != pinned:
        raise SignatureInvalid(
            f"header alg {header_alg!r} is not {pinned}, the algorithm of the resolved key"
        )
    if compact.signature is None:
        raise SignatureInvalid("the signature segment is not canonical base64url")
    if len(compact.signature) != _SIG_LENGTH:
        raise SignatureInvalid(f"{pinned} signature must be {_SIG_LENGTH} bytes, got {len(compact.signature)}")
    try:
        ok = _ALG_IMPL[pinned].verify(compact.signing_input, public_key, compact.signature)
    except (ValueError, TypeError, jwt.PyJWTError) as err:
        raise SignatureInvalid(f"signature verification failed: {err}") from err
    if not ok:
        raise SignatureInvalid("signature does not verify with the resolved key")
    return pinned


class SignatureCache:
    """A small thread-safe LRU of signatures already verified, keyed by a SHA-256 of the token and key.

    Only successes are cached. A hit skips the public-key operation (~100 µs for Ed25519) and
    nothing else: issuer, key period, accreditation, validity, status and grade are checked
    on every call. Resolvers carry one as ``signature_cache`` (``signature_cache_size=0``
    disables it); :func:`verify_credential` uses ``getattr(resolver, "signature_cache", None)``.
    """

    def __init__(self, maxsize: int = 1024) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(token: str, kid: str, fingerprint: tuple) -> bytes:
        """The cache key of *token* verified with the key *kid* whose JWK fingerprint is given. Raises nothing."""
        h = hashlib.sha256()
        h.update(repr((kid, fingerprint)).encode())
        h.update(b"\0")
        h.update(token.encode("ascii"))
        return h.digest()

    def __contains__(self, key: bytes) -> bool:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return True
            self.misses += 1
            return False

    def add(self, key: bytes) -> None:
        """Remember a verified signature. Raises nothing."""
        if self.maxsize <= 0:
            return
        with self._lock:
            self._data[key] = None
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        """Forget everything. Raises nothing."""
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


