"""The carbon certificate credential: its single definition and its verification.

The registry builds what it signs with :func:`build_credential`, :func:`status_entry`,
:func:`jws_header` and :func:`public_jwk`; verifiers check it with :func:`verify_credential`,
the one public entry point, which never raises for a credential that fails to verify: a
failure is a :class:`VerificationResult` with ``verified=False``.

The wire format is described in ``docs/formats.md`` and the checks in ``docs/verifier.md``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import functools
import hashlib
import json
import re
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterable

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from .errors import (
    MalformedCredential,
    SignatureInvalid,
    UnsupportedKey,
    VerifierError,
)

if TYPE_CHECKING:  # pragma: no cover
    from .keys import Resolver

__all__ = [
    "KIND_TYPES",
    "TYPE_KINDS",
    "VC_CONTEXT",
    "CONTEXT_PATH",
    "CHECK_NAMES",
    "STATUS_PURPOSES",
    "context_url",
    "format_time",
    "parse_time",
    "build_credential",
    "status_entry",
    "jws_header",
    "alg_for_key",
    "public_jwk",
    "key_from_jwk",
    "parse_verification_link",
    "Check",
    "Error",
    "VerificationResult",
    "SignatureCache",
    "verify_credential",
]

UTC = _dt.timezone.utc

#: Certificate kind (``credentialSubject.certificateType``) → second credential ``type``.
KIND_TYPES: dict[str, str] = {
    "carbon-footprint": "CarbonFootprintCertificate",
    "low-carbon": "LowCarbonCertificate",
    "reduced-carbon": "ReducedCarbonCertificate",
    "carbon-neutral": "CarbonNeutralCertificate",
}
#: The reverse of :data:`KIND_TYPES`.
TYPE_KINDS: dict[str, str] = {v: k for k, v in KIND_TYPES.items()}

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
CONTEXT_PATH = "/contexts/carbon-label/v1"
STATUS_PURPOSES = ("revocation", "suspension")
SUBJECT_TYPE = "CarbonLabelledProduct"
STATUS_ENTRY_TYPE = "BitstringStatusListEntry"

#: The checks :func:`verify_credential` reports, always all of them and in this order.
CHECK_NAMES: tuple[str, ...] = (
    "structure",
    "issuer",
    "key",
    "signature",
    "accreditation",
    "validity",
    "status",
    "grade",
)

#: Inputs longer than this are refused as MALFORMED before any parsing (a credential is ~1.5 kB).
MAX_INPUT_LENGTH = 64 * 1024

_ALGS = ("EdDSA", "ES256")
_SIG_LENGTH = 64  # both Ed25519 and ES256 (r ‖ s, 32 bytes each)


# --------------------------------------------------------------------------------------------
# Time


def _as_utc(dt: _dt.datetime) -> _dt.datetime:
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


@functools.lru_cache(maxsize=4096)
def _format_time_cached(dt: _dt.datetime) -> str:
    return _as_utc(dt).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_time(dt: _dt.datetime) -> str:
    """Format *dt* as RFC 3339 UTC with a ``Z`` suffix and whole seconds (fractions are cut).

    A naive datetime is taken to be UTC (what SQLite hands back for UTC columns).

    Raises:
        TypeError: *dt* is not a :class:`datetime.datetime`.
    """
    if not isinstance(dt, _dt.datetime):
        raise TypeError(f"expected a datetime, got {type(dt).__name__}")
    return _format_time_cached(dt)


_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


@functools.lru_cache(maxsize=4096)
def _parse_time_cached(value: str) -> _dt.datetime:
    if not _RFC3339.fullmatch(value):
        raise ValueError(f"not an RFC 3339 date-time with a time zone: {value!r}")
    text = value
    if "." in text:  # fromisoformat takes at most 6 fraction digits
        head, _, rest = text.partition(".")
        digits = re.match(r"\d+", rest).group(0)  # type: ignore[union-attr]
        text = head + "." + digits[:6].ljust(6, "0") + rest[len(digits):]
    try:
        return _dt.datetime.fromisoformat(text.upper()).astimezone(UTC)
    except OverflowError as err:  # e.g. 9999-12-31T23:59:59-01:00 lies past the calendar in UTC
        raise ValueError(f"date-time outside the representable range: {value!r}") from err


def parse_time(value: Any) -> _dt.datetime:
    """Parse an RFC 3339 date-time with a time zone (``Z`` or an offset) into an aware UTC datetime.

    Raises:
        ValueError: *value* is not a string in RFC 3339 date-time form (a date alone, or a
            time without a zone, is refused), or it lies outside years 1–9999 once in UTC.
    """
    if not isinstance(value, str):
        raise ValueError(f"not an RFC 3339 date-time string: {value!r}")
    return _parse_time_cached(value)


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(UTC)


# --------------------------------------------------------------------------------------------
# Building what the registry signs


def context_url(public_url: str) -> str:
    """The carbon-label JSON-LD context URL of the registry at *public_url*. Raises nothing."""
    return public_url.rstrip("/") + CONTEXT_PATH


def _clean(value: Any, *, keep_null: frozenset[str] = frozenset()) -> Any:
    """Drop None-valued members recursively (and dicts left empty by that); stringify decimals and times."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if v is None:
                if k in keep_null:
                    out[k] = None
                continue
            cleaned = _clean(v)
            if isinstance(v, dict) and v and not cleaned:
                continue  # e.g. "stages" whose values were all null
            out[k] = cleaned
        return out
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value if v is not None]
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, _dt.datetime):
        return format_time(value)
    if isinstance(value, float):
        raise ValueError(f"quantities are decimal strings, never floats: {value!r}")
    raise TypeError(f"cannot put a {type(value).__name__} in a credential")


def status_entry(*, list_url: str, index: int, purpose: str) -> dict:
    """One ``BitstringStatusListEntry`` for ``credentialStatus``.

    Raises:
        ValueError: *purpose* is not ``revocation`` or ``suspension``, or *index* is outside
            the list (0 ≤ index < :data:`verifier.statuslist.LIST_SIZE`).
    """
    from .statuslist import LIST_SIZE

    if purpose not in STATUS_PURPOSES:
        raise ValueError(f"status purpose must be one of {STATUS_PURPOSES}, not {purpose!r}")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < LIST_SIZE:
        raise ValueError(f"status list index must be an int in [0, {LIST_SIZE}), not {index!r}")
    return {
        "id": f"{list_url}#{index}",
        "type": STATUS_ENTRY_TYPE,
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def build_credential(
    *,
    certificate_id: str | uuid.UUID,
    kind: str,
    issuer: str,
    valid_from: _dt.datetime,
    valid_until: _dt.datetime,
    subject: dict,
    status_entries: list[dict],
    public_url: str,
) -> dict:
    """Build the credential payload exactly as ``docs/formats.md`` describes it.

    *subject* holds the ``credentialSubject`` members other than ``id``, ``type`` and
    ``certificateType`` (which are derived): ``certificateNumber``, ``product``, ``footprint``,
    ``grade`` and, per kind, ``benchmark``, ``reduction``, ``neutrality``, ``precedingIds``.
    None-valued members are dropped recursively (except ``grade.value``, which is ``null`` for
    an ungraded footprint certificate); :class:`~decimal.Decimal` values become decimal
    strings and datetimes RFC 3339 strings.

    Raises:
        ValueError: unknown *kind*, a certificate id that is not a UUID, ``valid_until`` not
            after ``valid_from``, a float quantity, a missing ``grade``, or *subject* giving an
            ``id``/``type``/``certificateType`` that contradicts the derived one.
        TypeError: a value that cannot be put in JSON.
    """
    if kind not in KIND_TYPES:
        raise ValueError(f"unknown certificate kind {kind!r}; expected one of {sorted(KIND_TYPES)}")
    cert_id = str(uuid.UUID(str(certificate_id)))
    if _as_utc(valid_until) <= _as_utc(valid_from):
        raise ValueError("validUntil must be after validFrom")
    base = public_url.rstrip("/")
    derived = {"id": f"{base}/v/{cert_id}", "type": SUBJECT_TYPE, "certificateType": kind}
    for key, value in derived.items():
        if key in subject and subject[key] != value:
            raise ValueError(f"credentialSubject.{key} is {subject[key]!r}; it must be {value!r}")
    grade = subject.get("grade")
    if not isinstance(grade, dict):
        raise ValueError("credentialSubject.grade is required ({scheme, schemeVersion, value})")
    cleaned = _clean({k: v for k, v in subject.items() if k not in derived and k != "grade"})
    cleaned_grade = _clean(grade, keep_null=frozenset({"value"}))
    cleaned_grade.setdefault("value", None)
    credential_subject = {**derived, **cleaned, "grade": cleaned_grade}
    # Keep the documented member order: grade after benchmark, before reduction/neutrality.
    order = ["id", "type", "certificateNumber", "certificateType", "product", "footprint",
             "benchmark", "grade", "reduction", "neutrality", "precedingIds"]
    ordered = {k: credential_subject[k] for k in order if k in credential_subject}
    ordered.update({k: v for k, v in credential_subject.items() if k not in ordered})
    return {
        "@context": [VC_CONTEXT, context_url(base)],
        "id": f"urn:uuid:{cert_id}",
        "type": ["VerifiableCredential", KIND_TYPES[kind]],
        "issuer": issuer,
        "validFrom": format_time(valid_from),
        "validUntil": format_time(valid_until),
        "credentialSubject": ordered,
        "credentialStatus": [dict(e) for e in status_entries],
    }


def jws_header(*, alg: str, kid: str, typ: str = "vc+jwt", cty: str | None = "vc") -> dict:
    """The protected header of a signed object: ``{"alg", "typ", "cty", "kid"}`` (no ``cty`` if None).

    Raises:
        ValueError: *alg* is not ``EdDSA`` or ``ES256``, or *kid* is empty.
    """
    if alg not in _ALGS:
        raise ValueError(f"alg must be one of {_ALGS}, not {alg!r}")
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


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL = re.compile(r"[A-Za-z0-9_-]*", re.ASCII)


def _b64d(text: str) -> bytes:
    """Strict base64url (no padding, URL alphabet, canonical trailing bits)."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if len(text) % 4 and _b64e(raw) != text:
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
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64e(raw)}
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64e(numbers.x.to_bytes(32, "big")),
        "y": _b64e(numbers.y.to_bytes(32, "big")),
    }


_KEY_CACHE: dict[tuple, Any] = {}
_KEY_CACHE_MAX = 1024
_JWK_ALGS = {"OKP": "EdDSA", "EC": "ES256"}


def _jwk_fingerprint(jwk: Any) -> tuple:
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
    fp = _jwk_fingerprint(jwk)
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
            raw = _b64d(x)
            if len(raw) != 32:
                raise UnsupportedKey("Ed25519 JWK x must be 32 bytes")
            key = ed25519.Ed25519PublicKey.from_public_bytes(raw)
        else:
            if crv != "P-256":
                raise UnsupportedKey(f"EC curve {crv!r} is not supported (P-256 only)")
            xb, yb = _b64d(x), _b64d(y)
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
# Compact JWS parsing and signature verification (shared with verifier.trust)

_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*", re.ASCII)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@dataclass(frozen=True, slots=True)
class _Compact:
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


def _parse_compact(token: str, *, checked: bool = False) -> _Compact:
    """Split and decode a compact JWS; nothing is verified. Raises MalformedCredential.

    *checked*: the caller has already matched *token* against ``_COMPACT``.
    """
    if not checked and (not isinstance(token, str) or not _COMPACT.fullmatch(token)):
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
        signature: bytes | None = _b64d(s64)
    except (ValueError, binascii.Error):
        signature = None  # reported by the signature check, not as a structure problem
    if not isinstance(header, dict):
        raise MalformedCredential("JWS header is not a JSON object")
    if not isinstance(payload, dict):
        raise MalformedCredential("JWS payload is not a JSON object")
    signing_input = token[: len(h64) + 1 + len(p64)].encode("ascii")
    return _Compact(token, header, payload, signing_input, signature)


def _check_jose_header(header: dict, *, typ: str, cty: str | None) -> None:
    """Raises MalformedCredential when the header does not have the expected shape."""
    alg = header.get("alg")
    if not isinstance(alg, str) or not alg:
        raise MalformedCredential("JWS header has no alg")
    if header.get("typ") != typ:
        raise MalformedCredential(f"JWS header typ is {header.get('typ')!r}, expected {typ!r}")
    if cty is not None and header.get("cty") != cty:
        raise MalformedCredential(f"JWS header cty is {header.get('cty')!r}, expected {cty!r}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise MalformedCredential("JWS header has no kid")
    if "crit" in header or "b64" in header:
        raise MalformedCredential("JWS header uses crit/b64 extensions, which are not supported")


# One pyjwt PyJWS per algorithm, each allowing only that algorithm.
_PINNED = {alg: jwt.PyJWS(algorithms=[alg]) for alg in _ALGS}
_ALG_IMPL = {alg: _PINNED[alg].get_algorithm_by_name(alg) for alg in _ALGS}


def _verify_signature(compact: _Compact, public_key: Any, *, alg: str | None = None) -> str:
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


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class Check:
    """One named check: ``ok`` is True only when it ran and passed; ``skipped`` when it did not run."""

    name: str
    ok: bool
    detail: str
    skipped: bool = False

    def to_dict(self) -> dict:
        """The contract form ``{"name", "ok", "detail"}`` (plus ``"skipped": true`` when skipped). Raises nothing."""
        d = {"name": self.name, "ok": self.ok, "detail": self.detail}
        if self.skipped:
            d["skipped"] = True
        return d


@dataclass(frozen=True, slots=True)
class Error:
    """One failure: a contract error code and a human-readable message."""

    code: str
    message: str

    def to_dict(self) -> dict:
        """``{"code", "message"}``. Raises nothing."""
        return {"code": self.code, "message": self.message}


@dataclass(slots=True)
class VerificationResult:
    """What :func:`verify_credential` found.

    ``credential`` is the decoded payload whenever it could be decoded, even when verification
    failed: it is then only what the input *claims*. ``status_checked_at`` is when the status
    information used was fetched (the oldest, if several lists), ``status_age`` how old it was
    at ``checked_at``; both are None when status was not checked.
    """

    verified: bool
    checks: list[Check]
    errors: list[Error]
    credential: dict | None = None
    header: dict | None = None
    checked_at: _dt.datetime = field(default_factory=_utcnow)
    status_checked_at: _dt.datetime | None = None
    status_age: _dt.timedelta | None = None
    trust_list_issued_at: _dt.datetime | None = None
    issuer_name: str | None = None

    @property
    def codes(self) -> list[str]:
        """The error codes, in check order. Raises nothing."""
        return [e.code for e in self.errors]

    def check(self, name: str) -> Check:
        """The check called *name*.

        Raises:
            KeyError: no such check.
        """
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict:
        """The ``POST /api/v1/verify`` result: ``verified``, ``checks``, ``errors``, ``credential``.

        Extra keys: ``checkedAt``; ``code`` (the first error code, when not verified); and when
        known ``statusAsOf``, ``statusAgeSeconds``, ``trustListAsOf``, ``issuerName``.
        Raises nothing.
        """
        d: dict[str, Any] = {
            "verified": self.verified,
            "checks": [c.to_dict() for c in self.checks],
            "errors": [e.to_dict() for e in self.errors],
            "credential": self.credential,
            "checkedAt": format_time(self.checked_at),
        }
        if self.errors:
            d["code"] = self.errors[0].code
        if self.status_checked_at is not None:
            d["statusAsOf"] = format_time(self.status_checked_at)
        if self.status_age is not None:
            d["statusAgeSeconds"] = max(0, int(self.status_age.total_seconds()))
        if self.trust_list_issued_at is not None:
            d["trustListAsOf"] = format_time(self.trust_list_issued_at)
        if self.issuer_name is not None:
            d["issuerName"] = self.issuer_name
        return d

    @classmethod
    def failure(cls, code: str, message: str, *, check: str = "structure",
                now: _dt.datetime | None = None) -> "VerificationResult":
        """A result for input that could not be verified at all: *check* failed with *code*, the rest skipped. Raises nothing."""
        checks = [
            Check(name, False, message) if name == check else Check(name, False, "not run", skipped=True)
            for name in CHECK_NAMES
        ]
        return cls(False, checks, [Error(code, message)], checked_at=now or _utcnow())


# --------------------------------------------------------------------------------------------
# Input


_LINK = re.compile(
    r"(?P<base>https?://[^\s#?]+?)/v/(?P<id>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12})/?(?:\?[^#\s]*)?(?:#(?P<frag>\S*))?"
)


def parse_verification_link(text: str) -> tuple[str, str] | None:
    """``(base_url, certificate_id)`` when *text* is a verification link ``<base>/v/<id>[#…]``, else None. Raises nothing."""
    if not isinstance(text, str):
        return None
    m = _LINK.fullmatch(text.strip())
    if not m:
        return None
    return m.group("base"), m.group("id").lower()


def _extract_token(token_or_qr: Any) -> str:
    """The compact JWS in *token_or_qr* (a JWS or scanned QR text). Raises MalformedCredential."""
    if isinstance(token_or_qr, (bytes, bytearray)):
        try:
            token_or_qr = bytes(token_or_qr).decode("utf-8")
        except UnicodeDecodeError as err:
            raise MalformedCredential("input is not UTF-8 text") from err
    if not isinstance(token_or_qr, str):
        raise MalformedCredential(f"input must be text, not {type(token_or_qr).__name__}")
    if len(token_or_qr) > MAX_INPUT_LENGTH:
        raise MalformedCredential(f"input is longer than {MAX_INPUT_LENGTH} characters")
    text = token_or_qr.strip()
    if not text:
        raise MalformedCredential("input is empty")
    if text.count(".") == 2 and ":" not in text and "/" not in text:
        return text  # a compact JWS, or garbage that _parse_compact will refuse
    from . import offline  # the QR payload codec (offline-mode labels)

    try:
        jws = offline.extract_jws(text)
    except VerifierError:
        raise
    except (ValueError, ArithmeticError, LookupError, UnicodeError) as err:
        raise MalformedCredential(f"the QR code's offline credential could not be decoded: {err}") from err
    if jws:
        return jws
    link = parse_verification_link(text)
    if link is not None:
        base, cert_id = link
        raise MalformedCredential(
            "the code is a verification link, not a credential: it cannot be verified offline; "
            f"fetch the credential from the registry (GET {base}/api/v1/certificates/{cert_id}, "
            "member 'credential') and verify that"
        )
    raise MalformedCredential("input is neither a compact JWS nor a carbon label QR code")


# --------------------------------------------------------------------------------------------
# Structure of the credential payload


@dataclass(frozen=True, slots=True)
class _StatusRef:
    purpose: str
    index: int
    url: str


@dataclass(frozen=True, slots=True)
class _Claims:
    id: str
    kind: str
    issuer: str
    valid_from: _dt.datetime
    valid_until: _dt.datetime
    subject: dict
    category: str
    status: tuple[_StatusRef, ...]


def _require(cond: Any, message: str) -> None:
    if not cond:
        raise MalformedCredential(message)


def _check_claims(payload: dict) -> _Claims:
    """The credential's claims, with every required member checked. Raises MalformedCredential."""
    ctx = payload.get("@context")
    _require(isinstance(ctx, list) and ctx and ctx[0] == VC_CONTEXT,
             f"@context must be a list starting with {VC_CONTEXT}")
    _require(any(isinstance(c, str) and c.endswith(CONTEXT_PATH) for c in ctx[1:]),
             f"@context lacks the carbon-label context (…{CONTEXT_PATH})")
    cid = payload.get("id")
    _require(isinstance(cid, str) and cid.startswith("urn:uuid:"), "id must be a urn:uuid: URN")
    try:
        cert_uuid = str(uuid.UUID(cid[9:]))
    except ValueError as err:
        raise MalformedCredential(f"id {cid!r} does not hold a UUID") from err
    types = payload.get("type")
    _require(isinstance(types, list) and len(types) == 2 and types[0] == "VerifiableCredential"
             and isinstance(types[1], str) and types[1] in TYPE_KINDS,
             f"type must be ['VerifiableCredential', one of {sorted(TYPE_KINDS)}]")
    issuer = payload.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    _require(isinstance(issuer, str) and issuer.startswith("did:"), "issuer must be a DID")
    try:
        valid_from = parse_time(payload.get("validFrom"))
        valid_until = parse_time(payload.get("validUntil"))
    except ValueError as err:
        raise MalformedCredential(f"validFrom/validUntil: {err}") from err
    _require(valid_from < valid_until, "validUntil must be after validFrom")
    subject = payload.get("credentialSubject")
    _require(isinstance(subject, dict), "credentialSubject must be an object")
    kind = subject.get("certificateType")
    _require(isinstance(kind, str) and kind in KIND_TYPES, f"credentialSubject.certificateType must be one of {sorted(KIND_TYPES)}")
    _require(KIND_TYPES[kind] == types[1],
             f"credentialSubject.certificateType {kind!r} does not match type {types[1]!r}")
    _require(subject.get("type") == SUBJECT_TYPE, f"credentialSubject.type must be {SUBJECT_TYPE}")
    sid = subject.get("id")
    _require(isinstance(sid, str) and sid.lower().endswith("/v/" + cert_uuid),
             "credentialSubject.id must be the verification URL <base>/v/<certificate id>")
    _require(isinstance(subject.get("certificateNumber"), str) and subject["certificateNumber"],
             "credentialSubject.certificateNumber is required")
    product = subject.get("product")
    _require(isinstance(product, dict) and isinstance(product.get("category"), str)
             and product["category"], "credentialSubject.product.category is required")
    _require(isinstance(product.get("name"), str) and product["name"],
             "credentialSubject.product.name is required")
    _require(isinstance(subject.get("footprint"), dict), "credentialSubject.footprint is required")
    grade = subject.get("grade")
    _require(isinstance(grade, dict) and isinstance(grade.get("scheme"), str)
             and isinstance(grade.get("schemeVersion"), str) and "value" in grade
             and (grade["value"] is None or isinstance(grade["value"], str)),
             "credentialSubject.grade must be {scheme, schemeVersion, value}")
    raw_status = payload.get("credentialStatus")
    if isinstance(raw_status, dict):
        raw_status = [raw_status]
    _require(isinstance(raw_status, list) and raw_status, "credentialStatus is required")
    refs = []
    for entry in raw_status:
        _require(isinstance(entry, dict) and entry.get("type") == STATUS_ENTRY_TYPE,
                 f"credentialStatus entries must be {STATUS_ENTRY_TYPE}")
        purpose = entry.get("statusPurpose")
        _require(purpose in STATUS_PURPOSES, f"unknown statusPurpose {purpose!r}")
        index = entry.get("statusListIndex")
        _require(isinstance(index, str) and index.isascii() and index.isdigit() and len(index) <= 9,
                 "statusListIndex must be a decimal string")
        url = entry.get("statusListCredential")
        _require(isinstance(url, str) and url.startswith(("https://", "http://")),
                 "statusListCredential must be an http(s) URL")
        refs.append(_StatusRef(purpose, int(index), url))
    purposes = {r.purpose for r in refs}
    _require(purposes == set(STATUS_PURPOSES),
             "credentialStatus must have a revocation and a suspension entry")
    return _Claims(cid, kind, issuer, valid_from, valid_until, subject, product["category"], tuple(refs))


# --------------------------------------------------------------------------------------------
# Grading (verifier.grading, written separately)

_SCHEME_CACHE: dict[tuple[str, str], Any] = {}
# Recomputed grades by (SHA-256 of the signed payload segment, scheme, version). The grade is a
# pure function of the signed credentialSubject and the (immutable, versioned) scheme, so
# verifying the same credential again need not redo the decimal arithmetic.
_GRADE_CACHE: OrderedDict[tuple[bytes, str, str], str | None] = OrderedDict()
_GRADE_CACHE_MAX = 2048
_GRADE_LOCK = threading.Lock()


def _recompute_grade(kind: str, subject: dict, payload_digest: bytes | None = None) -> tuple[str | None, str]:
    """(expected grade, scheme label). Raises GradeMismatch for an unknown or unusable scheme."""
    grade = subject["grade"]
    scheme_id, version = grade["scheme"], grade["schemeVersion"]
    label = f"{scheme_id} version {version}"
    if payload_digest is None:
        return _grade_uncached(kind, subject, scheme_id, version, label), label
    key = (payload_digest, scheme_id, version)
    with _GRADE_LOCK:
        if key in _GRADE_CACHE:
            _GRADE_CACHE.move_to_end(key)
            return _GRADE_CACHE[key], label
    expected = _grade_uncached(kind, subject, scheme_id, version, label)
    with _GRADE_LOCK:
        _GRADE_CACHE[key] = expected
        while len(_GRADE_CACHE) > _GRADE_CACHE_MAX:
            _GRADE_CACHE.popitem(last=False)
    return expected, label


def _grade_uncached(kind: str, subject: dict, scheme_id: str, version: str, label: str) -> str | None:
    from . import grading
    from .errors import GradeMismatch

    scheme = _SCHEME_CACHE.get((scheme_id, version))
    if scheme is None:
        try:
            scheme = grading.load_scheme(scheme_id, version)
        except VerifierError as err:
            raise GradeMismatch(f"unknown grading scheme {label}: {err}") from err
        except (LookupError, ValueError, OSError) as err:
            raise GradeMismatch(f"unknown grading scheme {label}: {err}") from err
        if len(_SCHEME_CACHE) < 64:
            _SCHEME_CACHE[(scheme_id, version)] = scheme
    try:
        expected = grading.grade_for_subject(kind, subject, scheme)
    except VerifierError as err:
        raise GradeMismatch(f"grade cannot be recomputed under {label}: {err}") from err
    except (LookupError, ValueError, TypeError, ArithmeticError) as err:
        raise GradeMismatch(f"grade cannot be recomputed under {label}: {err}") from err
    return expected


# --------------------------------------------------------------------------------------------
# Verification


def verify_credential(
    token_or_qr: str, resolver: "Resolver", *, now: _dt.datetime | None = None
) -> VerificationResult:
    """Verify a certificate credential and report every check.

    *token_or_qr* is a compact JWS or the text of a scanned label QR code (an offline-mode URL
    carrying the credential). *resolver* supplies the trust list and status lists (see
    :mod:`verifier.keys`). *now* (default: the current time) is the time validity is judged at.

    Checks, in order: ``structure`` (MALFORMED), ``issuer`` (UNKNOWN_ISSUER), ``key``
    (UNKNOWN_KEY), ``signature`` (SIGNATURE_INVALID), ``accreditation``
    (ISSUER_NOT_ACCREDITED, OUT_OF_SCOPE), ``validity`` (NOT_YET_VALID, EXPIRED), ``status``
    (REVOKED, SUSPENDED, STATUS_UNAVAILABLE) and ``grade`` (GRADE_MISMATCH). Until the
    signature has verified, the claims are unauthenticated, so a failure in the first four
    checks marks the remaining ones as skipped; the last four always all run. A trust list
    that cannot be obtained fails ``issuer`` with STATUS_UNAVAILABLE.

    Raises:
        Nothing for bad input or a failed verification (that is the result). Exceptions other
        than :class:`~verifier.errors.VerifierError` and ``OSError`` raised by a custom
        resolver propagate.
    """
    now = _utcnow() if now is None else _as_utc(now)
    checks: list[Check] = []
    errors: list[Error] = []
    result = VerificationResult(False, checks, errors, checked_at=now)

    def fail(name: str, code: str, message: str) -> None:
        checks.append(Check(name, False, message))
        errors.append(Error(code, message))

    def stop(reason: str) -> VerificationResult:
        for name in CHECK_NAMES[len(checks):]:
            checks.append(Check(name, False, f"not run: {reason}", skipped=True))
        return result

    # structure
    try:
        compact = _parse_compact(_extract_token(token_or_qr))
        result.header = compact.header
        result.credential = compact.payload
        _check_jose_header(compact.header, typ="vc+jwt", cty="vc")
        claims = _check_claims(compact.payload)
    except MalformedCredential as err:
        fail("structure", err.code, err.message)
        return stop("the credential is malformed")
    header = compact.header
    checks.append(Check("structure", True,
                        f"{claims.kind} credential {claims.id} (vc+jwt, {header['alg']})"))

    # issuer
    try:
        trust = resolver.trust_list()
    except (VerifierError, OSError) as err:
        code = getattr(err, "code", "STATUS_UNAVAILABLE")
        fail("issuer", code, f"trust list unavailable: {err}")
        return stop("no trust list")
    result.trust_list_issued_at = trust.issued_at
    body = trust.body(claims.issuer)
    if body is None:
        fail("issuer", "UNKNOWN_ISSUER", f"issuer {claims.issuer} is not in the registry's trust list")
        return stop("unknown issuer")
    result.issuer_name = body.name
    checks.append(Check("issuer", True, f"{body.name} ({claims.issuer})"))

    # key
    kid = header["kid"]
    tkey = trust.key(kid)
    if not kid.startswith(claims.issuer + "#"):
        fail("key", "UNKNOWN_KEY", f"key {kid} does not belong to issuer {claims.issuer}")
        return stop("unknown key")
    if tkey is None or tkey.body_did != claims.issuer:
        fail("key", "UNKNOWN_KEY", f"key {kid} is not a key of {claims.issuer} in the trust list")
        return stop("unknown key")
    if not tkey.active_at(claims.valid_from):
        fail("key", "UNKNOWN_KEY",
             f"key {kid} was not active at validFrom {format_time(claims.valid_from)} "
             f"(active {tkey.period()})")
        return stop("key not active at issuance")
    try:
        public_key = tkey.public_key
        pinned = alg_for_key(public_key)
        if tkey.alg != pinned:
            raise UnsupportedKey(f"trust list declares {tkey.alg} for a key that requires {pinned}")
    except UnsupportedKey as err:
        fail("key", "UNKNOWN_KEY", f"key {kid} cannot be used: {err}")
        return stop("unusable key")
    checks.append(Check("key", True, f"{kid} ({pinned}, active {tkey.period()})"))

    # signature
    cache = getattr(resolver, "signature_cache", None)
    cache_key = SignatureCache.key(compact.token, kid, tkey.fingerprint) if cache is not None else None
    if cache_key is not None and header.get("alg") == pinned and cache_key in cache:
        checks.append(Check("signature", True, f"{pinned} signature verified (cached)"))
    else:
        try:
            _verify_signature(compact, public_key)
        except (SignatureInvalid, UnsupportedKey) as err:
            fail("signature", "SIGNATURE_INVALID", err.message)
            return stop("the signature did not verify")
        if cache_key is not None:
            cache.add(cache_key)
        checks.append(Check("signature", True, f"{pinned} signature verified"))

    # accreditation
    ok, code, detail = trust.accredited_at(claims.issuer, claims.valid_from, claims.kind, claims.category)
    if ok:
        checks.append(Check("accreditation", True, detail))
    else:
        fail("accreditation", code or "ISSUER_NOT_ACCREDITED", detail)

    # validity
    vf, vu = format_time(claims.valid_from), format_time(claims.valid_until)
    if now < claims.valid_from:
        fail("validity", "NOT_YET_VALID", f"not valid before {vf}")
    elif now >= claims.valid_until:
        fail("validity", "EXPIRED", f"expired at {vu}")
    else:
        checks.append(Check("validity", True, f"valid from {vf} until {vu}"))

    # status
    _check_status(claims, trust, resolver, now, result, checks, errors)

    # grade
    try:
        digest = hashlib.sha256(compact.signing_input).digest()
        expected, label = _recompute_grade(claims.kind, claims.subject, digest)
    except VerifierError as err:
        fail("grade", "GRADE_MISMATCH", err.message)
    else:
        value = claims.subject["grade"]["value"]
        if expected is None and claims.kind != "carbon-footprint":
            # Only a footprint certificate may be ungraded; None means the figures do not earn the kind.
            fail("grade", "GRADE_MISMATCH",
                 f"the credential's figures do not earn a {claims.kind} certificate under {label} "
                 f"(it states grade {value!r})")
        elif expected != value:
            fail("grade", "GRADE_MISMATCH",
                 f"the credential states grade {value!r}, but {label} gives {expected!r}")
        else:
            checks.append(Check("grade", True, f"grade {value!r} matches {label}"))

    result.verified = not errors and all(c.ok for c in checks)
    return result


def _check_status(claims: _Claims, trust: Any, resolver: Any, now: _dt.datetime,
                  result: VerificationResult, checks: list[Check], errors: list[Error]) -> None:
    from .statuslist import get_bit

    problems: list[Error] = []
    fine: list[str] = []
    oldest: _dt.datetime | None = None
    for ref in claims.status:
        where = f"{ref.purpose} list {ref.url}"
        try:
            snap = resolver.status_list(ref.url)
        except (VerifierError, OSError) as err:
            problems.append(Error("STATUS_UNAVAILABLE", f"{where} unavailable: {err}"))
            continue
        if snap.purpose != ref.purpose:
            problems.append(Error("STATUS_UNAVAILABLE",
                                  f"{where} is a {snap.purpose!r} list, not a {ref.purpose!r} list"))
            continue
        issuer = getattr(snap, "issuer", None)
        if issuer is not None and trust.registry_did and issuer != trust.registry_did:
            problems.append(Error("STATUS_UNAVAILABLE",
                                  f"{where} is issued by {issuer}, not the registry {trust.registry_did}"))
            continue
        if snap.valid_until is not None and now >= snap.valid_until:
            problems.append(Error("STATUS_UNAVAILABLE",
                                  f"{where} expired at {format_time(snap.valid_until)}; refresh it"))
            continue
        if ref.index >= len(snap.bits) * 8:
            problems.append(Error("STATUS_UNAVAILABLE",
                                  f"index {ref.index} is outside {where} ({len(snap.bits) * 8} entries)"))
            continue
        if oldest is None or snap.fetched_at < oldest:
            oldest = snap.fetched_at
        if get_bit(snap.bits, ref.index):
            if ref.purpose == "revocation":
                problems.append(Error("REVOKED", f"revoked (bit {ref.index} of {ref.url} is set)"))
            else:
                problems.append(Error("SUSPENDED", f"suspended (bit {ref.index} of {ref.url} is set)"))
        else:
            fine.append("not revoked" if ref.purpose == "revocation" else "not suspended")
    if oldest is not None:
        result.status_checked_at = oldest
        result.status_age = max(now - oldest, _dt.timedelta(0))
    as_of = f" (status as of {format_time(oldest)})" if oldest is not None else ""
    if problems:
        checks.append(Check("status", False, "; ".join(p.message for p in problems) + as_of))
        errors.extend(problems)
    else:
        checks.append(Check("status", True, ", ".join(fine) + as_of))


def _iter_status_urls(token_or_qr: str) -> Iterable[str]:
    """The status list URLs a credential references, read without verifying it. Raises MalformedCredential."""
    compact = _parse_compact(_extract_token(token_or_qr))
    raw = compact.payload.get("credentialStatus")
    if isinstance(raw, dict):
        raw = [raw]
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("statusListCredential"), str):
            yield entry["statusListCredential"]
