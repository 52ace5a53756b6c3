"""What a shopper reads: merit apart from validity, corrections and bases linked both ways, times in
China Standard Time, the home page and search, a product's page and GS1 linkset, expiry everywhere."""

from __future__ import annotations

import re

import pytest

from ..factories import bearer, certificate_request, footprint, make_body, offsets, product, token_for
from .test_verify_api import env, issue, issue_expired  # noqa: F401  (fixture and helpers)


def text(resp) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", resp.get_data(as_text=True)))


def test_grade_e_is_shown_on_its_scale_in_the_label_colour(client, env):
    out = issue(client, env, certificate_request(footprint=footprint("1.20")))  # 1.20 / 0.90: grade E
    html = client.get(f"/v/{out['id']}?lang=en").get_data(as_text=True)
    assert 'class="g-E current" aria-current="true"' in html
    assert html.count("current") >= 1 and 'class="g-A"' in html
    page = text(client.get(f"/v/{out['id']}?lang=en"))
    assert "Grade E on a scale from A (lowest footprint for its category) to E (highest)" in page
    assert "33 % above the benchmark for General Portland cement" in page
    assert "Genuine and in force" in page  # validity, stated apart from merit
    zh = text(client.get(f"/v/{out['id']}?lang=zh"))
    assert "比通用硅酸盐水泥的基准值高 33%" in zh and "真实有效" in zh


def test_footprint_below_benchmark_and_plain_language(client, env):
    out = issue(client, env)  # 0.82 / 0.90
    page = text(client.get(f"/v/{out['id']}?lang=en"))
    assert "9 % below the benchmark for General Portland cement" in page
    assert "0.82 kg CO₂e per kilogram" in page and "0.90 kg CO₂e per kilogram" in page
    assert "kilograms of CO₂ equivalent" in page and "leaves the factory gate" in page
    assert 'href="/grading?lang=en"' in client.get(f"/v/{out['id']}?lang=en").get_data(as_text=True)
    grading = client.get("/grading?lang=zh")
    assert grading.status_code == 200 and "不高于基准值的 70%" in text(grading)


def test_times_in_china_standard_time_on_chinese_pages(client, env):
    out = issue(client, env)  # validUntil 2028-12-31T23:59:59Z
    assert "2029年1月1日 07:59（北京时间）" in text(client.get(f"/v/{out['id']}?lang=zh"))
    assert "31 December 2028, 23:59 (UTC)" in text(client.get(f"/v/{out['id']}?lang=en"))
    assert client.get(f"/v/{out['id']}", headers={"Accept": "application/json"}).get_json()[
        "certificate"]["validUntil"] == "2028-12-31T23:59:59Z"


def test_no_untranslated_english_on_the_chinese_page(client, env):
    base = issue(client, env, certificate_request(footprint=footprint("1.00", start="2023-01-01T00:00:00Z",
                                                                      end="2023-12-31T23:59:59Z")))
    latest = issue(client, env)
    reduced = issue(client, env, certificate_request("reduced-carbon", footprint=None,
                                                     basedOn=[base["id"], latest["id"]]))
    neutral = issue(client, env, certificate_request("carbon-neutral", offsets=offsets("0.5", "0.4"),
                                                     coveredQuantity="1000", renewableElectricityShare="0.8"))
    data = {"P.O 42.5 cement", "Anhui Demo Cement Co.", "PO42.5", "T/TEST 0001-2025", "CCER", "Mangrove",
            *(a.number for a in env["body"].accreditations)}
    for cert in (latest, reduced, neutral):
        page = text(client.get(f"/v/{cert['id']}?lang=zh"))
        for value in data:
            page = page.replace(value, "")
        page = re.sub(r"\b[0-9a-f]{6,}\b|CCER-[0-9a-f]+-\d+", "", page)  # random test identifiers
        words = set(re.findall(r"[A-Za-z]{3,}", page)) - {"English", "JSON", "GTIN", "CNCA", "CCER", "CO"}
        words = {w for w in words if not re.fullmatch(r"[A-Z]{2,}[A-Z0-9]*", w)}  # codes and numbers
        assert not words, (cert["type"], words)


def test_superseded_and_replacement_link_to_each_other(client, env):
    old = issue(client, env)
    new = issue(client, env, certificate_request(footprint=footprint("0.80"), supersedes=old["id"]))
    old_page = client.get(f"/v/{old['id']}?lang=zh").get_data(as_text=True)
    assert 'id="replaced"' in old_page and f'href="/v/{new["id"]}?lang=zh"' in old_page
    assert "已被更正后的证书替代" in old_page and "已撤销" in old_page
    new_page = client.get(f"/v/{new['id']}?lang=en").get_data(as_text=True)
    assert "Corrects" in new_page and f'href="/v/{old["id"]}?lang=en"' in new_page


def test_revoked_basis_and_suspended_dependants_link_to_each_other(client, env):
    first = issue(client, env, certificate_request(footprint=footprint("1.00", start="2023-01-01T00:00:00Z",
                                                                       end="2023-12-31T23:59:59Z")))
    second = issue(client, env)
    reduced = issue(client, env, certificate_request("reduced-carbon", footprint=None,
                                                     basedOn=[first["id"], second["id"]]))
    resp = client.post(f"/api/v1/certificates/{second['id']}/revoke", json={"reason": "data error"},
                       headers=env["headers"])
    assert resp.status_code == 200
    basis = client.get(f"/v/{second['id']}?lang=en").get_data(as_text=True)
    assert "Certificates based on this one" in basis and f'href="/v/{reduced["id"]}?lang=en"' in basis
    dependant = client.get(f"/v/{reduced['id']}?lang=zh")
    page = text(dependant)
    assert "已暂停" in page and f"因其依据的证书 {second['number']} 被撤销" in page
    assert f'href="/v/{second["id"]}?lang=zh"' in dependant.get_data(as_text=True)


def test_home_page_and_search(client, env):
    out = issue(client, env)
    home = client.get("/", headers={"Accept-Language": "zh-CN"})
    assert home.status_code == 200 and home.mimetype == "text/html"
    html = home.get_data(as_text=True)
    assert 'action="/search"' in html and "获认可的认证机构" in html and env["body"].name_zh in html
    messy = out["number"].lower().replace("-", " ")
    resp = client.get("/search", query_string={"q": f"  {messy} "})
    assert resp.status_code == 303 and resp.headers["Location"].startswith(f"/v/{out['id']}")
    gtin = client.get("/search", query_string={"q": "6901234567892"})
    assert gtin.status_code == 303 and gtin.headers["Location"].startswith("/01/06901234567892")
    maker = client.get("/search", query_string={"q": "anhui demo", "lang": "en"})
    assert maker.status_code == 200 and out["number"] in maker.get_data(as_text=True)
    empty = client.get("/search?q=&lang=en")
    assert empty.status_code == 400 and "<title>Error:" in empty.get_data(as_text=True)
    none = client.get("/search?q=nothing-like-this&lang=en")
    assert none.status_code == 404 and "Nothing found" in none.get_data(as_text=True)


def test_a_real_number_in_v_never_says_counterfeit(app, client, session, env):
    # A body code that ends in digits makes the hyphens' places ambiguous once they are left out.
    _body, client_id, secret = make_body(session, app, code="QA12")
    out = issue(client, {"headers": bearer(token_for(client, client_id, secret))})
    assert out["number"].startswith("QA12-")
    for typed in (out["number"], out["number"].lower(), out["number"].replace("-", ""),
                  out["number"].replace("-", " ").lower()):
        resp = client.get(f"/v/{typed}?lang=en")
        assert resp.status_code == 200 and out["number"] in resp.get_data(as_text=True), typed
        assert "may not be genuine" not in resp.get_data(as_text=True)
        found = client.get("/search", query_string={"q": typed})
        assert found.status_code == 303 and found.headers["Location"].startswith(f"/v/{out['id']}"), typed
    assert client.get("/v/QA12-2026-999999").status_code == 404


def _gtin() -> str:
    """A GTIN-14 of this test's own (live-server tests commit certificates of the usual one)."""
    import random

    body = "0" + "".join(random.choice("0123456789") for _ in range(12))
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def test_product_page_and_linkset(app, client, session, env):
    gtin = _gtin()
    current = issue(client, env, certificate_request(product={**product(), "gtin": gtin}))
    expired = issue_expired(app, session, env["body"], product={**product(), "gtin": gtin})
    page = client.get(f"/01/{gtin}?lang=en", headers={"Accept": "text/html"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and html.index(current["number"]) < html.index(expired.number)
    assert "Expired" in html
    linkset = client.get(f"/01/{gtin}", headers={"Accept": "application/linkset+json"})
    assert linkset.mimetype == "application/linkset+json"
    entry = linkset.get_json()["linkset"][0]
    assert entry["anchor"].endswith(f"/01/{gtin}")
    hrefs = [l["href"] for l in entry["https://gs1.org/voc/certificationInfo"]]
    assert current["verifyUrl"] in hrefs
    listing = client.get(f"/01/{gtin}?format=json").get_json()
    assert [c["id"] for c in listing["certificates"]] == [current["id"]]  # expired is not current
    assert client.get(f"/01/{gtin}?cert={expired.id}").status_code == 302
    assert client.get("/01/06901234567893?cert=" + current["id"]).status_code == 404


def test_expired_is_expired_in_the_api_search_and_export(app, client, session, env, runner, tmp_path):
    current = issue(client, env)
    expired = issue_expired(app, session, env["body"])
    assert client.get(f"/api/v1/certificates/{expired.id}").get_json()["status"] == "expired"
    assert client.get(f"/api/v1/certificates/{current['id']}").get_json()["status"] == "active"
    body = env["body"].id
    active = [c["id"] for c in client.get(f"/api/v1/certificates?body={body}&status=active").get_json()["items"]]
    gone = [c["id"] for c in client.get(f"/api/v1/certificates?body={body}&status=expired").get_json()["items"]]
    assert active == [current["id"]] and gone == [expired.id]
    assert client.get(f"/v/{expired.id}", headers={"Accept": "application/json"}).get_json()[
        "certificate"]["status"] == "expired"
    import zipfile

    out = tmp_path / "labels.zip"
    result = runner.invoke(args=["registry", "export-labels", "--body", env["body"].code, "--out", str(out),
                                 "--status", "active"])
    assert result.exit_code == 0, result.output
    names = zipfile.ZipFile(out).namelist()
    assert len(names) == 3 and all(current["number"] in n for n in names)
    # Last: an error answer rolls back the test's unflushed work.
    assert client.get("/api/v1/certificates?status=lapsed").status_code == 422


def test_first_trust_list_is_signed_with_a_stored_key(database_url, tmp_path):
    """On a fresh registry the key made for the first trust list is the one the JWKS publishes."""
    import jwt
    from alembic import command

    from registry import create_app
    from registry.cli import alembic_config

    from ..conftest import app_config

    if database_url.startswith("postgresql"):
        pytest.skip("needs an empty database of its own")
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    command.upgrade(alembic_config(url), "head")
    client = create_app(app_config(url)).test_client()
    token = client.get("/trust-list").get_data(as_text=True)
    (key,) = client.get("/.well-known/jwks.json").get_json()["keys"]
    assert jwt.decode(token, jwt.PyJWK(key).key, algorithms=["EdDSA"])["bodies"] == []


def test_footprint_per_pack_where_the_certificate_states_the_pack_size(client, env):
    out = issue(client, env, certificate_request(product={**product(), "packSize": "50"}))
    assert out["credential"]
    assert "41 kg CO₂e per pack of 50 kilogram" in text(client.get(f"/v/{out['id']}?lang=en"))
    assert "每包装（50 千克）41 千克二氧化碳当量" in text(client.get(f"/v/{out['id']}?lang=zh"))
    assert "per pack" not in text(client.get(f"/v/{issue(client, env)['id']}?lang=en"))
    bad = client.post("/api/v1/certificates", json=certificate_request(product={**product(), "packSize": "-1"}),
                      headers=env["headers"])
    assert bad.status_code == 422 and "product.packSize" in bad.get_json()["errors"]
