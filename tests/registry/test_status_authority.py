"""Who may lift a suspension, tokens that end with their client, and the baseline count refusal."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registry.models import AuditEntry, Certificate

from ..factories import (bearer, body_data, certificate_request, footprint, make_body, make_category, make_operator,
                         token_for)


@pytest.fixture
def env(app, client, session):
    make_category(session, "cement")
    body, client_id, secret = make_body(session, app)
    op_id, op_secret = make_operator(session)
    return {"body": body, "client_id": client_id, "secret": secret,
            "headers": bearer(token_for(client, client_id, secret)),
            "op_id": op_id, "op": bearer(token_for(client, op_id, op_secret))}


def _issue(client, env, payload):
    resp = client.post("/api/v1/certificates", json=payload, headers=env["headers"])
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _act(client, headers, cert_id, action):
    return client.post(f"/api/v1/certificates/{cert_id}/{action}", json={"reason": "test"}, headers=headers)


def _type(resp) -> str:
    return resp.get_json()["type"].rsplit("/", 1)[1]


def _verified(client, cert_id) -> bool:
    return client.get(f"/v/{cert_id}", headers={"Accept": "application/json"}).get_json()["verified"]


def test_body_cannot_lift_the_operators_suspension(client, env, session):
    cert = _issue(client, env, certificate_request())
    assert _act(client, env["op"], cert["id"], "suspend").status_code == 200
    assert session.get(Certificate, cert["id"]).suspended_by == "operator"
    resp = _act(client, env["headers"], cert["id"], "reinstate")
    assert resp.status_code == 403 and _type(resp) == "suspended-by-operator"
    assert client.get(f"/api/v1/certificates/{cert['id']}").get_json()["status"] == "suspended"
    assert _act(client, env["op"], cert["id"], "reinstate").status_code == 200
    assert session.get(Certificate, cert["id"]).suspended_by is None


def test_body_lifts_its_own_suspension_and_the_operator_lifts_any(client, env, session):
    cert = _issue(client, env, certificate_request())
    assert _act(client, env["headers"], cert["id"], "suspend").status_code == 200
    assert session.get(Certificate, cert["id"]).suspended_by == "body"
    assert _act(client, env["headers"], cert["id"], "reinstate").status_code == 200
    assert _act(client, env["headers"], cert["id"], "suspend").status_code == 200
    assert _act(client, env["op"], cert["id"], "reinstate").status_code == 200


def _reduced(client, env):
    a = _issue(client, env, certificate_request(footprint=footprint("1.00", start="2023-01-01T00:00:00Z",
                                                                    end="2023-12-31T23:59:59Z")))
    b = _issue(client, env, certificate_request(footprint=footprint("0.85")))
    r = _issue(client, env, certificate_request("reduced-carbon", footprint=None, basedOn=[a["id"], b["id"]]))
    return a, b, r


def test_cascade_suspension_cannot_be_lifted_while_the_basis_is_revoked(client, env, session):
    a, _, r = _reduced(client, env)
    assert _act(client, env["headers"], a["id"], "revoke").status_code == 200
    row = session.get(Certificate, r["id"])
    assert row.status == "suspended" and row.suspended_by == "system"
    for headers in (env["headers"], env["op"]):
        resp = _act(client, headers, r["id"], "reinstate")
        assert resp.status_code == 409 and _type(resp) == "basis-not-active", resp.get_json()
    assert not _verified(client, r["id"])
    entry = session.scalars(select(AuditEntry).where(AuditEntry.target_id == r["id"],
                                                     AuditEntry.action == "certificate.suspended")).one()
    assert entry.details["by"] == "system"


def test_a_dependant_suspended_by_its_body_stays_down_once_its_basis_is_revoked(client, env):
    a, _, r = _reduced(client, env)
    assert _act(client, env["headers"], r["id"], "suspend").status_code == 200
    assert _act(client, env["headers"], a["id"], "revoke").status_code == 200
    resp = _act(client, env["headers"], r["id"], "reinstate")
    assert resp.status_code == 409 and _type(resp) == "basis-not-active"


def test_suspended_body_cannot_reinstate_but_may_read_and_suspend(client, env):
    cert = _issue(client, env, certificate_request())
    other = _issue(client, env, certificate_request())
    assert _act(client, env["headers"], cert["id"], "suspend").status_code == 200
    assert client.post(f"/api/v1/bodies/{env['body'].id}/suspend", json={"reason": "audit"},
                       headers=env["op"]).status_code == 200
    resp = _act(client, env["headers"], cert["id"], "reinstate")
    assert resp.status_code == 403 and _type(resp) == "not-accredited"
    resp = client.post("/api/v1/certificates", json=certificate_request(), headers=env["headers"])
    assert resp.status_code == 403 and _type(resp) == "not-accredited"
    assert _act(client, env["headers"], other["id"], "suspend").status_code == 200


# ---------------------------------------------------------------- tokens end with their client

def test_disabled_client_token_stops_at_once(client, env, session):
    headers = env["headers"]
    assert client.post("/api/v1/certificates", json=certificate_request(), headers=headers).status_code == 201
    resp = client.post(f"/api/v1/clients/{env['client_id']}/disable", json={"reason": "key leaked"}, headers=env["op"])
    assert resp.status_code == 200 and resp.get_json()["disabledAt"]
    resp = client.post("/api/v1/certificates", json=certificate_request(), headers=headers)
    assert resp.status_code == 401 and _type(resp) == "invalid-token"
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == "client.disabled",
                                                    AuditEntry.target_id == env["client_id"])).one()
    again = client.post(f"/api/v1/clients/{env['client_id']}/disable", json={"reason": "x"}, headers=env["op"])
    assert again.status_code == 409
    missing = client.post("/api/v1/clients/nope/disable", json={"reason": "x"}, headers=env["op"])
    assert missing.status_code == 404
    refused = client.post("/api/v1/clients/nope/disable", json={"reason": "x"}, headers=headers)
    assert refused.status_code == 401


def test_disabled_operator_token_stops_at_once(client, env):
    resp = client.post(f"/api/v1/clients/{env['op_id']}/disable", json={"reason": "left"}, headers=env["op"])
    assert resp.status_code == 200
    resp = client.put("/api/v1/categories/glass", json={"name": "Glass", "declaredUnitOfMeasurement": "kilogram"},
                      headers=env["op"])
    assert resp.status_code == 401


def test_withdrawn_body_token_stops_at_once(client, env, session):
    cert = _issue(client, env, certificate_request())
    assert client.post(f"/api/v1/bodies/{env['body'].id}/withdraw", json={"reason": "fraud"},
                       headers=env["op"]).status_code == 200
    assert _act(client, env["headers"], cert["id"], "suspend").status_code == 401
    resp = client.post("/auth/token", data={"grant_type": "client_credentials"},
                       headers={"Authorization": _basic(env["client_id"], env["secret"])})
    assert resp.status_code == 401


def test_deleted_client_token_stops(client, env, session):
    from registry.models import OAuthClient

    op = session.scalars(select(OAuthClient).where(OAuthClient.client_id == env["op_id"])).one()
    session.delete(op)
    session.flush()
    resp = client.put("/api/v1/categories/glass", json={"name": "Glass", "declaredUnitOfMeasurement": "kilogram"},
                      headers=env["op"])
    assert resp.status_code == 401


def _basic(client_id, secret):
    from ..conftest import basic

    return basic(client_id, secret)


# ---------------------------------------------------------------- contract: insufficient-baseline

@pytest.mark.parametrize("count", [0, 1])
def test_reduced_carbon_with_fewer_than_two_bases_is_insufficient_baseline(client, env, count):
    a = _issue(client, env, certificate_request())
    resp = client.post("/api/v1/certificates", headers=env["headers"],
                       json=certificate_request("reduced-carbon", footprint=None, basedOn=[a["id"]][:count]))
    assert resp.status_code == 422 and _type(resp) == "insufficient-baseline", resp.get_json()
    assert "basedOn" in resp.get_json()["errors"]
