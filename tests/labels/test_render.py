"""Labels for every kind × grade × language × mode: they scan back to what they promise."""

from __future__ import annotations

import copy
import io
import re
import unicodedata
import xml.etree.ElementTree as ET
from decimal import Decimal

import jwt
import pytest
import zxingcpp

from registry.labels import (
    LabelError,
    clear_caches,
    label_data_from_credential,
    render_label,
)
from registry.labels._render import render_svg
from verifier.offline import extract_jws

from .conftest import ISSUER, KIND_GRADES, kg_id, open_png

SVG_NS = "{http://www.w3.org/2000/svg}"
LANGS = ("zh", "en", "zh-en")
MODES = ("link", "offline")
ALLOWED_TAGS = {"svg", "title", "desc", "rect", "path", "g", "circle", "ellipse"}

UI = {  # what every label says, per language
    "zh": ["证书编号", "认证机构", "有效期至", "华夏碳认证中心"],
    "en": ["Certificate No.", "Certification body", "Valid until",
           "Huaxia Carbon Certification Centre"],
}
TITLES = {
    "carbon-footprint": ("产品碳足迹", "Product carbon footprint"),
    "low-carbon": ("低碳产品认证", "Low-carbon product"),
    "reduced-carbon": ("减碳产品认证", "Reduced-carbon product"),
    "carbon-neutral": ("碳中和产品认证", "Carbon-neutral product"),
}


def aria_labels(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)
    return [el.get("aria-label") for el in root.iter() if el.get("aria-label")]


def expected_texts(s, kind: str, grade, lang: str) -> dict[str, list[str]]:
    """Texts (NFKC, as in aria-label) the label must show, by language."""
    subj = s.payload["credentialSubject"]
    fp = subj["footprint"]
    unit_zh, unit_en = {"kilogram": ("千克", "kilogram"),
                        "square meter": ("平方米", "square meter")}[fp["declaredUnitOfMeasurement"]]
    zh = [TITLES[kind][0], subj["product"]["nameZh"], f"每 1 {unit_zh}", *UI["zh"]]
    en = [TITLES[kind][1], subj["product"]["name"], f"per 1 {unit_en}", *UI["en"]]
    both = [subj["certificateNumber"], s.payload["validUntil"][:10]]
    if kind in ("carbon-footprint", "low-carbon"):
        both += [fp["pcfExcludingBiogenicUptake"], "kg CO2e"]
        if grade is None:
            zh.append("未分级")
            en.append("not graded")
        if kind == "low-carbon":
            zh.append(f"基准值 {subj['benchmark']['value']} kg CO2e")
            en.append(f"benchmark {subj['benchmark']['value']} kg CO2e")
    elif kind == "reduced-carbon":
        pct = (Decimal(subj["reduction"]["reduction"]) * 100).quantize(Decimal("0.01"))
        both.append(f"\u2212{pct} %")
        zh.append(f"{grade} 级")
        en.append(f"Tier {grade}")
    else:
        share = "60" if grade == "1" else "100"
        zh += [f"{grade} 级", f"可再生能源电力 {share} %"]
        en += [f"Level {grade}", f"Renewable electricity {share} %"]
    return {"zh": zh, "en": en, "both": both}


def decode_qr(png: bytes) -> str:
    # QR codes only: the dense modules of an offline code can pass for a linear barcode now and then.
    results = zxingcpp.read_barcodes(open_png(png), formats=zxingcpp.BarcodeFormat.QRCode)
    # zxing may report one dense symbol twice (found from two finder-pattern triples): one text.
    texts = {r.text for r in results}
    assert len(texts) == 1, "exactly one QR code on the label"
    return texts.pop()


# ---------------------------------------------------------------------------------------------
# The full matrix: every kind × grade × language × mode, as PNG, scanned back.
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind_grade", KIND_GRADES, ids=kg_id)
def test_label_scans_back(kind_grade, lang, mode, signed, rendered, public_key):
    kind, grade = kind_grade
    s = signed(kind, grade)
    label = rendered(kind, grade, lang, mode, "png")
    assert label.media_type == "image/png"
    assert label.content.startswith(b"\x89PNG")
    text = decode_qr(label.content)
    assert text == label.qr_payload
    if mode == "link":
        assert text == s.verify_url
        assert extract_jws(text) is None
        assert label.qr_version <= 5
    else:
        assert text.startswith(s.verify_url + "#1")
        token = extract_jws(text)
        assert token == s.token
        claims = jwt.decode(token, public_key, algorithms=["EdDSA"])
        assert claims == s.payload
        assert label.qr_version <= 22
    assert label.warnings == []


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind_grade", KIND_GRADES, ids=kg_id)
def test_svg_is_self_contained_and_says_what_it_must(kind_grade, lang, signed, rendered):
    kind, grade = kind_grade
    s = signed(kind, grade)
    label = rendered(kind, grade, lang, "link", "svg")
    assert label.media_type == "image/svg+xml"
    root = ET.fromstring(label.content)
    tags = {el.tag.removeprefix(SVG_NS) for el in root.iter()}
    assert tags <= ALLOWED_TAGS, tags - ALLOWED_TAGS
    assert "text" not in tags and "image" not in tags and "style" not in tags
    assert not re.search(rb"href|url\(|@font-face|font-family|<text", label.content)
    assert root.get("width") == "60mm" and root.get("height") == "90mm"
    assert root.get("viewBox") == "0 0 600 900"

    labels = aria_labels(label.content)
    exp = expected_texts(s, kind, grade, lang)
    want = exp["both"] + (exp["zh"] if lang != "en" else []) + (exp["en"] if lang != "zh" else [])
    missing = [t for t in want if t not in labels]
    assert not missing, f"not on the label: {missing}"
    if lang == "zh":
        assert not set(UI["en"][:3]) & set(labels)
    if lang == "en":
        assert not set(UI["zh"][:3]) & set(labels)
    # The accessible summary names the certificate and repeats every text.
    title = root.find(f"{SVG_NS}title").text
    desc = root.find(f"{SVG_NS}desc").text
    assert s.payload["credentialSubject"]["certificateNumber"] in title
    assert all(t in desc for t in want)
    # The grade marker: the graded letter appears on its bar and in the marker.
    if kind in ("carbon-footprint", "low-carbon"):
        letters = "ABCDE" if kind == "carbon-footprint" else "ABC"
        for letter in letters:
            assert labels.count(letter) == (2 if letter == grade else 1)


# ---------------------------------------------------------------------------------------------
# Rasterised check of the outlines: each glyph drawn matches the font's own rendering of the
# character it should be (Pillow/FreeType draws the reference), and not another one.
# ---------------------------------------------------------------------------------------------

def _ncc(a, b) -> float:
    xa, xb = a.tobytes(), b.tobytes()
    n = len(xa)
    ma, mb = sum(xa) / n, sum(xb) / n
    cov = sum(p * q for p, q in zip(xa, xb)) / n - ma * mb
    va = sum(p * p for p in xa) / n - ma * ma
    vb = sum(q * q for q in xb) / n - mb * mb
    return 0.0 if va < 1 or vb < 1 else abs(cov / (va * vb) ** 0.5)


def glyph_match(image, box, scale, *, wrong: str):
    """Correlation of each drawn glyph with the font's rendering of the right character, and
    with that of a wrong one: two lists over the run."""
    from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

    from registry.labels._text import FONT_PATH, get_font

    font = get_font()
    k = box.size / font.upem
    face = ImageFont.truetype(str(FONT_PATH), size=max(1, round(box.size * scale)), index=0)
    x = box.x
    right, wrong_scores = [], []
    for i, ch in enumerate(box.text):
        adv = font.glyph(ch).advance * k
        if not ch.isspace():
            left, top = int(x * scale) - 2, int((box.y - box.size * 0.95) * scale) - 2
            crop = image.crop((left, top, int((x + adv) * scale) + 3,
                               int((box.y + box.size * 0.25) * scale) + 3))
            crop = crop.filter(ImageFilter.GaussianBlur(0.8))

            def score(c):
                ref = Image.new("L", crop.size, 255)
                ImageDraw.Draw(ref).text((x * scale - left, box.y * scale - top), c, font=face,
                                         fill=0, anchor="ls")
                ref = ref.filter(ImageFilter.GaussianBlur(0.8))
                return max(_ncc(crop, ImageChops.offset(ref, dx, dy))
                           for dx in (-1, 0, 1) for dy in (-1, 0, 1))

            right.append(score(ch))
            other = wrong[i % len(wrong)]
            wrong_scores.append(score(other if other != ch else wrong[(i + 1) % len(wrong)]))
        x += adv
    return right, wrong_scores


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("kind", ["carbon-footprint", "carbon-neutral"])
def test_rasterised_text_reads_right(kind, lang, signed, tmp_path):
    from registry.labels._render import svg_to_png

    s = signed(kind, "2" if kind == "carbon-neutral" else "B")
    r = render_svg(s.data, lang, "link", None)
    image = open_png(svg_to_png(r.svg, 300, r.width_mm, r.height_mm)).convert("L")
    scale = image.size[0] / r.viewbox[0]
    subj = s.payload["credentialSubject"]
    check = {subj["certificateNumber"], s.payload["validUntil"][:10], *UI[lang][:3],
             subj["product"]["nameZh" if lang == "zh" else "name"]}
    boxes = [b for b in r.texts if unicodedata.normalize("NFKC", b.text) in check]
    assert {b.text for b in boxes} == check
    for box in boxes:
        right, wrong = glyph_match(image, box, scale, wrong="品碳足迹每千克XKQW8")
        mean_right, mean_wrong = sum(right) / len(right), sum(wrong) / len(wrong)
        assert min(right) >= 0.45 and mean_right >= 0.8, (box.text, right)  # '.' is weak
        assert mean_right >= mean_wrong + 0.25, (box.text, mean_right, mean_wrong)


# ---------------------------------------------------------------------------------------------
# Formats, sizes, determinism
# ---------------------------------------------------------------------------------------------

def test_png_has_physical_resolution(rendered):
    label = rendered("carbon-footprint", "B", "zh-en", "link", "png")
    im = open_png(label.content)
    assert round(im.info["dpi"][0]) == 300 and round(im.info["dpi"][1]) == 300
    assert im.size == (round(60 / 25.4 * 300), round(90 / 25.4 * 300))
    low = rendered("carbon-footprint", "B", "zh-en", "link", "png", dpi=150)
    assert round(open_png(low.content).info["dpi"][0]) == 150
    assert open_png(low.content).size == (round(60 / 25.4 * 150), round(90 / 25.4 * 150))


@pytest.mark.parametrize("width_mm", [None, 85.0, 110])
@pytest.mark.parametrize("mode", MODES)
def test_pdf_page_is_the_label_size(width_mm, mode, signed):
    from pypdf import PdfReader

    data = signed("low-carbon", "A").data
    label = render_label(data, fmt="pdf", mode=mode, width_mm=width_mm)
    assert label.media_type == "application/pdf"
    reader = PdfReader(io.BytesIO(label.content))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    w_mm = width_mm or (60 if mode == "link" else 106)
    h_mm = w_mm * 900 / (600 if mode == "link" else 1060)
    assert (label.width_mm, label.height_mm) == pytest.approx((w_mm, h_mm))
    assert float(box.width) == pytest.approx(w_mm * 72 / 25.4, abs=0.01)
    assert float(box.height) == pytest.approx(h_mm * 72 / 25.4, abs=0.01)
    assert reader.metadata.creation_date.year == 2025
    # Vectors, not a raster: no image XObjects on the page.
    resources = reader.pages[0].get("/Resources") or {}
    xobjects = resources.get("/XObject") or {}
    assert all(xobjects[k].get_object().get("/Subtype") != "/Image" for k in xobjects)


@pytest.mark.parametrize("fmt", ["svg", "png", "pdf"])
@pytest.mark.parametrize("mode", MODES)
def test_byte_identical_cold_and_cached(fmt, mode, signed):
    data = signed("reduced-carbon", "2").data
    clear_caches()  # cold: glyph outlines, text runs, QR matrices, renders all forgotten
    first = render_label(data, fmt=fmt, mode=mode).content
    cached = render_label(data, fmt=fmt, mode=mode).content
    clear_caches(glyphs=False)
    second = render_label(data, fmt=fmt, mode=mode).content
    assert first == cached == second


def test_same_certificate_same_bytes_from_a_fresh_payload(signed, signing_key):
    """LabelData built twice from the same credential gives the same label."""
    s = signed("carbon-neutral", "3")
    again = label_data_from_credential(copy.deepcopy(s.payload), compact_jws=s.token,
                                       verify_url=s.verify_url, **ISSUER)
    assert again == s.data
    clear_caches()
    assert render_label(again, fmt="svg").content == render_label(s.data, fmt="svg").content


def _quiet_zone_modules(png: bytes) -> tuple[float, float]:
    """Measure (module size px, smallest light margin in modules) around the QR on a PNG."""
    img = open_png(png).convert("L")
    (res,) = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)
    p = res.position
    xs = [p.top_left.x, p.top_right.x, p.bottom_left.x, p.bottom_right.x]
    ys = [p.top_left.y, p.top_right.y, p.bottom_left.y, p.bottom_right.y]
    pad = (max(xs) - min(xs)) // 20 + 2
    x0, x1, y0, y1 = min(xs) - pad, max(xs) + pad, min(ys) - pad, max(ys) + pad
    px = img.load()
    dark = [(x, y) for y in range(y0, y1) for x in range(x0, x1) if px[x, y] < 128]
    left, right = min(x for x, _ in dark), max(x for x, _ in dark)
    top, bottom = min(y for _, y in dark), max(y for _, y in dark)
    # The finder pattern's top edge is 7 dark modules.
    run = 0
    while px[left + run, top] < 128:
        run += 1
    module = run / 7

    def light_run(x, y, dx, dy):
        n = 0
        while px[x + dx * (n + 1), y + dy * (n + 1)] >= 250:
            n += 1
        return n

    margins = []
    for y in range(top, bottom + 1, max(1, int(module))):
        margins += [light_run(left, y, -1, 0), light_run(right, y, 1, 0)]
    for x in range(left, right + 1, max(1, int(module))):
        margins += [light_run(x, top, 0, -1), light_run(x, bottom, 0, 1)]
    return module, min(margins) / module


@pytest.mark.parametrize("mode", MODES)
def test_quiet_zone_is_at_least_four_modules(mode, rendered):
    label = rendered("carbon-footprint", "C", "zh-en", mode, "png")
    module, quiet = _quiet_zone_modules(label.content)
    assert module >= 3  # ≥ 0.25 mm at 300 dpi
    assert quiet >= 4 - 0.25


def test_sizes_with_text_below_1_2_mm_are_refused_and_small_ones_warn(signed):
    from registry.labels import LabelError, warnings_for

    data = signed("carbon-footprint", "A").data
    with pytest.raises(LabelError) as err:
        render_label(data, fmt="svg", width_mm=25)
    assert err.value.type == "label-too-small" and err.value.status == 422
    assert "1.2 mm" in err.value.detail and "at least 47 mm" in err.value.detail
    assert "variant=compact" in err.value.detail and err.value.extra["minWidthMm"] == 47
    label = render_label(data, fmt="svg", width_mm=47)
    assert any(re.fullmatch(r"smallest text is 1\.2\d mm \(em\) high, below 1\.50 mm; it may be hard to read", w)
               for w in label.warnings), label.warnings
    assert render_label(data, fmt="svg").warnings == []
    assert warnings_for(data, width_mm=25)[0]["severity"] == "refused"
    assert warnings_for(data, width_mm=47) == [{"severity": "warning", "message": label.warnings[0]}]
    with pytest.raises(LabelError, match="at least 84 mm"):
        render_label(data, fmt="svg", mode="offline", width_mm=60)


def test_offline_above_version_22_is_refused(signing_key):
    from .conftest import Signed

    s = Signed(signing_key, "carbon-footprint", "B")
    payload = copy.deepcopy(s.payload)
    payload["credentialSubject"]["product"]["name"] = "".join(
        f"{i:x}" for i in range(1000, 1500))  # incompressible-ish, ~1,500 characters
    token = jwt.encode(payload, signing_key, algorithm="EdDSA", headers=s.header)
    data = label_data_from_credential(payload, compact_jws=token, verify_url=s.verify_url, **ISSUER)
    with pytest.raises(LabelError, match=r"needs version (2[3-9]|[34]\d), above the limit of 22"):
        render_label(data, fmt="svg", mode="offline")
    assert render_label(data, fmt="svg", mode="link").qr_version <= 5


def test_digital_link_mode_encodes_the_gs1_url(signed):
    from registry.labels import gs1_digital_link

    s = signed("carbon-footprint", "B")
    gtin = s.payload["credentialSubject"]["product"]["gtin"]
    url = gs1_digital_link("https://labels.example.org", gtin)
    assert url == f"https://labels.example.org/01/{gtin}"
    data = label_data_from_credential(s.payload, compact_jws=s.token, verify_url=s.verify_url,
                                      digital_link_url=url, **ISSUER)
    label = render_label(data, fmt="png")
    assert decode_qr(label.content) == url == label.qr_payload
    # Offline mode still carries the credential behind the verification URL.
    assert extract_jws(render_label(data, fmt="svg", mode="offline").qr_payload) == s.token
    with pytest.raises(LabelError, match="check digit"):
        gs1_digital_link("https://x.org", "06901234567893")


def test_bad_inputs_are_refused(signed, signing_key):
    s = signed("low-carbon", "B")
    ok = dict(compact_jws=s.token, verify_url=s.verify_url, **ISSUER)
    other = signed("low-carbon", "C")
    with pytest.raises(LabelError, match="does not carry this credential"):
        label_data_from_credential(s.payload, **{**ok, "compact_jws": other.token})
    with pytest.raises(LabelError, match="verify_url must end in /v/"):
        label_data_from_credential(s.payload, **{**ok, "verify_url": other.verify_url})
    bad = copy.deepcopy(s.payload)
    bad["credentialSubject"]["grade"]["value"] = "D"  # low-carbon admits A–C only
    bad_token = jwt.encode(bad, signing_key, algorithm="EdDSA", headers=s.header)
    with pytest.raises(LabelError, match="cannot have grade 'D'"):
        label_data_from_credential(bad, **{**ok, "compact_jws": bad_token})
    with pytest.raises(LabelError, match="lang must be"):
        render_label(s.data, lang="fr")
    with pytest.raises(LabelError, match="mode must be"):
        render_label(s.data, mode="nfc")
    with pytest.raises(LabelError, match="format must be"):
        render_label(s.data, fmt="gif")
    assert LabelError.status == 422


def test_long_product_name_is_fitted_with_an_ellipsis(signing_key):
    from .conftest import Signed

    s = Signed(signing_key, "carbon-footprint", "A")
    payload = copy.deepcopy(s.payload)
    payload["credentialSubject"]["product"]["nameZh"] = "超长产品名称" * 12
    token = jwt.encode(payload, signing_key, algorithm="EdDSA", headers=s.header)
    data = label_data_from_credential(payload, compact_jws=token, verify_url=s.verify_url, **ISSUER)
    r = render_svg(data, "zh", "link", None)
    box = next(b for b in r.texts if b.text.startswith("超长产品名称"))
    assert box.text.endswith("…")
    assert box.x + box.width <= 600 - 24 + 0.01
    assert r.warnings == [f"text shortened to fit: {'超长产品名称' * 12!r}"]


def test_artifacts_for_people(signed, rendered, artifacts):
    """Save one PNG per kind (zh-en, link and offline) for a person to look at."""
    for kind, grade in [("carbon-footprint", "B"), ("carbon-footprint", None), ("low-carbon", "A"),
                        ("reduced-carbon", "2"), ("carbon-neutral", "3")]:
        for mode in MODES:
            label = rendered(kind, grade, "zh-en", mode, "png")
            name = f"{kind}-{grade or 'ungraded'}-zh-en-{mode}.png"
            (artifacts / name).write_bytes(label.content)
    for lang in ("zh", "en"):
        label = rendered("low-carbon", "A", lang, "link", "png")
        (artifacts / f"low-carbon-A-{lang}-link.png").write_bytes(label.content)
    assert len(list(artifacts.glob("*.png"))) >= 12


def test_identical_in_a_fresh_process(signed):
    """No hash seed, clock or cache state leaks into the bytes."""
    import hashlib
    import os
    import subprocess
    import sys
    from pathlib import Path

    s = signed("carbon-footprint", "A")
    code = (
        "import hashlib, json, sys\n"
        "from registry.labels import label_data_from_credential, render_label\n"
        "a = json.loads(sys.stdin.read())\n"
        "d = label_data_from_credential(a['payload'], compact_jws=a['token'], verify_url=a['url'],\n"
        "    issuer_name=a['name'], issuer_name_zh=a['name_zh'])\n"
        "for fmt in ('svg', 'pdf'):\n"
        "    for mode in ('link', 'offline'):\n"
        "        print(hashlib.sha256(render_label(d, fmt=fmt, mode=mode).content).hexdigest())\n"
    )
    import json

    inp = json.dumps({"payload": s.payload, "token": s.token, "url": s.verify_url,
                      "name": ISSUER["issuer_name"], "name_zh": ISSUER["issuer_name_zh"]})
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONHASHSEED": "4242", "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], input=inp, capture_output=True, text=True,
                         check=True, env=env, cwd=root).stdout.split()
    here = [hashlib.sha256(render_label(s.data, fmt=fmt, mode=mode).content).hexdigest()
            for fmt in ("svg", "pdf") for mode in ("link", "offline")]
    assert out == here
