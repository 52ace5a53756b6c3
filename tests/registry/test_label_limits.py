"""What one anonymous label request can cost: bounded pixels, quantised sizes, one render at a time."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import pytest

from registry.labels import MAX_PIXELS, LabelError, render_label

from .test_label_endpoints import issued, qr_text  # noqa: F401  (fixture)


def test_oversized_png_is_refused_before_rendering(client, issued):  # noqa: F811
    cert, _, _ = issued
    started = time.perf_counter()
    resp = client.get(f"/labels/{cert['id']}.png?width=300&dpi=1200")
    assert time.perf_counter() - started < 2
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["type"].endswith("/label-too-large") and body["maxPixels"] == MAX_PIXELS
    assert "pixels" in body["detail"] and "PDF" in body["detail"]
    # the same size as a vector PDF is fine
    assert client.get(f"/labels/{cert['id']}.pdf?width=300").status_code == 200


def test_library_refuses_oversized_raster():
    from registry.labels.samples import sample_credential, sample_header
    import jwt
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from registry.labels import label_data_from_credential

    payload = sample_credential("carbon-footprint", "B")
    token = jwt.encode(payload, Ed25519PrivateKey.generate(), algorithm="EdDSA",
                       headers=sample_header(body_did=payload["issuer"]))
    data = label_data_from_credential(payload, compact_jws=token, issuer_name="X", issuer_name_zh=None,
                                      verify_url=payload["credentialSubject"]["id"])
    with pytest.raises(LabelError) as err:
        render_label(data, fmt="png", width_mm=300, dpi=1200)
    assert err.value.type == "label-too-large"


def test_sizes_are_quantised_to_one_cache_key(app, client, issued):  # noqa: F811
    cert, _, _ = issued
    etags = {client.get(f"/labels/{cert['id']}.png?width={w}&dpi={d}").headers["ETag"]
             for w, d in ((60, 300), (60.2, 300), (59.6, 310), ("60.4999", 280))}
    assert len(etags) == 1
    resp = client.get(f"/labels/{cert['id']}.png?width=60.2&dpi=290")
    assert resp.headers["X-Label-DPI"] == "300" and qr_text(resp.data) == cert["verifyUrl"]
    cache = app.extensions["registry.label_responses"]
    assert len(cache.items) == 1
    assert client.get(f"/labels/{cert['id']}.png?dpi=1200&width=50").headers["X-Label-DPI"] == "600"


def test_second_concurrent_render_gets_busy_with_retry_after(app, client, issued):  # noqa: F811
    cert, _, _ = issued
    app.config["LABEL_RENDER_WAIT"] = 0.2
    assert client.get(f"/labels/{cert['id']}.svg").status_code == 200  # cached before the slot is taken
    path = Path(app.instance_path) / "label-render.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another worker process is rendering
        resp = client.get(f"/labels/{cert['id']}.png")
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "1"
        assert resp.get_json()["type"].endswith("/busy")
        assert client.get(f"/labels/{cert['id']}.svg").status_code == 200  # cached: no slot needed
    finally:
        os.close(fd)
    assert client.get(f"/labels/{cert['id']}.png").status_code == 200


def test_cold_renders_take_only_their_share_of_a_core(app, client, issued):  # noqa: F811
    cert, _, _ = issued
    app.config.update(LABEL_RENDER_SHARE=0.01, LABEL_RENDER_WAIT=0)
    assert client.get(f"/labels/{cert['id']}.png?width=60").status_code == 200
    # The slot stays closed for 99 times the render (written in the lock file, for every worker):
    lock = Path(app.instance_path) / "label-render.lock"
    assert float(lock.read_text().strip()) > time.time()
    # …a second cold render is refused at once…
    busy = client.get(f"/labels/{cert['id']}.png?width=61")
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
    # (refused before the database is read: even an unknown certificate gets `busy`, not 404)
    assert client.get("/labels/00000000-0000-0000-0000-000000000000.png").status_code == 503
    # …a rendered label is still served from the cache…
    assert client.get(f"/labels/{cert['id']}.png?width=60").status_code == 200
    # …and once the cool-down has passed the next render goes ahead.
    lock.write_text(f"{time.time() - 1:.3f}".ljust(24))
    assert client.get(f"/labels/{cert['id']}.png?width=61").status_code == 200


def test_print_options_and_compact_variant_over_http(client, issued):  # noqa: F811
    import io

    import pypdfium2 as pdfium
    import zxingcpp
    from pypdf import PdfReader

    cert, _, _ = issued
    pdf = client.get(f"/labels/{cert['id']}.pdf?print=cmyk&bleed=3&crops=1&width=60")
    assert pdf.status_code == 200
    page = PdfReader(io.BytesIO(pdf.data)).pages[0]
    trim, bleed = page.trimbox, page.bleedbox
    assert float(trim.width) == pytest.approx(60 * 72 / 25.4, abs=0.01)
    assert float(bleed.width) - float(trim.width) == pytest.approx(6 * 72 / 25.4, abs=0.01)
    assert float(page.mediabox.width) > float(bleed.width)  # room for the crop marks
    content = page.get_contents().get_data().decode("latin-1")
    assert " k\n" in content and " rg\n" not in content and "1 1 1 1 K" in content  # CMYK only
    image = pdfium.PdfDocument(pdf.data)[0].render(scale=300 / 72).to_pil().convert("L")
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [r.text for r in found] == [cert["verifyUrl"]]
    assert client.get(f"/labels/{cert['id']}.png?print=cmyk").status_code == 422
    compact = client.get(f"/labels/{cert['id']}.png?variant=compact&width=15&dpi=600&colour=mono")
    assert compact.status_code == 200 and qr_text(compact.data) == cert["verifyUrl"]
    assert client.get(f"/labels/{cert['id']}.png?variant=compact&width=14").status_code == 422


def test_a_rendered_label_is_kept_on_disk_for_every_worker(app, client, issued):  # noqa: F811
    cert, _, _ = issued
    app.config.update(LABEL_RENDER_SHARE=0.01, LABEL_RENDER_WAIT=0)
    first = client.get(f"/labels/{cert['id']}.png?width=60")
    assert first.status_code == 200
    # Another worker (its own memory cache empty) while the slot is closed: served from disk, same bytes.
    app.extensions.pop("registry.label_responses")
    again = client.get(f"/labels/{cert['id']}.png?width=60")
    assert again.status_code == 200 and again.data == first.data
    assert again.headers["X-QR-Version"] == first.headers["X-QR-Version"]
    assert qr_text(again.data) == cert["verifyUrl"]
    assert client.get(f"/labels/{cert['id']}.png?width=62").status_code == 503  # not on disk: busy
    # A torn file (a crash while writing) is not served: the label is rendered again.
    cached = list((Path(app.instance_path) / "label-cache").glob("*.label"))
    assert len(cached) == 1
    cached[0].write_bytes(cached[0].read_bytes()[:-10])
    app.extensions.pop("registry.label_responses")
    (Path(app.instance_path) / "label-render.lock").write_text(f"{time.time() - 1:.3f}".ljust(24))
    assert client.get(f"/labels/{cert['id']}.png?width=60").data == first.data


def test_label_disk_cache_keeps_to_its_budget(app, client, issued):  # noqa: F811
    cert, _, _ = issued
    app.config.update(LABEL_DISK_CACHE_MB=0.5)  # a few labels
    app.extensions.pop("registry.label_disk", None)
    disk = None
    for width in range(60, 60 + 64):
        assert client.get(f"/labels/{cert['id']}.pdf?width={width}").status_code == 200
        disk = app.extensions["registry.label_disk"]
    files = list((Path(app.instance_path) / "label-cache").glob("*.label"))
    assert disk.writes == 64 and 0 < len(files) < 64
    assert sum(f.stat().st_size for f in files) <= 0.5 * 1024 * 1024 * 0.8
