"""Verification on the phone without network: the service worker keeps the trust list, keys,
status lists and grading scheme; the /offline page's script checks an offline label's signed data
with WebCrypto. Headless Chromium with the network cut."""

from __future__ import annotations

import base64
import re
import time
import uuid
from pathlib import Path

import pytest

from registry.db import new_session
from registry.schemas.certificates import CertificateIn
from registry.services import accreditation, issuing, revocation
from verifier.offline import ZDICT_V1, offline_url

from ..axe import assert_accessible
from ..factories import body_data, certificate_request, footprint, offsets, product

JS = Path(__file__).resolve().parents[2] / "registry" / "static" / "offline.js"


def test_script_carries_the_frozen_dictionary():
    (embedded,) = re.findall(r'var DICT_V1 = "([A-Za-z0-9_-]+)";', JS.read_text())
    assert base64.urlsafe_b64decode(embedded + "=" * (-len(embedded) % 4)) == ZDICT_V1


def test_offline_page_and_worker_are_served(client):
    page = client.get("/offline?lang=zh")
    assert page.status_code == 200 and "离线核验" in page.get_data(as_text=True)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert '<script src="/static/offline.js" defer></script>' in page.get_data(as_text=True)
    worker = client.get("/sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert "addEventListener(\"fetch\"" in worker.get_data(as_text=True)


def _seed(live_server) -> dict:
    app = live_server.app
    tag = uuid.uuid4().hex[:6]
    category = f"cement-off-{tag}"
    with app.app_context():
        session = new_session()
        signer = app.extensions["registry.signer"]
        public_url = app.config["PUBLIC_URL"]
        accreditation.put_category(session, category, {
            "name": "General Portland cement", "nameZh": "通用硅酸盐水泥", "declaredUnitOfMeasurement": "kilogram",
            "benchmark": {"value": "0.90", "standard": "T/TEST 0001-2025", "source": "test data"}}, actor="test")
        data = body_data(name=f"Offline Test Centre {tag}")
        data["accreditation"]["scope"]["productCategories"] = [category]
        body, _c, _s = accreditation.create_body(session, signer, data, public_url=public_url, actor="test")

        def make(kind, **kw):
            return issuing.issue(session, signer, body, CertificateIn().load(
                certificate_request(kind, product=product(category), **kw)), public_url=public_url, actor="test")

        valid = make("carbon-footprint")
        neutral = make("carbon-neutral", offsets=offsets("0.5", "0.4"), coveredQuantity="1000",
                       renewableElectricityShare="0.8")
        revoked = make("low-carbon", footprint=footprint("0.60"))
        session.flush()
        revocation.change_status(session, revoked, "revoke", "test", actor="test")
        session.commit()
        out = {name: (c.id, offline_url(f"{public_url}/v/{c.id}", c.credential), c.number)
               for name, c in (("valid", valid), ("neutral", neutral), ("revoked", revoked))}
        session.close()
    return out


def _verdict(page) -> str:
    page.wait_for_selector("#offline-check[data-verdict]", timeout=15_000)
    return page.get_attribute("#offline-check", "data-verdict")


@pytest.mark.browser
def test_offline_labels_verify_on_the_phone(live_server, browser, artifacts_dir):
    artifacts = artifacts_dir / "consumer"
    artifacts.mkdir(parents=True, exist_ok=True)
    labels = _seed(live_server)
    context = browser.new_context(locale="zh-CN", service_workers="allow")
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    # One online visit installs the worker, which saves what an offline check needs.
    page.goto(f"{live_server.url}/v/{labels['valid'][0]}?lang=zh")
    assert page.locator("#verdict").inner_text().strip() == "真实有效"
    saved = """async () => {
        const c = await caches.open('carbon-label-offline-v1');
        const keys = (await c.keys()).map(r => new URL(r.url).pathname);
        return navigator.serviceWorker.controller !== null && keys.includes('/trust-list')
            && keys.some(k => k.startsWith('/status/')) && keys.some(k => k.includes('/versions/'))
            && keys.includes('/offline');
    }"""
    deadline = time.monotonic() + 20
    while not page.evaluate(saved):  # evaluate awaits the promise; wait_for_function would not
        assert time.monotonic() < deadline, "the service worker saved nothing"
        page.wait_for_timeout(200)
    context.set_offline(True)
    for name, expected, words in (("valid", "valid", "真实有效"), ("neutral", "valid", "真实有效"),
                                  ("revoked", "revoked", "已撤销")):
        page.goto("about:blank")
        page.goto(labels[name][1])
        assert _verdict(page) == expected, name
        assert page.locator("#verdict").inner_text().strip() == words
        facts = page.locator("#offline-facts").inner_text()
        assert "状态更新于" in facts and "（北京时间）" in facts and labels[name][2] in facts
        page.screenshot(path=str(artifacts / f"offline-{name}.png"), full_page=True)
    assert_accessible(page, "offline check (revoked)")
    # A tampered label (one digit changed in the signed data) does not verify.
    cert_id, url, _number = labels["valid"]
    head, digits = url.split("#")
    i = len(digits) // 2
    tampered = digits[:i] + str((int(digits[i]) + 1) % 10) + digits[i + 1:]
    page.goto("about:blank")
    page.goto(f"{head}#{tampered}")
    assert _verdict(page) == "failed"
    assert page.locator("#verdict").inner_text().strip() == "未通过核验"
    # Back online, the server's page answers again.
    context.set_offline(False)
    page.goto("about:blank")
    page.goto(url)
    assert page.locator("#offline-check").count() == 0
    assert page.locator("#verdict").inner_text().strip() == "真实有效"
    context.close()
    assert not problems, problems


@pytest.mark.browser
def test_public_pages_are_accessible(live_server, browser, artifacts_dir):
    labels = _seed(live_server)
    number = labels["valid"][2]
    out = artifacts_dir / "consumer"
    out.mkdir(parents=True, exist_ok=True)
    for lang, scheme in (("zh", "light"), ("en", "dark")):
        context = browser.new_context(locale="zh-CN" if lang == "zh" else "en-US", color_scheme=scheme,
                                      viewport={"width": 390, "height": 844})
        page = context.new_page()
        for name, path, status in (("home", "/", 200), ("search-error", "/search?q=", 400),
                                   ("search-results", "/search?q=Anhui", 200),
                                   ("search-none", "/search?q=zzzz-nothing", 404),
                                   ("product", "/01/06901234567892", 200), ("grading", "/grading", 200),
                                   ("offline", "/offline", 200)):
            resp = page.goto(f"{live_server.url}{path}{'&' if '?' in path else '?'}lang={lang}")
            assert resp.status == status, (name, lang)
            assert_accessible(page, f"{name} {lang} {scheme}")
            page.screenshot(path=str(out / f"page-{name}-{lang}-{scheme}.png"), full_page=True)
        # Keyboard only: the skip link, then the search box; a number typed without hyphens opens it.
        page.goto(f"{live_server.url}/?lang={lang}")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        page.focus("#q")
        page.keyboard.type(number.replace("-", "").lower())
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/v/{labels['valid'][0]}*")
        assert page.locator("#number").inner_text() == number
        context.close()
