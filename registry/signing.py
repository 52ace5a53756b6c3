"""The only module that creates, decrypts or uses private keys, and the only caller of ``jwt.encode``.

Private keys live in the database only as Fernet tokens (AES-128-CBC + HMAC-SHA256) of their
PKCS#8 DER, under the key-encryption key from configuration, which never enters the database.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime

import jwt
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwt.algorithms import ECAlgorithm, OKPAlgorithm
from sqlalchemy import select
from sqlalchemy.orm import Session

from verifier import did_web as did_for

from . import tlog
from .errors import RegistryError
from .models import SigningKey, utcnow

ALGORITHMS = ("EdDSA", "ES256")


class KeyError_(RegistryError):
    status = 500
    type = "key-unavailable"
    title = "Signing key unavailable"


def check_master_key(value: str) -> None:
    """Raise ``ConfigError`` unless ``value`` is a Fernet key (32 bytes, URL-safe base64)."""
    from .config import ConfigError

    try:
        Fernet(value.encode() if isinstance(value, str) else value)
    except (ValueError, TypeError) as err:
        raise ConfigError("The key-encryption key must be 32 random bytes in URL-safe base64 "
                          "(a Fernet key)") from err


def generate_private_key(algorithm: str):
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unsupported algorithm {algorithm!r}")


def public_jwk(public_key, kid: str | None = None) -> dict:
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        jwk = OKPAlgorithm.to_jwk(public_key, as_dict=True)
        jwk["alg"] = "EdDSA"
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public_key, as_dict=True)
        jwk["alg"] = "ES256"
    else:
        raise ValueError("unsupported key type")
    jwk["use"] = "sig"
    if kid:
        jwk["kid"] = kid
    return jwk


class Signer:
    """Holds the key-encryption key and a cache of decrypted keys for one app."""

    def __init__(self, master_key: str):
        self._fernet = Fernet(master_key.encode())
        self._cache: dict[str, object] = {}
        self._lock = threading.Lock()

    def new_key(self, session: Session, *, owner: str, did: str, body_id: str | None = None,
                algorithm: str = "EdDSA", now: datetime | None = None) -> SigningKey:
        """Create, encrypt and add a key; the caller retires the previous one."""
        now = now or utcnow()
        count = len(session.scalars(select(SigningKey.id).where(
            SigningKey.owner == owner, SigningKey.body_id == body_id)).all())
        name = f"key-{count + 1}"
        private = generate_private_key(algorithm)
        der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        key = SigningKey(owner=owner, body_id=body_id, kid=f"{did}#{name}", key_name=name,
                         algorithm=algorithm, public_jwk=public_jwk(private.public_key(), f"{did}#{name}"),
                         private_key_encrypted=self._fernet.encrypt(der), active_from=now)
        session.add(key)
        session.flush()
        tlog.append(session, "key.created", key=key, now=now)
        session.info["registry.key_created"] = True  # a caller that only reads must commit it
        return key

    def _private(self, key: SigningKey):
        with self._lock:
            cached = self._cache.get(key.kid)
            if cached is None:
                try:
                    der = self._fernet.decrypt(key.private_key_encrypted)
                except InvalidToken as err:
                    raise KeyError_("A private key cannot be decrypted with the configured "
                                    "key-encryption key") from err
                cached = serialization.load_der_private_key(der, password=None)
                self._cache[key.kid] = cached
            return cached

    def sign(self, payload: dict, key: SigningKey, *, typ: str, cty: str | None = None) -> str:
        """Compact JWS of ``payload`` under ``key``; the header names the key by its DID URL."""
        if key.active_until is not None:
            raise KeyError_(f"key {key.kid} is retired")
        headers = {"typ": typ, "kid": key.kid}
        if cty:
            headers["cty"] = cty
        # UTF-8 rather than \u escapes: Chinese names stay a third of the size in offline QR codes.
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return jwt.api_jws.encode(body, self._private(key), algorithm=key.algorithm, headers=headers,
                                  sort_headers=False)

    def registry_key(self, session: Session, public_url: str) -> SigningKey:
        """The registry's current key, created on first use."""
        # Keyed by DID: a registry that moves to another public URL is another did:web and
        # gets a key of its own, so documents it signs never name a foreign DID.
        did = did_for(public_url)
        key = session.scalars(select(SigningKey).where(
            SigningKey.owner == "registry", SigningKey.active_until.is_(None),
            SigningKey.kid.startswith(did + "#", autoescape=True))
            .order_by(SigningKey.id.desc())).first()
        if key is None:
            key = self.new_key(session, owner="registry", did=did)
        return key

    def log_key(self, session: Session, public_url: str) -> SigningKey:
        """The transparency log's Ed25519 note-signing key, created on first use."""
        did = did_for(public_url) + ":log"
        key = session.scalars(select(SigningKey).where(
            SigningKey.owner == "log", SigningKey.active_until.is_(None),
            SigningKey.kid.startswith(did + "#", autoescape=True)).order_by(SigningKey.id.desc())).first()
        if key is None:
            key = self.new_key(session, owner="log", did=did, algorithm="EdDSA")
        return key

    def sign_bytes(self, key: SigningKey, data: bytes) -> bytes:
        """A raw Ed25519 signature of ``data`` (signed notes); other key types are refused."""
        private = self._private(key)
        if not isinstance(private, ed25519.Ed25519PrivateKey):
            raise KeyError_(f"key {key.kid} is not an Ed25519 key")
        return private.sign(data)
