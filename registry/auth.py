"""OAuth 2.0 client credentials: clients, access tokens and the bearer-token guard."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import unquote_plus

import jwt
from flask import current_app, g, request
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .db import get_session
from .errors import Forbidden, RegistryError, Unauthorized
from .models import Body, OAuthClient, SigningKey, utcnow
from .signing import did_for

TOKEN_TYP = "at+jwt"
# Fixed work for unknown client ids so timing does not reveal which ids exist.
_DUMMY_HASH = hashlib.sha256(b"no such client").hexdigest()


class InvalidClient(RegistryError):
    status = 401
    type = "invalid_client"
    title = "Client authentication failed"

    def __init__(self, detail: str):
        super().__init__(detail, extra={"error": "invalid_client", "error_description": detail})


class InvalidToken(Unauthorized):
    type = "invalid-token"
    title = "Missing or invalid access token"


class TokenExpired(InvalidToken):
    type = "token-expired"


@dataclass(frozen=True)
class Principal:
    client_id: str
    role: str  # operator | body | procurement
    body_id: str | None

    @property
    def actor(self) -> str:
        return f"body:{self.body_id}" if self.role == "body" else f"{self.role}:{self.client_id}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_client(session: Session, *, name: str, role: str, body_id: str | None = None,
                  callback_client_id: str | None = None, callback_secret_encrypted: bytes | None = None
                  ) -> tuple[OAuthClient, str]:
    """A new client and its secret; only the secret's hash is stored, so it is shown once."""
    secret = secrets.token_urlsafe(32)
    client = OAuthClient(client_id=f"{role}-{secrets.token_hex(8)}", secret_hash=hash_secret(secret),
                         name=name, role=role, body_id=body_id, callback_client_id=callback_client_id,
                         callback_secret_encrypted=callback_secret_encrypted)
    session.add(client)
    session.flush()
    return client, secret


def authenticate_client(session: Session, client_id: str, secret: str) -> OAuthClient:
    client = session.scalars(select(OAuthClient).where(OAuthClient.client_id == client_id)).first()
    expected = client.secret_hash if client else _DUMMY_HASH
    ok = hmac.compare_digest(expected, hash_secret(secret))
    if not ok or client is None or client.disabled_at is not None:
        raise InvalidClient("Unknown client or wrong secret")
    if client.body is not None and client.body.status == "withdrawn":
        raise InvalidClient("Unknown client or wrong secret")
    return client


def basic_credentials() -> tuple[str, str]:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        raise InvalidClient("Client credentials must be sent with HTTP Basic authentication")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as err:
        raise InvalidClient("Malformed Basic credentials") from err
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise InvalidClient("Malformed Basic credentials")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote_plus(client_id), unquote_plus(secret)


def issue_access_token(session: Session, client: OAuthClient) -> tuple[str, int]:
    cfg = current_app.config
    signer = current_app.extensions["registry.signer"]
    key = signer.registry_key(session, cfg["PUBLIC_URL"])
    now = utcnow()
    ttl = int(cfg["ACCESS_TOKEN_TTL"])
    claims = {
        "iss": cfg["PUBLIC_URL"], "aud": cfg["PUBLIC_URL"] + "/api", "sub": client.client_id,
        "iat": int(now.timestamp()), "exp": int((now + timedelta(seconds=ttl)).timestamp()),
        "jti": str(uuid.uuid4()), "role": client.role,
    }
    if client.body_id:
        claims["body"] = client.body_id
    return signer.sign(claims, key, typ=TOKEN_TYP), ttl


class _RegistryKeys:
    """Public registry keys by kid, reloaded from the database when an unknown kid appears."""

    def __init__(self):
        self._keys: dict[str, tuple[str, object]] = {}
        self._lock = threading.Lock()
        self.verified: dict[bytes, tuple[str, dict]] = {}  # decode_access_token's memo

    def get(self, kid: str):
        found = self._keys.get(kid)
        if found is None:
            with self._lock:
                rows = get_session().scalars(select(SigningKey).where(SigningKey.owner == "registry")).all()
                self._keys = {k.kid: (k.algorithm, jwt.PyJWK(k.public_jwk).key) for k in rows}
            found = self._keys.get(kid)
        return found


#: Tokens whose signature and claims were checked, by SHA-256: a client sends the same token with
#: every request for its lifetime, and checking it again costs more than the database read after it.
_VERIFIED_LIMIT = 4096


def decode_access_token(token: str) -> dict:
    keys = current_app.extensions["registry.token_keys"]
    digest = hashlib.sha256(token.encode()).digest()
    hit = keys.verified.get(digest)
    # A remembered token still has to be unexpired (as PyJWT judges: expired once exp <= now) and
    # signed by a key the registry still knows.
    if hit is not None and keys.get(hit[0]) is not None:
        if hit[1]["exp"] <= time.time():
            raise TokenExpired("The access token has expired")
        return hit[1]
    kid, claims = _decode(token)
    if len(keys.verified) >= _VERIFIED_LIMIT:
        keys.verified.clear()
    keys.verified[digest] = (kid, claims)
    return claims


def _decode(token: str) -> tuple[str, dict]:
    """The token's key id and its claims, once its signature and claims are checked."""
    cfg = current_app.config
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as err:
        raise InvalidToken("The access token is not a JWT") from err
    if header.get("typ") != TOKEN_TYP:
        raise InvalidToken("The access token has the wrong type")
    kid = header.get("kid")
    found = current_app.extensions["registry.token_keys"].get(kid) if isinstance(kid, str) else None
    if found is None:
        raise InvalidToken("The access token names an unknown key")
    algorithm, key = found
    try:
        # The algorithm comes from our key, never from the token header.
        return kid, jwt.decode(token, key, algorithms=[algorithm], audience=cfg["PUBLIC_URL"] + "/api",
                               issuer=cfg["PUBLIC_URL"],
                               options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]})
    except jwt.ExpiredSignatureError as err:
        raise TokenExpired("The access token has expired") from err
    except jwt.PyJWTError as err:
        raise InvalidToken(f"The access token is invalid: {err}") from err


_CLIENT_STATE = (select(OAuthClient.role, OAuthClient.body_id, OAuthClient.disabled_at, Body.status)
                 .outerjoin(Body, Body.id == OAuthClient.body_id).where(OAuthClient.client_id == bindparam("client_id")))


def _current_state(client_id: str, role: str) -> Principal:
    """The token's client as it stands now: one indexed lookup, so disabling acts at once in every worker.

    A deleted or disabled client, or one of a withdrawn body, gets 401. A suspended body keeps its
    token: it may read and may suspend or revoke its own certificates, but issuing and reinstating
    answer 403 ``not-accredited``.
    """
    row = get_session().connection().execute(_CLIENT_STATE, {"client_id": client_id}).first()
    if row is None or row.disabled_at is not None:
        raise InvalidToken("The access token's client no longer exists or has been disabled")
    if row.role != role:
        raise InvalidToken("The access token's role no longer matches its client")
    if row.status == "withdrawn":
        raise InvalidToken("The access token's certification body has been withdrawn")
    return Principal(client_id, role, row.body_id)


def current_principal() -> Principal:
    principal = g.get("principal")
    if principal is None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("A bearer access token is required (POST /auth/token)")
        claims = decode_access_token(token.strip())
        role = claims.get("role")
        if role not in ("operator", "body", "procurement"):
            raise InvalidToken("The access token carries no known role")
        principal = _current_state(claims["sub"], role)
        g.principal = principal
    return principal


def require(*roles: str):
    """Guard a view: a valid bearer token whose role is one of ``roles``."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            principal = current_principal()
            if principal.role not in roles:
                raise Forbidden(f"This endpoint is for the {' or '.join(roles)} role", type="wrong-role")
            return view(*args, **kwargs)

        wrapper.required_roles = roles
        return wrapper

    return decorator


def registry_did() -> str:
    return did_for(current_app.config["PUBLIC_URL"])
