"""DID documents: media type, key listing, and a public URL that did:web can express."""

from __future__ import annotations

import jwt
import pytest
from cryptography.fernet import Fernet

from registry import create_app
from registry.config import ConfigError
from registry.services import accreditation

from ..factories import make_body, make_category, operator_headers


@pytest.fixture
def production(tmp_path):
    def start(public_url: str, env: str = "production"):
        return create_app({"ENV": env, "PUBLIC_URL": public_url, "MASTER_KEY": Fernet.generate_key().decode(),
                           "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})

    return start


def test_did_documents_are_served_as_did_ld_json(app, client, session):
    make_category(session)
    body, *_ = make_body(session, app)
    for path in (f"/bodies/{body.id}/did.json", "/.well-known/did.json"):
        resp = client.get(path)
        assert resp.status_code == 200
        assert resp.mimetype == "application/did+ld+json"
        doc = resp.get_json()
        assert doc["@context"][:2] == ["https://www.w3.org/ns/did/v1", "https://www.w3.org/ns/cid/v1"]
        assert doc["@context"][2] == "http://registry.test/contexts/carbon-label/v1"
        assert {m["type"] for m in doc["verificationMethod"]} == {"JsonWebKey"}
        assert all("publicKeyJwk" in m and "activeFrom" in m for m in doc["verificationMethod"])


def test_a_retired_key_stays_an_assertion_method_and_verifies_what_it_signed(app, client, session):
    make_category(session)
    body, *_ = make_body(session, app)
    signer = app.extensions["registry.signer"]
    old = accreditation.current_key(session, body)
    signed = signer.sign({"msg": "signed by key-1"}, old, typ="vc+jwt")
    op = operator_headers(client, session)
    for _ in range(2):
        assert client.post(f"/api/v1/bodies/{body.id}/keys/rotate", json={}, headers=op).status_code == 201
    doc = client.get(f"/bodies/{body.id}/did.json").get_json()
    assert len(doc["assertionMethod"]) == 3 and doc["assertionMethod"][0].endswith("#key-3")
    assert old.kid in doc["assertionMethod"]
    method = next(m for m in doc["verificationMethod"] if m["id"] == old.kid)
    assert method["activeUntil"] > method["activeFrom"]
    key = jwt.PyJWK(method["publicKeyJwk"]).key
    assert jwt.decode(signed, key, algorithms=["EdDSA"])["msg"] == "signed by key-1"


@pytest.mark.parametrize("url, reason", [
    ("http://labels.example.org", "not https"),
    ("https://203.0.113.7", "IP address"),
    ("https://[2001:db8::1]:8443", "IP address"),
    ("https://labels.example.org/registry", "path"),
])
def test_production_refuses_a_public_url_did_web_cannot_express(production, url, reason):
    with pytest.raises(ConfigError, match=reason):
        production(url)


def test_production_accepts_an_https_domain_and_development_keeps_http_loopback(production):
    assert production("https://labels.example.org:8443").config["PUBLIC_URL"] == "https://labels.example.org:8443"
    assert production("http://127.0.0.1:5000", env="development").config["PUBLIC_URL"] == "http://127.0.0.1:5000"
