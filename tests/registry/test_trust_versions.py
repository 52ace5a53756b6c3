"""Verification caches are versioned by what changes trust and status, not by every write."""

from __future__ import annotations

import jwt
import pytest
from sqlalchemy import event, select

from registry import verification, versions
from registry.models import Body, StatusList
from registry.services import accreditation

from ..factories import bearer, body_data, certificate_request, footprint, make_body, make_category, token_for


@pytest.fixture
def env(app, client, session):
    make_category(session, "cement")
    body, client_id, secret = make_body(session, app)
    return {"body": body, "headers": bearer(token_for(client, client_id, secret))}


def issue(client, env, pcf="0.80"):
    resp = client.post("/api/v1/certificates", json=certificate_request(footprint=footprint(pcf)),
                       headers=env["headers"])
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def both(session) -> tuple[int, int]:
    return versions.current(session, versions.TRUST), versions.current(session, versions.STATUS)


def test_issuing_moves_neither_version_and_keeps_the_trust_list(app, client, session, env):
    first = issue(client, env)
    assert client.get(f"/v/{first['id']}", headers={"Accept": "application/json"}).get_json()["verified"]
    trust_before = verification.cache_for(app).trust
    before = both(session)
    issue(client, env, "0.81")
    client.post("/api/v1/certificates/batch", json={"items": [certificate_request()] * 3}, headers=env["headers"])
    assert both(session) == before
    again = client.get(f"/v/{first['id']}", headers={"Accept": "application/json"})
    assert again.get_json()["verified"]
    assert verification.cache_for(app).trust is trust_before  # not rebuilt


def test_trust_changes_move_the_trust_version(app, session, env):
    body = env["body"]
    signer = app.extensions["registry.signer"]
    seen = [both(session)[0]]

    def moved():
        session.flush()
        seen.append(both(session)[0])
        return seen[-1] > seen[-2]

    accreditation.suspend_body(session, body, "audit", actor="test")
    assert moved()
    accreditation.reinstate_body(session, body, "audit passed", actor="test")
    assert moved()
    with app.app_context():
        accreditation.rotate_key(session, signer, body, public_url=app.config["PUBLIC_URL"], actor="test")
    assert moved()
    accreditation.add_accreditation(session, body, body_data()["accreditation"], actor="test")
    assert moved()
    body.name_zh = "新名称"
    assert moved()
    with app.app_context():
        make_body(session, app)
    assert moved()
    accreditation.withdraw_body(session, body, "closed", actor="test")
    assert moved()


def test_status_version_moves_with_a_flip_or_a_new_list(client, session, env):
    cert = issue(client, env)
    status_before = both(session)[1]
    resp = client.post(f"/api/v1/certificates/{cert['id']}/suspend", json={"reason": "check"}, headers=env["headers"])
    assert resp.status_code == 200
    assert both(session)[1] == status_before + 1
    result = client.get(f"/v/{cert['id']}", headers={"Accept": "application/json"}).get_json()
    assert not result["verified"] and "SUSPENDED" in [e["code"] for e in result["errors"]]
    lists = session.scalars(select(StatusList)).all()
    for row in lists:  # fill the open lists so the next issuance opens new ones
        row.used = row.size
    session.flush()
    assert both(session)[1] == status_before + 1  # counting used entries is not a status change
    fresh = issue(client, env, "0.7")
    assert both(session)[1] > status_before + 1  # the new lists
    assert client.get(f"/v/{fresh['id']}", headers={"Accept": "application/json"}).get_json()["verified"]


def test_suspended_body_is_seen_at_once_by_a_warm_verifier(client, session, env):
    cert = issue(client, env)
    # Warm every cache, then suspend the body's accreditation back to before the certificate.
    assert client.get(f"/v/{cert['id']}", headers={"Accept": "application/json"}).get_json()["verified"]
    body = session.get(Body, env["body"].id)
    issued_at = jwt.decode(cert["credential"], options={"verify_signature": False})["validFrom"]
    for acc in body.accreditations:
        acc.valid_from = acc.valid_from.replace(year=acc.valid_from.year + 5)
    session.flush()
    result = client.get(f"/v/{cert['id']}", headers={"Accept": "application/json"}).get_json()
    assert not result["verified"], issued_at


def _statements(engine, fn) -> list[str]:
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return seen


def test_trust_list_is_rebuilt_only_when_trust_changes(app, client, session, env, engine):
    for _ in range(3):
        with app.app_context():
            make_body(session, app)
    issue(client, env)  # the first issuance creates the transparency log's key: a trust change of its own
    first = client.get("/trust-list")
    assert first.status_code == 200
    issue(client, env)
    # A cached answer reads the trust version and the registry key, whatever the number of bodies.
    statements = _statements(engine, lambda: client.get("/trust-list"))
    again = client.get("/trust-list")
    assert again.get_data() == first.get_data() and len(statements) <= 3, statements
    accreditation.suspend_body(session, env["body"], "audit", actor="test")
    session.flush()
    changed = client.get("/trust-list").get_data(as_text=True)
    claims = jwt.decode(changed, options={"verify_signature": False})
    mine = next(b for b in claims["bodies"] if b["id"] == env["body"].id)
    assert mine["status"] == "suspended" and changed != first.get_data(as_text=True)


def test_trust_list_payload_loads_bodies_eagerly(app, session, env, engine):
    for _ in range(4):
        with app.app_context():
            make_body(session, app)
    with app.app_context():  # the payload names the transparency log's key, made on first use
        accreditation.trust_list_payload(session, "http://registry.test", 60)
    session.flush()
    session.expire_all()
    with app.app_context():
        statements = _statements(engine, lambda: accreditation.trust_list_payload(session, "http://registry.test", 60))
    # four plain queries, whatever the number of bodies, plus the log key and the test session's savepoint
    assert len(statements) <= 6, statements
