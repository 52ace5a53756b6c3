"""Certificate numbers as people type them, and verify items by number or GTIN."""

from __future__ import annotations

import pytest

from ..factories import bearer, certificate_request, make_body, make_category, product, token_for


@pytest.fixture
def issued(client, session, app):
    make_category(session, "cement")
    _, client_id, secret = make_body(session, app)
    headers = bearer(token_for(client, client_id, secret))

    def issue(**overrides):
        resp = client.post("/api/v1/certificates", json=certificate_request(**overrides), headers=headers)
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()

    issue.headers = headers
    return issue


def messy(number: str) -> str:
    return "  " + number.lower().replace("-", " ", 1).replace("-", "") + " "


def test_reads_accept_the_number_in_any_spelling(client, issued):
    cert = issued()
    for spelling in (cert["number"], messy(cert["number"]), cert["number"].replace("-", ""),
                     cert["number"].lower()):
        resp = client.get(f"/api/v1/certificates/{spelling}")
        assert resp.status_code == 200 and resp.get_json()["id"] == cert["id"], spelling
    resp = client.get(f"/v/{cert['number'].replace('-', '').lower()}", headers={"Accept": "application/json"})
    assert resp.status_code == 200 and resp.get_json()["certificate"]["id"] == cert["id"]
    assert client.get(f"/v/{cert['number'].lower()}").status_code == 200
    assert client.get(f"/labels/{cert['number'].replace('-', '')}.svg").status_code == 200
    assert client.get("/api/v1/certificates/NOPE-2026-000000").status_code == 404


def test_verify_items_by_number_and_gtin(client, issued):
    first = issued()
    second = issued(product=product(gtin="06901234567892"))
    other = issued(product=product(gtin="4006381333931"))
    resp = client.post("/api/v1/verify", json={"items": [
        {"number": messy(first["number"])}, {"number": "XX-0000-000000"}, {"gtin": "6901234567892"},
        {"gtin": "0000000000000"}, {"credential": other["credential"]}]})
    assert resp.status_code == 200, resp.get_json()
    by_number, missing, by_gtin, no_gtin, by_credential = resp.get_json()["results"]
    assert by_number["verified"] and by_number["certificate"]["id"] == first["id"]
    assert not missing["verified"] and missing["errors"][0]["code"] == "NOT_FOUND"
    assert by_gtin["verified"] and by_gtin["gtin"] == "06901234567892"
    assert {r["certificate"]["id"] for r in by_gtin["results"]} >= {first["id"], second["id"]}
    assert not no_gtin["verified"] and no_gtin["errors"][0]["code"] == "NOT_FOUND"
    assert by_credential["verified"]
    single = client.post("/api/v1/verify", json={"number": first["number"]}).get_json()
    assert single["verified"] and single["certificate"]["number"] == first["number"]


def test_a_superseded_certificate_is_not_current_for_its_gtin(client, issued):
    old = issued(product=product(gtin="4006381333931"))
    new = issued(product=product(gtin="4006381333931"), supersedes=old["id"])
    result = client.post("/api/v1/verify", json={"gtin": "4006381333931"}).get_json()
    ids = [r["certificate"]["id"] for r in result["results"]]
    assert new["id"] in ids and old["id"] not in ids


def test_batches_hold_at_most_100_and_items_one_reference(client, issued):
    cert = issued()
    assert client.post("/api/v1/verify", json={"items": [{"number": cert["number"]}] * 100}).status_code == 200
    resp = client.post("/api/v1/verify", json={"items": [{"number": cert["number"]}] * 101})
    assert resp.status_code == 422
    resp = client.post("/api/v1/verify", json={"number": cert["number"], "gtin": "06901234567892"})
    assert resp.status_code == 422 and resp.headers["Content-Type"] == "application/problem+json"
    assert client.post("/api/v1/verify", json={"number": 5}).status_code == 422
