"""Portal fixtures: people of each role, signed in through the real login form."""

from __future__ import annotations

import re
import time

import pyotp
import pytest

from registry.portal import accounts
from tests.conftest import MASTER_KEY
from tests.factories import make_body, make_category

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def make_user(session, role: str, body_id: str | None = None, email: str | None = None):
    import uuid

    email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.org"
    user, password, secret = accounts.create_user(session, email=email, role=role, body_id=body_id,
                                                  master_key=MASTER_KEY, actor="test")
    session.flush()
    return user, password, secret


def next_code(secret: str, used: set | None = None) -> str:
    """A code for the current step, or the next one when this step's code was spent already."""
    totp = pyotp.TOTP(secret)
    code = totp.now()
    if used is not None and code in used:
        code = totp.at(time.time() + 30)
    if used is not None:
        used.add(code)
    return code


def login(client, email: str, password: str, secret: str, used: set | None = None, *, code: str | None = None):
    page = client.get("/portal/login")
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/portal/login", data={"csrf_token": token, "email": email, "password": password,
                                              "code": code or next_code(secret, used)})


@pytest.fixture
def body(session, app):
    make_category(session, "cement")
    body, _, _ = make_body(session, app)
    return body


@pytest.fixture
def certifier(session, body):
    return make_user(session, "certifier", body.id)


@pytest.fixture
def signed_in(client, certifier):
    user, password, secret = certifier
    resp = login(client, user.email, password, secret)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client
