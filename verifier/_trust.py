"""The registry's trust list and the other objects the registry key signs.

The trust list (``GET <base>/trust-list``, header ``typ: trust-list+jwt``) names the accredited
certification bodies, their accreditations (periods, certificate types, product categories),
interruptions (suspensions, withdrawals) and every key each body has had with its active
period. It is signed by the registry key published at ``<base>/.well-known/jwks.json``;
:func:`verify_trust_list` checks that signature (algorithm pinned from the key type) and the
``exp`` claim, and returns a :class:`TrustList` whose lookups are plain dictionary reads.
"""

from __future__ import annotations

import datetime as _dt
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Mapping

from ._base import CONTEXT_PATH, KIND_TYPES, STATUS_PURPOSES, format_time, parse_time, utcnow
from ._jose import (
    alg_for_key,
    check_jose_header,
    jwk_fingerprint,
    key_from_jwk,
    parse_compact,
    public_jwk,
    verify_signature,
)
from ._errors import (
    MalformedCredential,
    StatusUnavailable,
    TrustListUnavailable,
    UnknownKey,
    UnsupportedKey,
    VerifierError,
)

__all__ = [
    "TrustList",
    "TrustedBody",
    "TrustedKey",
    "Accreditation",
    "Interruption",
    "verify_registry_jws",
    "verify_trust_list",
    "verify_status_list_credential",
    "status_purposes",
    "registry_key",
    "did_web",
    "registry_did",
    "body_did",
    "jwks_entry",
    "trust_list_key",
    "accreditation_entry",
    "interruption_entry",
    "trust_list_body",
    "build_trust_list",
    "build_did_document",
    "DID_CONTEXTS",
]

UTC = _dt.timezone.utc
#: Clock skew tolerated on registry-signed objects' ``validFrom``/``iat`` (not on credentials).
LEEWAY = _dt.timedelta(minutes=5)


def _fmt(t: _dt.datetime | None) -> str:
    return format_time(t) if t is not None else "—"


@dataclass(frozen=True, slots=True)
class Accreditation:
    """One accreditation of a body: a period and a scope."""

    number: str
    valid_from: _dt.datetime
    valid_until: _dt.datetime
    certificate_types: frozenset[str]
    product_categories: frozenset[str]

    def valid_at(self, t: _dt.datetime) -> bool:
        """``validFrom ≤ t < validUntil``. Raises nothing."""
        return self.valid_from <= t < self.valid_until


@dataclass(frozen=True, slots=True)
class Interruption:
    """A suspension or withdrawal of a body; ``end`` None means still in force."""

    status: str
    start: _dt.datetime
    end: _dt.datetime | None
    reason: str

    def covers(self, t: _dt.datetime) -> bool:
        """``from ≤ t < until`` (``until`` None: no end). Raises nothing."""
        return self.start <= t and (self.end is None or t < self.end)


@dataclass(slots=True)
class TrustedKey:
    """A body key from the trust list with its active period."""

    kid: str
    body_did: str
    alg: str
    jwk: dict
    active_from: _dt.datetime
    active_until: _dt.datetime | None
    fingerprint: tuple = field(default=())
    _public_key: Any = field(default=None, repr=False)

    def active_at(self, t: _dt.datetime) -> bool:
        """``activeFrom ≤ t < activeUntil`` (``activeUntil`` None: still active). Raises nothing."""
        return self.active_from <= t and (self.active_until is None or t < self.active_until)

    def period(self) -> str:
        """The active period as text. Raises nothing."""
        until = format_time(self.active_until) if self.active_until else "now"
        return f"{format_time(self.active_from)} – {until}"

    @property
    def public_key(self) -> Any:
        """The parsed public key (parsed once).

        Raises:
            UnsupportedKey: the JWK is not an Ed25519 or P-256 public key.
        """
        if self._public_key is None:
            self._public_key = key_from_jwk(self.jwk)
        return self._public_key


@dataclass(frozen=True, slots=True)
class TrustedBody:
    """An accredited certification body as the trust list describes it."""

    id: str
    did: str
    name: str
    name_zh: str | None
    country: str | None
    status: str
    accreditations: tuple[Accreditation, ...]
    interruptions: tuple[Interruption, ...]
    keys: tuple[TrustedKey, ...]


def _malformed(message: str) -> TrustListUnavailable:
    return TrustListUnavailable(f"malformed trust list: {message}")


def _time(value: Any, where: str, *, optional: bool = False) -> _dt.datetime | None:
    if value is None and optional:
        return None
    try:
        return parse_time(value)
    except ValueError as err:
        raise _malformed(f"{where}: {err}") from err


def _safe_fingerprint(jwk: dict) -> tuple:
    """The JWK fingerprint, or () for a JWK the verifier cannot use (refused when used: UNKNOWN_KEY)."""
    try:
        return jwk_fingerprint(jwk)
    except UnsupportedKey:
        return ()


def _list(value: Any, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _malformed(f"{where} must be a list")
    return value


def _str_set(value: Any, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _malformed(f"{where} must be a list of strings")
    return frozenset(value)


class TrustList:
    """A verified trust-list payload, indexed for lookups.

    Build it with :func:`verify_trust_list` from the signed JWS, or directly from a payload
    the caller already trusts (the registry building its own, tests).
    """

    def __init__(self, payload: Mapping[str, Any]) -> None:
        """Index *payload* (the trust-list JSON of ``docs/formats.md``).

        Raises:
            TrustListUnavailable: the payload does not have the documented shape.
        """
        if not isinstance(payload, Mapping):
            raise _malformed("payload is not an object")
        self.payload = payload
        registry = payload.get("registry") or {}
        if not isinstance(registry, Mapping):
            raise _malformed("registry must be an object")
        self.registry_did: str | None = registry.get("did") or payload.get("iss")
        self.public_url: str | None = registry.get("publicUrl")
        iat, exp = payload.get("iat"), payload.get("exp")
        for name, value in (("iat", iat), ("exp", exp)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise _malformed(f"{name} must be a NumericDate")
        try:
            self.issued_at = _dt.datetime.fromtimestamp(iat, UTC) if iat is not None else None
            self.expires_at = _dt.datetime.fromtimestamp(exp, UTC) if exp is not None else None
        except (OverflowError, OSError, ValueError) as err:
            raise _malformed(f"iat/exp out of range: {err}") from err
        bodies = payload.get("bodies")
        if not isinstance(bodies, list):
            raise _malformed("bodies must be a list")
        self._bodies: dict[str, TrustedBody] = {}
        self._keys: dict[str, TrustedKey] = {}
        for i, raw in enumerate(bodies):
            body = self._parse_body(raw, f"bodies[{i}]")
            if body.did in self._bodies:
                raise _malformed(f"body {body.did} is listed twice")
            self._bodies[body.did] = body
            for key in body.keys:
                if key.kid in self._keys:
                    raise _malformed(f"key {key.kid} is listed twice")
                self._keys[key.kid] = key

    def _parse_body(self, raw: Any, where: str) -> TrustedBody:
        if not isinstance(raw, Mapping):
            raise _malformed(f"{where} must be an object")
        did = raw.get("did")
        if not isinstance(did, str) or not did.startswith("did:"):
            raise _malformed(f"{where}.did must be a DID")
        name = raw.get("name")
        if not isinstance(name, str):
            raise _malformed(f"{where}.name is required")
        accreditations = []
        for j, a in enumerate(_list(raw.get("accreditations"), f"{where}.accreditations")):
            w = f"{where}.accreditations[{j}]"
            if not isinstance(a, Mapping):
                raise _malformed(f"{w} must be an object")
            accreditations.append(Accreditation(
                number=str(a.get("number", "")),
                valid_from=_time(a.get("validFrom"), f"{w}.validFrom"),
                valid_until=_time(a.get("validUntil"), f"{w}.validUntil"),
                certificate_types=_str_set(a.get("certificateTypes"), f"{w}.certificateTypes"),
                product_categories=_str_set(a.get("productCategories"), f"{w}.productCategories"),
            ))
        interruptions = []
        for j, it in enumerate(_list(raw.get("interruptions"), f"{where}.interruptions")):
            w = f"{where}.interruptions[{j}]"
            if not isinstance(it, Mapping) or it.get("status") not in ("suspended", "withdrawn"):
                raise _malformed(f"{w} must be an object with status suspended or withdrawn")
            interruptions.append(Interruption(
                status=it["status"],
                start=_time(it.get("from"), f"{w}.from"),
                end=_time(it.get("until"), f"{w}.until", optional=True),
                reason=str(it.get("reason") or ""),
            ))
        keys = []
        for j, k in enumerate(_list(raw.get("keys"), f"{where}.keys")):
            w = f"{where}.keys[{j}]"
            if not isinstance(k, Mapping):
                raise _malformed(f"{w} must be an object")
            kid = k.get("kid")
            if not isinstance(kid, str) or not kid.startswith(did + "#"):
                raise _malformed(f"{w}.kid must be '{did}#<key id>'")
            jwk = k.get("jwk")
            if not isinstance(jwk, dict):
                raise _malformed(f"{w}.jwk must be an object")
            keys.append(TrustedKey(
                kid=kid,
                body_did=did,
                alg=str(k.get("alg", "")),
                jwk=jwk,
                active_from=_time(k.get("activeFrom"), f"{w}.activeFrom"),
                active_until=_time(k.get("activeUntil"), f"{w}.activeUntil", optional=True),
                fingerprint=_safe_fingerprint(jwk),
            ))
        return TrustedBody(
            id=str(raw.get("id", "")),
            did=did,
            name=name,
            name_zh=raw.get("nameZh"),
            country=raw.get("country"),
            status=str(raw.get("status", "")),
            accreditations=tuple(accreditations),
            interruptions=tuple(interruptions),
            keys=tuple(keys),
        )

    @property
    def bodies(self) -> list[TrustedBody]:
        """Every body, in trust-list order. Raises nothing."""
        return list(self._bodies.values())

    def body(self, did: str) -> TrustedBody | None:
        """The body with this DID, or None. Raises nothing."""
        return self._bodies.get(did)

    def key(self, kid: str) -> TrustedKey | None:
        """The body key with this kid (``<body DID>#key-N``), or None. Raises nothing."""
        return self._keys.get(kid)

    def expired(self, now: _dt.datetime | None = None) -> bool:
        """True when the trust list's ``exp`` has passed. Raises nothing."""
        return self.expires_at is not None and (now or utcnow()) >= self.expires_at

    def accredited_at(
        self, did: str, t: _dt.datetime, kind: str, category: str
    ) -> tuple[bool, str | None, str]:
        """Whether body *did* was accredited at *t* for certificate *kind* and product *category*.

        Returns ``(ok, code, detail)``; *code* is None when ok, else ``UNKNOWN_ISSUER``,
        ``ISSUER_NOT_ACCREDITED`` (an interruption covers *t*, or no accreditation was valid at
        *t*) or ``OUT_OF_SCOPE`` (accredited at *t*, but not for *kind* or *category*).
        Raises nothing.
        """
        body = self._bodies.get(did)
        if body is None:
            return False, "UNKNOWN_ISSUER", f"{did} is not in the trust list"
        at = format_time(t)
        for it in body.interruptions:
            if it.covers(t):
                until = f"until {format_time(it.end)}" if it.end else "with no end yet"
                why = f": {it.reason}" if it.reason else ""
                return (False, "ISSUER_NOT_ACCREDITED",
                        f"{body.name} was {it.status} from {format_time(it.start)} {until}{why}; "
                        f"the credential was issued at {at}")
        valid = [a for a in body.accreditations if a.valid_at(t)]
        if not valid:
            return (False, "ISSUER_NOT_ACCREDITED",
                    f"{body.name} held no accreditation valid at {at}, when the credential was issued")
        # The last decision in force defines the scope (docs/formats.md): a later accreditation
        # narrows or widens what the body may certify from its validFrom on.
        a = valid[-1]
        if kind in a.certificate_types and category in a.product_categories:
            return True, None, f"accredited under {a.number} for {kind} / {category} at {at}"
        problems = []
        if kind not in a.certificate_types:
            problems.append(f"certificate type {kind!r} (scope: {', '.join(sorted(a.certificate_types)) or 'none'})")
        if category not in a.product_categories:
            cats = ", ".join(sorted(a.product_categories)) or "none"
            problems.append(f"product category {category!r} (scope: {cats})")
        numbers = a.number
        return (False, "OUT_OF_SCOPE",
                f"{' and '.join(problems)} outside the accreditation {numbers} of {body.name} at {at}")


# --------------------------------------------------------------------------------------------
# Registry-signed objects


def registry_key(registry_jwks: Mapping[str, Any], kid: str) -> Any:
    """The public key with this *kid* in the registry JWKS ``{"keys": [...]}``.

    Raises:
        UnknownKey: no key with this kid (or the JWKS has no ``keys`` list).
        UnsupportedKey: the key is not an Ed25519 or P-256 public key.
    """
    keys = registry_jwks.get("keys") if isinstance(registry_jwks, Mapping) else None
    if not isinstance(keys, list):
        raise UnknownKey("registry JWKS has no 'keys' list")
    for jwk in keys:
        if isinstance(jwk, dict) and jwk.get("kid") == kid:
            return key_from_jwk(jwk)
    raise UnknownKey(f"key {kid} is not in the registry JWKS")


def verify_registry_jws(
    jws: str | bytes, registry_jwks: Mapping[str, Any], *, typ: str, cty: str | None = None
) -> tuple[dict, dict]:
    """Verify a compact JWS signed by a registry key; return ``(header, payload)``.

    The key is found by the header ``kid`` in *registry_jwks*, the algorithm is pinned from
    its type, and ``typ`` (and ``cty`` when given) must match.

    Raises:
        MalformedCredential: not a compact JWS of the expected shape.
        UnknownKey: the kid is not in the JWKS (UnsupportedKey: it is not a supported key).
        SignatureInvalid: the signature does not verify, or the header alg is not the pinned one.
    """
    if isinstance(jws, (bytes, bytearray)):
        try:
            jws = bytes(jws).decode("ascii")
        except UnicodeDecodeError as err:
            raise MalformedCredential("JWS is not ASCII") from err
    compact = parse_compact(jws.strip())
    check_jose_header(compact.header, typ=typ, cty=cty)
    key = registry_key(registry_jwks, compact.header["kid"])
    verify_signature(compact, key)
    return compact.header, compact.payload


def verify_trust_list(
    jws: str | bytes, registry_jwks: Mapping[str, Any], *, now: _dt.datetime | None = None
) -> TrustList:
    """Verify the signed trust list against the pinned registry JWKS and index it.

    Checks the registry signature (typ ``trust-list+jwt``), that ``iss`` is the registry DID
    of the signing key, and that ``exp`` has not passed.

    Raises:
        TrustListUnavailable: bad signature, unknown registry key, wrong typ, malformed
            payload, or expired (the message says which, and when it expired).
    """
    now = utcnow() if now is None else now
    try:
        header, payload = verify_registry_jws(jws, registry_jwks, typ="trust-list+jwt")
    except VerifierError as err:
        raise TrustListUnavailable(f"trust list did not verify: {err}") from err
    signer_did = header["kid"].split("#", 1)[0]
    if payload.get("iss") != signer_did:
        raise TrustListUnavailable(
            f"trust list iss {payload.get('iss')!r} is not the signing registry {signer_did}")
    exp = payload.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        raise TrustListUnavailable("trust list has no exp")
    trust = TrustList(payload)
    if trust.registry_did != signer_did:
        raise TrustListUnavailable(
            f"trust list names registry {trust.registry_did!r}, but {signer_did} signed it")
    if trust.expired(now):
        raise TrustListUnavailable(
            f"trust list expired at {format_time(trust.expires_at)} (issued "
            f"{_fmt(trust.issued_at)}); fetch a fresh one from the registry")
    return trust


def status_purposes(subject: Mapping[str, Any]) -> tuple[str, ...]:
    """The ``statusPurpose`` of a ``BitstringStatusList`` subject: one string or a list of them
    (Bitstring Status List §2.2), as a tuple; empty when it is neither. Raises nothing."""
    value = subject.get("statusPurpose")
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    return ()


def verify_status_list_credential(
    jws: str | bytes,
    registry_jwks: Mapping[str, Any],
    *,
    url: str | None = None,
    now: _dt.datetime | None = None,
) -> dict:
    """Verify a Bitstring Status List credential signed by the registry; return its payload.

    Checks the registry signature (typ ``vc+jwt``, cty ``vc``), the credential type, that the
    issuer is the signing registry, that ``id`` is *url* (when given), the purpose, that
    ``encodedList`` is present, and the validity period (``validUntil`` passed → unavailable).

    Raises:
        StatusUnavailable: any of the above fails (the message says which).
    """
    now = utcnow() if now is None else now
    where = f"status list {url}" if url else "status list"
    try:
        header, payload = verify_registry_jws(jws, registry_jwks, typ="vc+jwt", cty="vc")
    except VerifierError as err:
        raise StatusUnavailable(f"{where} did not verify: {err}") from err
    signer_did = header["kid"].split("#", 1)[0]
    types = payload.get("type")
    if not isinstance(types, list) or "BitstringStatusListCredential" not in types:
        raise StatusUnavailable(f"{where} is not a BitstringStatusListCredential")
    if payload.get("issuer") != signer_did:
        raise StatusUnavailable(f"{where} issuer {payload.get('issuer')!r} is not the registry {signer_did}")
    if url is not None and payload.get("id") != url:
        raise StatusUnavailable(f"{where} has id {payload.get('id')!r}")
    subject = payload.get("credentialSubject")
    if not isinstance(subject, dict) or subject.get("type") != "BitstringStatusList":
        raise StatusUnavailable(f"{where} credentialSubject is not a BitstringStatusList")
    if not set(status_purposes(subject)) & set(STATUS_PURPOSES):
        raise StatusUnavailable(f"{where} has no known statusPurpose in {subject.get('statusPurpose')!r}")
    if not isinstance(subject.get("encodedList"), str):
        raise StatusUnavailable(f"{where} has no encodedList")
    try:
        valid_from = parse_time(payload.get("validFrom")) if payload.get("validFrom") else None
        valid_until = parse_time(payload.get("validUntil")) if payload.get("validUntil") else None
    except ValueError as err:
        raise StatusUnavailable(f"{where}: {err}") from err
    if valid_from is not None and now + LEEWAY < valid_from:
        raise StatusUnavailable(f"{where} is not valid before {format_time(valid_from)}")
    if valid_until is not None and now >= valid_until:
        raise StatusUnavailable(f"{where} expired at {format_time(valid_until)}; fetch a fresh one")
    return payload


# --------------------------------------------------------------------------------------------
# Building what the registry publishes (the one definition of these formats)

#: The standard part of a DID document's ``@context``: DID Core 1.0, then Controlled Identifiers
#: 1.0, which defines ``JsonWebKey`` and ``publicKeyJwk`` (VC-JOSE-COSE §3.3). The carbon-label
#: context follows them, for ``activeFrom`` and ``activeUntil``.
DID_CONTEXTS = ["https://www.w3.org/ns/did/v1", "https://www.w3.org/ns/cid/v1"]
#: The verification method type VC-JOSE-COSE §3.3 requires.
VERIFICATION_METHOD_TYPE = "JsonWebKey"


def did_web(public_url: str, *path: str) -> str:
    """The ``did:web`` DID for *public_url* and optional path segments (a port is written ``%3A``).

    ``did_web("http://localhost:5000", "bodies", "b1")`` → ``did:web:localhost%3A5000:bodies:b1``.

    Raises:
        ValueError: *public_url* is not an http(s) URL with a host, or has a path.
    """
    parts = urllib.parse.urlsplit(public_url.rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {public_url!r}")
    if parts.path not in ("", "/"):
        raise ValueError(f"the public URL must not have a path: {public_url!r}")
    host = parts.hostname + (f"%3A{parts.port}" if parts.port else "")
    return ":".join(["did:web", host, *(urllib.parse.quote(p, safe="") for p in path)])


def registry_did(public_url: str) -> str:
    """The registry's DID, ``did:web:<host>``. Raises ValueError as :func:`did_web`."""
    return did_web(public_url)


def body_did(public_url: str, body_id: str) -> str:
    """A body's DID, ``did:web:<host>:bodies:<bodyId>``. Raises ValueError as :func:`did_web`."""
    return did_web(public_url, "bodies", str(body_id))


def jwks_entry(public_key: Any, kid: str) -> dict:
    """One key of ``/.well-known/jwks.json``: the public JWK with ``kid``, ``alg`` and ``use: sig``.

    Raises:
        UnsupportedKey: not an Ed25519 or P-256 key.
    """
    return {**public_jwk(public_key), "kid": kid, "alg": alg_for_key(public_key), "use": "sig"}


def _opt_time(t: _dt.datetime | None) -> str | None:
    return format_time(t) if t is not None else None


def trust_list_key(*, kid: str, public_key: Any, active_from: _dt.datetime,
                   active_until: _dt.datetime | None = None) -> dict:
    """A body key entry of the trust list ``{kid, alg, jwk, activeFrom, activeUntil}``.

    Raises:
        UnsupportedKey: not an Ed25519 or P-256 key.
    """
    return {"kid": kid, "alg": alg_for_key(public_key), "jwk": public_jwk(public_key),
            "activeFrom": format_time(active_from), "activeUntil": _opt_time(active_until)}


def accreditation_entry(*, number: str, valid_from: _dt.datetime, valid_until: _dt.datetime,
                        certificate_types: list[str], product_categories: list[str]) -> dict:
    """An accreditation entry of the trust list.

    Raises:
        ValueError: an unknown certificate type, or *valid_until* not after *valid_from*.
    """
    unknown = sorted(set(certificate_types) - set(KIND_TYPES))
    if unknown:
        raise ValueError(f"unknown certificate types {unknown}")
    if format_time(valid_until) <= format_time(valid_from):
        raise ValueError("validUntil must be after validFrom")
    return {"number": number, "validFrom": format_time(valid_from), "validUntil": format_time(valid_until),
            "certificateTypes": list(certificate_types), "productCategories": list(product_categories)}


def interruption_entry(*, status: str, start: _dt.datetime, end: _dt.datetime | None = None,
                       reason: str = "") -> dict:
    """An interruption entry ``{status, from, until, reason}`` (``until`` None: still in force).

    Raises:
        ValueError: *status* is not ``suspended`` or ``withdrawn``.
    """
    if status not in ("suspended", "withdrawn"):
        raise ValueError(f"interruption status must be suspended or withdrawn, not {status!r}")
    return {"status": status, "from": format_time(start), "until": _opt_time(end), "reason": reason}


def trust_list_body(*, id: str, did: str, name: str, country: str, status: str,
                    accreditations: list[dict], interruptions: list[dict], keys: list[dict],
                    name_zh: str | None = None) -> dict:
    """A body entry of the trust list (entries from the helpers above).

    Raises:
        ValueError: *status* is not ``active``, ``suspended`` or ``withdrawn``.
    """
    if status not in ("active", "suspended", "withdrawn"):
        raise ValueError(f"body status must be active, suspended or withdrawn, not {status!r}")
    body = {"id": str(id), "did": did, "name": name, "nameZh": name_zh, "country": country, "status": status,
            "accreditations": accreditations, "interruptions": interruptions, "keys": keys}
    if name_zh is None:
        del body["nameZh"]
    return body


def build_trust_list(*, public_url: str, bodies: list[dict], issued_at: _dt.datetime,
                     expires_at: _dt.datetime) -> dict:
    """The trust-list payload the registry signs (``typ: trust-list+jwt``), as ``docs/formats.md``.

    Raises:
        ValueError: *expires_at* not after *issued_at*, a bad *public_url*, or bodies that do
            not form a valid trust list (checked by parsing the result with :class:`TrustList`).
    """
    if expires_at <= issued_at:
        raise ValueError("exp must be after iat")
    did = registry_did(public_url)
    payload = {"iss": did, "iat": int(issued_at.timestamp()), "exp": int(expires_at.timestamp()),
               "registry": {"did": did, "publicUrl": public_url.rstrip("/")}, "bodies": bodies}
    try:
        TrustList(payload)
    except TrustListUnavailable as err:
        raise ValueError(str(err)) from err
    return payload


def build_did_document(*, did: str, keys: list[dict], current_kid: str | None = None,
                       context: str | None = None) -> dict:
    """A ``did:web`` document (JSON-LD, ``application/did+ld+json``) listing every key the owner
    ever had (``keys`` are :func:`trust_list_key` entries) as a ``JsonWebKey`` verification method
    with ``publicKeyJwk`` and its active period (``activeFrom``, and ``activeUntil`` once retired).

    Every key stays in ``assertionMethod``, retired ones too: what a key signed while it was
    active stays valid, and a verifier decides by the key's period, not by its being current.
    *current_kid*, when given, is listed first. *context* is the URL of the carbon-label context
    defining ``activeFrom``/``activeUntil`` (:func:`context_url`); by default the one at the
    ``https`` origin the did:web names.

    Raises:
        ValueError: a key id not under *did*, *current_kid* not among the keys, or (without
            *context*) *did* not a ``did:web``.
    """
    methods = []
    for k in keys:
        if not k["kid"].startswith(did + "#"):
            raise ValueError(f"key {k['kid']} is not a key of {did}")
        method = {"id": k["kid"], "type": VERIFICATION_METHOD_TYPE, "controller": did, "publicKeyJwk": k["jwk"],
                  "activeFrom": k["activeFrom"]}
        if k.get("activeUntil"):
            method["activeUntil"] = k["activeUntil"]
        methods.append(method)
    kids = [m["id"] for m in methods]
    if current_kid is not None:
        if current_kid not in kids:
            raise ValueError(f"current key {current_kid} is not among the keys")
        kids = [current_kid, *(k for k in kids if k != current_kid)]
    if context is None:
        if not did.startswith("did:web:"):
            raise ValueError(f"not a did:web: {did!r}")
        host = urllib.parse.unquote(did.split(":")[2])
        context = f"https://{host}{CONTEXT_PATH}"
    return {"@context": [*DID_CONTEXTS, context], "id": did, "controller": did, "verificationMethod": methods,
            "assertionMethod": kids}
