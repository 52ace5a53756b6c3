"""The demo has a procurement client and enough footprints for PACT pagination."""

from __future__ import annotations

from registry.demo import seed

from ..factories import bearer, token_for
from .conftest import validate_list


def test_demo_procurement_client_pages_through_valid_footprints(app, session, client, pact_spec):
    with app.app_context():
        summary = seed(session, app)
    session.flush()
    buyer = summary["procurement"]
    headers = {**bearer(token_for(client, buyer["clientId"], buyer["clientSecret"])), "X-Forwarded-Proto": "https"}
    seen, url, pages = [], "/3/footprints?limit=20", 0
    while url:
        resp = client.get(url, headers=headers)
        assert resp.status_code == 200, resp.get_json()
        validate_list(pact_spec, resp.get_json())
        seen += [pf["id"] for pf in resp.get_json()["data"]]
        link = resp.headers.get("Link")
        url = link[1:link.index(">")] if link else None
        pages += 1
    assert pages >= 3 and len(seen) == len(set(seen)) >= 50
