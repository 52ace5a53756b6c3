"""A small registry world with real keys: a registry key, certification bodies with rotated keys,
a signed trust list, signed status lists, credentials, and a fake network that serves them.

Nothing in the verifier is mocked; only HTTP is replaced (``World.fetch``).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from verifier import (
    build_credential,
    build_status_list_credential,
    encode_list,
    format_time,
    jws_header,
    public_jwk,
    status_entry,
)
from verifier import LIST_SIZE, alg_for_key

UTC = dt.timezone.utc
BASE = "https://labels.test"
REGISTRY_DID = "did:web:labels.test"
REGISTRY_KID = f"{REGISTRY_DID}#key-1"
DAY = dt.timedelta(days=1)


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(payload: dict, key: Any, header: dict) -> str:
    """A compact JWS as the registry signs it (pyjwt, real key)."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return jwt.PyJWS().encode(body, key, algorithm=header["alg"], headers=header)


def body_did(name: str) -> str:
    return f"{REGISTRY_DID}:bodies:{name}"


@dataclass
class BodyKey:
    kid: str
    private: Any
    active_from: dt.datetime
    active_until: dt.datetime | None

    @property
    def alg(self) -> str:
        return alg_for_key(self.private)


@dataclass
class Body:
    name: str
    keys: list[BodyKey]
    accreditations: list[dict]
    interruptions: list[dict] = field(default_factory=list)
    status: str = "active"

    @property
    def did(self) -> str:
        return body_did(self.name)

    def entry(self) -> dict:
        return {
            "id": self.name,
            "did": self.did,
            "name": f"{self.name.upper()} Certification",
            "nameZh": "认证中心",
            "country": "CN",
            "status": self.status,
            "accreditations": self.accreditations,
            "interruptions": self.interruptions,
            "keys": [
                {"kid": k.kid, "alg": k.alg, "jwk": public_jwk(k.private),
                 "activeFrom": format_time(k.active_from),
                 "activeUntil": format_time(k.active_until) if k.active_until else None}
                for k in self.keys
            ],
        }


def footprint_subject(*, pcf: str = "0.82", benchmark: str | None = "1.00", grade: str | None = "B",
                      category: str = "cement", number: str = "CQC-2026-000123") -> dict:
    subject = {
        "certificateNumber": number,
        "product": {"name": "P.O 42.5 cement", "nameZh": "普通硅酸盐水泥 P.O 42.5", "category": category,
                    "gtin": "06901234567892", "model": "PO42.5",
                    "manufacturer": {"name": "Example Cement Co.", "id": "urn:uscc:91310000XXXXXXXXXX"}},
        "footprint": {"declaredUnitOfMeasurement": "kilogram", "declaredUnitAmount": "1",
                      "pcfExcludingBiogenicUptake": pcf, "pcfIncludingBiogenicUptake": pcf,
                      "referencePeriodStart": "2025-01-01T00:00:00Z",
                      "referencePeriodEnd": "2025-12-31T23:59:59Z",
                      "boundary": "cradle-to-gate", "ipccCharacterizationFactors": ["AR6"],
                      "crossSectoralStandards": ["ISO14067"],
                      "stages": {"rawMaterialAcquisition": "0.10", "rawMaterialTransport": "0.02",
                                 "manufacturing": "0.70", "distribution": None, "use": None,
                                 "endOfLife": None},
                      "gases": {"CO2": "0.80", "CH4": "0.01", "N2O": "0.01"}},
        "benchmark": {"value": benchmark, "standard": "GB 16780-2021", "source": "CNCA"} if benchmark else None,
        "grade": {"scheme": "cn-carbon-label", "schemeVersion": "1", "value": grade},
    }
    return subject


class World:
    """Everything a verifier needs to see, built with real keys relative to *now*."""

    def __init__(self, now: dt.datetime | None = None) -> None:
        self.now = now or dt.datetime.now(UTC).replace(microsecond=0)
        n = self.now
        self.registry_key = ed25519.Ed25519PrivateKey.generate()
        self.registry_kid = REGISTRY_KID
        all_kinds = ["carbon-footprint", "low-carbon", "reduced-carbon"]
        accreditation = {"number": "CNCA-R-2021-001", "validFrom": format_time(n - 800 * DAY),
                         "validUntil": format_time(n + 800 * DAY),
                         "certificateTypes": all_kinds, "productCategories": ["cement", "flat-glass"]}
        # "cqc": key-1 (Ed25519) until 100 days ago, then key-2 (P-256).
        self.cqc = Body("cqc", [
            BodyKey(f"{body_did('cqc')}#key-1", ed25519.Ed25519PrivateKey.generate(), n - 700 * DAY, n - 100 * DAY),
            BodyKey(f"{body_did('cqc')}#key-2", ec.generate_private_key(ec.SECP256R1()), n - 100 * DAY, None),
        ], [accreditation])
        # "paused": suspended from 30 to 20 days ago.
        self.paused = Body("paused", [
            BodyKey(f"{body_did('paused')}#key-1", ed25519.Ed25519PrivateKey.generate(), n - 700 * DAY, None),
        ], [dict(accreditation, number="CNCA-R-2022-007")], interruptions=[
            {"status": "suspended", "from": format_time(n - 30 * DAY), "until": format_time(n - 20 * DAY),
             "reason": "surveillance audit findings"}])
        # "rogue": a body with a key, not in the trust list.
        self.rogue = Body("rogue", [
            BodyKey(f"{body_did('rogue')}#key-1", ed25519.Ed25519PrivateKey.generate(), n - 700 * DAY, None),
        ], [accreditation])
        self.bodies = [self.cqc, self.paused]
        self.revocation = bytearray(LIST_SIZE // 8)
        self.suspension = bytearray(LIST_SIZE // 8)
        self.next_index = 1
        self.trust_exp = n + DAY
        self.status_valid_until = n + 2 * DAY
        self.requests: list[tuple[str, dict]] = []
        self.extra_routes: dict[str, tuple[int, dict, bytes]] = {}
        self.certificates: dict[str, str] = {}

    # -- registry objects --------------------------------------------------------------------

    @property
    def jwks(self) -> dict:
        return {"keys": [dict(public_jwk(self.registry_key), kid=self.registry_kid, alg="EdDSA", use="sig")]}

    def trust_payload(self) -> dict:
        return {"iss": REGISTRY_DID, "iat": int((self.now - dt.timedelta(hours=1)).timestamp()),
                "exp": int(self.trust_exp.timestamp()),
                "registry": {"did": REGISTRY_DID, "publicUrl": BASE},
                "bodies": [b.entry() for b in self.bodies]}

    def trust_list_jws(self, *, key: Any = None, payload: dict | None = None, typ: str = "trust-list+jwt") -> str:
        key = key or self.registry_key
        header = jws_header(alg=alg_for_key(key), kid=self.registry_kid, typ=typ, cty=None)
        return sign(payload or self.trust_payload(), key, header)

    def status_list_jws(self, purpose: str, *, key: Any = None, valid_until: dt.datetime | None = None,
                        url: str | None = None) -> str:
        list_id = "r1" if purpose == "revocation" else "s1"
        bits = self.revocation if purpose == "revocation" else self.suspension
        payload = build_status_list_credential(
            list_url=url or f"{BASE}/status/{list_id}", issuer=REGISTRY_DID, purpose=purpose,
            encoded_list=encode_list(bits), valid_from=self.now - DAY,
            valid_until=valid_until or self.status_valid_until)
        key = key or self.registry_key
        return sign(payload, key, jws_header(alg=alg_for_key(key), kid=self.registry_kid))

    def status_jws_map(self) -> dict[str, str]:
        return {f"{BASE}/status/r1": self.status_list_jws("revocation"),
                f"{BASE}/status/s1": self.status_list_jws("suspension")}

    def resolver(self, **kw):
        from verifier import StaticResolver

        return StaticResolver.from_jws(registry_jwks=self.jwks, trust_list_jws=self.trust_list_jws(),
                                       status_list_jws=self.status_jws_map(), now=self.now, **kw)

    # -- credentials -------------------------------------------------------------------------

    def payload(self, *, body: Body | None = None, kind: str = "carbon-footprint",
                valid_from: dt.datetime | None = None, valid_until: dt.datetime | None = None,
                subject: dict | None = None, index: int | None = None) -> dict:
        body = body or self.cqc
        if index is None:
            index, self.next_index = self.next_index, self.next_index + 1
        self.last_index = index
        cert_id = str(uuid.uuid4())
        return build_credential(
            certificate_id=cert_id, kind=kind, issuer=body.did,
            valid_from=valid_from or self.now - DAY,
            valid_until=valid_until or self.now + 700 * DAY,
            subject=subject if subject is not None else footprint_subject(),
            status_entries=[status_entry(list_url=f"{BASE}/status/r1", index=index, purpose="revocation"),
                            status_entry(list_url=f"{BASE}/status/s1", index=index, purpose="suspension")],
            public_url=BASE)

    def issue(self, *, key: BodyKey | None = None, body: Body | None = None, payload: dict | None = None,
              **kw) -> str:
        body = body or self.cqc
        if payload is None:
            payload = self.payload(body=body, **kw)
        if key is None:
            vf = dt.datetime.fromisoformat(payload["validFrom"].replace("Z", "+00:00"))
            key = next(k for k in body.keys
                       if k.active_from <= vf and (k.active_until is None or vf < k.active_until))
        token = sign(payload, key.private, jws_header(alg=key.alg, kid=key.kid))
        self.certificates[payload["id"][9:]] = token
        return token

    # -- fake network ------------------------------------------------------------------------

    def routes(self) -> dict[str, tuple[int, dict, bytes]]:
        r = {
            f"{BASE}/.well-known/jwks.json": (200, {"Content-Type": "application/json",
                                                    "Cache-Control": "max-age=3600"},
                                              json.dumps(self.jwks).encode()),
            f"{BASE}/trust-list": (200, {"Content-Type": "application/jwt", "Cache-Control": "max-age=300"},
                                   self.trust_list_jws().encode()),
            f"{BASE}/status": (200, {"Content-Type": "application/json"},
                               json.dumps({"lists": [f"{BASE}/status/r1", f"{BASE}/status/s1"]}).encode()),
        }
        for url, jws in self.status_jws_map().items():
            r[url] = (200, {"Content-Type": "application/vc+jwt", "Cache-Control": "max-age=60"}, jws.encode())
        for cert_id, token in self.certificates.items():
            r[f"{BASE}/api/v1/certificates/{cert_id}"] = (
                200, {"Content-Type": "application/json"},
                json.dumps({"id": cert_id, "credential": token}).encode())
        r.update(self.extra_routes)
        return r

    def fetch(self, url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
        self.requests.append((url, dict(headers or {})))
        routes = self.routes()
        if url not in routes:
            return 404, {"Content-Type": "application/problem+json"}, b'{"status": 404}'
        status, resp_headers, body = routes[url]
        resp_headers = dict(resp_headers)
        if status == 200 and "ETag" not in resp_headers:
            resp_headers["ETag"] = '"%s"' % hashlib.sha256(body).hexdigest()[:16]
        etag = resp_headers.get("ETag")
        if etag and (headers or {}).get("If-None-Match") == etag:
            return 304, dict(resp_headers), b""
        return status, dict(resp_headers), body


def no_network(url: str, headers: dict | None = None):
    raise OSError(f"network disabled in this test: {url}")


def tamper_payload(token: str, change) -> str:
    h, p, s = token.split(".")
    payload = json.loads(b64d(p))
    change(payload)
    return ".".join([h, b64e(json.dumps(payload, separators=(",", ":")).encode()), s])


def tamper_header(token: str, change) -> str:
    h, p, s = token.split(".")
    header = json.loads(b64d(h))
    change(header)
    return ".".join([b64e(json.dumps(header, separators=(",", ":")).encode()), p, s])


def deep(obj):
    return copy.deepcopy(obj)
