"""Issuing from the forms: the API's validation, preview, one issue per form, lifecycle and history."""

from __future__ import annotations

from registry.models import AuditEntry, Certificate
from tests.factories import footprint, offsets

from .conftest import csrf_from

FORM = {
    "product.name": "P.O 42.5 cement", "product.nameZh": "普通硅酸盐水泥", "product.category": "cement",
    "product.gtin": "06901234567892", "product.manufacturer.name": "Anhui Demo Cement Co.",
    "product.manufacturer.id": "urn:uscc:91340000MA2N00001X",
    "footprint.declaredUnitOfMeasurement": "kilogram", "footprint.declaredUnitAmount": "1",
    "footprint.pcfExcludingBiogenicUptake": "0.82", "footprint.pcfIncludingBiogenicUptake": "0.82",
    "footprint.referencePeriodStart": "2025-01-01", "footprint.referencePeriodEnd": "2025-12-31",
    "footprint.boundary": "cradle-to-gate", "footprint.ipccCharacterizationFactors": "AR6",
    "footprint.crossSectoralStandards": "ISO14067;GB/T24067",
    "footprint.stages.rawMaterialAcquisition": "0.164", "footprint.stages.rawMaterialTransport": "0.041",
    "footprint.stages.manufacturing": "0.615", "validUntil": "2028-12-31",
}


def _form_page(client, kind):
    page = client.get(f"/portal/issue/{kind}").get_data(as_text=True)
    token = page.split('name="form_token" value="')[1].split('"')[0]
    return csrf_from(page), token


def issue_via_form(client, kind="carbon-footprint", **fields):
    csrf, token = _form_page(client, kind)
    data = {**FORM, **fields, "csrf_token": csrf, "form_token": token}
    preview = client.post(f"/portal/issue/{kind}", data={**data, "action": "preview"})
    assert preview.status_code == 200, preview.get_data(as_text=True)[:3000]
    return preview, data


def test_preview_then_sign_issues_once(signed_in, session, body):
    preview, data = issue_via_form(signed_in)
    html = preview.get_data(as_text=True)
    assert "Sign and issue" in html and "Grade" in html and "data:image/svg+xml;base64," in html
    assert session.query(Certificate).filter_by(body_id=body.id).count() == 0  # the preview stored nothing
    first = signed_in.post("/portal/issue/carbon-footprint", data={**data, "action": "issue"})
    assert first.status_code == 302
    again = signed_in.post("/portal/issue/carbon-footprint", data={**data, "action": "issue"})
    assert again.headers["Location"] == first.headers["Location"]
    certs = session.query(Certificate).filter_by(body_id=body.id).all()
    assert len(certs) == 1
    entry = session.query(AuditEntry).filter_by(action="certificate.issued", target_id=certs[0].id).one()
    assert entry.actor.startswith("user:certifier-")
    page = signed_in.get(first.headers["Location"]).get_data(as_text=True)
    assert certs[0].number in page and "Issued" in page


def test_field_errors_beside_their_fields_in_the_readers_language(signed_in):
    csrf, token = _form_page(signed_in, "carbon-footprint")
    data = {**FORM, "product.gtin": "06901234567890", "footprint.pcfExcludingBiogenicUptake": "abc",
            "csrf_token": csrf, "form_token": token, "action": "preview"}
    resp = signed_in.post("/portal/issue/carbon-footprint", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "<title>Error:" in html
    assert 'href="#f-product-gtin"' in html and 'id="f-product-gtin-error"' in html
    assert 'href="#f-footprint-pcfExcludingBiogenicUptake"' in html
    assert 'value="abc"' in html  # the input is kept
    signed_in.post("/portal/language", data={"csrf_token": csrf, "lang": "zh"})
    html = signed_in.post("/portal/issue/carbon-footprint", data=data).get_data(as_text=True)
    assert "校验位" in html  # the GTIN message in Chinese


def test_rule_refusal_shows_on_the_form(signed_in, session, body):
    # a low-carbon certificate above the category benchmark (0.90)
    csrf, token = _form_page(signed_in, "low-carbon")
    data = {**FORM, "footprint.pcfExcludingBiogenicUptake": "1.5", "footprint.pcfIncludingBiogenicUptake": "1.5",
            "footprint.stages.manufacturing": "1.295", "csrf_token": csrf, "form_token": token, "action": "preview"}
    resp = signed_in.post("/portal/issue/low-carbon", data=data)
    assert resp.status_code == 422
    assert "error-summary" in resp.get_data(as_text=True)
    assert session.query(Certificate).filter_by(body_id=body.id).count() == 0


def _issue_footprint(signed_in, start, end, pcf):
    from decimal import Decimal

    v = Decimal(pcf)
    fields = {"footprint.referencePeriodStart": start, "footprint.referencePeriodEnd": end,
              "footprint.pcfExcludingBiogenicUptake": pcf, "footprint.pcfIncludingBiogenicUptake": pcf,
              "footprint.stages.rawMaterialAcquisition": str(v * Decimal("0.2")),
              "footprint.stages.rawMaterialTransport": str(v * Decimal("0.05")),
              "footprint.stages.manufacturing": str(v - v * Decimal("0.25"))}
    _, data = issue_via_form(signed_in, **fields)
    resp = signed_in.post("/portal/issue/carbon-footprint", data={**data, "action": "issue"})
    return resp.headers["Location"].rsplit("/", 1)[1]


def test_reduced_carbon_and_carbon_neutral_from_pickers_and_offsets(signed_in, session, body):
    a = _issue_footprint(signed_in, "2023-01-01", "2023-12-31", "0.90")
    b = _issue_footprint(signed_in, "2024-01-01", "2024-12-31", "0.70")
    page = signed_in.get("/portal/issue/reduced-carbon").get_data(as_text=True)
    assert f'value="{a}"' in page and f'value="{b}"' in page
    token = page.split('name="form_token" value="')[1].split('"')[0]
    product = {k: v for k, v in FORM.items() if k.startswith("product.")}
    data = {**product, "validUntil": "2028-12-31", "csrf_token": csrf_from(page), "form_token": token}
    one = signed_in.post("/portal/issue/reduced-carbon", data={**data, "basedOn": [a], "action": "preview"})
    assert one.status_code == 422 and 'href="#f-basedOn"' in one.get_data(as_text=True)  # insufficient-baseline
    preview = signed_in.post("/portal/issue/reduced-carbon", data={**data, "basedOn": [a, b], "action": "preview"})
    assert preview.status_code == 200, preview.get_data(as_text=True)[:2000]
    assert "Reduction tier" in preview.get_data(as_text=True)
    done = signed_in.post("/portal/issue/reduced-carbon", data={**data, "basedOn": f"{a};{b}", "action": "issue"})
    assert done.status_code == 302

    page = signed_in.get("/portal/issue/carbon-neutral").get_data(as_text=True)
    token = page.split('name="form_token" value="')[1].split('"')[0]
    o = offsets("0.300", "0.300")
    rows = {f"offsets.{i}.{k}": (v[:10] if k == "retiredAt" else v) for i, off in enumerate(o) for k, v in off.items()}
    data = {**product, "validUntil": "2028-12-31", "csrf_token": csrf_from(page), "form_token": token,
            "basedOn": b, "coveredQuantity": "800", "renewableElectricityShare": "0.5", **rows}
    more = signed_in.post("/portal/issue/carbon-neutral", data={**data, "action": "add-offset"})
    assert 'name="offsets.2.registry"' in more.get_data(as_text=True)
    preview = signed_in.post("/portal/issue/carbon-neutral", data={**data, "action": "preview"})
    assert preview.status_code == 200, preview.get_data(as_text=True)[:2000]
    assert "Neutrality level" in preview.get_data(as_text=True)
    assert signed_in.post("/portal/issue/carbon-neutral", data={**data, "action": "issue"}).status_code == 302
    kinds = sorted(c.type for c in session.query(Certificate).filter_by(body_id=body.id))
    assert kinds == ["carbon-footprint", "carbon-footprint", "carbon-neutral", "reduced-carbon"]


def test_lifecycle_history_and_revoke_by_number(signed_in, session, body):
    a = _issue_footprint(signed_in, "2023-01-01", "2023-12-31", "0.90")
    page = signed_in.get(f"/portal/certificates/{a}").get_data(as_text=True)
    csrf = csrf_from(page)
    empty = signed_in.post(f"/portal/certificates/{a}/suspend", data={"csrf_token": csrf, "reason": ""})
    assert empty.status_code == 400 and 'href="#f-reason-suspend"' in empty.get_data(as_text=True)
    assert signed_in.post(f"/portal/certificates/{a}/suspend", data={"csrf_token": csrf,
                                                                     "reason": "complaint"}).status_code == 302
    assert signed_in.post(f"/portal/certificates/{a}/reinstate", data={"csrf_token": csrf,
                                                                       "reason": "cleared"}).status_code == 302
    cert = session.get(Certificate, a)
    resp = signed_in.post("/portal/certificates/revoke", data={"csrf_token": csrf, "number": cert.number.lower(),
                                                               "reason": "wrong data"})
    assert resp.status_code == 302
    session.refresh(cert)
    assert cert.status == "revoked"
    history = signed_in.get(f"/portal/certificates/{a}").get_data(as_text=True).split('id="history"')[1]
    for word in ("Issued", "Suspended", "Reinstated", "Revoked", "complaint", "wrong data"):
        assert word in history


def test_list_filters_and_paging(signed_in):
    a = _issue_footprint(signed_in, "2023-01-01", "2023-12-31", "0.90")
    html = signed_in.get("/portal/certificates?status=active&gtin=6901234567892").get_data(as_text=True)
    assert a in html and 'class="chip"' in html
    assert a not in signed_in.get("/portal/certificates?status=revoked").get_data(as_text=True)
    assert "no-results" in signed_in.get("/portal/certificates?product=nothing-like-this").get_data(as_text=True)


def test_correction_supersedes_the_old_certificate(signed_in, session, body):
    old = _issue_footprint(signed_in, "2023-01-01", "2023-12-31", "0.90")
    page = signed_in.get(f"/portal/issue/carbon-footprint?correct={old}").get_data(as_text=True)
    assert f'name="supersedes" value="{old}"' in page and 'value="0.90"' in page
    token = page.split('name="form_token" value="')[1].split('"')[0]
    data = {**FORM, "footprint.pcfExcludingBiogenicUptake": "0.85", "footprint.pcfIncludingBiogenicUptake": "0.85",
            "footprint.stages.manufacturing": "0.645", "supersedes": old, "csrf_token": csrf_from(page),
            "form_token": token, "action": "issue"}
    resp = signed_in.post("/portal/issue/carbon-footprint", data=data)
    assert resp.status_code == 302
    new = session.get(Certificate, resp.headers["Location"].rsplit("/", 1)[1])
    assert new.supersedes_id == old
    before = session.get(Certificate, old)
    session.refresh(before)
    assert before.status == "revoked" and before.status_reason == "superseded"
    assert "Superseded by a correction" in signed_in.get(f"/portal/certificates/{old}").get_data(as_text=True)
