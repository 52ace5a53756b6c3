"""PACT v3.0 over real TLS: every action, filter and error, and events in both directions.

Every /3/ answer is validated against the published PACT v3 OpenAPI document (pact-spec/).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import time

import jwt
import pytest
from jsonschema import Draft202012Validator

from registry import auth
from registry.db import new_session
from registry.models import OAuthClient

from .conftest import Supplier, pact_validate, validate_list, wait_for


@pytest.fixture(scope="module")
def world(registry_tls, requester):
    """A procurement client (made by the CLI, with callback credentials) and one supplier's certificates."""
    creds = registry_tls.cli("operator", "create-client", "Buyer Ltd", "--role", "procurement",
                             "--callback-client-id", requester.client_id,
                             "--callback-client-secret", requester.client_secret)
    assert set(creds) == {"clientId", "clientSecret"}
    supplier = Supplier(registry_tls)
    certs = [supplier.issue() for _ in range(3)]
    token = registry_tls.token(creds["clientId"], creds["clientSecret"])
    return {"creds": creds, "supplier": supplier, "certs": certs, "headers": {"Authorization": f"Bearer {token}"}}


def _list(reg, world, spec, params, status=200):
    resp = reg.http.get("/3/footprints", params=params, headers=world["headers"])
    assert resp.status_code == status, resp.text
    body = resp.json()
    if status == 200:
        validate_list(spec, body)
    else:
        pact_validate(spec, body, "#/components/schemas/Error")
    return resp, body


def _ids(body) -> set[str]:
    return {pf["id"] for pf in body["data"]}


def test_callback_secret_is_encrypted_at_rest_and_never_returned(registry_tls, requester, world):
    with registry_tls.app.app_context():
        session = new_session()
        row = session.query(OAuthClient).filter_by(client_id=world["creds"]["clientId"]).one()
        session.close()
    assert row.role == "procurement" and row.callback_client_id == requester.client_id
    assert requester.client_secret.encode() not in row.callback_secret_encrypted
    assert row.secret_hash != world["creds"]["clientSecret"]


def test_get_footprint_maps_the_certificate(registry_tls, world, pact_spec):
    cert = world["certs"][0]
    resp = registry_tls.http.get(f"/3/footprints/{cert['id']}", headers=world["headers"])
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    pact_validate(pact_spec, body["data"], "#/components/schemas/ProductFootprint")
    pf = body["data"]
    assert pf["id"] == cert["id"] and pf["status"] == "Active" and pf["specVersion"] == "3.0.0"
    assert pf["companyIds"] == [world["supplier"].manufacturer]
    assert pf["companyName"] == "Anhui Demo Cement Co."
    public = registry_tls.http.get(f"/api/v1/certificates/{cert['id']}").json()
    gtin = public["credentialSubject"]["product"]["gtin"]
    assert pf["productIds"] == [f"urn:gtin:{gtin}", f"urn:carbonlabel:certificate:{cert['number']}"]
    assert pf["productClassifications"] == ["urn:carbonlabel:category:cement"]
    pcf = pf["pcf"]
    assert pcf["declaredUnitOfMeasurement"] == "kilogram" and pcf["declaredUnitAmount"] == "1"
    assert pcf["productMassPerDeclaredUnit"] == "1"
    assert pcf["pcfExcludingBiogenicUptake"] == "0.82" and pcf["pcfIncludingBiogenicUptake"] == "0.82"
    assert pcf["referencePeriodStart"] == "2025-01-01T00:00:00Z"
    assert pcf["referencePeriodEnd"] == "2025-12-31T23:59:59Z"
    assert pcf["boundaryProcessesDescription"] == "cradle-to-gate"
    assert pcf["ipccCharacterizationFactors"] == ["AR6"]
    assert pcf["crossSectoralStandards"] == ["ISO14067", "GB/T24067"]
    assert pcf["geographyCountry"] == "CN"
    assert pcf["verification"]["providerName"] == public["issuer"]["name"]
    assert pf["validityPeriodEnd"] == "2028-12-31T23:59:59Z"
    (ext,) = pf["extensions"]
    data = ext["data"]
    assert data["certificateNumber"] == cert["number"] and data["kind"] == "carbon-footprint"
    assert data["credential"] == cert["credential"] and data["verifyUrl"] == cert["verifyUrl"]
    assert data["grade"]["scheme"] and data["grade"]["value"] == cert["grade"]
    assert data["stages"]["manufacturing"]
    # The extension's schema is published at its dataSchema URL and the data conforms to it.
    assert ext["dataSchema"].startswith(registry_tls.url + "/")
    schema = registry_tls.http.get(urlsplit(ext["dataSchema"]).path).json()
    Draft202012Validator(schema).validate(data)


def test_list_filters_and_pagination(registry_tls, world, pact_spec):
    reg, certs, supplier = registry_tls, world["certs"], world["supplier"]
    mine = {"companyId": supplier.manufacturer}
    _, body = _list(reg, world, pact_spec, mine)
    assert _ids(body) == {c["id"] for c in certs}

    # limit and an absolute Link with the request's host; following it gives the rest
    resp, body = _list(reg, world, pact_spec, {**mine, "limit": 2})
    assert len(body["data"]) == 2
    link = resp.headers["Link"]
    assert link.endswith('; rel="next"') and link.startswith(f"<{reg.url}/3/footprints?")
    nxt = link[1:link.index(">")]
    page2 = reg.http.get(nxt, headers=world["headers"])
    validate_list(pact_spec, page2.json())
    assert "Link" not in page2.headers
    assert _ids(body) | _ids(page2.json()) == {c["id"] for c in certs}
    assert reg.http.get(nxt, headers=world["headers"]).json() == page2.json()  # callable more than once

    gtins = [reg.http.get(f"/api/v1/certificates/{c['id']}").json()["credentialSubject"]["product"]["gtin"]
             for c in certs]
    # productId: repeated values OR'ed, also by the registry URN
    _, body = _list(reg, world, pact_spec, [("productId", f"urn:gtin:{gtins[0]}"),
                                            ("productId", f"urn:carbonlabel:certificate:{certs[1]['number']}")])
    assert _ids(body) == {certs[0]["id"], certs[1]["id"]}
    # different filters AND'ed
    _, body = _list(reg, world, pact_spec, [("productId", f"urn:gtin:{gtins[0]}"), ("companyId", "urn:other:x")])
    assert body == {"data": []}
    _, body = _list(reg, world, pact_spec, [("companyId", "urn:other:x"), ("companyId", supplier.manufacturer)])
    assert _ids(body) == {c["id"] for c in certs}
    _, body = _list(reg, world, pact_spec, {**mine, "geography": "CN"})
    assert len(body["data"]) == 3
    assert _list(reg, world, pact_spec, {**mine, "geography": "XX"})[1] == {"data": []}
    _, body = _list(reg, world, pact_spec, {**mine, "classification": "urn:carbonlabel:category:cement"})
    assert len(body["data"]) == 3
    assert _list(reg, world, pact_spec, {**mine, "classification": "urn:bogus:x"})[1] == {"data": []}
    start = body["data"][0]["validityPeriodStart"]
    assert len(_list(reg, world, pact_spec, {**mine, "validOn": "2027-06-01T00:00:00Z"})[1]["data"]) == 3
    assert _list(reg, world, pact_spec, {**mine, "validOn": "1900-01-01T00:00:00Z"})[1] == {"data": []}
    assert len(_list(reg, world, pact_spec, {**mine, "validAfter": "2020-01-01T00:00:00Z"})[1]["data"]) == 3
    assert _list(reg, world, pact_spec, {**mine, "validAfter": start})[1]["data"] == [
        pf for pf in body["data"] if pf["validityPeriodStart"] > start]
    assert _list(reg, world, pact_spec, {**mine, "validAfter": "2099-12-31T23:59:59Z"})[1] == {"data": []}
    assert len(_list(reg, world, pact_spec, {**mine, "validBefore": "2029-01-01T00:00:00Z"})[1]["data"]) == 3
    assert _list(reg, world, pact_spec, {**mine, "validBefore": "2028-12-31T23:59:59Z"})[1] == {"data": []}
    assert len(_list(reg, world, pact_spec, {**mine, "status": "Active"})[1]["data"]) == 3
    assert _list(reg, world, pact_spec, {**mine, "status": "Deprecated"})[1] == {"data": []}
    assert _list(reg, world, pact_spec, {**mine, "status": "BogusStatusValue"})[1] == {"data": []}
    # parameter names are matched without case, as in the specification's own example
    assert len(_list(reg, world, pact_spec, {"companyid": supplier.manufacturer})[1]["data"]) == 3


def test_revoked_and_superseded_are_deprecated_with_preceding_ids(registry_tls, world, pact_spec):
    reg = registry_tls
    supplier = Supplier(reg)
    first, second = supplier.issue(), supplier.issue()
    supplier.change(first["id"], "revoke")
    correction = supplier.issue(supersedes=second["id"])
    mine = {"companyId": supplier.manufacturer}
    _, body = _list(reg, world, pact_spec, {**mine, "status": "Deprecated"})
    assert _ids(body) == {first["id"], second["id"]}
    _, body = _list(reg, world, pact_spec, {**mine, "status": "Active"})
    assert _ids(body) == {correction["id"]}
    assert body["data"][0]["precedingPfIds"] == [second["id"]]


def test_errors_take_pacts_shape(registry_tls, world, pact_spec):
    reg = registry_tls
    cert_id = world["certs"][0]["id"]

    def error(resp, status, code):
        assert resp.status_code == status, resp.text
        assert resp.headers["Content-Type"].startswith("application/json")
        pact_validate(pact_spec, resp.json(), "#/components/schemas/Error")
        assert resp.json()["code"] == code
        assert "data" not in resp.json()

    bad = {"Authorization": "Bearer invalid-access-token"}
    error(reg.http.get("/3/footprints", headers=bad), 401, "BadRequest")
    error(reg.http.get(f"/3/footprints/{cert_id}", headers=bad), 401, "BadRequest")
    error(reg.http.get("/3/footprints"), 401, "BadRequest")
    error(reg.http.post("/3/events", json={}, headers=bad), 401, "BadRequest")
    error(reg.http.get("/3/footprints/non-existent-id", headers=world["headers"]), 404, "NotFound")
    error(reg.http.get("/3/footprints", params={"$filter": "created ge '2023-01-15T10:15:30Z'"},
                       headers=world["headers"]), 400, "BadRequest")
    error(reg.http.get("/3/footprints", params={"limit": "0"}, headers=world["headers"]), 400, "BadRequest")
    error(reg.http.get("/3/footprints", params={"validOn": "yesterday"}, headers=world["headers"]), 400, "BadRequest")
    error(reg.http.get("/3/nothing", headers=world["headers"]), 404, "NotFound")
    error(reg.http.post("/3/footprints", headers=world["headers"]), 405, "BadRequest")
    assert reg.http.delete("/api/v1/bodies").headers["Content-Type"] == "application/problem+json"
    # a certification body's token is valid but not for PACT
    error(reg.http.get("/3/footprints", headers=world["supplier"].headers), 403, "AccessDenied")
    # an expired token (signed by the registry) is TokenExpired
    with reg.app.app_context():
        session = new_session()
        client = session.query(OAuthClient).filter_by(client_id=world["creds"]["clientId"]).one()
        reg.app.config["ACCESS_TOKEN_TTL"] = -120
        try:
            expired, _ = auth.issue_access_token(session, client)
        finally:
            reg.app.config["ACCESS_TOKEN_TTL"] = 900
            session.close()
    assert jwt.decode(expired, options={"verify_signature": False})["exp"] < time.time()
    error(reg.http.get("/3/footprints", headers={"Authorization": f"Bearer {expired}"}), 401, "TokenExpired")
    # our own paths keep RFC 9457
    resp = reg.http.get("/api/v1/certificates/nope")
    assert resp.headers["Content-Type"] == "application/problem+json"


def test_https_is_required_when_the_public_url_is_https(registry_tls, world):
    # Plain HTTP to the same app (the TLS server refuses it outright; this is the app's own guard).
    client = registry_tls.app.test_client()
    resp = client.get("/3/footprints", headers=world["headers"], base_url="http://127.0.0.1")
    assert resp.status_code == 400 and "data" not in resp.get_json()


def _event(kind: str, source: str, data: dict, event_id: str) -> dict:
    return {"specversion": "1.0", "id": event_id, "source": source, "time": "2026-12-01T10:30:00Z",
            "type": f"org.wbcsd.pact.ProductFootprint.{kind}.3", "data": data}


def _post_event(reg, world, event):
    return reg.http.post("/3/events", content=json.dumps(event), headers={
        **world["headers"], "Content-Type": "application/cloudevents+json; charset=UTF-8"})


def test_request_created_is_fulfilled_at_the_requesters_events_endpoint(registry_tls, requester, world, pact_spec):
    reg = registry_tls
    cert = world["certs"][2]
    gtin = reg.http.get(f"/api/v1/certificates/{cert['id']}").json()["credentialSubject"]["product"]["gtin"]
    event = _event("RequestCreatedEvent", requester.url, {"productId": [f"urn:gtin:{gtin}"], "comment": "please"},
                   "req-fulfil-1")
    pact_validate(pact_spec, event, "#/components/schemas/RequestCreatedEvent")
    resp = _post_event(reg, world, event)
    assert resp.status_code == 200 and resp.content == b""
    reg.run_worker()
    answer = wait_for(lambda: [e for e in requester.events if e["body"]["data"].get("requestEventId") == "req-fulfil-1"])
    got = answer[0]
    assert got["headers"]["Content-Type"].startswith("application/cloudevents+json")
    body = got["body"]
    pact_validate(pact_spec, body, "#/components/schemas/RequestFulfilledEvent")
    assert body["type"] == "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3"
    assert [pf["id"] for pf in body["data"]["pfs"]] == [cert["id"]]
    for pf in body["data"]["pfs"]:
        pact_validate(pact_spec, pf, "#/components/schemas/ProductFootprint")
    # The registry authenticated at the requester's token endpoint with the callback credentials.
    assert requester.token_requests and requester.token_requests[-1]["form"] == {"grant_type": "client_credentials"}


def test_request_for_nothing_is_rejected(registry_tls, requester, world, pact_spec):
    reg = registry_tls
    event = _event("RequestCreatedEvent", requester.url, {"productId": ["urn:pact:null"]}, "req-reject-1")
    assert _post_event(reg, world, event).status_code == 200
    reg.run_worker()
    answer = wait_for(lambda: [e for e in requester.events if e["body"]["data"].get("requestEventId") == "req-reject-1"])
    body = answer[0]["body"]
    pact_validate(pact_spec, body, "#/components/schemas/RequestRejectedEvent")
    assert body["type"] == "org.wbcsd.pact.ProductFootprint.RequestRejectedEvent.3"
    assert body["data"]["error"]["code"] == "NotFound"


def test_published_is_accepted_and_bad_events_refused(registry_tls, requester, world, pact_spec):
    reg = registry_tls
    published = _event("PublishedEvent", "https://webhook.example.com", {"pfIds": ["urn:gtin:4712345060507"]}, "p-1")
    resp = _post_event(reg, world, published)
    assert resp.status_code == 200 and resp.content == b""
    for bad in ({**published, "specversion": "0.3"}, {k: v for k, v in published.items() if k != "id"},
                {**published, "type": "org.example.Unknown"}):
        resp = _post_event(reg, world, bad)
        assert resp.status_code == 400
        pact_validate(pact_spec, resp.json(), "#/components/schemas/Error")


def test_request_created_with_a_private_source_is_refused_in_production_settings(registry_tls, world):
    reg = registry_tls
    reg.app.config["ALLOW_PRIVATE_CALLBACKS"] = False
    try:
        resp = _post_event(reg, world, _event("RequestCreatedEvent", "https://127.0.0.1:9/",
                                              {"productId": ["urn:gtin:1"]}, "req-ssrf"))
        assert resp.status_code == 400 and resp.json()["code"] == "BadRequest"
        assert "non-public" in resp.json()["message"]
    finally:
        reg.app.config["ALLOW_PRIVATE_CALLBACKS"] = True


def test_openid_configuration_names_the_token_endpoint(registry_tls):
    conf = registry_tls.http.get("/.well-known/openid-configuration").json()
    assert conf["token_endpoint"] == f"{registry_tls.url}/auth/token"
    resp = registry_tls.http.post(conf["token_endpoint"], data={"grant_type": "client_credentials"},
                                  auth=("nobody", "wrong"))
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
