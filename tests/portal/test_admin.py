"""Body administrators' and the operator's pages, and the print page."""

from __future__ import annotations

from registry.models import AuditEntry, Body, Category, OAuthClient, SigningKey
from registry.schemas.certificates import CertificateIn
from registry.services import issuing
from tests.factories import certificate_request, make_category

from .conftest import csrf_from, login, make_user


def _signed_in(app, session, role, body_id=None):
    user, password, secret = make_user(session, role, body_id)
    client = app.test_client()
    assert login(client, user.email, password, secret).status_code == 302
    return client, user


def test_body_admin_clients_keys_staff(app, session, body):
    client, admin = _signed_in(app, session, "body-admin", body.id)
    page = client.get("/portal/body")
    assert page.status_code == 200
    csrf = csrf_from(page.get_data(as_text=True))
    made = client.post("/portal/body/clients", data={"csrf_token": csrf, "name": "ERP"}).get_data(as_text=True)
    secret = made.split('id="client-secret">')[1].split("<")[0]
    row = session.query(OAuthClient).filter_by(name="ERP").one()
    assert row.body_id == body.id and len(secret) > 30
    rotated = client.post(f"/portal/body/clients/{row.id}/rotate", data={"csrf_token": csrf}).get_data(as_text=True)
    assert rotated.split('id="client-secret">')[1].split("<")[0] != secret
    assert client.post(f"/portal/body/clients/{row.id}/disable", data={"csrf_token": csrf}).status_code == 302
    assert row.disabled_at is not None
    keys_before = session.query(SigningKey).filter_by(body_id=body.id).count()
    assert client.post("/portal/body/keys/rotate", data={"csrf_token": csrf}).status_code == 302
    assert session.query(SigningKey).filter_by(body_id=body.id).count() == keys_before + 1
    invited = client.post("/portal/body/staff/invite", data={"csrf_token": csrf, "email": "colleague@example.org",
                                                            "role": "certifier"}).get_data(as_text=True)
    assert "/portal/invite/" in invited
    refused = client.post("/portal/body/staff/invite", data={"csrf_token": csrf, "email": "boss@example.org",
                                                            "role": "operator"})
    assert refused.status_code == 400
    actors = {e.actor for e in session.query(AuditEntry).filter(AuditEntry.action.in_(
        ["client.created", "client.secret-rotated", "client.disabled", "body.key-rotated", "user.invited"]))}
    assert actors == {f"user:{admin.email}"}
    # a certifier cannot use the administrator's pages
    certifier, _ = _signed_in(app, session, "certifier", body.id)
    assert certifier.get("/portal/body").status_code == 403
    assert certifier.get("/portal/bodies").status_code == 403


def test_operator_accredits_and_manages_bodies(app, session):
    make_category(session, "cement")
    client, op = _signed_in(app, session, "operator")
    page = client.get("/portal/bodies").get_data(as_text=True)
    csrf = csrf_from(page)
    form = {"csrf_token": csrf, "name": "Portal Test Certification", "country": "CN", "number": "CNCA-P-1",
            "validFrom": "2026-01-01", "validUntil": "2029-12-31", "certificateTypes": ["carbon-footprint"],
            "productCategories": ["cement"]}
    bad = client.post("/portal/bodies", data={**form, "validUntil": "2025-01-01", "certificateTypes": []})
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert 'href="#f-certificateTypes"' in html
    bad = client.post("/portal/bodies", data={**form, "validUntil": "2025-01-01"})
    assert bad.status_code == 400 and 'href="#f-validUntil"' in bad.get_data(as_text=True)
    made = client.post("/portal/bodies", data=form)
    assert made.status_code == 200 and 'id="client-secret"' in made.get_data(as_text=True)
    body = session.query(Body).filter_by(name="Portal Test Certification").one()
    url = f"/portal/bodies/{body.id}"
    assert client.post(url + "/suspend", data={"csrf_token": csrf, "reason": ""}).status_code == 400
    assert client.post(url + "/suspend", data={"csrf_token": csrf, "reason": "audit"}).status_code == 302
    assert body.status == "suspended"
    assert client.post(url + "/reinstate", data={"csrf_token": csrf, "reason": "fixed"}).status_code == 302
    renewed = client.post(url + "/accreditations", data={**form, "number": "CNCA-P-2", "validUntil": "2031-12-31"})
    session.refresh(body)
    assert renewed.status_code == 302 and len(body.accreditations) == 2
    assert client.post("/portal/categories", data={"csrf_token": csrf, "code": "flat-glass", "name": "Flat glass",
                                                   "declaredUnitOfMeasurement": "kilogram",
                                                   "benchmark.value": "1.1", "benchmark.standard": "T/X",
                                                   "benchmark.source": "test"}).status_code == 302
    assert session.get(Category, "flat-glass").benchmark_value == "1.1"
    audit = client.get(f"/portal/audit?actor=user:{op.email}&action=body.").get_data(as_text=True)
    assert "body.suspended" in audit and "body.reinstated" in audit
    assert "no-results" in client.get("/portal/audit?action=nothing.like.this").get_data(as_text=True)
    assert client.get("/portal/audit?from=yesterday").status_code == 400
    assert client.post("/portal/registry-key", data={"csrf_token": csrf}).status_code == 302
    assert client.get("/portal/grading").status_code == 200
    staff = client.post("/portal/body/staff/invite", data={"csrf_token": csrf, "email": "new-admin@example.org",
                                                          "role": "body-admin", "body_id": body.id})
    assert "/portal/invite/" in staff.get_data(as_text=True)


def test_print_page_warnings_and_files(app, session, body, signed_in):
    with app.app_context():
        certs = [issuing.issue(session, app.extensions["registry.signer"], body,
                               CertificateIn().load(certificate_request()), public_url=app.config["PUBLIC_URL"],
                               actor="test") for _ in range(2)]
    session.commit()
    ids = "&".join(f"id={c.id}" for c in certs)
    refused = signed_in.get(f"/portal/labels?{ids}&width=20&lang=zh")
    import re

    refusals = re.findall(r'id="f-width-error">.*?至少 (\d+) 毫米', refused.get_data(as_text=True))
    assert refused.status_code == 400 and len(refusals) == 1 and int(refusals[0]) > 20  # text under 1.2 mm
    page = signed_in.get(f"/portal/labels?{ids}&width=50&lang=zh-en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "warnings-1" in html  # a 50 mm label is small: what to check
    sheet = signed_in.get(f"/portal/labels/download?{ids}&sheet=1")
    assert sheet.status_code == 200 and sheet.data.startswith(b"%PDF")
    one = signed_in.get(f"/portal/labels/download?id={certs[0].id}&format=png")
    assert one.data.startswith(b"\x89PNG")
    many = signed_in.get(f"/portal/labels/download?{ids}&format=svg")
    assert many.data.startswith(b"PK")
    assert signed_in.get(f"/portal/labels?numbers={certs[0].number}").status_code == 200
    assert signed_in.get("/portal/labels?numbers=NOPE-1").status_code == 400
    assert signed_in.get(f"/portal/labels?{ids}&width=5000").status_code == 400
