"""Status lists stay fresh: a list with no change for a day still verifies for any verifier."""

from __future__ import annotations

import json
from datetime import timedelta

import jwt
import pytest

from registry.api.status import published
from registry.models import StatusList, utcnow
from registry.services import statuslists
from verifier import verify_status_list_credential
from verifier import StatusUnavailable

from ..conftest import PUBLIC_URL


def _payload(token: str) -> dict:
    return json.loads(jwt.api_jws.decode_complete(token, options={"verify_signature": False})["payload"])


def test_a_quiet_list_is_resigned_before_it_expires(app, client, session):
    list_id, _ = statuslists.allocate(session, "revocation")
    session.flush()
    url = f"{PUBLIC_URL}/status/{list_id}"
    now = utcnow()
    first = client.get(f"/status/{list_id}")
    assert first.status_code == 200
    jwks = client.get("/.well-known/jwks.json").get_json()
    verify_status_list_credential(first.data, jwks, url=url, now=now)

    day_later = now + timedelta(days=1, minutes=1)
    with pytest.raises(StatusUnavailable):  # the copy signed today is what a verifier holds tomorrow
        verify_status_list_credential(first.data, jwks, url=url, now=day_later)

    row = session.get(StatusList, list_id)
    with app.test_request_context(f"/status/{list_id}"):
        cached, _ = published(row, now=now + timedelta(hours=1))
        assert cached.encode() == first.data  # young copies are served as they are
        token, signed_at = published(row, now=day_later)
    payload = verify_status_list_credential(token, jwks, url=url, now=day_later)
    assert signed_at == day_later.replace(microsecond=0)
    assert payload["validFrom"] == signed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    ttl = timedelta(seconds=app.config["STATUS_LIST_TTL"])
    assert payload["validUntil"] == (signed_at + ttl).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert payload["credentialSubject"]["encodedList"] == _payload(first.data.decode())["credentialSubject"]["encodedList"]


def test_a_served_list_is_valid_for_most_of_its_lifetime(app, client, session):
    """Whenever a verifier fetches a list, it stays valid for at least 3/4 of the lifetime."""
    list_id, _ = statuslists.allocate(session, "suspension")
    session.flush()
    row = session.get(StatusList, list_id)
    ttl = timedelta(seconds=app.config["STATUS_LIST_TTL"])
    start = utcnow()
    with app.test_request_context(f"/status/{list_id}"):
        for hours in range(0, 72, 5):
            at = start + timedelta(hours=hours)
            token, _ = published(row, now=at)
            remaining = _payload(token)["validUntil"]
            assert remaining > (at + ttl * 0.75 - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_changed_bit_is_signed_at_once(app, client, session):
    list_id, index = statuslists.allocate(session, "revocation")
    session.flush()
    before = client.get(f"/status/{list_id}")
    statuslists.set_status(session, list_id, index, True)
    session.flush()
    after = client.get(f"/status/{list_id}")
    assert after.headers["ETag"] != before.headers["ETag"]
    from verifier import decode_list, get_bit

    assert get_bit(decode_list(_payload(after.data.decode())["credentialSubject"]["encodedList"]), index)
