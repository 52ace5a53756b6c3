"""Simultaneous issuance on PostgreSQL: offsets used once, certificate numbers never shared."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from ..factories import certificate_request, commit_body, footprint, offsets

pytestmark = pytest.mark.postgres


@pytest.fixture
def live_body(live_server, is_postgres):
    if not is_postgres:
        pytest.skip("concurrency guarantees are tested on PostgreSQL (REGISTRY_TEST_DATABASE_URL)")
    _body, client_id, secret = commit_body(live_server.app)
    token = httpx.post(f"{live_server.url}/auth/token", data={"grant_type": "client_credentials"},
                       auth=(client_id, secret)).json()["access_token"]
    return live_server.url, {"Authorization": f"Bearer {token}"}


def _post_all(url, headers, payloads):
    with httpx.Client(timeout=60) as http, ThreadPoolExecutor(max_workers=len(payloads)) as pool:
        return list(pool.map(lambda p: http.post(f"{url}/api/v1/certificates", json=p, headers=headers), payloads))


def test_twenty_claims_on_one_offset_exactly_one_wins(live_body):
    url, headers = live_body
    shared = offsets("1", prefix=uuid.uuid4().hex[:8])
    payloads = [certificate_request("carbon-neutral", offsets=shared, coveredQuantity="1000",
                                    renewableElectricityShare="0.5",
                                    footprint=footprint(f"0.{80 + i}")) for i in range(20)]
    responses = _post_all(url, headers, payloads)
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 19, [r.text[:200] for r in responses if r.status_code not in (201, 409)]
    assert all(r.json()["type"].endswith("/offset-already-used") for r in responses if r.status_code == 409)


def test_fifty_simultaneous_issuances_get_fifty_numbers(live_body):
    url, headers = live_body
    responses = _post_all(url, headers, [certificate_request(footprint=footprint("0.8")) for _ in range(50)])
    assert [r.status_code for r in responses] == [201] * 50, [r.text[:200] for r in responses if r.status_code != 201]
    numbers = {r.json()["number"] for r in responses}
    assert len(numbers) == 50
