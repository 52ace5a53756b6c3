"""The request machinery's shortcuts answer as the general code would: Vary: Cookie, plain hooks,
limits that apply only to decorated routes."""

from __future__ import annotations

import pytest
from werkzeug.wrappers import Response

from registry import create_app
from registry.portal import vary_cookie

from ..conftest import app_config


@pytest.mark.parametrize("vary", [None, "", "Accept", "Accept, Accept-Language", "Accept, Cookie", "accept,cookie",
                                  "Accept,  Origin", '"Accept", Origin', "COOKIE", "Accept, Accept-Language, Cookie"])
def test_vary_cookie_is_what_werkzeug_would_write(vary):
    """The session's cheap "Vary: Cookie" gives the bytes ``response.vary.add("Cookie")`` gives."""
    ours, theirs = Response(), Response()
    if vary is not None:
        ours.headers["Vary"] = theirs.headers["Vary"] = vary
    vary_cookie(ours)
    theirs.vary.add("Cookie")
    assert ours.headers.to_wsgi_list() == theirs.headers.to_wsgi_list()


def test_plain_functions_are_remembered_and_coroutines_still_wrapped(app):
    def plain():
        return "plain"

    async def coroutine():
        return "awaited"

    assert app.ensure_sync(plain) is plain and app.ensure_sync(plain) is plain
    try:
        wrapped = app.ensure_sync(coroutine)
    except RuntimeError:  # Flask without its async extra refuses, as it always did
        return
    assert wrapped is not coroutine and wrapped() == "awaited"
    assert app.ensure_sync(coroutine) is not coroutine


def test_a_session_cookie_is_still_read_and_written(client):
    """The lean session skips parsing only when the request has no cookie at all."""
    first = client.get("/portal/login")
    assert first.status_code == 200 and "session=" in first.headers.get("Set-Cookie", "")
    assert "Cookie" in first.headers["Vary"]
    again = client.get("/portal/login")  # the test client sends the cookie back
    assert again.status_code == 200


def test_route_limits_hold_when_the_app_wide_pass_is_skipped(database_url, session, tmp_path):
    """No default, application or blueprint limits: the before-request pass has nothing to count,
    and a decorated route still counts, answers 429 and sends its X-RateLimit headers."""
    app = create_app(app_config(database_url, SESSION=session, RATELIMIT_ENABLED=True,
                                RATELIMIT_STORAGE_URI="memory://", RATELIMIT_PUBLIC="2 per minute"))
    app.instance_path = str(tmp_path / "instance")
    client = app.test_client()
    url = "/v/5f0c1f7e-8a1b-4c5d-9e2f-000000000000"
    first, second, third = (client.get(url, headers={"Accept": "application/json"}) for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [404, 404, 429]
    assert first.headers["X-RateLimit-Limit"] == "2" and first.headers["X-RateLimit-Remaining"] == "1"
    assert third.headers["Retry-After"] and third.mimetype == "application/problem+json"
    assert client.get("/healthz").status_code == 200  # undecorated: never limited
