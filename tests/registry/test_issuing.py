"""Issuing the four kinds end to end over HTTP, with every refusal and the lifecycle."""

from __future__ import annotations

import base64
import gzip
import json

import jwt
import pytest
from sqlalchemy import func, select

from registry.models import AuditEntry, Certificate

from ..factories import (bearer, body_data, certificate_request, footprint, make_body, make_category, offsets,
                         operator_headers, token_for)


@pytest.fixture
def env(app, client, session):
    make_category(session, "cement")                 # benchmark 0.90
    make_category(session, "textile-fabric")         # no benchmark
    body, client_id, secret = make_body(session, app, accreditation={
        **body_data()["accreditation"],
        "scope": {"certificateTypes": ["carbon-footprint", "low-carbon", "reduced-carbon", "carbon-neutral"],
                  "productCategories": ["cement", "textile-fabric"]}})
    return {"body": body, "headers": bearer(token_for(client, client_id, secret)),
            "op": operator_headers(client, session)}


def issue(client, env, payload, status=201, headers=None):
    resp = client.post("/api/v1/certificates", json=payload, headers={**env["headers"], **(headers or {})})
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def problem_type(body) -> str:
    return body["type"].rsplit("/", 1)[1]


def decode_with_did(client, credential: str) -> dict:
    """Verify with only the key from the issuer's published DID document and the pinned algorithm."""
    header = jwt.get_unverified_header(credential)
    did, _, _ = header["kid"].partition("#")
    body_id = did.rsplit(":", 1)[1]
    doc = client.get(f"/bodies/{body_id}/did.json").get_json()
    method = next(m for m in doc["verificationMethod"] if m["id"] == header["kid"])
    key = jwt.PyJWK(method["publicKeyJwk"]).key
    return jwt.decode(credential, key, algorithms=["EdDSA"], options={"verify_aud": False})


def test_footprint_certificate_credential_has_every_contract_field(client, env):
    out = issue(client, env, certificate_request())
    assert out["type"] == "carbon-footprint" and out["status"] == "active" and out["grade"] == "C"  # 0.82 / 0.90 = 0.91
    assert out["number"].startswith(env["body"].code + "-")
    assert out["verifyUrl"] == f"http://registry.test/v/{out['id']}"
    assert set(out["labels"]) == {"svg", "png", "pdf"}
    header = jwt.get_unverified_header(out["credential"])
    assert header["typ"] == "vc+jwt" and header["cty"] == "vc" and header["alg"] == "EdDSA"
    payload = decode_with_did(client, out["credential"])
    assert payload["@context"] == ["https://www.w3.org/ns/credentials/v2",
                                   "http://registry.test/contexts/carbon-label/v1"]
    assert payload["id"] == f"urn:uuid:{out['id']}"
    assert payload["type"] == ["VerifiableCredential", "CarbonFootprintCertificate"]
    assert payload["issuer"] == header["kid"].split("#")[0]
    subject = payload["credentialSubject"]
    assert subject["grade"] == {"scheme": "cn-carbon-label", "schemeVersion": "1", "value": "C"}
    assert subject["benchmark"]["value"] == "0.90"
    assert subject["footprint"]["pcfExcludingBiogenicUptake"] == "0.82"
    assert subject["product"]["nameZh"].startswith("普通硅酸盐水泥")
    purposes = {e["statusPurpose"]: e for e in payload["credentialStatus"]}
    assert set(purposes) == {"revocation", "suspension"}
    assert "validFrom" in payload and payload["validUntil"] == "2028-12-31T23:59:59Z"
    ctx = client.get("/api/v1/certificates/" + out["id"]).get_json()
    assert ctx["credential"] == out["credential"] and ctx["status"] == "active"
    context = client.get("/contexts/carbon-label/v1").get_json()["@context"]
    for term in ("certificateNumber", "pcfExcludingBiogenicUptake", "grade", "CarbonFootprintCertificate"):
        assert term in context


@pytest.mark.parametrize("pcf,grade", [("0.63", "A"), ("0.765", "B"), ("0.90", "C"), ("1.035", "D"), ("1.2", "E")])
def test_footprint_grades(client, env, pcf, grade):
    assert issue(client, env, certificate_request(footprint=footprint(pcf)))["grade"] == grade


def test_footprint_without_benchmark_is_ungraded(client, env):
    req = certificate_request(product={**certificate_request()["product"], "category": "textile-fabric"})
    out = issue(client, env, req)
    assert out["grade"] is None


def test_low_carbon_rules(client, env):
    assert issue(client, env, certificate_request("low-carbon", footprint=footprint("0.75")))["grade"] == "B"
    body = issue(client, env, certificate_request("low-carbon", footprint=footprint("0.95")), 422)
    assert problem_type(body) == "benchmark-not-met"
    req = certificate_request("low-carbon", product={**certificate_request()["product"], "category": "textile-fabric"})
    assert problem_type(issue(client, env, req, 422)) == "benchmark-missing"


def _two_footprints(client, env, first="1.00", second="0.85"):
    a = issue(client, env, certificate_request(footprint=footprint(first, start="2023-01-01T00:00:00Z",
                                                                    end="2023-12-31T23:59:59Z")))
    b = issue(client, env, certificate_request(footprint=footprint(second)))
    return a, b


def test_reduced_carbon_computes_reduction(client, env):
    a, b = _two_footprints(client, env, "1.00", "0.85")
    out = issue(client, env, certificate_request("reduced-carbon", footprint=None, basedOn=[b["id"], a["id"]]))
    assert out["grade"] == "2"  # 15 % ≥ 10 %
    subject = decode_with_did(client, out["credential"])["credentialSubject"]
    assert subject["reduction"]["reduction"] == "0.1500"
    assert subject["reduction"]["baseline"]["pcf"] == "1.00" and subject["reduction"]["current"]["pcf"] == "0.85"


def test_reduced_carbon_refusals(client, env):
    a, b = _two_footprints(client, env, "1.00", "0.99")
    body = issue(client, env, certificate_request("reduced-carbon", footprint=None, basedOn=[a["id"], b["id"]]), 422)
    assert problem_type(body) == "reduction-below-minimum"
    body = issue(client, env, certificate_request("reduced-carbon", footprint=None, basedOn=[a["id"]]), 422)
    assert "basedOn" in body["errors"]
    # A reduction stated in the request is refused, never taken.
    body = issue(client, env, {**certificate_request("reduced-carbon", footprint=None, basedOn=[a["id"], b["id"]]),
                               "reduction": "0.5"}, 422)
    assert "reduction" in body["errors"]
    other = issue(client, env, certificate_request(footprint=footprint("0.5", start="2022-01-01T00:00:00Z",
                                                                     end="2022-12-31T23:59:59Z"),
                                                   product={**certificate_request()["product"],
                                                            "manufacturer": {"name": "Other", "id": "urn:uscc:OTHER"}}))
    body = issue(client, env, certificate_request("reduced-carbon", footprint=None, basedOn=[other["id"], b["id"]]), 422)
    assert problem_type(body) == "insufficient-baseline"
    body = issue(client, env, certificate_request("reduced-carbon", footprint=None,
                                                  basedOn=[a["id"], "5f0c1f7e-8a1b-4c5d-9e2f-000000000000"]), 422)
    assert problem_type(body) == "insufficient-baseline"


def test_carbon_neutral_levels_and_offsets(client, env):
    # 0.82 kg/kg × 1000 kg = 820 kg = 0.82 t to cover
    req = certificate_request("carbon-neutral", offsets=offsets("0.5", "0.4"), coveredQuantity="1000",
                              renewableElectricityShare="1")
    out = issue(client, env, req)
    assert out["grade"] == "3"
    subject = decode_with_did(client, out["credential"])["credentialSubject"]
    assert subject["neutrality"]["emissionsCovered"].startswith("820")
    body = issue(client, env, req, 409)
    assert problem_type(body) == "offset-already-used"
    short = certificate_request("carbon-neutral", offsets=offsets("0.5"), coveredQuantity="1000",
                                renewableElectricityShare="0.4")
    assert problem_type(issue(client, env, short, 422)) == "insufficient-offsets"
    avoid = certificate_request("carbon-neutral", offsets=offsets("1", kind="avoidance"), coveredQuantity="1000",
                                renewableElectricityShare="0.4")
    assert issue(client, env, avoid)["grade"] == "1"


def test_refusals_not_accredited_and_out_of_scope(app, client, session, env):
    make_category(session, "lithium-battery")
    req = certificate_request(product={**certificate_request()["product"], "category": "lithium-battery"},
                              footprint=footprint("50", declaredUnitOfMeasurement="kilowatt hour"))
    assert problem_type(issue(client, env, req, 403)) == "out-of-scope"
    client.post(f"/api/v1/bodies/{env['body'].id}/suspend", json={"reason": "audit"}, headers=env["op"])
    assert problem_type(issue(client, env, certificate_request(), 403)) == "not-accredited"


def test_field_errors_are_422_and_nothing_is_written(client, env, session):
    before = session.scalar(select(func.count(Certificate.id)))
    req = certificate_request(footprint=footprint(pcfExcludingBiogenicUptake=0.82))
    body = issue(client, env, req, 422)
    assert "footprint.pcfExcludingBiogenicUptake" in body["errors"]
    body = issue(client, env, certificate_request(footprint=footprint(end="2099-01-01T00:00:00Z")), 422)
    assert body["errors"]
    bad_stages = footprint(stages={"rawMaterialAcquisition": "0.1", "rawMaterialTransport": "0.1",
                                   "manufacturing": "0.1", "distribution": None, "use": None, "endOfLife": None})
    body = issue(client, env, certificate_request(footprint=bad_stages), 422)
    assert any(k.startswith("footprint.stages") for k in body["errors"])
    assert session.scalar(select(func.count(Certificate.id))) == before


def test_idempotency_key_returns_first_result(client, env):
    req = certificate_request()
    first = issue(client, env, req, headers={"Idempotency-Key": "order-42"})
    again = client.post("/api/v1/certificates", json=req, headers={**env["headers"], "Idempotency-Key": "order-42"})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first["id"]
    other = client.post("/api/v1/certificates", json=certificate_request(footprint=footprint("0.7")),
                        headers={**env["headers"], "Idempotency-Key": "order-42"})
    assert other.status_code == 409 and problem_type(other.get_json()) == "idempotency-key-reused"


def _bit(client, entry) -> bool:
    token = client.get(entry["statusListCredential"].replace("http://registry.test", "")).get_data(as_text=True)
    payload = jwt.decode(token, options={"verify_signature": False})
    encoded = payload["credentialSubject"]["encodedList"]
    bits = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    index = int(entry["statusListIndex"])
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def _ones(client, url) -> int:
    token = client.get(url.replace("http://registry.test", "")).get_data(as_text=True)
    encoded = jwt.decode(token, options={"verify_signature": False})["credentialSubject"]["encodedList"]
    bits = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    return sum(bin(b).count("1") for b in bits)


def test_lifecycle_flips_exactly_its_bit(client, env, session):
    out = issue(client, env, certificate_request())
    entries = {e["statusPurpose"]: e for e in decode_with_did(client, out["credential"])["credentialStatus"]}
    rev, sus = entries["revocation"], entries["suspension"]
    rev_ones = _ones(client, rev["statusListCredential"])
    cid = out["id"]
    assert client.post(f"/api/v1/certificates/{cid}/suspend", json={"reason": "complaint"},
                       headers=env["headers"]).status_code == 200
    assert _bit(client, sus) and not _bit(client, rev)
    assert client.post(f"/api/v1/certificates/{cid}/reinstate", json={"reason": "cleared"},
                       headers=env["headers"]).status_code == 200
    assert not _bit(client, sus)
    assert client.post(f"/api/v1/certificates/{cid}/revoke", json={}, headers=env["headers"]).status_code == 422
    assert client.post(f"/api/v1/certificates/{cid}/revoke", json={"reason": "data error"},
                       headers=env["op"]).status_code == 200
    assert _bit(client, rev) and _ones(client, rev["statusListCredential"]) == rev_ones + 1
    resp = client.post(f"/api/v1/certificates/{cid}/reinstate", json={"reason": "x"}, headers=env["headers"])
    assert resp.status_code == 409
    status = client.get(rev["statusListCredential"].replace("http://registry.test", ""))
    assert status.mimetype == "application/vc+jwt" and status.headers["ETag"]
    assert client.get(rev["statusListCredential"].replace("http://registry.test", ""),
                      headers={"If-None-Match": status.headers["ETag"]}).status_code == 304
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == cid).order_by(AuditEntry.id)).all()
    assert actions == ["certificate.issued", "certificate.suspended", "certificate.active", "certificate.revoked"]


def test_other_body_cannot_touch_certificate(app, client, session, env):
    out = issue(client, env, certificate_request())
    _, cid2, secret2 = make_body(session, app)
    other = bearer(token_for(client, cid2, secret2))
    resp = client.post(f"/api/v1/certificates/{out['id']}/revoke", json={"reason": "x"}, headers=other)
    assert resp.status_code == 403 and problem_type(resp.get_json()) == "not-your-certificate"


def test_revoking_basis_suspends_dependants(client, env):
    a, b = _two_footprints(client, env, "1.00", "0.80")
    reduced = issue(client, env, certificate_request("reduced-carbon", footprint=None, basedOn=[a["id"], b["id"]]))
    client.post(f"/api/v1/certificates/{a['id']}/revoke", json={"reason": "faulty data"}, headers=env["headers"])
    dep = client.get(f"/api/v1/certificates/{reduced['id']}").get_json()
    assert dep["status"] == "suspended" and "faulty data" in dep["statusReason"] and a["number"] in dep["statusReason"]


def test_correction_supersedes_and_revokes_old(client, env):
    old = issue(client, env, certificate_request())
    new = issue(client, env, certificate_request(footprint=footprint("0.80"), supersedes=old["id"]))
    assert decode_with_did(client, new["credential"])["credentialSubject"]["precedingIds"] == [f"urn:uuid:{old['id']}"]
    old_now = client.get(f"/api/v1/certificates/{old['id']}").get_json()
    assert old_now["status"] == "revoked" and old_now["statusReason"] == "superseded"


def test_search_filters_and_paginates(client, env):
    ids = {issue(client, env, certificate_request(footprint=footprint(p)))["id"] for p in ("0.7", "0.8", "0.9")}
    seen, url = [], f"/api/v1/certificates?body={env['body'].id}&limit=2"
    while url:
        page = client.get(url).get_json()
        seen += [c["id"] for c in page["items"]]
        url = page["next"]
    assert set(seen) == ids and len(seen) == 3
    by_gtin = client.get(f"/api/v1/certificates?gtin=6901234567892&body={env['body'].id}").get_json()["items"]
    assert {c["id"] for c in by_gtin} == ids  # GTIN-13 finds the GTIN-14 it normalises to
    assert client.get(f"/api/v1/certificates?type=low-carbon&body={env['body'].id}").get_json()["items"] == []
    assert client.get("/api/v1/certificates?colour=red").status_code == 422
    assert client.get("/api/v1/certificates?cursor=garbage").status_code == 422
    assert client.get("/api/v1/certificates/not-a-cert").status_code == 404


def test_grading_scheme_is_published(client):
    scheme = client.get("/api/v1/grading-schemes/cn-carbon-label").get_json()
    assert scheme["id"] == "cn-carbon-label" and scheme["version"] == "1"
    assert client.get("/api/v1/grading-schemes/cn-carbon-label/versions/1").get_json() == scheme
    assert client.get("/api/v1/grading-schemes/nope").status_code == 404


def test_withdrawn_body_cannot_change_its_certificates_but_operator_can(client, env):
    out = issue(client, env, certificate_request())
    token_headers = env["headers"]
    client.post(f"/api/v1/bodies/{env['body'].id}/withdraw", json={"reason": "fraud"}, headers=env["op"])
    resp = client.post(f"/api/v1/certificates/{out['id']}/revoke", json={"reason": "x"}, headers=token_headers)
    # Withdrawal disables the body's clients: the token it already holds ends at once.
    assert resp.status_code == 401 and problem_type(resp.get_json()) == "invalid-token"
    assert client.post(f"/api/v1/certificates/{out['id']}/revoke", json={"reason": "body withdrawn"},
                       headers=env["op"]).status_code == 200


def test_an_issuance_audit_row_stores_nothing_the_certificate_holds_and_reads_it_back(client, env, session):
    a, b = _two_footprints(client, env, "1.00", "0.85")
    batch = client.post("/api/v1/certificates/batch", headers=env["headers"], json={"items": [certificate_request(
        "carbon-neutral", offsets=offsets("0.5", "0.4"), coveredQuantity="1000", renewableElectricityShare="1")]})
    neutral = batch.get_json()["results"][0]["certificate"]
    reduced = issue(client, env, certificate_request("reduced-carbon", footprint=None, basedOn=[a["id"], b["id"]]))
    stored = session.scalars(select(AuditEntry.details).where(
        AuditEntry.action == "certificate.issued",
        AuditEntry.target_id.in_([a["id"], neutral["id"], reduced["id"]]))).all()
    assert stored == [{}, {}, {}]  # both paths, single and batch
    items = client.get("/api/v1/audit?action=certificate.issued&limit=10", headers=env["op"]).get_json()["items"]
    shown = {e["targetId"]: e["details"] for e in items}
    kid = jwt.get_unverified_header(a["credential"])["kid"]
    assert shown[a["id"]] == {"number": a["number"], "type": "carbon-footprint", "grade": a["grade"], "kid": kid,
                              "basedOn": [], "offsets": []}
    assert shown[reduced["id"]]["basedOn"] == sorted([a["id"], b["id"]])
    assert shown[reduced["id"]]["type"] == "reduced-carbon" and shown[reduced["id"]]["number"] == reduced["number"]
    serials = [o["serialNumber"] for o in neutral_offsets(neutral)]
    assert shown[neutral["id"]]["offsets"] == [f"CCER:{s}" for s in serials]
    assert shown[neutral["id"]]["grade"] == "3"


def neutral_offsets(cert: dict) -> list[dict]:
    payload = jwt.decode(cert["credential"], options={"verify_signature": False})
    return payload["credentialSubject"]["neutrality"]["offsets"]
