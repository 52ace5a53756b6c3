"""Everything we publish as JSON-LD expands with no error and no undefined term (strict mode).

Credentials of each of the four kinds are issued through the API; the status list credential and
the DID documents are fetched from their endpoints; every context comes from ``tests/contexts``
or from the registry itself, never from the network.
"""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from pyld import jsonld

from ..factories import (bearer, body_data, certificate_request, footprint, make_body, make_category, offsets,
                         token_for)
from ..linked_data import CONTEXTS, W3C_CONTEXTS, offline_loader, strict_expand

BASE = "http://registry.test"
CONTEXT_URL = f"{BASE}/contexts/carbon-label/v1"
DIGESTS = {
    "credentials-v2.jsonld": "59955ced6697d61e03f2b2556febe5308ab16842846f5b586d7f1f7adec92734",
    "did-v1.jsonld": "4f3eae5568c9c5f036a082088f9e192019ee06faa78973c87ff91d5421b88dad",
    "cid-v1.jsonld": "ea216ecc1cb02cd39b693dba2250141e270ba0bf95890be107dd9a9e8e43de85",
}
SCHEMA_NAME = "https://schema.org/name"


def payload_of(jws: str) -> dict:
    segment = jws.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


@pytest.fixture
def issued(app, client, session):
    """One credential of each kind, issued through the API, and a loader knowing our context."""
    make_category(session, "cement")
    body, client_id, secret = make_body(session, app, accreditation={
        **body_data()["accreditation"],
        "scope": {"certificateTypes": ["carbon-footprint", "low-carbon", "reduced-carbon", "carbon-neutral"],
                  "productCategories": ["cement"]}})
    headers = bearer(token_for(client, client_id, secret))

    def issue(payload):
        resp = client.post("/api/v1/certificates", json=payload, headers=headers)
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()

    earlier = issue(certificate_request(footprint=footprint("1.00", start="2023-01-01T00:00:00Z",
                                                            end="2023-12-31T23:59:59Z")))
    later = issue(certificate_request(footprint=footprint("0.85")))
    credentials = {
        "carbon-footprint": later,
        "low-carbon": issue(certificate_request("low-carbon", footprint=footprint("0.75"))),
        "reduced-carbon": issue(certificate_request("reduced-carbon", footprint=None,
                                                    basedOn=[later["id"], earlier["id"]])),
        "carbon-neutral": issue(certificate_request("carbon-neutral", offsets=offsets("0.5", "0.4"),
                                                    coveredQuantity="1000", renewableElectricityShare="1")),
    }
    context = client.get("/contexts/carbon-label/v1")
    assert context.status_code == 200
    return {"body": body, "credentials": {k: payload_of(v["credential"]) for k, v in credentials.items()},
            "loader": offline_loader({CONTEXT_URL: context.get_json()})}


def test_the_context_copies_are_the_published_ones():
    for name, digest in DIGESTS.items():
        assert hashlib.sha256((CONTEXTS / name).read_bytes()).hexdigest() == digest, name
    assert set(W3C_CONTEXTS.values()) == set(DIGESTS)


def test_the_strict_check_catches_a_protected_redefinition_and_an_undefined_term():
    credential = {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential"],
                  "credentialSubject": {"id": "urn:x:1", "unknownTerm": "x"}}
    _, problems = strict_expand(credential, offline_loader())
    assert problems and "unknownTerm" in problems[0]
    clash = {"@context": ["https://www.w3.org/ns/credentials/v2", {"@protected": True, "name": "https://x.example/name"}],
             "name": "x"}
    with pytest.raises(jsonld.JsonLdError) as err:
        strict_expand(clash, offline_loader())
    assert "protected term redefinition" in str(err.value.code)


@pytest.mark.parametrize("kind", ["carbon-footprint", "low-carbon", "reduced-carbon", "carbon-neutral"])
def test_each_kind_of_credential_expands_strictly(issued, kind):
    credential = issued["credentials"][kind]
    assert credential["@context"] == ["https://www.w3.org/ns/credentials/v2", CONTEXT_URL]
    expanded, problems = strict_expand(credential, issued["loader"])
    assert problems == []
    # `name` keeps the VC 2.0 meaning (schema.org name) inside our subject.
    subject = expanded[0]["https://www.w3.org/2018/credentials#credentialSubject"][0]
    product = next(v for k, v in subject.items() if k.endswith("#product"))[0]
    assert product[SCHEMA_NAME][0]["@value"] == credential["credentialSubject"]["product"]["name"]


def test_the_status_list_credential_expands_strictly(client, issued):
    credential = issued["credentials"]["carbon-footprint"]
    for entry in credential["credentialStatus"]:
        resp = client.get(entry["statusListCredential"].removeprefix(BASE))
        assert resp.status_code == 200
        _, problems = strict_expand(payload_of(resp.get_data(as_text=True)), issued["loader"])
        assert problems == []


def test_did_documents_expand_strictly(client, issued):
    for path in (f"/bodies/{issued['body'].id}/did.json", "/.well-known/did.json"):
        resp = client.get(path)
        assert resp.status_code == 200
        _, problems = strict_expand(resp.get_json(), issued["loader"])
        assert problems == [], path


def test_the_trust_list_is_a_jwt_claims_set_not_json_ld(client, issued):
    # Nothing to expand: the trust list carries no @context (docs/formats.md).
    assert "@context" not in payload_of(client.get("/trust-list").get_data(as_text=True))
