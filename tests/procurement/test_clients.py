"""Operators create, list and revoke procurement clients; the callback secret never comes back."""

from __future__ import annotations

import json

from registry.models import AuditEntry, OAuthClient

from ..conftest import basic
from ..factories import bearer, make_body, make_category, operator_headers, token_for


def test_operator_creates_lists_and_revokes_procurement_clients(client, session, app):
    headers = operator_headers(client, session)
    resp = client.post("/api/v1/procurement-clients", headers=headers,
                       json={"name": "Buyer GmbH", "callbackClientId": "reg-at-buyer", "callbackClientSecret": "s3cr3t-cb"})
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert created["clientId"].startswith("procurement-") and created["clientSecret"]
    assert created["callbackClientId"] == "reg-at-buyer" and "callbackClientSecret" not in created
    row = session.query(OAuthClient).filter_by(client_id=created["clientId"]).one()
    assert b"s3cr3t-cb" not in row.callback_secret_encrypted
    audit = session.query(AuditEntry).filter_by(target_id=created["clientId"]).one()
    assert "s3cr3t-cb" not in json.dumps(audit.details)
    listed = client.get("/api/v1/procurement-clients", headers=headers).get_json()["items"]
    assert created["clientId"] in [c["clientId"] for c in listed]
    assert "s3cr3t-cb" not in json.dumps(listed) and created["clientSecret"] not in json.dumps(listed)
    token = token_for(client, created["clientId"], created["clientSecret"])
    assert client.get("/api/v1/subscriptions", headers=bearer(token)).status_code == 200
    revoked = client.post(f"/api/v1/procurement-clients/{created['clientId']}/revoke", headers=headers)
    assert revoked.status_code == 200 and revoked.get_json()["revokedAt"]
    assert client.get("/api/v1/subscriptions", headers=bearer(token)).status_code == 401  # its tokens end too
    resp = client.post("/auth/token", data={"grant_type": "client_credentials"},
                       headers={"Authorization": basic(created["clientId"], created["clientSecret"])})
    assert resp.status_code == 401


def test_only_operators_manage_procurement_clients_and_pairs_are_required(client, session, app):
    make_category(session, "cement")
    _, body_id, body_secret = make_body(session, app)
    body = bearer(token_for(client, body_id, body_secret))
    assert client.post("/api/v1/procurement-clients", headers=body, json={"name": "x"}).status_code == 403
    headers = operator_headers(client, session)
    resp = client.post("/api/v1/procurement-clients", headers=headers, json={"name": "x", "callbackClientId": "only"})
    assert resp.status_code == 422 and "callbackClientSecret" in resp.get_json()["errors"]
    assert client.post("/api/v1/procurement-clients/nobody/revoke", headers=headers).status_code == 404


def test_procurement_tokens_cannot_issue_or_manage_certificates(client, session, app):
    headers = operator_headers(client, session)
    created = client.post("/api/v1/procurement-clients", headers=headers, json={"name": "Buyer"}).get_json()
    token = bearer(token_for(client, created["clientId"], created["clientSecret"]))
    assert client.post("/api/v1/certificates", headers=token, json={}).status_code == 403
    assert client.post("/api/v1/bodies", headers=token, json={}).status_code == 403
    assert client.get("/api/v1/procurement-clients", headers=token).status_code == 403


def test_cli_refuses_half_a_callback_pair(runner):
    result = runner.invoke(args=["operator", "create-client", "B", "--role", "procurement",
                                 "--callback-client-id", "x"])
    assert result.exit_code == 2 and "both" in result.output
