"""Every portal page in Chinese, for each role, has no English words a person must read: forms
with schema and rule errors, an import dry run with row errors and its results, the audit trail
with a row of every action, error pages. The data the test enters is Chinese or codes, so every
English word found is the portal's own."""

from __future__ import annotations

import io
import re

import pytest

from registry.portal.filters import AUDIT_ACTIONS
from registry.services import accreditation, audit
from tests.factories import body_data, offsets

from .conftest import csrf_from, login, make_user
from .test_import import ROW, upload, xlsx
from .test_issue import FORM
from .zh_text import english_words

CHINESE = {"product.name": "PO 42.5", "product.manufacturer.name": "安徽示例水泥有限公司"}
#: What the test itself types that pages echo: a category code, a file's extension, a wrong code.
CODES = {"cement", "xlsx", "no-such-category"}


def zh_client(app, session, role, body_id=None):
    user, password, secret = make_user(session, role, body_id)
    client = app.test_client()
    assert login(client, user.email, password, secret).status_code == 302
    page = client.get("/portal/").get_data(as_text=True)
    assert client.post("/portal/language", data={"csrf_token": csrf_from(page), "lang": "zh"}).status_code == 302
    return client, user


def chinese(resp, what: str, status: int = 200) -> str:
    html = resp.get_data(as_text=True)
    assert resp.status_code == status, f"{what}: {resp.status_code}\n{html[:1500]}"
    assert '<html lang="zh-CN">' in html, what
    words = english_words(html, CODES)
    assert not words, f"English on the Chinese page {what}: {words[:25]}"
    return html


def get(client, path, status=200):
    return chinese(client.get(path), path, status)


@pytest.fixture
def zh_body(app, session):
    accreditation.put_category(session, "cement", {
        "name": "General Portland cement", "nameZh": "通用硅酸盐水泥", "declaredUnitOfMeasurement": "kilogram",
        "benchmark": {"value": "0.90", "standard": "GB/T 1-2025", "source": "中国建筑材料联合会"}}, actor="cli")
    body, _, _ = accreditation.create_body(session, app.extensions["registry.signer"],
                                           body_data(name="CQC 42", nameZh="测试认证中心"),
                                           public_url=app.config["PUBLIC_URL"], actor="cli")
    return body


def _form(client, kind):
    page = client.get(f"/portal/issue/{kind}").get_data(as_text=True)
    return csrf_from(page), page.split('name="form_token" value="')[1].split('"')[0]


def _post_form(client, kind, fields, status, what):
    csrf, token = _form(client, kind)
    resp = client.post(f"/portal/issue/{kind}", data={**fields, "csrf_token": csrf, "form_token": token,
                                                      "action": "preview"})
    html = chinese(resp, what, status)
    if status >= 400:
        assert "error-summary" in html, what
    return html, {**fields, "csrf_token": csrf, "form_token": token}


def _footprint(client, start, end, pcf="0.80"):
    fields = {**FORM, **CHINESE, "footprint.referencePeriodStart": start, "footprint.referencePeriodEnd": end,
              "footprint.pcfExcludingBiogenicUptake": pcf, "footprint.pcfIncludingBiogenicUptake": pcf,
              "footprint.stages.rawMaterialAcquisition": "0.2", "footprint.stages.rawMaterialTransport": "0.1",
              "footprint.stages.manufacturing": str(round(float(pcf) - 0.3, 3))}
    _, data = _post_form(client, "carbon-footprint", fields, 200, "footprint preview")
    resp = client.post("/portal/issue/carbon-footprint", data={**data, "action": "issue"})
    assert resp.status_code == 302
    return resp.headers["Location"].rsplit("/", 1)[1]


def test_certifier_and_body_admin_pages_in_chinese(app, session, zh_body):
    client, _ = zh_client(app, session, "certifier", zh_body.id)
    for path in ("/portal/", "/portal/certificates", "/portal/issue", "/portal/import", "/portal/account",
                 "/portal/account/recovery-codes", "/portal/grading", "/portal/certificates/revoke",
                 *(f"/portal/issue/{k}" for k in ("carbon-footprint", "low-carbon", "reduced-carbon",
                                                  "carbon-neutral"))):
        get(client, path)

    # Forms refused by the schema and by each family of rules.
    base = {**FORM, **CHINESE}
    _post_form(client, "carbon-footprint", {**base, "product.gtin": "123", "footprint.pcfExcludingBiogenicUptake": "abc",
                                            "validUntil": "2020-01-01"}, 400, "schema errors")
    _post_form(client, "carbon-footprint", {**base, "footprint.stages.manufacturing": "0.1",
                                            "footprint.pcfIncludingBiogenicUptake": "0.9"}, 422, "footprint rules")
    _post_form(client, "low-carbon", {**base, "footprint.pcfExcludingBiogenicUptake": "1.5",
                                      "footprint.pcfIncludingBiogenicUptake": "1.5",
                                      "footprint.stages.manufacturing": "1.295"}, 422, "benchmark not met")
    first = _footprint(client, "2023-01-01", "2023-12-31", "0.90")
    second = _footprint(client, "2024-01-01", "2024-12-31", "0.89")
    product = {k: v for k, v in base.items() if k.startswith("product.")}
    _post_form(client, "reduced-carbon", {**product, "validUntil": "2028-12-31", "basedOn": first}, 422,
               "one basis")
    _post_form(client, "reduced-carbon", {**product, "validUntil": "2028-12-31", "basedOn": f"{first};{second}"},
               422, "reduction below the minimum")
    o = offsets("0.001", "0.001", prefix="zh")
    rows = {f"offsets.{i}.{k}": (v[:10] if k == "retiredAt" else v) for i, off in enumerate(o) for k, v in off.items()}
    rows |= {"offsets.0.project": "广西红树林修复", "offsets.1.project": "广西红树林修复"}
    neutral = {**product, "validUntil": "2028-12-31", "basedOn": second, "coveredQuantity": "1000",
               "renewableElectricityShare": "0.5", **rows}
    _post_form(client, "carbon-neutral", neutral, 422, "insufficient offsets")
    _post_form(client, "carbon-neutral", {**neutral, "offsets.1.serialNumber": rows["offsets.0.serialNumber"]}, 422,
               "duplicate offset")
    _post_form(client, "carbon-neutral", {**neutral, "offsets.0.vintage": "1990", "offsets.1.quantity": "-1",
                                          "renewableElectricityShare": "2"}, 400, "offset fields")
    html, _ = _post_form(client, "carbon-footprint", base, 200, "preview")

    page = get(client, f"/portal/certificates/{first}")
    csrf = csrf_from(page)
    assert client.post(f"/portal/certificates/{first}/suspend", data={"csrf_token": csrf,
                                                                       "reason": "客户投诉"}).status_code == 302
    get(client, f"/portal/certificates/{first}")
    chinese(client.post(f"/portal/certificates/{first}/revoke", data={"csrf_token": csrf, "reason": ""}),
            "revoke without a reason", 400)
    get(client, "/portal/certificates?status=active&type=carbon-footprint")
    get(client, f"/portal/labels?id={first}&id={second}")
    chinese(client.get(f"/portal/labels?id={second}&width=20"), "refused label width", 400)

    # Import: a dry run with row errors of every kind, then the results.
    bad = {1: {"product.gtin": "1"}, 2: {"footprint.stages.manufacturing": "0.1"},
           3: {"product.category": "no-such-category"}, 4: {"type": "low-carbon", "footprint.pcfExcludingBiogenicUptake":
                                                            "1.5", "footprint.pcfIncludingBiogenicUptake": "1.5"},
           5: {"footprint.referencePeriodEnd": "2099-12-31"}, 6: {"validUntil": "2020-01-01"},
           7: {"type": "reduced-carbon", "basedOn": first}}
    rows = [{**ROW, **CHINESE, "product.model": f"M-{i}", **bad.get(i, {})} for i in range(12)]
    made = upload(client, "货物.xlsx", xlsx(rows))
    assert made.status_code == 302
    dry = get(client, made.headers["Location"])
    assert dry.count('<tr id="row-') == len(bad)
    csrf = csrf_from(dry)
    done = client.post(made.headers["Location"] + "/issue", data={"csrf_token": csrf})
    assert done.status_code == 302
    get(client, made.headers["Location"])
    chinese(client.post("/portal/import", data={"csrf_token": csrf, "file": (io.BytesIO(b"a,b\n1,2\n"), "x.csv")},
                        content_type="multipart/form-data"), "file refused", 400)

    # Error pages.
    get(client, "/portal/no-such-page", 404)
    get(client, f"/portal/certificates/{'0' * 36}", 404)
    get(client, "/portal/logout", 405)
    get(client, "/portal/bodies", 403)

    admin, _ = zh_client(app, session, "body-admin", zh_body.id)
    page = get(admin, "/portal/body")
    csrf = csrf_from(page)
    chinese(admin.post("/portal/body/clients", data={"csrf_token": csrf, "name": "企业资源计划系统"}), "client made")
    chinese(admin.post("/portal/body/staff/invite", data={"csrf_token": csrf, "email": "同事@example.org",
                                                          "role": "operator"}), "invitation refused", 400)
    get(admin, "/portal/body")
    get(admin, "/portal/certificates")
    get(admin, f"/portal/certificates/{second}")


def test_operator_pages_and_an_audit_trail_of_every_action(app, session, zh_body):
    client, op = zh_client(app, session, "operator")
    page = get(client, f"/portal/bodies/{zh_body.id}")
    csrf = csrf_from(page)
    assert client.post(f"/portal/bodies/{zh_body.id}/suspend", data={"csrf_token": csrf,
                                                                     "reason": "监督审核"}).status_code == 302
    assert client.post(f"/portal/bodies/{zh_body.id}/reinstate", data={"csrf_token": csrf,
                                                                       "reason": "已整改"}).status_code == 302
    for actor in ("cli", f"body:{zh_body.id}", "operator:ab12cd34", "system"):
        for action in AUDIT_ACTIONS:
            target = ("certificate", "0" * 36) if action.startswith("certificate.") else (action.split(".")[0], "7")
            audit.record(session, actor=actor, action=action, target_type=target[0], target_id=target[1],
                         reason="测试记录", details={"number": "CB-2026-000001"} if target[0] == "certificate" else {})
        session.flush()
    html = get(client, "/portal/audit")
    shown = set(re.findall(r'data-action="([^"]+)"', html))
    assert shown == set(AUDIT_ACTIONS), sorted(set(AUDIT_ACTIONS) - shown)
    get(client, "/portal/audit?page=2")
    get(client, "/portal/audit?action=certificate.&body=" + zh_body.id)
    get(client, "/portal/audit?action=nothing.at.all.42")
    chinese(client.get("/portal/audit?from=2026-13-45"), "audit with a wrong date", 400)
    chinese(client.post("/portal/bodies", data={"csrf_token": csrf}), "accredit with errors", 400)
    for path in ("/portal/", "/portal/bodies", f"/portal/bodies/{zh_body.id}", "/portal/categories",
                 "/portal/staff", "/portal/registry-key", "/portal/certificates", "/portal/grading",
                 "/portal/account", "/portal/no-such-page"):
        get(client, path, 404 if "no-such" in path else 200)
