"""Accreditation lifecycle and history, keys and rotation, DID documents, trust list, audit."""

from __future__ import annotations

import json
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import select

from registry.models import AuditEntry, Body
from registry.services import accreditation

from ..factories import NOW, bearer, body_data, make_body, make_category, operator_headers, token_for


def _json_body(data):
    return json.loads(json.dumps(data, default=lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")))


@pytest.fixture
def op(client, session):
    make_category(session, "cement")
    make_category(session, "lithium-battery")
    return operator_headers(client, session)


def test_category_put_get_and_validation(client, session, op):
    data = {"name": "Tyre", "nameZh": "轮胎", "declaredUnitOfMeasurement": "piece",
            "benchmark": {"value": "38.5", "standard": "T/X 1-2025", "source": "demo"}}
    assert client.put("/api/v1/categories/tyre", json=data, headers=op).status_code == 201
    assert client.put("/api/v1/categories/tyre", json={**data, "benchmark": None}, headers=op).status_code == 200
    got = client.get("/api/v1/categories/tyre").get_json()
    assert got["nameZh"] == "轮胎" and got["benchmark"] is None
    bad = client.put("/api/v1/categories/tyre", json={**data, "declaredUnitOfMeasurement": "bushel",
                                                        "benchmark": {"value": 38.5, "standard": "x", "source": "y"},
                                                        "colour": "red"}, headers=op)
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    errors = bad.get_json()["errors"]
    assert set(errors) == {"declaredUnitOfMeasurement", "benchmark.value", "colour"}
    assert client.put("/api/v1/categories/Bad Code!", json=data, headers=op).status_code == 422
    assert client.put("/api/v1/categories/tyre", data="{", headers={**op, "Content-Type": "application/json"}
                      ).status_code == 400
    assert client.get("/api/v1/categories/nope").status_code == 404


def test_create_body_returns_credentials_once_and_did(client, session, op):
    resp = client.post("/api/v1/bodies", json=_json_body(body_data(scope=None) if False else body_data()), headers=op)
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert created["did"] == f"did:web:registry.test:bodies:{created['id']}"
    assert created["clientSecret"] and resp.headers["Cache-Control"] == "no-store"
    public = client.get(f"/api/v1/bodies/{created['id']}").get_json()
    assert "clientSecret" not in json.dumps(public)
    assert public["status"] == "active" and len(public["keys"]) == 1
    token = token_for(client, created["clientId"], created["clientSecret"])
    assert jwt.decode(token, options={"verify_signature": False})["body"] == created["id"]


def test_create_body_refuses_unknown_scope_category(client, session, op):
    data = body_data()
    data["accreditation"]["scope"]["productCategories"] = ["cement", "unobtainium"]
    resp = client.post("/api/v1/bodies", json=_json_body(data), headers=op)
    assert resp.status_code == 422
    assert "accreditation.scope.productCategories" in resp.get_json()["errors"]
    data = body_data()
    data["accreditation"]["scope"]["certificateTypes"] = ["carbon-positive"]
    resp = client.post("/api/v1/bodies", json=_json_body(data), headers=op)
    assert set(resp.get_json()["errors"]) == {"accreditation.scope.certificateTypes.0"}
    data = body_data()
    data["accreditation"]["validUntil"] = data["accreditation"]["validFrom"] - timedelta(days=1)
    resp = client.post("/api/v1/bodies", json=_json_body(data), headers=op)
    assert set(resp.get_json()["errors"]) == {"accreditation.validUntil"}
    assert session.scalars(select(Body).where(Body.name == data["name"])).first() is None


def test_lifecycle_history_answers_was_it_accredited_then(app, client, session, op):
    body, *_ = make_body(session, app)
    bid = body.id
    assert client.post(f"/api/v1/bodies/{bid}/suspend", json={"reason": "suspend test"}, headers=op).status_code == 200
    assert client.post(f"/api/v1/bodies/{bid}/suspend", json={"reason": "again"}, headers=op).status_code == 409
    session.expire_all()
    body = session.get(type(body), bid)
    start = body.interruptions[0].started_at
    assert accreditation.accredited_at(body, start, "carbon-footprint", "cement") == (False, "not-accredited")
    assert accreditation.accredited_at(body, NOW - timedelta(days=30), "carbon-footprint", "cement") == (True, None)
    assert client.post(f"/api/v1/bodies/{bid}/reinstate", json={"reason": "cleared"}, headers=op).status_code == 200
    assert client.post(f"/api/v1/bodies/{bid}/reinstate", json={"reason": "again"}, headers=op).status_code == 409
    assert client.post(f"/api/v1/bodies/{bid}/suspend", json={}, headers=op).status_code == 422
    detail = client.get(f"/api/v1/bodies/{bid}").get_json()
    assert detail["status"] == "active"
    (interruption,) = detail["interruptions"]
    assert interruption["reason"] == "suspend test" and interruption["endReason"] == "cleared"
    assert accreditation.accredited_at(body, NOW - timedelta(days=30), "carbon-footprint", "steel") == (False, "out-of-scope")
    assert accreditation.accredited_at(body, NOW - timedelta(days=400), "carbon-footprint", "cement") == (False, "not-accredited")
    # A later decision widens the scope from its own start; the earlier answer stays as it was.
    renewal = {"number": "CNCA-R-RENEW", "validFrom": NOW, "validUntil": NOW + timedelta(days=365),
               "scope": {"certificateTypes": ["carbon-footprint"], "productCategories": ["cement", "lithium-battery"]}}
    assert client.post(f"/api/v1/bodies/{bid}/accreditations", json=_json_body(renewal), headers=op).status_code == 201
    session.expire_all()
    body = session.get(type(body), bid)
    assert accreditation.accredited_at(body, NOW + timedelta(days=1), "carbon-footprint", "lithium-battery")[0]
    assert not accreditation.accredited_at(body, NOW - timedelta(days=1), "carbon-footprint", "lithium-battery")[0]
    assert client.post(f"/api/v1/bodies/{bid}/withdraw", json={"reason": "fraud"}, headers=op).status_code == 200
    assert client.post(f"/api/v1/bodies/{bid}/reinstate", json={"reason": "x"}, headers=op).status_code == 409
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == bid).order_by(AuditEntry.id)).all()
    assert actions == ["body.accredited", "body.suspended", "body.reinstated", "body.accreditation-added",
                       "body.withdrawn"]
    assert client.post("/api/v1/bodies/no-such-body/suspend", json={"reason": "x"}, headers=op).status_code == 404


def test_key_rotation_keeps_old_key_verifying(app, client, session, op):
    body, *_ = make_body(session, app)
    signer = app.extensions["registry.signer"]
    old_key = accreditation.current_key(session, body)
    signed_before = signer.sign({"msg": "made while key-1 was active"}, old_key, typ="vc+jwt")
    resp = client.post(f"/api/v1/bodies/{body.id}/keys/rotate", json={"reason": "annual"}, headers=op)
    assert resp.status_code == 201
    new_kid = resp.get_json()["kid"]
    assert new_kid.endswith("#key-2")
    did = client.get(f"/bodies/{body.id}/did.json").get_json()
    methods = {m["id"]: m for m in did["verificationMethod"]}
    assert set(methods) == {old_key.kid, new_kid}
    assert methods[old_key.kid]["activeUntil"] is not None and "activeUntil" not in methods[new_kid]
    # The retired key stays an assertion method: what it signed while active is still valid.
    assert did["assertionMethod"] == [new_kid, old_key.kid]
    for m in methods.values():
        assert "d" not in m["publicKeyJwk"]
    # The retired key, from the published document only, still verifies what it signed.
    key = jwt.PyJWK(methods[old_key.kid]["publicKeyJwk"]).key
    assert jwt.decode(signed_before, key, algorithms=["EdDSA"])["msg"].startswith("made while")
    session.refresh(old_key)
    with pytest.raises(Exception):
        signer.sign({"msg": "after retirement"}, old_key, typ="vc+jwt")


def test_rotate_to_p256(app, client, session, op):
    body, *_ = make_body(session, app)
    resp = client.post(f"/api/v1/bodies/{body.id}/keys/rotate", json={"algorithm": "ES256"}, headers=op)
    assert resp.get_json()["alg"] == "ES256"
    did = client.get(f"/bodies/{body.id}/did.json").get_json()
    assert did["verificationMethod"][-1]["publicKeyJwk"]["crv"] == "P-256"


def test_trust_list_verifies_with_published_registry_key(app, client, session, op):
    body, *_ = make_body(session, app)
    client.post(f"/api/v1/bodies/{body.id}/suspend", json={"reason": "inquiry"}, headers=op)
    resp = client.get("/trust-list")
    assert resp.mimetype == "application/jwt" and resp.headers["ETag"]
    token = resp.get_data(as_text=True)
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "trust-list+jwt"
    jwks = client.get("/.well-known/jwks.json").get_json()
    key = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == header["kid"])).key
    payload = jwt.decode(token, key, algorithms=["EdDSA"], options={"require": ["iss", "iat", "exp"]})
    entry = next(b for b in payload["bodies"] if b["id"] == body.id)
    assert entry["status"] == "suspended" and entry["interruptions"][0]["reason"] == "inquiry"
    assert entry["keys"][0]["kid"].startswith(entry["did"] + "#")
    assert entry["accreditations"][0]["productCategories"] == ["cement"]
    again = client.get("/trust-list", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304
    registry_did = client.get("/.well-known/did.json").get_json()
    assert registry_did["id"] == "did:web:registry.test" == payload["iss"]


def test_bodies_endpoints_need_operator(client, session):
    make_category(session)
    assert client.post("/api/v1/bodies", json={}).status_code == 401


def test_private_keys_never_stored_in_clear(app, client, session, op, database_url, engine):
    """Scan every stored byte for the private keys the registry holds."""
    from cryptography.hazmat.primitives import serialization

    body, *_ = make_body(session, app)
    client.get("/trust-list")
    signer = app.extensions["registry.signer"]
    key = accreditation.current_key(session, body)
    private = signer._private(key)
    raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    import base64
    needles = [raw, der, base64.urlsafe_b64encode(raw).rstrip(b"="), base64.b64encode(der)]
    session.flush()
    from sqlalchemy import inspect, text

    conn = session.connection()
    blob = bytearray()
    for table in inspect(conn).get_table_names():
        for row in conn.execute(text(f'SELECT * FROM "{table}"')):
            for value in row:
                blob += value if isinstance(value, (bytes, memoryview)) else str(value).encode()
    assert key.private_key_encrypted and bytes(key.private_key_encrypted) in blob  # the scan sees the table
    for needle in needles:
        assert needle not in blob


def test_accreditation_question_answered_from_history(app, client, session, op):
    body, *_ = make_body(session, app)
    url = f"/api/v1/bodies/{body.id}/accreditation"
    when = (NOW - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert client.get(f"{url}?at={when}&type=carbon-footprint&category=cement").get_json()["accredited"] is True
    answer = client.get(f"{url}?at={when}&type=carbon-footprint&category=steel").get_json()
    assert answer == {**answer, "accredited": False, "reason": "out-of-scope"}
    early = (NOW - timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert client.get(f"{url}?at={early}&type=carbon-footprint&category=cement").get_json()["reason"] == "not-accredited"
    bad = client.get(f"{url}?at=yesterday&type=carbon-positive")
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"at", "type", "category"}


def test_audit_log_is_readable_by_the_operator_only(app, client, session, op):
    body, client_id, secret = make_body(session, app)
    client.post(f"/api/v1/bodies/{body.id}/suspend", json={"reason": "annual surveillance"}, headers=op)
    entries = client.get(f"/api/v1/audit?target={body.id}", headers=op).get_json()["items"]
    assert [e["action"] for e in entries] == ["body.suspended", "body.accredited"]
    assert entries[0]["reason"] == "annual surveillance" and entries[0]["actor"].startswith("operator:")
    assert entries[0]["requestId"]
    assert client.get("/api/v1/audit").status_code == 401
    page = client.get("/api/v1/audit?limit=1", headers=op).get_json()
    assert len(page["items"]) == 1 and page["next"]


def test_audit_rows_cannot_be_changed_or_deleted(session, app, op):
    from sqlalchemy import delete, update
    from sqlalchemy.exc import DBAPIError

    make_body(session, app)
    entry_id = session.scalars(select(AuditEntry.id).order_by(AuditEntry.id.desc())).first()
    for stmt in (update(AuditEntry).where(AuditEntry.id == entry_id).values(reason="rewritten"),
                 delete(AuditEntry).where(AuditEntry.id == entry_id)):
        with pytest.raises(DBAPIError, match="append-only"):
            with session.begin_nested():
                session.execute(stmt)
    assert session.get(AuditEntry, entry_id) is not None
