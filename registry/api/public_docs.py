"""Authentication and the public trust documents: JWKS, DID documents, trust list, health."""

from __future__ import annotations

import hashlib
import json
import threading

from flask import Response, current_app, request
from sqlalchemy import text

from .. import auth, tlog
from ..db import get_session
from ..errors import RegistryError
from ..http import limiter
from ..services import accreditation as svc
from . import doc, public


def _cfg(name):
    return current_app.config[name]


def _token_limit():
    return _cfg("RATELIMIT_TOKEN")


def _public_limit():
    return _cfg("RATELIMIT_PUBLIC")


@public.post("/auth/token")
@limiter.limit(_token_limit)
@doc(tags=["auth"], responses={401: "invalid_client"})
def token():
    """OAuth 2.0 client credentials grant (RFC 6749 §4.4) with HTTP Basic client authentication."""
    grant = request.form.get("grant_type")
    if grant is None:
        raise RegistryError("grant_type is required", type="invalid_request", extra={"error": "invalid_request"})
    if grant != "client_credentials":
        raise RegistryError("Only grant_type=client_credentials is supported", type="unsupported_grant_type",
                            extra={"error": "unsupported_grant_type"})
    client_id, secret = auth.basic_credentials()
    session = get_session()
    client = auth.authenticate_client(session, client_id, secret)
    if client.role == "body":
        body = svc.get_body(session, client.body_id)
        if body.status != "active":
            raise RegistryError(f"The certification body is {body.status}", status=400,
                                type="unauthorized_client", title="Client not authorised",
                                extra={"error": "unauthorized_client"})
    access_token, ttl = auth.issue_access_token(session, client)
    session.commit()
    return ({"access_token": access_token, "token_type": "Bearer", "expires_in": ttl},
            200, {"Cache-Control": "no-store", "Pragma": "no-cache"})


@public.get("/.well-known/openid-configuration")
@doc(tags=["auth"])
def openid_configuration():
    """Authorization server metadata naming the token endpoint."""
    base = _cfg("PUBLIC_URL")
    return {"issuer": base, "token_endpoint": f"{base}/auth/token", "jwks_uri": f"{base}/.well-known/jwks.json",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "token_endpoint_auth_signing_alg_values_supported": ["EdDSA", "ES256"]}


def _ensure_registry_key():
    session = get_session()
    key = current_app.extensions["registry.signer"].registry_key(session, _cfg("PUBLIC_URL"))
    if session.new:
        session.commit()
    return key


def _cached_json(payload: dict, max_age: int, content_type: str = "application/json") -> Response:
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    etag = hashlib.sha256(body).hexdigest()[:32]
    resp = Response(body, mimetype=content_type)
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = f"public, max-age={max_age}"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp.make_conditional(request)


@public.get("/.well-known/jwks.json")
@limiter.limit(_public_limit)
@doc(tags=["trust"])
def jwks():
    """The registry's public keys (current and retired)."""
    _ensure_registry_key()
    return _cached_json(svc.jwks(get_session(), _cfg("PUBLIC_URL")), 300, "application/jwk-set+json")


@public.get("/.well-known/did.json")
@limiter.limit(_public_limit)
@doc(tags=["trust"])
def registry_did():
    """The registry's own did:web document."""
    _ensure_registry_key()
    return _cached_json(svc.registry_did_document(get_session(), _cfg("PUBLIC_URL")), 300, "application/did+json")


@public.get("/bodies/<body_id>/did.json")
@limiter.limit(_public_limit)
@doc(tags=["trust"])
def body_did(body_id: str):
    """A certification body's did:web document with every key it ever had and its active period."""
    body = svc.get_body(get_session(), body_id)
    return _cached_json(svc.did_document(body, _cfg("PUBLIC_URL")), 300, "application/did+json")


class _TrustListCache:
    """Signs again only when the content changes, so every worker serves the same JWS for a while."""

    def __init__(self):
        self.lock = threading.Lock()
        self.digest = None
        self.token = None
        self.expires = 0


@public.get("/trust-list")
@limiter.limit(_public_limit)
@doc(tags=["trust"])
def trust_list():
    """Compact JWS signed by the registry key: every body with its accreditations, interruptions and keys."""
    key = _ensure_registry_key()
    session = get_session()
    ttl = int(_cfg("TRUST_LIST_TTL"))
    payload = svc.trust_list_payload(session, _cfg("PUBLIC_URL"), ttl)
    content = {k: v for k, v in payload.items() if k not in ("iat", "exp")}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode() + key.kid.encode()).hexdigest()
    cache = current_app.extensions.setdefault("registry.trust_cache", _TrustListCache())
    with cache.lock:
        # Re-sign when the content changed or half the lifetime has passed.
        if cache.digest != digest or payload["iat"] > cache.expires - ttl // 2:
            cache.token = current_app.extensions["registry.signer"].sign(payload, key, typ="trust-list+jwt")
            cache.digest, cache.expires = digest, payload["exp"]
            tlog.append(session, "trust-list.published", document=cache.token)
            session.commit()
        token = cache.token
    resp = Response(token, mimetype="application/jwt")
    resp.set_etag(digest[:32])
    resp.headers["Cache-Control"] = "public, max-age=300"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp.make_conditional(request)


@public.get("/healthz")
@doc(tags=["operations"])
def healthz():
    """Liveness and database reachability."""
    try:
        get_session().execute(text("SELECT 1"))
    except Exception as err:  # any driver error means "not healthy", reported not raised
        current_app.logger.warning("health check failed: %s", err)
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}


@public.get("/openapi.json")
@doc(tags=["operations"])
def openapi():
    """This API's OpenAPI 3.1 description."""
    from ..openapi import build_spec

    spec = current_app.extensions.get("registry.openapi")
    if spec is None:
        spec = current_app.extensions["registry.openapi"] = build_spec(current_app)
    return _cached_json(spec, 3600)
