"""PDF labels and sheets written directly: QR codes decode from the rasterised page, glyphs and
the design's artwork are shared objects, output is deterministic."""

from __future__ import annotations

import io
import re

import pypdfium2 as pdfium
import pytest
import zxingcpp
from pypdf import PdfReader

from registry.labels import clear_caches, render_label, render_sheet
from verifier.offline import extract_jws

from .conftest import KIND_GRADES


def page_qr_texts(pdf: bytes, page: int = 0, dpi: int = 300) -> list[str]:
    image = pdfium.PdfDocument(pdf)[page].render(scale=dpi / 72).to_pil().convert("L")
    return [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


@pytest.mark.parametrize("kind,grade", [("carbon-footprint", None), ("carbon-neutral", "3"), ("low-carbon", "A")])
def test_pdf_label_qr_decodes(kind, grade, signed):
    s = signed(kind, grade)
    assert page_qr_texts(render_label(s.data, fmt="pdf", mode="link").content) == [s.verify_url]
    offline = page_qr_texts(render_label(s.data, fmt="pdf", mode="offline").content)
    assert len(offline) == 1 and extract_jws(offline[0]) == s.token


def test_sheet_shares_glyphs_and_artwork_and_every_code_decodes(signed):
    items = [signed(kind, grade).data for kind, grade in KIND_GRADES[:9]]
    clear_caches()
    pdf = render_sheet(items, mode="link")
    assert render_sheet(items, mode="link") == pdf
    assert sorted(page_qr_texts(pdf)) == sorted(d.verify_url for d in items)
    reader = PdfReader(io.BytesIO(pdf))
    xobjects = reader.pages[0]["/Resources"]["/XObject"]
    names = list(xobjects)
    glyphs = [n for n in names if n.startswith("/G")]
    layers = [n for n in names if n.startswith("/L")]
    # Each glyph is written once for the whole sheet; one static layer per design drawn.
    assert len(glyphs) == len(set(glyphs)) and len(glyphs) < 400
    assert 1 <= len(layers) <= 2  # footprint and low-carbon on this page
    content = reader.pages[0].get_contents().get_data().decode("latin-1")
    assert len(re.findall(r"/L\d+ Do", content)) >= 8
