"""Hostile input on every route gets a 4xx problem, never a 500 (on SQLite and PostgreSQL alike)."""

from __future__ import annotations

import base64
import json
import re

import pytest

from ..factories import bearer, certificate_request, footprint, make_body, make_category, make_operator, token_for

DEEP = "[" * 5000 + "]" * 5000
EDGES = ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"]


@pytest.fixture
def env(app, client, session):
    make_category(session, "cement")
    body, client_id, secret = make_body(session, app)
    op = make_operator(session)
    return {"body": body, "headers": bearer(token_for(client, client_id, secret)),
            "op": bearer(token_for(client, *op))}


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def _url(rule, value: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", value, rule.rule)


def _type(resp) -> str:
    return (resp.get_json(silent=True) or {}).get("type", "").rsplit("/", 1)[-1]


def _all_headers(env):
    return [{}, env["op"], env["headers"]]


def test_deep_json_on_every_json_endpoint_is_400(app, client, env):
    checked = 0
    for rule, method in _routes(app):
        if method not in ("POST", "PUT", "PATCH"):
            continue
        for headers in _all_headers(env):
            resp = client.open(_url(rule, "x"), method=method, data=DEEP, headers=headers,
                               content_type="application/json")
            assert resp.status_code < 500, (rule.rule, resp.get_json(silent=True))
            if resp.status_code == 400 and _type(resp) == "json-too-deep":
                checked += 1
    assert checked >= 5
    resp = client.post("/api/v1/verify", data=DEEP, content_type="application/json")
    assert resp.status_code == 400 and _type(resp) == "json-too-deep"
    # A value nested just under the recursion limit, inside an otherwise valid request.
    nested = {"credential": "x", "extra": json.loads("[" * 900 + "]" * 900)}
    resp = client.post("/api/v1/verify", data=json.dumps(nested), content_type="application/json")
    assert resp.status_code == 400 and _type(resp) == "json-too-deep"


def test_ordinary_nesting_and_strings_in_json_are_kept(client, env):
    from registry.hardening import too_deep

    assert too_deep(json.loads("[" * 65 + "]" * 65))
    assert not too_deep(json.loads("[" * 64 + "]" * 64))
    brackets_in_strings = {"items": [{"credential": "[" * 100}] * 100}  # many brackets, little depth
    resp = client.post("/api/v1/verify", json=brackets_in_strings)
    assert resp.status_code == 200 and len(resp.get_json()["results"]) == 100
    resp = client.post("/api/v1/certificates", headers=env["headers"],
                       json=certificate_request(product={**certificate_request()["product"], "name": "水泥 😀 \\u0000"}))
    assert resp.status_code == 201, resp.get_json()


def test_nul_everywhere_on_every_route_is_4xx(app, client, env):
    for rule, method in _routes(app):
        for headers in _all_headers(env):
            for url, kwargs in [(_url(rule, "a%00b"), {}),
                                (_url(rule, "x") + "?q=%00&gtin=%00&cursor=%00", {}),
                                (_url(rule, "x"), {"json": {"name": "a\x00b", "reason": "a\x00b",
                                                            "credential": "a\x00b"}}),
                                (_url(rule, "x"), {"headers": {"Idempotency-Key": "a\x00b"}})]:
                resp = client.open(url, method=method, headers={**headers, **kwargs.pop("headers", {})}, **kwargs)
                assert resp.status_code < 500, (method, url, resp.get_json(silent=True))


def test_nul_in_search_and_reads_is_a_problem(client):
    for url in ("/api/v1/certificates?gtin=%00", "/api/v1/certificates/a%00b", "/v/a%00b",
                "/api/v1/categories/a%00", "/bodies/a%00/did.json", "/labels/a%00.svg"):
        resp = client.get(url, headers={"Accept": "application/json"})
        assert resp.status_code == 400 and _type(resp) == "invalid-characters", url
        assert resp.mimetype == "application/problem+json"


@pytest.mark.parametrize("text", ["\ud800", "a\x00b"])
def test_unstorable_strings_in_json_are_422_with_the_field(client, env, text):
    req = certificate_request(product={**certificate_request()["product"], "name": text})
    body = json.dumps(req)  # escapes the surrogate as \ud800, as any client would send it
    resp = client.post("/api/v1/certificates", data=body, headers=env["headers"], content_type="application/json")
    assert resp.status_code == 422 and _type(resp) == "invalid-characters", resp.get_json()
    assert "product.name" in resp.get_json()["errors"]
    resp = client.put("/api/v1/categories/glass", headers=env["op"], content_type="application/json",
                      data=json.dumps({"name": text, "declaredUnitOfMeasurement": "kilogram"}))
    assert resp.status_code == 422
    resp = client.post("/api/v1/verify", data=json.dumps({"credential": text}), content_type="application/json")
    assert resp.status_code == 422


def test_form_with_nul_is_refused(client):
    resp = client.post("/auth/token", data={"grant_type": "client_credentials\x00"},
                       headers={"Authorization": "Basic " + base64.b64encode(b"a:b").decode()})
    assert 400 <= resp.status_code < 500


@pytest.mark.parametrize("value", EDGES)
@pytest.mark.parametrize("where", ["validUntil", "referencePeriodStart", "referencePeriodEnd", "retiredAt"])
def test_calendar_edge_dates_in_issuance_are_422(client, env, value, where):
    if where == "validUntil":
        req = certificate_request(validUntil=value)
    elif where == "retiredAt":
        req = certificate_request("carbon-neutral", coveredQuantity="1", renewableElectricityShare="1",
                                  offsets=[{"registry": "CCER", "serialNumber": "S-1", "quantity": "1", "vintage": "2024",
                                            "kind": "removal", "retiredAt": value, "project": "P"}])
    else:
        req = certificate_request(footprint=footprint(**{"start" if where.endswith("Start") else "end": value}))
    resp = client.post("/api/v1/certificates", json=req, headers=env["headers"])
    assert resp.status_code == 422, resp.get_json()


@pytest.mark.parametrize("value", EDGES)
def test_unsigned_token_with_edge_dates_is_malformed_not_a_crash(client, value):
    def b64(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    payload = {"@context": ["https://www.w3.org/ns/credentials/v2"], "id": "urn:uuid:00000000-0000-4000-8000-000000000000",
               "type": ["VerifiableCredential", "CarbonFootprintCertificate"], "issuer": "did:web:x",
               "validFrom": value, "validUntil": value, "credentialSubject": {}}
    token = ".".join([b64({"alg": "none", "typ": "vc+jwt"}), b64(payload), ""])
    for field in ("credential", "qr"):
        resp = client.post("/api/v1/verify", json={field: token})
        assert resp.status_code == 200, resp.get_json()
        assert resp.get_json()["verified"] is False


@pytest.mark.parametrize("cursor", [
    json.dumps(["2026-01-01T00:00:00", "x"]),           # naive
    json.dumps(["9999-12-31T23:59:59-01:00", "x"]),     # past the calendar in UTC
    json.dumps([1, 2]), json.dumps(["2026-01-01T00:00:00+00:00", "x" * 100]), "[" * 3000,
    # a cursor is a log index: nothing else, and nothing out of range
    "-1", str(2**63), "true", "1.0", "1e3", '"5"', "9" * 5000, "null",
])
def test_bad_cursors_are_invalid_cursor(client, cursor):
    token = base64.urlsafe_b64encode(cursor.encode()).rstrip(b"=").decode()
    resp = client.get(f"/api/v1/certificates?cursor={token}")
    assert resp.status_code == 422 and _type(resp) == "invalid-cursor", resp.get_json()
