"""OAuth client credentials and every way a token is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from registry import auth

from ..conftest import basic
from ..factories import bearer, make_body, make_category, make_operator, token_for

CATEGORY = {"name": "Flat glass", "nameZh": "平板玻璃", "declaredUnitOfMeasurement": "kilogram"}


def _b64(obj) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_operator_token_is_short_lived_pinned_jwt(client, session):
    client_id, secret = make_operator(session)
    resp = client.post("/auth/token", data={"grant_type": "client_credentials"},
                       headers={"Authorization": basic(client_id, secret)})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["token_type"] == "Bearer" and 0 < body["expires_in"] <= 3600
    assert resp.headers["Cache-Control"] == "no-store"
    header = jwt.get_unverified_header(body["access_token"])
    assert header["typ"] == "at+jwt" and header["alg"] == "EdDSA"
    jwks = client.get("/.well-known/jwks.json").get_json()
    key = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == header["kid"])).key
    claims = jwt.decode(body["access_token"], key, algorithms=["EdDSA"], audience="http://registry.test/api")
    assert claims["sub"] == client_id and claims["role"] == "operator"
    assert client.put("/api/v1/categories/flat-glass", json=CATEGORY,
                      headers=bearer(body["access_token"])).status_code == 201


@pytest.mark.parametrize("credentials", [("nobody", "x"), (None, "wrong-secret"), ("", "")])
def test_bad_client_credentials_are_invalid_client(client, session, credentials):
    real_id, _ = make_operator(session)
    client_id = real_id if credentials[0] is None else credentials[0]
    resp = client.post("/auth/token", data={"grant_type": "client_credentials"},
                       headers={"Authorization": basic(client_id, credentials[1])})
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "invalid_client" and resp.mimetype == "application/json"
    assert resp.headers["WWW-Authenticate"].startswith("Basic")


def test_token_endpoint_refusals(client, session):
    client_id, secret = make_operator(session)
    headers = {"Authorization": basic(client_id, secret)}
    assert client.post("/auth/token", data={}, headers=headers).get_json()["error"] == "invalid_request"
    resp = client.post("/auth/token", data={"grant_type": "password"}, headers=headers)
    assert resp.status_code == 400 and resp.get_json()["error"] == "unsupported_grant_type"
    resp = client.post("/auth/token", data={"grant_type": "client_credentials"})
    assert resp.status_code == 401
    resp = client.post("/auth/token", data={"grant_type": "client_credentials"},
                       headers={"Authorization": "Basic !!!notbase64"})
    assert resp.status_code == 401


def test_secret_is_stored_hashed(session):
    client, secret = auth.create_client(session, name="x", role="operator")
    assert secret not in client.secret_hash and len(client.secret_hash) == 64


def _operator_token(client, session):
    return token_for(client, *make_operator(session))


def hs256_with(secret: bytes, header: dict, claims: dict) -> str:
    """HS256 by hand: pyjwt itself refuses to use a public key as an HMAC secret."""
    signing_input = f"{_b64(header)}.{_b64(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _forged(header: dict, claims: dict, signature: bytes = b"") -> str:
    return f"{_b64(header)}.{_b64(claims)}.{_b64(signature) if signature else ''}"


def test_forged_tokens_are_refused(client, session):
    good = _operator_token(client, session)
    header = jwt.get_unverified_header(good)
    claims = jwt.decode(good, options={"verify_signature": False})
    jwks = client.get("/.well-known/jwks.json").get_json()
    public_jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    public_pem = jwt.PyJWK(public_jwk).key.public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    forged = {
        "alg-none": _forged({"alg": "none", "typ": "at+jwt", "kid": header["kid"]}, claims),
        # HMAC keyed with the public key: the classic algorithm-confusion attack.
        "hs256-public-key": hs256_with(public_pem, {"alg": "HS256", "typ": "at+jwt", "kid": header["kid"]}, claims),
        "hs256-public-jwk": hs256_with(json.dumps(public_jwk).encode(),
                                       {"alg": "HS256", "typ": "at+jwt", "kid": header["kid"]}, claims),
        "tampered-claims": ".".join([good.split(".")[0], _b64({**claims, "role": "operator", "sub": "x"}),
                                     good.split(".")[2]]),
        "other-key": jwt.encode(claims, ed25519.Ed25519PrivateKey.generate(), algorithm="EdDSA",
                                headers={"typ": "at+jwt", "kid": header["kid"]}),
        "unknown-kid": jwt.encode(claims, ed25519.Ed25519PrivateKey.generate(), algorithm="EdDSA",
                                  headers={"typ": "at+jwt", "kid": "did:web:evil#key-1"}),
        "wrong-typ": _forged({**header, "typ": "JWT"}, claims, b"x" * 64),
        "garbage": "not-a-jwt",
    }
    for name, token in forged.items():
        resp = client.put("/api/v1/categories/flat-glass", json=CATEGORY, headers=bearer(token))
        assert resp.status_code == 401, name
        assert resp.get_json()["type"].endswith("/invalid-token"), name
    assert client.put("/api/v1/categories/flat-glass", json=CATEGORY).status_code == 401


def test_expired_token_is_refused(app, client, session):
    app.config["ACCESS_TOKEN_TTL"] = 2
    token = _operator_token(client, session)
    # Accepted once (and so remembered as checked), then refused when it expires all the same.
    assert client.get("/api/v1/audit", headers=bearer(token)).status_code == 200
    time.sleep(3.1)
    resp = client.put("/api/v1/categories/flat-glass", json=CATEGORY, headers=bearer(token))
    assert resp.status_code == 401 and "expired" in resp.get_json()["detail"]
    fresh = _operator_token(client, session)
    assert client.get("/api/v1/audit", headers=bearer(fresh)).status_code == 200


def test_body_token_cannot_call_operator_endpoints(app, client, session):
    make_category(session)
    body, client_id, secret = make_body(session, app)
    token = token_for(client, client_id, secret)
    resp = client.put("/api/v1/categories/flat-glass", json=CATEGORY, headers=bearer(token))
    assert resp.status_code == 403 and resp.get_json()["type"].endswith("/wrong-role")
    resp = client.post(f"/api/v1/bodies/{body.id}/suspend", json={"reason": "self"}, headers=bearer(token))
    assert resp.status_code == 403


def test_suspended_or_withdrawn_body_gets_no_token(app, client, session):
    make_category(session)
    body, client_id, secret = make_body(session, app)
    op = bearer(_operator_token(client, session))
    assert client.post(f"/api/v1/bodies/{body.id}/suspend", json={"reason": "audit"}, headers=op).status_code == 200
    resp = client.post("/auth/token", data={"grant_type": "client_credentials"},
                       headers={"Authorization": basic(client_id, secret)})
    assert resp.status_code == 400 and resp.get_json()["error"] == "unauthorized_client"
    assert client.post(f"/api/v1/bodies/{body.id}/withdraw", json={"reason": "fraud"}, headers=op).status_code == 200
    resp = client.post("/auth/token", data={"grant_type": "client_credentials"},
                       headers={"Authorization": basic(client_id, secret)})
    assert resp.status_code == 401


def test_openid_configuration_names_token_endpoint(client):
    doc = client.get("/.well-known/openid-configuration").get_json()
    assert doc["token_endpoint"] == "http://registry.test/auth/token"
    assert doc["grant_types_supported"] == ["client_credentials"]


def test_token_endpoint_is_rate_limited(session, database_url, tmp_path):
    from registry import create_app

    from ..conftest import app_config

    app = create_app(app_config(database_url, SESSION=session, RATELIMIT_ENABLED=True, RATELIMIT_TOKEN="3 per minute",
                                RATELIMIT_STORAGE_URI="memory://"))
    client = app.test_client()
    codes = [client.post("/auth/token", data={"grant_type": "client_credentials"},
                         headers={"Authorization": basic("x", "y")}).status_code for _ in range(5)]
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]
