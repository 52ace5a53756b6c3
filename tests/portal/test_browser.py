"""The portal end to end in headless Chromium: every role signs in with a TOTP code, issues each
kind, imports 200 rows from XLSX, prints a sheet, revokes and sees the consumer page change;
CSRF, lockout, another body's certificate and an expired session are refused; axe-core finds no
WCAG 2.2 AA violation on any page or state; the login and issue flow works by keyboard alone."""

from __future__ import annotations

import io
import time
import uuid
from pathlib import Path

import pyotp
import pytest
from flask.sessions import SecureCookieSessionInterface
from openpyxl import load_workbook

from registry.db import new_session
from registry.portal import accounts
from tests.axe import assert_accessible
from tests.factories import commit_body

from .test_import import sheet_rows, xlsx

pytestmark = pytest.mark.browser


class Person:
    def __init__(self, email, password, secret):
        self.email, self.password, self.secret = email, password, secret
        self.used: set[str] = set()

    def code(self) -> str:
        totp = pyotp.TOTP(self.secret)
        code = totp.now()
        while code in self.used:  # each code signs in once: wait for the next step
            time.sleep(1)
            code = totp.now()
        self.used.add(code)
        return code


@pytest.fixture(scope="module")
def world(live_server):
    """Two bodies, a person of each role, committed to the live server's database."""
    app = live_server.app
    body, _, _ = commit_body(app)
    other, _, _ = commit_body(app)
    people = {}
    with app.app_context():
        session = new_session()
        try:
            tag = uuid.uuid4().hex[:6]
            for role, body_id in (("certifier", body.id), ("body-admin", body.id), ("operator", None),
                                  ("other", other.id)):
                user, password, secret = accounts.create_user(
                    session, email=f"{role}-{tag}@example.org", role="certifier" if role == "other" else role,
                    body_id=body_id, master_key=app.config["MASTER_KEY"], actor="test")
                people[role] = Person(user.email, password, secret)
            session.commit()
        finally:
            session.close()
    return {"body": body, "other": other, "people": people, "url": live_server.url, "app": app}


def login(page, url, person: Person, *, expect_ok=True, code: str | None = None):
    page.goto(f"{url}/portal/login")
    page.fill("#email", person.email)
    page.fill("#password", person.password)
    page.fill("#code", code or person.code())
    page.click("#login-submit")
    if expect_ok:
        page.wait_for_url(f"{url}/portal/")


def check(page, what):
    assert_accessible(page, what)


FOOTPRINT = {
    "product.name": "P.O 42.5 cement", "product.nameZh": "普通硅酸盐水泥",
    "product.manufacturer.name": "Anhui Demo Cement Co.", "product.manufacturer.id": "urn:uscc:91340000MA2N00001X",
    "footprint.pcfExcludingBiogenicUptake": "0.80", "footprint.pcfIncludingBiogenicUptake": "0.80",
    "footprint.referencePeriodStart": "2024-01-01", "footprint.referencePeriodEnd": "2024-12-31",
    "footprint.stages.rawMaterialAcquisition": "0.16", "footprint.stages.rawMaterialTransport": "0.04",
    "footprint.stages.manufacturing": "0.60", "validUntil": "2028-12-31",
}


def fill(page, values: dict):
    for name, value in values.items():
        page.fill(f'[name="{name}"]', value)


def issue(page, url, kind, values, *, basis=(), selects=None):
    page.goto(f"{url}/portal/issue/{kind}")
    page.select_option('[name="product.category"]', "cement")
    for name, value in (selects or {}).items():
        page.select_option(f'[name="{name}"]', value)
    fill(page, values)
    for cert_id in basis:
        page.check(f"#basis-{cert_id}")
    page.click("#preview")
    page.wait_for_selector("#sign")
    check(page, f"{kind} preview")
    page.click("#sign")
    page.wait_for_url(f"{url}/portal/certificates/*")
    return page.url.rsplit("/", 1)[1]


def test_certifier_end_to_end(browser, world):
    url, person = world["url"], world["people"]["certifier"]
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "Content Security" in m.text else None)

    page.goto(f"{url}/portal/login")
    check(page, "login")
    page.click("#login-submit")  # empty: errors
    assert page.title().startswith("Error:")
    # portal.js moves the focus once the page has loaded, which may be just after click() returns.
    page.wait_for_function("document.activeElement && document.activeElement.id === 'error-summary'",
                           timeout=5_000)
    check(page, "login errors")

    # Keyboard only: Tab to each field, type, Enter.
    page.goto(f"{url}/portal/login")
    for field, value in (("email", person.email), ("password", person.password), ("code", person.code())):
        for _ in range(10):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == field:
                break
        assert page.evaluate("document.activeElement.id") == field
        page.keyboard.type(value)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/portal/")
    check(page, "dashboard")
    page.goto(f"{url}/portal/certificates")
    assert page.locator("#no-results").is_visible()
    check(page, "empty certificate list")
    page.goto(f"{url}/portal/issue")
    check(page, "choose kind")

    # Keyboard only through the issue form: Tab reaches every input; Enter previews.
    page.goto(f"{url}/portal/issue/carbon-footprint")
    check(page, "footprint form")
    wanted = {**FOOTPRINT, "product.category": "General Portland"}
    for _ in range(80):
        page.keyboard.press("Tab")
        name = page.evaluate("document.activeElement.name")
        if name in wanted:
            if page.evaluate("document.activeElement.tagName") == "INPUT" and \
                    page.evaluate("document.activeElement.type") == "date":
                y, m, d = wanted.pop(name).split("-")
                page.keyboard.type(m + d + y)  # headless Chromium's date field: month, day, year
            else:
                page.keyboard.type(wanted.pop(name))
        if not wanted:
            break
    assert not wanted, f"not reached by Tab: {wanted}"
    page.keyboard.press("Enter")
    page.wait_for_selector("#sign, #error-summary")
    assert page.locator("#sign").count(), page.inner_text("main")[:1500]
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "sign":
            break
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/portal/certificates/*")
    first = page.url.rsplit("/", 1)[1]
    check(page, "certificate page")

    # Field errors in the form, beside their fields.
    page.goto(f"{url}/portal/issue/low-carbon")
    fill(page, {**FOOTPRINT, "product.gtin": "123"})
    page.click("#preview")
    assert page.title().startswith("Error:")
    assert page.locator("#f-product-gtin-error").is_visible()
    check(page, "form with errors")

    second = issue(page, url, "carbon-footprint", {**FOOTPRINT, "footprint.referencePeriodStart": "2025-01-01",
                                                   "footprint.referencePeriodEnd": "2025-12-31",
                                                   "footprint.pcfExcludingBiogenicUptake": "0.60",
                                                   "footprint.pcfIncludingBiogenicUptake": "0.60",
                                                   "footprint.stages.manufacturing": "0.40"})
    issue(page, url, "low-carbon", FOOTPRINT)
    product = {k: v for k, v in FOOTPRINT.items() if k.startswith("product.")}
    issue(page, url, "reduced-carbon", {**product, "validUntil": "2028-12-31"}, basis=(first, second))
    serial = uuid.uuid4().hex[:8]
    issue(page, url, "carbon-neutral",
          {**product, "validUntil": "2028-12-31", "coveredQuantity": "1000", "renewableElectricityShare": "0.5",
           "offsets.0.registry": "CCER", "offsets.0.serialNumber": f"CCER-{serial}", "offsets.0.quantity": "0.7",
           "offsets.0.vintage": "2024", "offsets.0.retiredAt": "2025-06-30", "offsets.0.project": "Mangroves"},
          basis=(second,), selects={"offsets.0.kind": "removal"})

    # Import 200 rows from XLSX.
    page.goto(f"{url}/portal/import")
    check(page, "import start")
    page.set_input_files("#f-file", files=[{"name": "cement.xlsx", "buffer": xlsx(sheet_rows(200, {4: {"product.gtin": "1"}})),
                                            "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}])
    page.click("#check-file")
    page.wait_for_selector("#import-summary")
    assert "199 can be issued" in page.inner_text("#import-summary")
    check(page, "import dry run with row errors")
    page.click("#issue-rows")
    page.wait_for_selector("#results", timeout=120_000)
    check(page, "import result")
    with page.expect_download() as dl:
        page.click("#result-xlsx")
    sheet = load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes())).worksheets[0]
    assert sum(1 for r in sheet.iter_rows(min_row=2, values_only=True) if r[1] == "issued") == 199

    # Print a sheet of the selected certificates.
    page.goto(f"{url}/portal/certificates?status=active&type=carbon-footprint")
    check(page, "filtered list with chips")
    page.locator('input[name="id"]').nth(0).check()
    page.locator('input[name="id"]').nth(1).check()
    page.click("text=Print labels of the selected")
    page.check("#f-sheet")
    page.fill("#f-width", "22")
    page.click("#update-preview")
    # 22 mm would put text under 1.2 mm: refused, with the width that works, beside the field.
    assert page.locator("#f-width-error").is_visible() and "at least" in page.locator("#f-width-error").inner_text()
    check(page, "print page with a refused width")
    page.fill("#f-width", "50")
    page.click("#update-preview")
    assert page.locator("#warnings-1").is_visible()  # 50 mm is small: the page says what to check
    check(page, "print page with warnings")
    with page.expect_download() as dl:
        page.click("#download")
    assert Path(dl.value.path()).read_bytes().startswith(b"%PDF")

    # Revoke, and the consumer page changes.
    consumer = context.new_page()
    consumer.goto(f"{url}/v/{first}")
    assert consumer.locator(".verdict.v-valid").count() == 1
    page.goto(f"{url}/portal/certificates/{first}")
    page.click("#revoke")  # no reason: an error
    assert page.locator("#f-reason-revoke-error").is_visible()
    check(page, "revoke without reason")
    page.fill("#f-reason-revoke", "Activity data wrong")
    page.click("#revoke")
    page.wait_for_selector("#status")
    assert page.inner_text("#status") == "Revoked"
    assert "Dependant certificate" in page.inner_text("#history")
    consumer.goto(f"{url}/v/{first}")
    assert consumer.locator(".verdict.v-revoked").count() == 1

    # Chinese pages, dates as 2026年12月1日.
    page.click("button[lang=zh-CN]")
    page.wait_for_selector("html[lang=zh-CN]")
    assert "年" in page.inner_text("#history") and "北京时间" in page.inner_text("#history")
    check(page, "certificate page in Chinese")

    # Another body's certificate: 404.
    other_page = browser.new_context().new_page()
    login(other_page, url, world["people"]["other"])
    resp = other_page.goto(f"{url}/portal/certificates/{second}")
    assert resp.status == 404
    check(other_page, "not found")

    # CSRF: a form without its token is refused and changes nothing.
    page.goto(f"{url}/portal/certificates/{second}")
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(e => e.value = 'forged')")
    page.fill("#f-reason-suspend", "should not happen")
    with page.expect_response(lambda r: "/suspend" in r.url) as resp:
        page.click("#suspend")
    assert resp.value.status == 400
    check(page, "CSRF refusal")
    page.goto(f"{url}/portal/certificates/{second}")
    assert page.inner_text("#status") != "已暂停"

    # An expired session (idle past the limit) is refused.
    app = world["app"]
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    cookie = next(c for c in context.cookies() if c["name"] == app.config["SESSION_COOKIE_NAME"])
    data = serializer.loads(cookie["value"])
    data["seen"] = int(time.time()) - app.config["PORTAL_IDLE_TIMEOUT"] - 5
    context.add_cookies([{**cookie, "value": serializer.dumps(data)}])
    page.goto(f"{url}/portal/certificates")
    assert "/portal/login" in page.url
    check(page, "session ended")
    assert not problems, problems
    context.close()


def test_lockout_shows_on_the_field(browser, world):
    url = world["url"]
    page = browser.new_context(locale="en-GB").new_page()
    victim = world["people"]["other"]
    wrong = Person(victim.email, "not the password", victim.secret)
    for _ in range(5):
        login(page, url, wrong, expect_ok=False, code="000000")
    with page.expect_response(lambda r: r.url.endswith("/portal/login") and r.request.method == "POST") as resp:
        login(page, url, victim, expect_ok=False, code="000000")  # locked before the code is looked at
    assert resp.value.status == 429
    assert "Too many failed attempts" in page.inner_text("#email-error")
    check(page, "lockout")


def test_body_admin_and_operator_pages(browser, world):
    url = world["url"]
    page = browser.new_context(locale="zh-CN", viewport={"width": 820, "height": 1180}).new_page()  # a tablet
    login(page, url, world["people"]["body-admin"])
    page.goto(f"{url}/portal/body")
    check(page, "body admin page")
    page.fill("#f-name", "ERP system")
    page.click("#create-client")
    assert page.locator("#client-secret").is_visible()
    check(page, "client secret shown once")
    page.fill("#f-email", f"colleague-{uuid.uuid4().hex[:6]}@example.org")
    page.click("#invite")
    link = page.inner_text("#invite-link")
    page.goto(f"{url}/portal/account")
    check(page, "account")
    page.goto(f"{url}/portal/account/recovery-codes")
    check(page, "recovery codes")
    page.goto(f"{url}/portal/grading")
    check(page, "grading schemes")
    resp = page.goto(f"{url}/portal/no-such-page")
    assert resp.status == 404 and page.locator("html[lang=zh-CN]").count() == 1
    assert page.locator('main a[href="/portal/"]').count() == 1
    check(page, "unknown address in Chinese")
    resp = page.goto(f"{url}/portal/logout")
    assert resp.status == 405
    check(page, "wrong method")

    invited = browser.new_context(locale="en-GB").new_page()
    invited.goto(link.replace("http://registry.test", url))
    check(invited, "invitation")
    secret = invited.inner_text("#totp-secret")
    invited.fill("#f-password", "a long enough password")
    invited.fill("#f-code", pyotp.TOTP(secret).now())
    invited.click("button.button")
    invited.wait_for_selector("#recovery-codes")
    check(invited, "recovery codes shown once")

    op = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900}).new_page()
    login(op, url, world["people"]["operator"])
    for path, what in (("/portal/bodies", "bodies"), (f"/portal/bodies/{world['body'].id}", "body detail"),
                       ("/portal/categories", "categories"), ("/portal/audit", "audit trail"),
                       ("/portal/audit?action=nothing.at.all", "empty audit trail"), ("/portal/staff", "staff"),
                       ("/portal/registry-key", "registry key"), ("/portal/certificates", "all certificates"),
                       ("/portal/no/such/page", "unknown address")):
        resp = op.goto(url + path)
        assert resp.status == (404 if "no/such" in path else 200), path
        check(op, what)
    op.goto(f"{url}/portal/bodies")
    op.click("#accredit")  # empty: errors
    check(op, "accredit with errors")
    op.goto(f"{url}/portal/bodies/{world['other'].id}")
    op.fill("#f-reason-suspend", "Surveillance audit")
    op.click("#body-suspend")
    assert "Suspended" in op.inner_text("#body-status")
    op.goto(f"{url}/portal/audit?action=body.suspended")
    assert world["people"]["operator"].email in op.inner_text("#audit")
