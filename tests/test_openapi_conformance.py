"""The published OpenAPI description against the running service: a bounded schemathesis run.

Every check schemathesis has, as the operator, as a certification body and anonymously, over
real HTTP to the app on its own database (a fresh SQLite file, or its own PostgreSQL schema),
seeded with a category, a body and a certificate so that the documented examples are valid
issuances. ``positive_data_acceptance`` allows the refusals that depend on the registry's
state rather than on the request's shape (404 unknown id, 409 state conflict, 422 a rule such
as an unknown category or a benchmark not met): the schema cannot express them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from registry.cli import alembic_config
from registry.db import make_engine

from .conftest import LiveServer, basic
from .factories import certificate_request, commit_body, make_operator

MAX_EXAMPLES = int(os.environ.get("REGISTRY_CONFORMANCE_EXAMPLES", "3"))
SEED = 20261201
PHASES = os.environ.get("REGISTRY_CONFORMANCE_PHASES", "examples,fuzzing,stateful")


def _own_database(database_url: str, tmp_path: Path) -> str:
    from alembic import command

    if database_url.startswith("postgresql"):
        schema = f"conformance_{uuid.uuid4().hex[:8]}"
        engine = make_engine(database_url)
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        engine.dispose()
        url = f"{database_url}{'&' if '?' in database_url else '?'}options=-csearch_path%3D{schema}"
    else:
        schema, url = None, f"sqlite:///{tmp_path / 'conformance.sqlite3'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(url, connection=conn), "head")
    engine.dispose()
    return url, schema


@pytest.fixture(scope="module")
def service(engine, database_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("conformance")
    url, schema = _own_database(database_url, tmp)
    try:
        with LiveServer(url, tmp / "instance") as live:
            live.app.config["RATELIMIT_ENABLED"] = False
            body, body_client, body_secret = commit_body(live.app)
            # The operator's run suspends, withdraws and rotates keys of a body of its own.
            spare_body, _, _ = commit_body(live.app)
            from registry.db import new_session

            with live.app.app_context():
                session = new_session()
                op_client, op_secret = make_operator(session)
                spare_client, _ = make_operator(session, name="spare")
                session.commit()
                session.close()
            import httpx

            def token(cid, secret):
                resp = httpx.post(f"{live.url}/auth/token", data={"grant_type": "client_credentials"},
                                  headers={"Authorization": basic(cid, secret)})
                resp.raise_for_status()
                return resp.json()["access_token"]

            body_token = token(body_client, body_secret)
            issued = httpx.post(f"{live.url}/api/v1/certificates", json=certificate_request(),
                                headers={"Authorization": f"Bearer {body_token}"})
            assert issued.status_code == 201, issued.text
            yield {"url": live.url, "operator": token(op_client, op_secret), "body": body_token, "tmp": tmp,
                   "ids": {"body": {"CONFORMANCE_BODY_ID": body.id, "CONFORMANCE_CERT_ID": issued.json()["id"],
                                    "CONFORMANCE_CLIENT_ID": spare_client},
                           "operator": {"CONFORMANCE_BODY_ID": spare_body.id, "CONFORMANCE_CERT_ID": issued.json()["id"],
                                        "CONFORMANCE_CLIENT_ID": spare_client}}}
    finally:
        if schema:
            engine_ = make_engine(database_url)
            with engine_.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            engine_.dispose()


def _run(service, who: str, extra: list[str]) -> subprocess.CompletedProcess:
    cli = Path(sys.executable).with_name("schemathesis")
    config = Path(__file__).with_name("schemathesis.toml")
    args = [str(cli), "--config-file", str(config), "--no-color", "run", f"{service['url']}/openapi.json", "--checks", "all", "-n", str(MAX_EXAMPLES),
            "--seed", str(SEED), "--workers", "1", "--no-shrink", "--suppress-health-check", "all",
            "--request-timeout", "20", "--phases", PHASES, *extra,
            *os.environ.get("REGISTRY_CONFORMANCE_ARGS", "").split()]
    if who != "anonymous":
        args += ["-H", f"Authorization: Bearer {service[who]}"]
    ids = service["ids"]["body" if who == "body" else "operator"]
    return subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=service["tmp"],
                          env={**os.environ, **ids})


@pytest.mark.parametrize("who,tags", [
    ("operator", ["--include-tag", "operator"]),
    ("body", ["--include-tag", "certification body"]),
    ("anonymous", []),
])
def test_schemathesis_finds_no_failures(service, who, tags):
    result = _run(service, who, tags)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-3000:]
