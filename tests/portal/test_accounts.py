"""Accounts through the real login form: TOTP, lockout, CSRF, sessions, recovery codes, invitations."""

from __future__ import annotations

import json
import time

import pyotp

from registry.models import AuditEntry, User
from tests.factories import certificate_request, make_body

from .conftest import csrf_from, login, make_user, next_code


def test_create_user_command_prints_enrolled_account(runner, session, body):
    result = runner.invoke(args=["operator", "create-user", "Anna@Example.org", "--role", "certifier",
                                 "--body", body.id])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out) == {"email", "password", "totpSecret"}
    assert out["email"] == "anna@example.org"
    user = session.query(User).filter_by(email="anna@example.org").one()
    assert user.body_id == body.id and user.role == "certifier"
    assert user.password_hash.startswith("$argon2id$")
    assert pyotp.TOTP(out["totpSecret"]).now().isdigit()


def test_login_needs_password_and_code_and_refuses_a_used_code(client, certifier):
    user, password, secret = certifier
    code = pyotp.TOTP(secret).now()
    assert login(client, user.email, "wrong password", secret, code=code).status_code == 401
    assert login(client, user.email, password, secret, code="000000" if code != "000000" else "111111").status_code == 401
    resp = login(client, user.email, password, secret, code=code)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/")
    assert client.get("/portal/").status_code == 200
    client.post("/portal/logout", data={"csrf_token": csrf_from(client.get("/portal/").get_data(as_text=True))})
    again = login(client, user.email, password, secret, code=code)
    assert again.status_code == 401  # the same code cannot sign in twice


def test_unknown_email_and_wrong_password_read_alike(client, certifier):
    user, password, secret = certifier
    a = login(client, "nobody@example.org", password, secret).get_data(as_text=True)
    b = login(client, user.email, "not the password", secret).get_data(as_text=True)
    strip = lambda html: html.replace("nobody@example.org", "X").replace(user.email, "X")  # noqa: E731
    assert strip(a).split("<main", 1)[1].split('name="csrf_token"')[0] == \
        strip(b).split("<main", 1)[1].split('name="csrf_token"')[0]


def test_lockout_after_repeated_failures_counts_failures_only(client, certifier, session):
    user, password, secret = certifier
    for _ in range(5):
        assert login(client, user.email, "wrong", secret).status_code == 401
    locked = login(client, user.email, password, secret)
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.get_data(as_text=True)
    assert "<title>Error:" in locked.get_data(as_text=True)
    # an unknown email locks the same way, so lockout tells nothing about which emails exist
    for _ in range(5):
        login(client, "ghost@example.org", "wrong", secret)
    assert login(client, "ghost@example.org", "wrong", secret).status_code == 429


def test_csrf_missing_or_wrong_is_refused_and_changes_nothing(client, certifier, session):
    user, password, secret = certifier
    resp = client.post("/portal/login", data={"email": user.email, "password": password,
                                              "code": pyotp.TOTP(secret).now()})
    assert resp.status_code == 400
    assert client.get("/portal/").status_code == 302  # not signed in
    login(client, user.email, password, secret)
    before = session.query(AuditEntry).count()
    resp = client.post("/portal/account", data={"csrf_token": "forged", "current": password,
                                                "new": "a brand new password"})
    assert resp.status_code == 400
    assert session.query(AuditEntry).count() == before
    # the API keeps using bearer tokens without CSRF
    assert client.post("/api/v1/certificates", json=certificate_request()).status_code == 401


def test_session_idle_and_absolute_timeouts(signed_in):
    assert signed_in.get("/portal/").status_code == 200
    with signed_in.session_transaction() as s:
        s["seen"] = int(time.time()) - 31 * 60
    resp = signed_in.get("/portal/")
    assert resp.status_code == 302 and "/portal/login" in resp.headers["Location"]
    assert signed_in.get("/portal/").status_code == 302


def test_password_change_ends_other_sessions(app, certifier, session):
    user, password, secret = certifier
    used: set = set()
    first, second = app.test_client(), app.test_client()
    login(first, user.email, password, secret, used)
    login(second, user.email, password, secret, used)
    page = first.get("/portal/account").get_data(as_text=True)
    resp = first.post("/portal/account", data={"csrf_token": csrf_from(page), "current": password,
                                               "new": "another long password"})
    assert resp.status_code == 302
    assert first.get("/portal/").status_code == 200
    assert second.get("/portal/").status_code == 302


def test_recovery_codes_shown_once_burned_on_use(app, certifier):
    user, password, secret = certifier
    c = app.test_client()
    login(c, user.email, password, secret)
    page = c.get("/portal/account/recovery-codes").get_data(as_text=True)
    assert c.post("/portal/account/recovery-codes", data={"csrf_token": csrf_from(page),
                                                          "password": "wrong"}).status_code == 400
    html = c.post("/portal/account/recovery-codes", data={"csrf_token": csrf_from(page),
                                                          "password": password}).get_data(as_text=True)
    code = html.split("<code>")[1].split("</code>")[0]
    other = app.test_client()
    assert login(other, user.email, password, secret, code=code).status_code == 302
    third = app.test_client()
    assert login(third, user.email, password, secret, code=code).status_code == 401


def test_invitation_enrols_with_totp_once(app, session, body):
    from registry.portal import accounts

    _, token = accounts.invite(session, email="new@example.org", role="certifier", body_id=body.id, by="test")
    c = app.test_client()
    page = c.get(f"/portal/invite/{token}").get_data(as_text=True)
    secret = page.split('id="totp-secret">')[1].split("<")[0]
    bad = c.post(f"/portal/invite/{token}", data={"csrf_token": csrf_from(page), "password": "long enough password",
                                                  "code": "12345"})
    assert bad.status_code == 400
    ok = c.post(f"/portal/invite/{token}", data={"csrf_token": csrf_from(page), "password": "long enough password",
                                                 "code": pyotp.TOTP(secret).now()})
    assert ok.status_code == 200 and "recovery-codes" in ok.get_data(as_text=True)
    assert c.get("/portal/").status_code == 200
    assert app.test_client().get(f"/portal/invite/{token}").status_code == 404


def test_language_kept_per_user(app, certifier, session):
    user, password, secret = certifier
    c = app.test_client()
    used: set = set()
    login(c, user.email, password, secret, used)
    page = c.get("/portal/").get_data(as_text=True)
    assert '<html lang="en">' in page
    c.post("/portal/language", data={"csrf_token": csrf_from(page), "lang": "zh", "next": "/portal/"})
    assert '<html lang="zh-CN">' in c.get("/portal/").get_data(as_text=True)
    other = app.test_client()
    login(other, user.email, password, secret, used)
    assert '<html lang="zh-CN">' in other.get("/portal/").get_data(as_text=True)


def test_other_bodys_certificate_is_not_found(app, session, signed_in, body):
    from registry.services import issuing
    from registry.schemas.certificates import CertificateIn

    other, _, _ = make_body(session, app)
    with app.app_context():
        cert = issuing.issue(session, app.extensions["registry.signer"], other,
                             CertificateIn().load(certificate_request()), public_url=app.config["PUBLIC_URL"],
                             actor="test")
        mine = issuing.issue(session, app.extensions["registry.signer"], body,
                             CertificateIn().load(certificate_request()), public_url=app.config["PUBLIC_URL"],
                             actor="test")
    session.commit()  # a 404 page rolls back the request's session; keep these rows past it
    assert signed_in.get(f"/portal/certificates/{cert.id}").status_code == 404
    page = signed_in.get(f"/portal/certificates/{mine.id}")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    assert signed_in.post(f"/portal/certificates/{cert.id}/revoke", data={"csrf_token": token,
                                                                          "reason": "x"}).status_code == 404
    assert cert.status == "active"
    assert cert.number not in signed_in.get("/portal/certificates").get_data(as_text=True)


def test_demo_people_can_log_in(app, session, client):
    from registry.demo import seed

    with app.app_context():
        summary = seed(session, app)
    session.commit()
    demo = summary["people"]["certifier"]
    resp = login(client, demo["email"], demo["password"], demo["totpSecret"])
    assert resp.status_code == 302
    assert "HXCC-" in client.get("/portal/certificates").get_data(as_text=True)
