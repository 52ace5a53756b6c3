"""People get pages, not problem+json, for any error under /portal (routing 404s and 405s too),
in their language and linking back to the dashboard; the API keeps problem+json."""

from __future__ import annotations


def test_unknown_portal_address_is_a_page_in_english_and_chinese(client):
    resp = client.get("/portal/no-such-page")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 404 and resp.mimetype == "text/html"
    assert '<html lang="en">' in html and "<h1>Page not found</h1>" in html and 'href="/portal/"' in html
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    zh = client.get("/portal/no/such/page", headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 404 and '<html lang="zh-CN">' in zh.get_data(as_text=True)
    assert "页面不存在" in zh.get_data(as_text=True)


def test_wrong_method_is_a_page_with_allow(signed_in):
    resp = signed_in.get("/portal/logout")
    assert resp.status_code == 405 and resp.mimetype == "text/html"
    assert "POST" in resp.headers["Allow"]
    assert 'href="/portal/"' in resp.get_data(as_text=True)


def test_api_and_other_paths_keep_problem_json(client):
    for path in ("/api/v1/no-such-thing", "/portalx", "/portal-static/x"):
        resp = client.get(path)
        assert resp.status_code == 404 and resp.mimetype == "application/problem+json", path
    resp = client.delete("/api/v1/certificates/batch")
    assert resp.status_code == 405 and resp.mimetype == "application/problem+json"
