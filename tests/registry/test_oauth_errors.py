"""The token endpoint answers errors as RFC 6749 §5.2 says; discovery has every REQUIRED member."""

from __future__ import annotations

import pytest

from ..conftest import basic
from ..factories import make_body, make_category, make_operator

DISCOVERY_REQUIRED = ("issuer", "authorization_endpoint", "jwks_uri", "response_types_supported",
                      "subject_types_supported", "id_token_signing_alg_values_supported")
RFC6749_TEXT = set(map(chr, [0x20, 0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F)]))


def assert_oauth_error(resp, status: int, error: str) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert set(body) == {"error", "error_description"} and body["error"] == error
    assert set(body["error_description"]) <= RFC6749_TEXT
    assert resp.headers["Cache-Control"] == "no-store"
    return body


@pytest.mark.parametrize("authorization", [None, "Bearer abc", "Basic !!!notbase64", basic("nobody", "x")])
def test_client_authentication_failures_are_invalid_client_with_www_authenticate(client, session, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    resp = client.post("/auth/token", data={"grant_type": "client_credentials"}, headers=headers)
    assert_oauth_error(resp, 401, "invalid_client")
    assert resp.headers["WWW-Authenticate"].startswith("Basic realm=")


@pytest.mark.parametrize("data, error", [
    ({}, "invalid_request"),
    ({"grant_type": ["client_credentials", "client_credentials"]}, "invalid_request"),
    ({"grant_type": "password"}, "unsupported_grant_type"),
    ({"grant_type": "authorization_code", "code": "x"}, "unsupported_grant_type"),
])
def test_request_errors_are_400_json(client, session, data, error):
    headers = {"Authorization": basic(*make_operator(session))}
    resp = client.post("/auth/token", data=data, headers=headers)
    assert_oauth_error(resp, 400, error)
    assert "WWW-Authenticate" not in resp.headers


def test_a_suspended_body_is_unauthorized_client(app, client, session):
    make_category(session)
    body, client_id, secret = make_body(session, app)
    body.status = "suspended"
    session.flush()
    resp = client.post("/auth/token", data={"grant_type": "client_credentials"},
                       headers={"Authorization": basic(client_id, secret)})
    assert_oauth_error(resp, 400, "unauthorized_client")


def test_discovery_has_every_required_member(client):
    doc = client.get("/.well-known/openid-configuration").get_json()
    assert all(member in doc for member in DISCOVERY_REQUIRED), set(DISCOVERY_REQUIRED) - set(doc)
    assert doc["issuer"] == "http://registry.test"
    assert doc["token_endpoint"] == "http://registry.test/auth/token"
    assert doc["grant_types_supported"] == ["client_credentials"]
    assert doc["token_endpoint_auth_methods_supported"] == ["client_secret_basic"]
    assert doc["subject_types_supported"] == ["public"]
    assert doc["response_types_supported"] == []
    assert client.get(doc["jwks_uri"].removeprefix("http://registry.test")).status_code == 200
    # The authorization endpoint exists and refuses, since no response type is supported.
    resp = client.get(doc["authorization_endpoint"].removeprefix("http://registry.test") + "?response_type=code")
    assert_oauth_error(resp, 400, "unsupported_response_type")
