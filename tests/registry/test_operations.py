"""Errors as problem+json, security headers, request ids, health, metrics, OpenAPI, CLI."""

from __future__ import annotations

import json

from ..factories import bearer, make_operator, token_for


def test_routing_errors_are_problems(client):
    resp = client.get("/api/v1/nowhere")
    assert resp.status_code == 404 and resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["type"].endswith("/not-found") and body["status"] == 404 and body["instance"] == "/api/v1/nowhere"
    resp = client.delete("/auth/token")
    assert resp.status_code == 405 and resp.get_json()["type"].endswith("/method-not-allowed")


def test_non_json_body_is_415(client, session):
    headers = bearer(token_for(client, *make_operator(session)))
    resp = client.put("/api/v1/categories/cement", data="name=x", headers=headers)
    assert resp.status_code == 415 and resp.mimetype == "application/problem+json"


def test_security_headers_and_request_id(client):
    resp = client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert resp.get_json() == {"status": "ok", "database": "ok", "keyCheck": "ok"}
    assert resp.headers["X-Request-Id"] == "abc-123"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    generated = client.get("/healthz").headers["X-Request-Id"]
    assert len(generated) == 16


def test_metrics_count_requests_by_endpoint(client):
    client.get("/healthz")
    client.get("/healthz")
    text = client.get("/metrics").get_data(as_text=True)
    line = next(l for l in text.splitlines()
                if l.startswith("registry_http_requests_total{") and 'endpoint="/healthz"' in l)
    assert float(line.rsplit(" ", 1)[1]) >= 2
    assert "registry_http_request_duration_seconds_bucket" in text


def test_openapi_describes_the_api(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/bodies" in spec["paths"] and "/auth/token" in spec["paths"]
    post = spec["paths"]["/api/v1/bodies"]["post"]
    assert post["security"] == [{"bearer": []}]
    assert "BodyIn" in json.dumps(spec["components"]["schemas"])


def test_cli_creates_operator_client(runner, client):
    result = runner.invoke(args=["operator", "create-client", "Ops desk"])
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(created) == {"clientId", "clientSecret"}
    token_for(client, created["clientId"], created["clientSecret"])


def test_production_config_refuses_to_start_without_key(monkeypatch, tmp_path):
    import pytest

    from registry import create_app
    from registry.config import ConfigError

    monkeypatch.delenv("REGISTRY_MASTER_KEY", raising=False)
    monkeypatch.delenv("REGISTRY_MASTER_KEY_FILE", raising=False)
    with pytest.raises(ConfigError, match="key-encryption key"):
        create_app({"ENV": "production", "PUBLIC_URL": "https://labels.example.org",
                    "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    with pytest.raises(ConfigError, match="REGISTRY_PUBLIC_URL"):
        create_app({"ENV": "production", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    with pytest.raises(ConfigError, match="Fernet"):
        create_app({"ENV": "production", "PUBLIC_URL": "https://x.org", "MASTER_KEY": "short",
                    "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})


def test_oversized_request_body_is_413(client):
    resp = client.post("/api/v1/verify", data=b"{" + b" " * (5 * 1024 * 1024) + b"}",
                       headers={"Content-Type": "application/json"})
    assert resp.status_code == 413 and resp.mimetype == "application/problem+json"
