"""``GET /v/<id>`` as JSON from the memo, answered before Flask's request handling (api.verify.HotAnswers):
the same answer, headers, rate-limit bucket, metrics and log line as the view; everything else left to Flask."""

from __future__ import annotations

import json
import logging
import shutil
import socket
import subprocess
import time

import flask
import httpx
import pytest

from registry import create_app
from registry.http import JsonFormatter

from ..conftest import MASTER_KEY, app_config, basic
from ..factories import certificate_request, commit_body
from ..servers import Gunicorn, free_port
from .test_shared_limits import LIMITED, _hit, _requests_counted
from .test_verify_api import JSON, _unstamped, env, issue  # noqa: F401  (env is a fixture)


@pytest.fixture
def handled_by_flask():
    """How many requests went through Flask's request handling since the fixture was taken."""
    seen: list = []

    def count(sender, **extra):
        seen.append(flask.request.path)

    flask.request_started.connect(count)
    yield seen
    flask.request_started.disconnect(count)


def test_a_memo_hit_skips_flask_and_is_the_views_answer(app, client, env, handled_by_flask):
    out = issue(client, env)
    url = f"/v/{out['id']}"
    del handled_by_flask[:]
    miss = client.get(url, headers=JSON)
    assert handled_by_flask == [url]
    hot = client.get(url, headers=JSON)
    assert handled_by_flask == [url], "the second request was answered outside Flask"
    # A cookie sends the same request through the view: same bytes, same headers in the same order.
    full = app.test_client(use_cookies=False).get(url, headers={**JSON, "Cookie": "x=1"})
    assert handled_by_flask == [url, url]
    assert _unstamped(hot) == _unstamped(miss) == _unstamped(full)
    assert hot.headers["X-Request-Id"] != miss.headers["X-Request-Id"]
    assert client.get(url, headers={**JSON, "X-Request-Id": "scan-42"}).headers["X-Request-Id"] == "scan-42"
    assert len(handled_by_flask) == 2

    # A suspension changes the memo key: the next request is the view's, with the new status.
    client.post(f"/api/v1/certificates/{out['id']}/suspend", json={"reason": "audit"}, headers=env["headers"])
    before = len(handled_by_flask)
    changed = client.get(url, headers=JSON)
    assert len(handled_by_flask) == before + 1
    assert changed.get_json()["certificate"]["status"] == "suspended"
    assert changed.headers["ETag"] != hot.headers["ETag"]
    again = client.get(url, headers=JSON)
    assert len(handled_by_flask) == before + 1 and _unstamped(again) == _unstamped(changed)


@pytest.mark.parametrize("how", ["cookie", "conditional", "query", "head", "upper-case id", "other accept",
                                 "nul in a header", "unknown id"])
def test_what_the_hot_path_leaves_to_flask(app, client, env, handled_by_flask, how):
    out = issue(client, env)
    url = f"/v/{out['id']}"
    first = client.get(url, headers=JSON)  # memoised
    headers, path, method = dict(JSON), url, "GET"
    if how == "cookie":
        headers["Cookie"] = "session=x"
    elif how == "conditional":
        headers["If-None-Match"] = first.headers["ETag"]
    elif how == "query":
        path += "?lang=en"
    elif how == "head":
        method = "HEAD"
    elif how == "upper-case id":
        path = path.upper().replace("/V/", "/v/")
    elif how == "other accept":
        headers["Accept"] = "application/json, text/plain"
    elif how == "nul in a header":
        headers["X-Scan"] = "a\x00b"
    elif how == "unknown id":
        path = "/v/00000000-0000-4000-8000-000000000000"
    del handled_by_flask[:]
    resp = app.test_client(use_cookies=False).open(path, method=method, headers=headers)  # sends our Cookie
    assert handled_by_flask, f"{how}: answered outside Flask"
    expected = {"conditional": 304, "nul in a header": 400, "unknown id": 404}.get(how, 200)
    assert resp.status_code == expected, resp.data[:300]
    if how == "nul in a header":
        assert resp.get_json()["type"].endswith("/invalid-characters")
    if expected == 200 and method == "GET":
        assert _unstamped(resp)[0] == _unstamped(first)[0]


def test_hot_answers_count_in_the_views_rate_limit_bucket(session, database_url, tmp_path, handled_by_flask):
    """The JSON answers outside Flask and the view (the HTML page here) draw on one budget, and
    send the view's rate-limit headers; the request over the limit gets the view's 429."""
    app = create_app(app_config(database_url, SESSION=session, RATELIMIT_ENABLED=True,
                                RATELIMIT_STORAGE_URI="memory://", RATELIMIT_PUBLIC="4 per minute"))
    app.instance_path = str(tmp_path / "instance")
    client = app.test_client()
    out = issue(client, _env(app, client, session))
    url = f"/v/{out['id']}"
    del handled_by_flask[:]
    answers = [client.get(url, headers=JSON), client.get(url, headers=JSON), client.get(url),
               client.get(url, headers=JSON)]
    assert [r.status_code for r in answers] == [200] * 4
    assert handled_by_flask == [url, url], "the first (a memo miss) and the HTML page went through Flask"
    assert [r.headers["X-RateLimit-Remaining"] for r in answers] == ["3", "2", "1", "0"]
    for name in ("X-RateLimit-Limit", "X-RateLimit-Reset"):
        assert len({r.headers[name] for r in answers}) == 1, name
    assert answers[1].headers["X-RateLimit-Limit"] == "4"
    assert 0 < int(answers[1].headers["Retry-After"]) <= 60
    over = client.get(url, headers=JSON)
    assert over.status_code == 429 and over.get_json()["type"].endswith("/rate-limited")
    assert len(handled_by_flask) == 3


def _env(app, client, session):
    from ..factories import bearer, body_data, make_body, make_category, token_for

    make_category(session, "cement")
    _body, client_id, secret = make_body(session, app, accreditation={
        **body_data()["accreditation"], "scope": {"certificateTypes": ["carbon-footprint"],
                                                  "productCategories": ["cement"]}})
    return {"headers": bearer(token_for(client, client_id, secret))}


def test_hot_answers_are_counted_and_logged(app, client, env):
    out = issue(client, env)
    url = f"/v/{out['id']}"
    client.get(url, headers=JSON)

    def counted() -> float:
        text = client.get("/metrics").get_data(as_text=True)
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("registry_http_requests_total{") and 'endpoint="/v/<cert_id>"' in line
                   and 'status="200"' in line)

    before = counted()
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(JsonFormatter().format(record))
    log = logging.getLogger("registry")
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        hot = client.get(url, headers=JSON)
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    assert counted() == before + 1
    lines = [json.loads(r) for r in records if json.loads(r)["msg"] == "request"]
    assert len(lines) == 1
    assert lines[0]["requestId"] == hot.headers["X-Request-Id"]
    assert (lines[0]["method"], lines[0]["path"], lines[0]["status"], lines[0]["endpoint"]) == (
        "GET", url, 200, "/v/<cert_id>")


def test_hot_answers_share_every_workers_limit_and_metrics(engine, database_url, tmp_path):
    """Three gunicorn workers, each memoising the answer after its first request: the limit and
    the metrics count every request once, wherever it was answered."""
    instance = tmp_path / "instance"
    env_ = {**LIMITED, "REGISTRY_RATELIMIT_PUBLIC": "12 per minute"}
    with Gunicorn(database_url, instance, workers=3, master_key=MASTER_KEY, env=env_) as server:
        app = create_app(app_config(database_url, PUBLIC_URL=server.url))
        _body, client_id, secret = commit_body(app)
        token = httpx.post(server.url + "/auth/token", data={"grant_type": "client_credentials"},
                           headers={"Authorization": basic(client_id, secret)}, timeout=30).json()["access_token"]
        cert = httpx.post(server.url + "/api/v1/certificates", json=certificate_request(),
                          headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        codes = _hit([f"{server.url}/v/{cert['id']}"] * 30)
        assert codes.count(200) == 12 and codes.count(429) == 18, codes
        assert {_requests_counted(server.url, "/v/<cert_id>") for _ in range(6)} == {30.0}



def test_a_limiter_storage_that_fails_sends_hot_answers_to_flask(session, database_url, tmp_path, handled_by_flask):
    """Rate limits in a Redis of the test's own, which then stops: Flask-Limiter's fallback to
    counting in memory lives in the full handling, so the hot path hands the request over."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        app = create_app(app_config(database_url, SESSION=session, RATELIMIT_ENABLED=True,
                                    RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{port}/0",
                                    RATELIMIT_PUBLIC="100 per minute"))
        app.instance_path = str(tmp_path / "instance")
        client = app.test_client()
        out = issue(client, _env(app, client, session))
        url = f"/v/{out['id']}"
        del handled_by_flask[:]
        client.get(url, headers=JSON)
        hot = client.get(url, headers=JSON)
        assert handled_by_flask == [url] and hot.headers["X-RateLimit-Remaining"] == "98"
    finally:
        proc.kill()
        proc.wait(10)
    resp = client.get(url, headers=JSON)
    assert resp.status_code == 200 and resp.get_json()["verified"] is True
    assert handled_by_flask == [url, url]
