"""POST /api/v1/verify holds a correctly signed credential against what the registry issued."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from registry.services import accreditation

from ..factories import bearer, certificate_request, make_body, make_category, token_for


@pytest.fixture
def env(app, client, session):
    make_category(session, "cement")
    body, client_id, secret = make_body(session, app)
    return {"body": body, "headers": bearer(token_for(client, client_id, secret))}


def _payload(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _resign(app, session, body, payload: dict) -> str:
    """Signed with the body's own, current key: the signature is genuine, the record is not."""
    with app.app_context():
        key = accreditation.current_key(session, body)
        return app.extensions["registry.signer"].sign(payload, key, typ="vc+jwt", cty="vc")


def _issue(client, env) -> dict:
    resp = client.post("/api/v1/certificates", json=certificate_request(), headers=env["headers"])
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _verify(client, token: str) -> dict:
    resp = client.post("/api/v1/verify", json={"credential": token})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_issued_credential_matches_its_record(client, env):
    result = _verify(client, _issue(client, env)["credential"])
    assert result["verified"] is True
    assert next(c for c in result["checks"] if c["name"] == "record")["ok"] is True


def test_signed_but_never_issued_is_refused(app, client, session, env):
    payload = _payload(_issue(client, env)["credential"])
    new_id = str(uuid.uuid4())
    payload["id"] = f"urn:uuid:{new_id}"
    payload["credentialSubject"]["id"] = payload["credentialSubject"]["id"].rsplit("/", 1)[0] + "/" + new_id
    result = _verify(client, _resign(app, session, env["body"], payload))
    assert result["verified"] is False and result["code"] == "NOT_ISSUED", result
    # The signature itself is fine: only the registry's record can tell.
    assert next(c for c in result["checks"] if c["name"] == "signature")["ok"] is True


# (Backdating before the key's active period is the verifier's own UNKNOWN_KEY; within it, only the record.)
@pytest.mark.parametrize("change", ["benchmark", "extended"])
def test_resigned_with_other_content_is_refused(app, client, session, env, change):
    payload = _payload(_issue(client, env)["credential"])
    if change == "benchmark":
        payload["credentialSubject"]["benchmark"]["value"] = "9.99"
    else:
        payload["validUntil"] = "2035-12-31T23:59:59Z"
    result = _verify(client, _resign(app, session, env["body"], payload))
    assert result["verified"] is False and result["code"] == "CONTENT_MISMATCH", result
    assert result["errors"][0]["code"] == "CONTENT_MISMATCH"


def test_verify_batch_and_link_keep_the_record_check(client, env):
    out = _issue(client, env)
    results = client.post("/api/v1/verify", json={"items": [{"credential": out["credential"]},
                                                            {"qr": out["verifyUrl"]}]}).get_json()["results"]
    assert [r["verified"] for r in results] == [True, True]
