"""Authentication and the public trust documents: JWKS, DID documents, trust list, health."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time

from sqlalchemy.exc import IntegrityError
from flask import Response, current_app, request
from sqlalchemy import text

from .. import auth, keycheck, tlog, versions
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


# RFC 6749 §5.2: error_description is limited to these characters.
_OAUTH_TEXT = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")


def _oauth_error(error: str, description: str, status: int) -> Response:
    """An RFC 6749 §5.2 error: application/json ``{"error", "error_description"}``."""
    body = {"error": error, "error_description": _OAUTH_TEXT.sub("?", description)}
    resp = Response(json.dumps(body), status=status, mimetype="application/json")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    if status == 401:
        # The client authenticated with HTTP Basic (or tried to): answer with that scheme.
        resp.headers["WWW-Authenticate"] = 'Basic realm="registry", charset="UTF-8"'
    return resp


@public.post("/auth/token")
@limiter.limit(_token_limit)
@doc(tags=["auth"], responses={400: "RFC 6749 §5.2 error (application/json)",
                               401: "invalid_client (application/json, WWW-Authenticate: Basic)"})
def token():
    """OAuth 2.0 client credentials grant (RFC 6749 §4.4) with HTTP Basic client authentication.

    Errors are RFC 6749 §5.2 JSON: 401 ``invalid_client``; 400 ``invalid_request``,
    ``unsupported_grant_type`` or ``unauthorized_client``.
    """
    try:
        return _client_credentials_grant()
    except RegistryError as err:
        if err.status >= 500:
            raise
        if err.status == 401:
            return _oauth_error("invalid_client", err.detail, 401)
        return _oauth_error(err.extra.get("error") or "invalid_request", err.detail, 400)


@public.get("/auth/authorize")
@doc(tags=["auth"], responses={400: "unsupported_response_type (application/json)"})
def authorize():
    """The authorization endpoint discovery requires: no response type is supported (client credentials only)."""
    return _oauth_error("unsupported_response_type",
                        "This server issues tokens only by the client credentials grant at its token endpoint", 400)


def _client_credentials_grant():
    if len(request.form.getlist("grant_type")) > 1:
        # RFC 6749 §3.2: a parameter must not be repeated.
        raise RegistryError("grant_type is repeated", type="invalid_request", extra={"error": "invalid_request"})
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
    """Provider metadata (OpenID Connect Discovery 1.0 §3) naming the token endpoint.

    Every REQUIRED member is present. Only the client credentials grant is served, so the
    authorization endpoint refuses every request and no response type is supported; no ID token
    is ever issued, so the signing algorithms listed are those of our access tokens.
    """
    base = _cfg("PUBLIC_URL")
    return {"issuer": base,
            "authorization_endpoint": f"{base}/auth/authorize",
            "token_endpoint": f"{base}/auth/token",
            "jwks_uri": f"{base}/.well-known/jwks.json",
            "response_types_supported": [],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["EdDSA", "ES256"],
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"]}


def _ensure_registry_key():
    session = get_session()
    signer = current_app.extensions["registry.signer"]
    key = signer.registry_key(session, _cfg("PUBLIC_URL"))
    # A key made on first use must be stored before anything is signed with it; a simultaneous
    # first request may have stored one, and then that one is the key.
    if session.info.pop("registry.key_created", False):
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            key = signer.registry_key(session, _cfg("PUBLIC_URL"))
            session.commit()
    return key


def _did_media_type(document: dict) -> str:
    # DID Core §6.3: the JSON-LD representation (one with @context) is application/did+ld+json.
    return "application/did+ld+json" if "@context" in document else "application/did+json"


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
    document = svc.registry_did_document(get_session(), _cfg("PUBLIC_URL"))
    return _cached_json(document, 300, _did_media_type(document))


@public.get("/bodies/<body_id>/did.json")
@limiter.limit(_public_limit)
@doc(tags=["trust"])
def body_did(body_id: str):
    """A certification body's did:web document with every key it ever had and its active period."""
    body = svc.get_body(get_session(), body_id)
    document = svc.did_document(body, _cfg("PUBLIC_URL"))
    return _cached_json(document, 300, _did_media_type(document))


class _TrustListCache:
    """The signed trust list, kept until trust changes (the ``trust`` version moves) or half its
    lifetime has passed, so a public, anonymous request costs one primary-key read."""

    def __init__(self):
        self.lock = threading.Lock()
        self.version = None
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
    version = (versions.current(session, versions.TRUST), key.kid)
    cache = current_app.extensions.setdefault("registry.trust_cache", _TrustListCache())
    with cache.lock:
        if cache.version != version or time.time() > cache.expires - ttl // 2:
            payload = svc.trust_list_payload(session, _cfg("PUBLIC_URL"), ttl)
            content = {k: v for k, v in payload.items() if k not in ("iat", "exp")}
            digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode() + key.kid.encode()).hexdigest()
            # Re-sign when the content changed or half the lifetime has passed.
            if cache.digest != digest or payload["iat"] > cache.expires - ttl // 2:
                cache.token = current_app.extensions["registry.signer"].sign(payload, key, typ="trust-list+jwt")
                cache.digest, cache.expires = digest, payload["exp"]
                tlog.append(session, "trust-list.published", document=cache.token)
                session.commit()
            cache.version = version
        token, digest = cache.token, cache.digest
    resp = Response(token, mimetype="application/jwt")
    resp.set_etag(digest[:32])
    resp.headers["Cache-Control"] = "public, max-age=300"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp.make_conditional(request)


@public.get("/healthz")
@doc(tags=["operations"])
def healthz():
    """Liveness, database reachability and the key-encryption key check; 503 names what is broken."""
    try:
        get_session().execute(text("SELECT 1"))
        database = "ok"
    except Exception as err:  # any driver error means "not healthy", reported not raised
        current_app.logger.warning("health check failed: %s", err)
        database = "unreachable"
    state = keycheck.ensure(current_app._get_current_object())
    body = {"status": "ok", "database": database, "keyCheck": state.state}
    if database != "ok" or state.state != "ok":
        body["status"] = "unavailable"
        if state.state != "ok":
            body["detail"] = state.detail
        return body, 503
    return body


@public.get("/openapi.json")
@doc(tags=["operations"])
def openapi():
    """This API's OpenAPI 3.1 description."""
    from ..openapi import build_spec

    spec = current_app.extensions.get("registry.openapi")
    if spec is None:
        spec = current_app.extensions["registry.openapi"] = build_spec(current_app)
    return _cached_json(spec, 3600)
