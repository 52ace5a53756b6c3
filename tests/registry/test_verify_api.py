"""POST /api/v1/verify and GET /v/<id> as JSON: real certificates issued over the API, verified in-process."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import timedelta

import pytest

from registry.api.verify import PAGE_CSP
from registry.http import DEFAULT_CSP, SECURITY_HEADERS
from registry.schemas.certificates import CertificateIn
from registry.services import issuing

from ..factories import (NOW, bearer, body_data, certificate_request, footprint, make_body, make_category, offsets,
                         operator_headers, token_for)


@pytest.fixture
def env(app, client, session):
    make_category(session, "cement")                 # benchmark 0.90
    body, client_id, secret = make_body(session, app, accreditation={
        **body_data()["accreditation"],
        "scope": {"certificateTypes": ["carbon-footprint", "low-carbon", "reduced-carbon", "carbon-neutral"],
                  "productCategories": ["cement"]}})
    return {"body": body, "headers": bearer(token_for(client, client_id, secret)),
            "op": operator_headers(client, session)}


def issue(client, env, payload=None):
    resp = client.post("/api/v1/certificates", json=payload or certificate_request(), headers=env["headers"])
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def issue_expired(app, session, body, **overrides):
    """A certificate issued 200 days ago that expired two days ago (the service takes ``now``)."""
    req = certificate_request(footprint=footprint("0.80", start="2023-01-01T00:00:00Z", end="2023-12-31T23:59:59Z"),
                              validUntil=(NOW - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"), **overrides)
    with app.app_context():
        cert = issuing.issue(session, app.extensions["registry.signer"], body, CertificateIn().load(req),
                             public_url=app.config["PUBLIC_URL"], actor="test", now=NOW - timedelta(days=200))
    session.flush()
    return cert


def verify(client, payload, status=200):
    resp = client.post("/api/v1/verify", json=payload)
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def codes(result) -> list[str]:
    return [e["code"] for e in result["errors"]]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_valid_certificate_verifies_with_every_check(client, env):
    out = issue(client, env)
    result = verify(client, {"credential": out["credential"]})
    assert result["verified"] is True and result["errors"] == []
    assert [c["name"] for c in result["checks"]] == ["structure", "issuer", "key", "signature", "accreditation",
                                                     "validity", "status", "grade", "record"]
    assert all(c["ok"] for c in result["checks"])
    assert result["credential"]["id"] == f"urn:uuid:{out['id']}"


def test_revoked_and_suspended(client, env):
    revoked, suspended = issue(client, env), issue(client, env)
    assert client.post(f"/api/v1/certificates/{revoked['id']}/revoke", json={"reason": "fraud"},
                       headers=env["headers"]).status_code == 200
    assert client.post(f"/api/v1/certificates/{suspended['id']}/suspend", json={"reason": "audit"},
                       headers=env["headers"]).status_code == 200
    r = verify(client, {"credential": revoked["credential"]})
    assert r["verified"] is False and codes(r) == ["REVOKED"]
    s = verify(client, {"credential": suspended["credential"]})
    assert s["verified"] is False and codes(s) == ["SUSPENDED"]
    # Lifting the suspension shows at once (the status bits are cached per list version).
    client.post(f"/api/v1/certificates/{suspended['id']}/reinstate", json={"reason": "ok"}, headers=env["headers"])
    assert verify(client, {"credential": suspended["credential"]})["verified"] is True


def test_body_suspended_after_issuance_still_verifies(client, env):
    out = issue(client, env)
    assert verify(client, {"credential": out["credential"]})["verified"] is True  # trust list now cached
    # No pause: a suspension within the same second as issuance must not disown the certificate.
    resp = client.post(f"/api/v1/bodies/{env['body'].id}/suspend", json={"reason": "surveillance audit"},
                       headers=env["op"])
    assert resp.status_code == 200, resp.get_json()
    result = verify(client, {"credential": out["credential"]})
    assert result["verified"] is True, result["errors"]
    # The cached trust list was rebuilt: it knows about the suspension.
    trust_check = next(c for c in result["checks"] if c["name"] == "accreditation")
    assert trust_check["ok"]
    assert client.post("/api/v1/certificates", json=certificate_request(),
                       headers=env["headers"]).status_code == 403


def test_key_rotation_keeps_old_certificates_verifying(client, env):
    before = issue(client, env)
    # No pause: a rotation within the same second as issuance must not disown the certificate.
    resp = client.post(f"/api/v1/bodies/{env['body'].id}/keys/rotate", json={}, headers=env["op"])
    assert resp.status_code in (200, 201), resp.get_json()
    after = issue(client, env)
    for cert in (before, after):
        result = verify(client, {"credential": cert["credential"]})
        assert result["verified"] is True, result["errors"]


def test_tampered_payload_is_signature_invalid(client, env):
    out = issue(client, env)
    header, payload, sig = out["credential"].split(".")
    claims = json.loads(_unb64(payload))
    claims["credentialSubject"]["footprint"]["pcfExcludingBiogenicUptake"] = "0.10"
    forged = ".".join([header, _b64(json.dumps(claims).encode()), sig])
    result = verify(client, {"credential": forged})
    assert result["verified"] is False and codes(result) == ["SIGNATURE_INVALID"]


def test_hs256_signed_with_the_public_key_is_signature_invalid(client, env):
    out = issue(client, env)
    header_b64, payload, _ = out["credential"].split(".")
    header = json.loads(_unb64(header_b64))
    did = header["kid"].split("#")[0]
    doc = client.get(f"/bodies/{did.rsplit(':', 1)[1]}/did.json").get_json()
    jwk = next(m["publicKeyJwk"] for m in doc["verificationMethod"] if m["id"] == header["kid"])
    forged_header = _b64(json.dumps({**header, "alg": "HS256"}).encode())
    signing_input = f"{forged_header}.{payload}".encode()
    for secret in (_unb64(jwk["x"]), json.dumps(jwk).encode(), jwk["x"].encode()):
        sig = _b64(hmac.new(secret, signing_input, hashlib.sha256).digest())
        result = verify(client, {"credential": f"{forged_header}.{payload}.{sig}"})
        assert result["verified"] is False and codes(result) == ["SIGNATURE_INVALID"], result["errors"]


def test_expired(app, client, session, env):
    cert = issue_expired(app, session, env["body"])
    result = verify(client, {"credential": cert.credential})
    assert result["verified"] is False and codes(result) == ["EXPIRED"]
    page = client.get(f"/v/{cert.id}", headers={"Accept": "application/json"}).get_json()
    assert codes(page) == ["EXPIRED"]


def test_plain_link_qr_is_resolved_to_the_stored_credential(client, env):
    out = issue(client, env)
    result = verify(client, {"qr": f"http://registry.test/v/{out['id']}"})
    assert result["verified"] is True
    assert result["credential"]["id"] == f"urn:uuid:{out['id']}"
    unknown = verify(client, {"qr": "http://registry.test/v/5f0c1f7e-8a1b-4c5d-9e2f-000000000000"})
    assert unknown["verified"] is False and codes(unknown) == ["MALFORMED"]
    # Someone else's link is not looked up here: without a credential it cannot be verified.
    foreign = verify(client, {"qr": f"https://elsewhere.example/v/{out['id']}"})
    assert foreign["verified"] is False and codes(foreign) == ["MALFORMED"]


def test_offline_qr_verifies(client, env):
    offline = pytest.importorskip("verifier.offline")
    out = issue(client, env)
    text = offline.offline_url(out["verifyUrl"], out["credential"])
    assert "#" in text
    result = verify(client, {"qr": text})
    assert result["verified"] is True, result["errors"]


def test_batch_keeps_order(client, env):
    good = issue(client, env)
    revoked = issue(client, env)
    client.post(f"/api/v1/certificates/{revoked['id']}/revoke", json={"reason": "x"}, headers=env["headers"])
    out = verify(client, {"items": [{"credential": good["credential"]}, {"qr": "not a credential"},
                                    {"credential": revoked["credential"]},
                                    {"qr": f"http://registry.test/v/{good['id']}"}]})
    results = out["results"]
    assert [r["verified"] for r in results] == [True, False, False, True]
    assert codes(results[1]) == ["MALFORMED"] and codes(results[2]) == ["REVOKED"]


def test_foreign_status_list_is_unavailable(app, client, env):
    from registry import verification

    out = issue(client, env)
    with app.test_request_context():
        from registry.db import get_session

        res = verification.resolver(get_session())
        with pytest.raises(Exception) as err:
            res.status_list("https://evil.example/status/r1")
        assert type(err.value).__name__ == "StatusUnavailable"
        with pytest.raises(Exception):
            res.status_list("http://registry.test/status/zz99")
        assert res.status_list(out and "http://registry.test/status/r1").purpose == "revocation"


@pytest.mark.parametrize("payload,fields", [
    ({}, {"credential", "qr"}),
    ({"credential": "a.b.c", "qr": "x"}, {"credential", "qr"}),
    ({"credential": 42}, {"credential"}),
    ({"qr": ["x"]}, {"qr"}),
    ({"qr": None}, {"qr"}),
    ({"credential": "x" * (20 * 1024 + 1)}, {"credential"}),
    ({"credential": "   "}, {"credential"}),
    ({"credential": "a.b.c", "extra": 1}, {"extra"}),
    ({"items": "nope"}, {"items"}),
    ({"items": []}, {"items"}),
    ({"items": [{"credential": "a.b.c"}] * 101}, {"items"}),
    ({"items": [{"credential": "a.b.c"}, {}]}, {"items.1.credential", "items.1.qr"}),
    ({"items": [{"credential": "a.b.c"}, "x"]}, {"items.1"}),
    ({"items": [{"credential": "a.b.c"}], "qr": "x"}, {"qr"}),
])
def test_input_errors_are_422_with_field_errors(client, payload, fields):
    body = verify(client, payload, 422)
    assert body["status"] == 422 and body["type"].endswith("/invalid-input")
    assert set(body["errors"]) == fields, body["errors"]


def test_non_json_bodies(client):
    assert client.post("/api/v1/verify", data="x", content_type="text/plain").status_code == 415
    assert client.post("/api/v1/verify", data="[1]", content_type="application/json").status_code == 400


def test_v_json_result_and_headers(client, env):
    out = issue(client, env)
    resp = client.get(f"/v/{out['id']}", headers={"Accept": "application/json"})
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["verified"] is True and body["certificate"]["status"] == "active"
    assert body["certificate"]["number"] == out["number"]
    assert resp.headers["Cache-Control"] == "public, max-age=60"
    assert {"Accept", "Accept-Language"} <= {v.strip() for v in resp.headers["Vary"].split(",")}
    etag = resp.headers["ETag"]
    again = client.get(f"/v/{out['id']}?format=json", headers={"If-None-Match": etag})
    assert again.status_code == 304
    client.post(f"/api/v1/certificates/{out['id']}/suspend", json={"reason": "audit"}, headers=env["headers"])
    changed = client.get(f"/v/{out['id']}?format=json", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.get_json()["certificate"]["status"] == "suspended"
    assert [e["code"] for e in changed.get_json()["errors"]] == ["SUSPENDED"]


JSON = {"Accept": "application/json"}
_TIMES = re.compile(rb'"(checkedAt|statusAsOf)":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"')


def _unstamped(resp) -> tuple[bytes, list]:
    """The answer's bytes without the time of checking, and its headers without the request id."""
    return _TIMES.sub(rb'"\1":"T"', resp.data), [h for h in resp.headers if h[0] != "X-Request-Id"]


def test_v_json_memo_hit_is_the_computed_answer_byte_for_byte(app, client, env):
    """The memo keeps an answer as bytes and the log claim serialised per checkpoint: a hit gives
    exactly what the computation gave (headers included), only the time of checking is its own."""
    from registry import tlog, verification
    from registry.db import get_session

    out = issue(client, env)
    cache = verification.cache_for(app)
    miss = client.get(f"/v/{out['id']}", headers=JSON)
    hit = client.get(f"/v/{out['id']}", headers=JSON)
    assert miss.status_code == hit.status_code == 200 and len(cache.answers.items) == 1
    assert _unstamped(hit) == _unstamped(miss)
    body = hit.get_json()
    assert body["checkedAt"] == body["statusAsOf"] and _TIMES.search(hit.data)
    with app.test_request_context():
        assert body["log"] == tlog.certificate_claim(get_session(), out["id"])
    assert len(cache.claims.items) == 1


def test_v_json_headers_keep_every_security_header(client, env):
    out = issue(client, env)
    headers = client.get(f"/v/{out['id']}", headers=JSON).headers
    assert headers["Vary"] == "Accept, Accept-Language, Cookie"
    for name, value in SECURITY_HEADERS.items():
        assert headers.getlist(name) == [value]
    assert headers.getlist("Content-Security-Policy") == [DEFAULT_CSP]
    assert len(headers["X-Request-Id"]) == 16
    page = client.get(f"/v/{out['id']}", headers={"Accept": "text/html"}).headers
    assert page.getlist("Content-Security-Policy") == [PAGE_CSP]  # the page's own policy, not both


def test_v_unknown_is_problem_json(client):
    resp = client.get("/v/5f0c1f7e-8a1b-4c5d-9e2f-000000000000", headers={"Accept": "application/json"})
    assert resp.status_code == 404 and resp.mimetype == "application/problem+json"
    assert resp.get_json()["type"].endswith("/certificate-not-found")


def test_all_four_kinds_verify(client, env):
    a = issue(client, env, certificate_request(footprint=footprint("1.00", start="2023-01-01T00:00:00Z",
                                                                    end="2023-12-31T23:59:59Z")))
    b = issue(client, env, certificate_request(footprint=footprint("0.85")))
    low = issue(client, env, certificate_request("low-carbon", footprint=footprint("0.60")))
    red = issue(client, env, certificate_request("reduced-carbon", footprint=None, basedOn=[a["id"], b["id"]]))
    neu = issue(client, env, certificate_request("carbon-neutral", offsets=offsets("0.5", "0.4"),
                                                 coveredQuantity="1000", renewableElectricityShare="1"))
    out = verify(client, {"items": [{"credential": c["credential"]} for c in (a, b, low, red, neu)]})
    assert [r["verified"] for r in out["results"]] == [True] * 5, [r["errors"] for r in out["results"]]


def test_v_json_over_real_http_sees_a_revocation_at_once(live_server):
    """The hot path (pooled DBAPI read + memoised answer) on a real server and database."""
    import httpx

    from ..factories import commit_body

    _body, client_id, secret = commit_body(live_server.app)
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        token = http.post("/auth/token", data={"grant_type": "client_credentials"},
                          auth=(client_id, secret)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        cert = http.post("/api/v1/certificates", json=certificate_request(), headers=headers).json()
        first = http.get(f"/v/{cert['id']}", headers={"Accept": "application/json"})
        again = http.get(f"/v/{cert['id']}", headers={"Accept": "application/json"})
        assert first.json()["verified"] is True and again.json()["verified"] is True
        assert first.headers["ETag"] == again.headers["ETag"]
        assert again.json()["certificate"]["validUntil"] == "2028-12-31T23:59:59Z"
        assert http.post(f"/api/v1/certificates/{cert['id']}/revoke", json={"reason": "test"},
                         headers=headers).status_code == 200
        after = http.get(f"/v/{cert['id']}", headers={"Accept": "application/json"})
        assert after.json()["verified"] is False and codes(after.json()) == ["REVOKED"]
        assert after.headers["ETag"] != first.headers["ETag"]
        assert http.get("/v/00000000-0000-4000-8000-000000000000", headers={"Accept": "application/json"}
                        ).status_code == 404


def test_v_hot_read_replaces_a_broken_connection(live_server):
    """The certificate read's own connections: one that broke (a restarted database, an idle
    timeout) is dropped and the read made through the pool; the answer does not change."""
    import httpx

    from ..factories import commit_body

    _body, client_id, secret = commit_body(live_server.app)
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        token = http.post("/auth/token", data={"grant_type": "client_credentials"},
                          auth=(client_id, secret)).json()["access_token"]
        cert = http.post("/api/v1/certificates", json=certificate_request(),
                         headers={"Authorization": f"Bearer {token}"}).json()
        first = http.get(f"/v/{cert['id']}", headers=JSON)
        reader = live_server.app.extensions["registry.hot_read"]
        broken = list(reader.idle)
        assert broken, "the read keeps its connection for the next request"
        for conn in broken:
            conn.close()
        for _ in range(2):
            again = http.get(f"/v/{cert['id']}", headers=JSON)
            assert again.status_code == 200 and again.headers["ETag"] == first.headers["ETag"]
            assert again.json()["verified"] is True
        assert reader.idle and not set(map(id, reader.idle)) & set(map(id, broken))


def test_v_hot_read_leaves_a_parents_connections_alone_after_a_fork(engine):
    """A forked worker opens its own connections and never frees its parent's (freeing a
    PostgreSQL connection would end the parent's session on the shared socket)."""
    from registry import verification

    reader = verification._HotRead(engine)
    unknown = "00000000-0000-4000-8000-000000000000"
    assert reader(unknown) is None
    parent = list(reader.idle)
    reader.pid = -1  # what a forked child sees: another process made these
    try:
        assert reader(unknown) is None
        assert parent and all(any(c is p for c in verification._INHERITED) for p in parent)
        assert reader.idle and not set(map(id, reader.idle)) & set(map(id, parent))
    finally:
        for conn in parent:
            verification._INHERITED[:] = [c for c in verification._INHERITED if c is not conn]
            conn.close()
        for conn in reader.idle:
            conn.close()
