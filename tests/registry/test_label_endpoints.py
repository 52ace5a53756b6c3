"""Label endpoints: served formats, QR read back from the PNG, caching, bulk export, GS1 resolver."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from verifier.offline import extract_jws

from ..factories import bearer, body_data, certificate_request, make_body, make_category, token_for


@pytest.fixture
def issued(app, client, session):
    make_category(session, "cement")
    body, cid, secret = make_body(session, app)
    headers = bearer(token_for(client, cid, secret))
    resp = client.post("/api/v1/certificates", json=certificate_request(), headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json(), headers, body


def qr_text(png: bytes) -> str:
    image = Image.open(io.BytesIO(png)).convert("L")
    (found,) = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return found.text


def test_png_qr_decodes_to_verification_url(client, issued):
    cert, _, _ = issued
    resp = client.get(f"/labels/{cert['id']}.png?lang=zh-en")
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    assert qr_text(resp.data) == cert["verifyUrl"]
    assert "immutable" in resp.headers["Cache-Control"] and resp.headers["ETag"]
    assert client.get(f"/labels/{cert['id']}.png?lang=zh-en",
                      headers={"If-None-Match": resp.headers["ETag"]}).status_code == 304
    assert client.get(f"/labels/{cert['id']}.png?lang=zh-en").data == resp.data  # byte-identical


def test_offline_label_carries_the_signed_credential(client, issued):
    cert, _, _ = issued
    text = qr_text(client.get(f"/labels/{cert['id']}.png?mode=offline").data)
    assert text.startswith(cert["verifyUrl"] + "#")
    assert extract_jws(text) == cert["credential"]


def test_svg_and_pdf(client, issued):
    cert, _, _ = issued
    svg = client.get(f"/labels/{cert['id']}.svg?lang=zh")
    root = ET.fromstring(svg.data)
    assert root.tag.endswith("svg") and b"<text" not in svg.data
    pdf = client.get(f"/labels/{cert['id']}.pdf?width=50")
    box = PdfReader(io.BytesIO(pdf.data)).pages[0].mediabox
    assert abs(float(box.width) - 50 * 72 / 25.4) < 0.01


def test_label_of_revoked_certificate_is_still_served(client, issued):
    cert, headers, _ = issued
    client.post(f"/api/v1/certificates/{cert['id']}/revoke", json={"reason": "test"}, headers=headers)
    assert client.get(f"/labels/{cert['id']}.svg").status_code == 200


def test_bad_label_requests(client, issued):
    cert, _, _ = issued
    assert client.get(f"/labels/{cert['id']}.gif").status_code == 404
    bad = client.get(f"/labels/{cert['id']}.png?lang=fr&dpi=5")
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"lang", "dpi"}
    assert client.get("/labels/nope.svg").status_code == 404
    tiny = client.get(f"/labels/{cert['id']}.svg?width=15&mode=offline")
    assert tiny.status_code == 422 and tiny.get_json()["type"].endswith("/label-too-small")
    assert "at least" in tiny.get_json()["detail"]
    assert client.get(f"/labels/{cert['id']}.svg?width=15&variant=compact").status_code == 200
    small = client.get(f"/labels/{cert['id']}.svg?width=50")
    assert small.status_code == 200 and "hard to read" in small.headers.get("X-Label-Warnings", "")


def test_bulk_export_own_certificates_only(app, client, session, issued):
    from registry import worker

    cert, headers, _ = issued
    second = client.post("/api/v1/certificates", json=certificate_request(), headers=headers).get_json()
    resp = client.post("/api/v1/labels/export", json={"certificates": [cert["id"], second["id"]], "formats": ["svg"]},
                       headers=headers)
    assert resp.status_code == 202 and resp.headers["Location"].endswith(f"/api/v1/jobs/{resp.get_json()['id']}")
    worker.load_tasks()
    worker.run(app, once=True)
    job = client.get(resp.headers["Location"], headers=headers).get_json()
    download = client.get(job["download"], headers=headers)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(download.data)).namelist()
    assert sorted(names) == sorted([f"{cert['number']}.svg", f"{second['number']}.svg"])
    _, cid2, secret2 = make_body(session, app)
    other = bearer(token_for(client, cid2, secret2))
    assert client.post("/api/v1/labels/export", json={"certificates": [cert["id"]]}, headers=other).status_code == 403


def test_export_cli_writes_archive(runner, issued, tmp_path):
    _, _, body = issued
    out = tmp_path / "labels.zip"
    result = runner.invoke(args=["registry", "export-labels", "--body", body.code, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(zipfile.ZipFile(out).namelist()) == 3  # svg, png, pdf of the one certificate


def test_gs1_digital_link_resolves_to_current_certificate(client, issued):
    cert, _, _ = issued
    page = client.get("/01/06901234567892", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert cert["number"] in page.get_data(as_text=True)
    resp = client.get(f"/01/06901234567892?cert={cert['id']}")
    assert resp.status_code == 302 and resp.headers["Location"] == cert["verifyUrl"]
    listing = client.get("/01/06901234567892?format=json").get_json()
    assert cert["id"] in [c["id"] for c in listing["certificates"]]
    assert client.get("/01/00000000000000", headers={"Accept": "application/json"}).status_code == 404


def test_gs1_label_link_opens_the_certificate_printed_on_it(client, issued):
    cert, _, _ = issued
    url = qr_text(client.get(f"/labels/{cert['id']}.png?link=gs1").data)
    assert url.endswith(f"/01/06901234567892?cert={cert['id']}")
    resp = client.get(url.split("registry.test", 1)[1])
    assert resp.status_code == 302 and resp.headers["Location"] == cert["verifyUrl"]


def test_svg_is_served_gzipped_when_accepted(client, issued):
    import gzip

    cert, _, _ = issued
    plain = client.get(f"/labels/{cert['id']}.svg")
    packed = client.get(f"/labels/{cert['id']}.svg", headers={"Accept-Encoding": "gzip, br"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data and len(packed.data) < len(plain.data) / 2
    assert packed.headers["ETag"] == plain.headers["ETag"]
    png = client.get(f"/labels/{cert['id']}.png", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in png.headers
