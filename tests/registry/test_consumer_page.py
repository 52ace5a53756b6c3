"""The consumer page GET /v/<id>: Flask-client checks, then every kind × state × language in headless Chromium."""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta

import pytest

from registry.db import new_session
from registry.schemas.certificates import CertificateIn
from registry.services import accreditation, issuing, revocation

from ..axe import assert_accessible
from ..factories import NOW, body_data, certificate_request, footprint, offsets, product
from .test_verify_api import env, issue, issue_expired  # noqa: F401  (fixture and helpers)

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; connect-src 'self'; "
       "worker-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
UNKNOWN = "5f0c1f7e-8a1b-4c5d-9e2f-000000000000"


# --------------------------------------------------------------------------------------------
# Flask client


@pytest.mark.parametrize("accept,query,lang,verdict", [
    ("zh-CN,zh;q=0.9,en;q=0.8", "", "zh", "真实有效"),
    ("zh-TW", "", "zh", "真实有效"),
    ("en-US,en;q=0.9", "", "en", "Genuine and in force"),
    ("fr-FR", "", "en", "Genuine and in force"),
    ("", "", "en", "Genuine and in force"),
    ("en-US", "?lang=zh", "zh", "真实有效"),
    ("zh-CN", "?lang=en", "en", "Genuine and in force"),
])
def test_language_negotiation(client, env, accept, query, lang, verdict):
    out = issue(client, env)
    resp = client.get(f"/v/{out['id']}{query}", headers={"Accept-Language": accept} if accept else {})
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    assert verdict in html
    assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in html
    other = "en" if lang == "zh" else "zh"
    assert f'href="/v/{out["id"]}?lang={other}"' in html


def test_page_headers_and_no_script(client, env):
    out = issue(client, env)
    resp = client.get(f"/v/{out['id']}", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert resp.status_code == 200
    assert resp.headers["Content-Security-Policy"] == CSP
    assert resp.headers["Cache-Control"] == "public, max-age=60"
    assert {"Accept", "Accept-Language"} <= {v.strip() for v in resp.headers["Vary"].split(",")}
    assert resp.headers["ETag"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    html = resp.get_data(as_text=True)
    assert "javascript:" not in html
    assert not re.search(r"\son[a-z]+=", html)
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "no external resources"
    assert len(resp.get_data()) < 30_000
    assert f'href="/api/v1/certificates/{out["id"]}"' in html and f'href="/v/{out["id"]}?format=json"' in html
    assert out["number"] in html
    css = client.get("/static/verify.css")
    assert css.status_code == 200 and "url(" not in css.get_data(as_text=True)
    # Same ETag, same language: 304 with the page's CSP; another language is another representation.
    again = client.get(f"/v/{out['id']}", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304
    zh = client.get(f"/v/{out['id']}?lang=zh", headers={"If-None-Match": resp.headers["ETag"]})
    assert zh.status_code == 200


def test_figures_on_the_page(client, env):
    out = issue(client, env)
    en = client.get(f"/v/{out['id']}?lang=en").get_data(as_text=True)
    text_en = re.sub(r"<[^>]+>", "", en)
    assert "0.82 kg CO₂e per 1 kilogram" in text_en and "Product carbon footprint" in en
    assert "Grade C on a scale from A (lowest footprint for its category) to E (highest)" in text_en
    assert "Raw material acquisition" in en and "<svg class=\"chart\"" in en
    assert "06901234567892" in en and "Anhui Demo Cement Co." in en and "PO42.5" in en
    zh = client.get(f"/v/{out['id']}?lang=zh").get_data(as_text=True)
    assert "0.82 千克二氧化碳当量 每 1 千克" in re.sub(r"<[^>]+>", "", zh) and "产品碳足迹" in zh and "原料获取" in zh and "生产制造" in zh
    assert "证书编号" in zh and "有效期" in zh and "认证机构" in zh and "普通硅酸盐水泥" in zh


def test_not_found_page_in_each_language(client):
    zh = client.get(f"/v/{UNKNOWN}", headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 404 and zh.mimetype == "text/html"
    assert "未找到" in zh.get_data(as_text=True)
    assert zh.headers["Content-Security-Policy"] == CSP
    en = client.get(f"/v/{UNKNOWN}?lang=en")
    assert en.status_code == 404 and "Not found" in en.get_data(as_text=True)
    assert client.get("/v/not-a-uuid").status_code == 404


def test_states_and_demo_note(app, client, session, env):
    out = issue(client, env)
    client.post(f"/api/v1/certificates/{out['id']}/suspend", json={"reason": "audit"}, headers=env["headers"])
    html = client.get(f"/v/{out['id']}?lang=zh").get_data(as_text=True)
    assert "已暂停" in html and "v-suspended" in html and "演示数据" not in html
    client.post(f"/api/v1/certificates/{out['id']}/revoke", json={"reason": "fraud"}, headers=env["headers"])
    html = client.get(f"/v/{out['id']}?lang=zh").get_data(as_text=True)
    assert "已撤销" in html and "v-revoked" in html
    expired = issue_expired(app, session, env["body"])
    html = client.get(f"/v/{expired.id}?lang=zh").get_data(as_text=True)
    assert "已过期" in html and "v-expired" in html
    env["body"].demo = True
    session.flush()
    html = client.get(f"/v/{out['id']}?lang=en").get_data(as_text=True)
    assert "Demonstration data" in html


# --------------------------------------------------------------------------------------------
# Headless Chromium against the live server

KINDS = ("footprint", "low-carbon", "reduced-carbon", "carbon-neutral")
STATES = ("valid", "suspended", "revoked", "expired")
VERDICTS = {"zh": {"valid": "真实有效", "suspended": "已暂停", "revoked": "已撤销", "expired": "已过期"},
            "en": {"valid": "Genuine and in force", "suspended": "Suspended", "revoked": "Revoked", "expired": "Expired"}}
KIND_NAMES = {"zh": {"footprint": "产品碳足迹", "low-carbon": "低碳产品", "reduced-carbon": "减碳产品",
                     "carbon-neutral": "碳中和产品"},
              "en": {"footprint": "Product carbon footprint", "low-carbon": "Low-carbon product",
                     "reduced-carbon": "Reduced-carbon product", "carbon-neutral": "Carbon-neutral product"}}
FIGURES = {"footprint": "0.82", "low-carbon": "0.60", "reduced-carbon": "15.00 %", "carbon-neutral": "CCER-"}


def _seed(live_server) -> dict[tuple[str, str], str]:
    """Certificates of every kind in every state, committed; returns {(kind, state): id}."""
    app = live_server.app
    tag = uuid.uuid4().hex[:6]
    category = f"cement-{tag}"
    with app.app_context():
        session = new_session()
        signer = app.extensions["registry.signer"]
        public_url = app.config["PUBLIC_URL"]
        accreditation.put_category(session, category, {
            "name": "General Portland cement", "nameZh": "通用硅酸盐水泥", "declaredUnitOfMeasurement": "kilogram",
            "benchmark": {"value": "0.90", "standard": "T/TEST 0001-2025", "source": "test data"}}, actor="test")
        data = body_data(name=f"Browser Test Certification Centre {tag}")
        data["accreditation"]["scope"]["productCategories"] = [category]
        body, _client, _secret = accreditation.create_body(session, signer, data, public_url=public_url,
                                                            actor="test")

        def make(req: dict, now=None):
            return issuing.issue(session, signer, body, CertificateIn().load(req), public_url=public_url,
                                 actor="test", now=now)

        def req(kind: str, past: bool, **kw) -> dict:
            extra = {"validUntil": (NOW - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")} if past else {}
            return certificate_request(kind, product=product(category), **{**extra, **kw})

        ids = {}
        for state in STATES:
            past = state == "expired"
            now = NOW - timedelta(days=200) if past else None
            fp = footprint("0.82", start="2023-01-01T00:00:00Z", end="2023-12-31T23:59:59Z") if past else footprint()
            certs = {
                "footprint": make(req("carbon-footprint", past, footprint=fp), now),
                "low-carbon": make(req("low-carbon", past, footprint={**fp, **footprint(
                    "0.60", start=fp["referencePeriodStart"], end=fp["referencePeriodEnd"])}), now),
                "carbon-neutral": make(req("carbon-neutral", past, footprint=fp, offsets=offsets("0.5", "0.4"),
                                           coveredQuantity="1000", renewableElectricityShare="0.8"), now),
            }
            first = make(req("carbon-footprint", past, footprint=footprint(
                "1.00", start="2021-01-01T00:00:00Z", end="2021-12-31T23:59:59Z")), now)
            second = make(req("carbon-footprint", past, footprint=footprint(
                "0.85", start="2022-01-01T00:00:00Z", end="2022-12-31T23:59:59Z")), now)
            session.flush()
            certs["reduced-carbon"] = make(req("reduced-carbon", past, footprint=None,
                                               basedOn=[first.id, second.id]), now)
            session.flush()
            for kind, cert in certs.items():
                if state in ("suspended", "revoked"):
                    revocation.change_status(session, cert, "suspend" if state == "suspended" else "revoke",
                                             "browser test", actor="test")
                ids[(kind, state)] = cert.id
        session.commit()
        session.close()
    return ids


@pytest.mark.browser
def test_every_kind_and_state_in_chromium(live_server, browser, artifacts_dir):
    started = time.monotonic()
    ids = _seed(live_server)
    out = artifacts_dir / "consumer"
    out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for lang, locale, scheme in (("zh", "zh-CN", "light"), ("en", "en-US", "light"), ("zh", "zh-CN", "dark")):
        context = browser.new_context(locale=locale, viewport={"width": 390, "height": 844}, color_scheme=scheme,
                                      device_scale_factor=1, is_mobile=True, has_touch=True)
        page = context.new_page()
        # The not-found page's own 404 is expected; any other failed load or script error is not.
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text} {m.location}")
                if m.type == "error" and UNKNOWN not in (m.location or {}).get("url", "") else None)
        page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
        page.on("request", lambda r: problems.append(f"foreign request {r.url}")
                if not r.url.startswith(("http://127.0.0.1:", "data:")) else None)
        for (kind, state), cert_id in ids.items():
            resp = page.goto(f"{live_server.url}/v/{cert_id}")
            assert resp.status == 200, (kind, state)
            verdict = page.locator("#verdict")
            assert verdict.inner_text().strip() == VERDICTS[lang][state], (kind, state, lang)
            assert verdict.is_visible()
            assert page.locator(".kind .badge").inner_text() == KIND_NAMES[lang][kind]
            body_text = page.locator("main").inner_text()
            assert FIGURES[kind] in body_text, (kind, state, lang)
            assert page.locator("#number").is_visible()
            if kind != "reduced-carbon":
                assert page.locator("svg.chart").is_visible()
            # The stylesheet applied (same origin, allowed by the CSP): the verdict band is coloured.
            colour = verdict.evaluate("e => getComputedStyle(e.closest('.verdict')).backgroundColor")
            assert colour not in ("rgba(0, 0, 0, 0)", "transparent"), colour
            assert_accessible(page, f"{kind} {state} {lang} {scheme}")
            page.screenshot(path=str(out / f"{kind}-{state}-{lang}-{scheme}.png"), full_page=True)
        # The not-found page, in the context's language.
        resp = page.goto(f"{live_server.url}/v/{UNKNOWN}")
        assert resp.status == 404
        assert page.locator("#verdict").inner_text().strip() == ("未找到" if lang == "zh" else "Not found")
        assert_accessible(page, f"not found {lang} {scheme}")
        page.screenshot(path=str(out / f"notfound-{lang}-{scheme}.png"), full_page=True)
        # The language switch is a plain link.
        page.goto(f"{live_server.url}/v/{ids[('footprint', 'valid')]}")
        page.click("a.lang")
        other = "en" if lang == "zh" else "zh"
        assert page.url.endswith(f"?lang={other}")
        assert page.locator("#verdict").inner_text().strip() == VERDICTS[other]["valid"]
        context.close()
    assert not problems, problems
    assert time.monotonic() - started < 180
