"""The carbon certificate credential: its single definition and its verification.

The registry builds what it signs with :func:`build_credential`, :func:`status_entry`,
:func:`jws_header` and :func:`public_jwk`; verifiers check it with :func:`verify_credential`,
the one public entry point, which never raises for a credential that fails to verify: a
failure is a :class:`VerificationResult` with ``verified=False``.

The wire format is described in ``docs/formats.md`` and the checks in ``docs/verifier.md``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from . import grading
from ._base import (
    UTC,
    CONTEXT_PATH,
    KIND_TYPES,
    STATUS_ENTRY_TYPE,
    STATUS_PURPOSES,
    SUBJECT_TYPE,
    TYPE_KINDS,
    VC_CONTEXT,
    as_utc,
    context_url,
    format_time,
    parse_time,
    utcnow,
)
from ._errors import GradeMismatch, MalformedCredential, SignatureInvalid, UnsupportedKey, VerifierError
from ._input import extract_token
from ._jose import SignatureCache, alg_for_key, check_jose_header, parse_compact, verify_signature
from ._resolvers import Resolver
from ._statuslist import LIST_SIZE, get_bit

__all__ = [
    "CHECK_NAMES",
    "build_credential",
    "status_entry",
    "Check",
    "Error",
    "VerificationResult",
    "verify_credential",
]


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

# --------------------------------------------------------------------------------------------
# Building what the registry signs


def _clean(value: Any, *, keep_null: frozenset[str] = frozenset()) -> Any:
    """Drop None-valued members recursively (and dicts left empty by that); stringify decimals and times."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if v is None:
                if k in keep_null:
                    out[k] = None
                continue
            if type(v) is str:  # most members: kept as they are, without a call
                out[k] = v
                continue
            cleaned = _clean(v)
            if isinstance(v, dict) and v and not cleaned:
                continue  # e.g. "stages" whose values were all null
            out[k] = cleaned
        return out
    if isinstance(value, (list, tuple)):
        return [v if type(v) is str else _clean(v) for v in value if v is not None]
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
            the list (0 ≤ index < :data:`verifier.LIST_SIZE`).
    """
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
    if as_utc(valid_until) <= as_utc(valid_from):
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
    checked_at: _dt.datetime = field(default_factory=utcnow)
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
        return cls(False, checks, [Error(code, message)], checked_at=now or utcnow())


# --------------------------------------------------------------------------------------------
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
    not_before: _dt.datetime | None = None  # the JWT nbf claim, when present
    expires: _dt.datetime | None = None  # the JWT exp claim, when present
    ignored_status: int = 0  # credentialStatus entries of a type or purpose we do not check


def _require(cond: Any, message: str) -> None:
    if not cond:
        raise MalformedCredential(message)


def _numeric_date(payload: dict, name: str) -> _dt.datetime | None:
    """The JWT NumericDate claim *name* (RFC 7519 §2), None when absent. Raises MalformedCredential."""
    if name not in payload:
        return None
    value = payload[name]
    _require(isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
             f"the JWT claim {name} must be a NumericDate (seconds since 1970-01-01T00:00:00Z), not {value!r}")
    try:
        return _dt.datetime.fromtimestamp(value, UTC)
    except (OverflowError, ValueError, OSError) as err:
        raise MalformedCredential(f"the JWT claim {name} {value!r} is not a representable time") from err


def _check_claims(payload: dict) -> _Claims:
    """The credential's claims, with every required member checked. Raises MalformedCredential."""
    for claim in ("vc", "vp"):
        # VC-JOSE-COSE §3.1.2: the payload is the credential itself, never wrapped.
        _require(claim not in payload, f"the JWT claim {claim!r} must not be present (VC-JOSE-COSE §3.1.2)")
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
    if "iss" in payload:
        # VC-JOSE-COSE §3.1.2: iss must not contradict issuer; two issuers is no credential.
        _require(payload["iss"] == issuer,
                 f"the JWT claim iss {payload['iss']!r} differs from the credential's issuer {issuer}")
    not_before, expires = _numeric_date(payload, "nbf"), _numeric_date(payload, "exp")
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
    ignored = 0
    for entry in raw_status:
        _require(isinstance(entry, dict), "credentialStatus entries must be objects")
        purpose = entry.get("statusPurpose")
        if entry.get("type") != STATUS_ENTRY_TYPE or purpose not in STATUS_PURPOSES:
            # VC 2.0 §4.10 lets a credential carry status methods a verifier does not know; only
            # ours are checked (and both are required below).
            ignored += 1
            continue
        index = entry.get("statusListIndex")
        _require(isinstance(index, str) and index.isascii() and index.isdigit() and len(index) <= 9,
                 "statusListIndex must be a decimal string")
        url = entry.get("statusListCredential")
        _require(isinstance(url, str) and url.startswith(("https://", "http://")),
                 "statusListCredential must be an http(s) URL")
        refs.append(_StatusRef(purpose, int(index), url))
    purposes = {r.purpose for r in refs}
    _require(purposes == set(STATUS_PURPOSES),
             f"credentialStatus must have a revocation and a suspension {STATUS_ENTRY_TYPE}")
    return _Claims(cid, kind, issuer, valid_from, valid_until, subject, product["category"], tuple(refs),
                   not_before, expires, ignored)


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
    the resolvers in ``verifier``). *now* (default: the current time) is the time validity is judged at.

    Checks, in order: ``structure`` (MALFORMED), ``issuer`` (UNKNOWN_ISSUER), ``key``
    (UNKNOWN_KEY), ``signature`` (SIGNATURE_INVALID), ``accreditation``
    (ISSUER_NOT_ACCREDITED, OUT_OF_SCOPE), ``validity`` (NOT_YET_VALID, EXPIRED), ``status``
    (REVOKED, SUSPENDED, STATUS_UNAVAILABLE) and ``grade`` (GRADE_MISMATCH). Until the
    signature has verified, the claims are unauthenticated, so a failure in the first four
    checks marks the remaining ones as skipped; the last four always all run. A trust list
    that cannot be obtained fails ``issuer`` with STATUS_UNAVAILABLE.

    Raises:
        Nothing for bad input or a failed verification (that is the result). Exceptions other
        than :class:`~verifier.VerifierError` and ``OSError`` raised by a custom
        resolver propagate.
    """
    now = utcnow() if now is None else as_utc(now)
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
        compact = parse_compact(extract_token(token_or_qr))
        result.header = compact.header
        result.credential = compact.payload
        check_jose_header(compact.header, typ="vc+jwt", cty="vc")
        claims = _check_claims(compact.payload)
    except MalformedCredential as err:
        fail("structure", err.code, err.message)
        return stop("the credential is malformed")
    header = compact.header
    ignored = (f"; ignored {claims.ignored_status} credentialStatus entries of a type or purpose not checked"
               if claims.ignored_status else "")
    checks.append(Check("structure", True,
                        f"{claims.kind} credential {claims.id} (vc+jwt, {header['alg']}){ignored}"))

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
            verify_signature(compact, public_key)
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
    nbf, exp = claims.not_before, claims.expires
    if now < claims.valid_from:
        fail("validity", "NOT_YET_VALID", f"not valid before {vf}")
    elif nbf is not None and now < nbf:
        fail("validity", "NOT_YET_VALID", f"the JWT is not valid before {format_time(nbf)} (nbf)")
    elif now >= claims.valid_until:
        fail("validity", "EXPIRED", f"expired at {vu}")
    elif exp is not None and now >= exp:
        fail("validity", "EXPIRED", f"the JWT expired at {format_time(exp)} (exp)")
    else:
        jwt_window = "".join([f", nbf {format_time(nbf)}" if nbf else "", f", exp {format_time(exp)}" if exp else ""])
        checks.append(Check("validity", True, f"valid from {vf} until {vu}{jwt_window}"))

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
        if not snap.serves(ref.purpose):
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


