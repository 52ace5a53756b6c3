"""Integration: the standalone verifier against what the real registry publishes.

Certificates are issued through the registry's API; the verifier then fetches the registry's
JWKS, trust list and status lists through the Flask test client (the only thing faked is the
transport) and verifies online, saves for offline use, and verifies offline with no network.
This pins the wire formats of both sides to each other.
"""

from __future__ import annotations

import json

import pytest

from verifier import HttpResolver, OfflineResolver, save_for_offline, verify_credential
from verifier._cli import main

from ..factories import bearer, body_data, certificate_request, make_body, make_category, operator_headers, token_for
from .helpers import no_network


@pytest.fixture
def registry(app, client, session):
    make_category(session, "cement")
    body, client_id, secret = make_body(session, app, accreditation={
        **body_data()["accreditation"],
        "scope": {"certificateTypes": ["carbon-footprint", "low-carbon"], "productCategories": ["cement"]}})
    base = app.config["PUBLIC_URL"].rstrip("/")

    def fetch(url, headers):
        assert url.startswith(base + "/"), url
        resp = client.get(url[len(base):], headers=dict(headers))
        return resp.status_code, dict(resp.headers), resp.get_data()

    return {"base": base, "fetch": fetch, "headers": bearer(token_for(client, client_id, secret)),
            "op": operator_headers(client, session)}


def issue(client, registry, **overrides):
    resp = client.post("/api/v1/certificates", json=certificate_request(**overrides), headers=registry["headers"])
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_registry_certificate_verifies_online_and_offline(client, registry, tmp_path):
    cert = issue(client, registry)
    resolver = HttpResolver(registry["base"], fetch=registry["fetch"])
    result = verify_credential(cert["credential"], resolver)
    assert result.verified, result.to_dict()
    assert result.credential["credentialSubject"]["grade"]["value"] == cert["grade"]

    manifest = save_for_offline(resolver, tmp_path / "offline", credentials=[cert["credential"]])
    assert manifest["statusLists"]
    offline = verify_credential(cert["credential"], OfflineResolver(tmp_path / "offline"))
    assert offline.verified, offline.to_dict()


def test_registry_revocation_reaches_the_verifier(client, registry):
    cert = issue(client, registry)
    resp = client.post(f"/api/v1/certificates/{cert['id']}/revoke", json={"reason": "test"}, headers=registry["headers"])
    assert resp.status_code in (200, 204), resp.get_json()
    result = verify_credential(cert["credential"], HttpResolver(registry["base"], fetch=registry["fetch"]))
    assert result.codes == ["REVOKED"]


def test_cli_against_the_registry(client, registry, tmp_path, capsys):
    cert = issue(client, registry)
    path = tmp_path / "cred.jwt"
    path.write_text(cert["credential"])
    data = tmp_path / "data"
    assert main(["--json", "--registry", registry["base"], "--data-dir", str(data), str(path)],
                fetch=registry["fetch"]) == 0
    assert json.loads(capsys.readouterr().out)["verified"] is True
    assert main(["--save-offline", str(data), "--registry", registry["base"], str(path)], fetch=registry["fetch"]) == 0
    capsys.readouterr()
    assert main(["--offline", "--data-dir", str(data), str(path)], fetch=no_network) == 0
    assert "saved offline data" in capsys.readouterr().out
    # a link-mode label: the CLI fetches the credential from the registry
    assert main(["--registry", registry["base"], "--data-dir", str(data), cert["verifyUrl"]],
                fetch=registry["fetch"]) == 0
