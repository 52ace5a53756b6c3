"""Simultaneous writes against real gunicorn workers, on SQLite and on PostgreSQL.

Offsets are used once, certificate numbers never shared, and no writer fails: on SQLite writers
queue for the write lock instead of failing on a stale snapshot. Contention beyond the busy
timeout answers 503 ``database-busy`` with ``Retry-After``.
"""

from __future__ import annotations

import sqlite3
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import text

from registry import create_app
from registry.db import sqlite_path

from ..conftest import MASTER_KEY, LiveServer, app_config
from ..factories import certificate_request, commit_body, footprint, offsets
from ..servers import Gunicorn


def _login(url: str, app) -> dict:
    _body, client_id, secret = commit_body(app)
    token = httpx.post(f"{url}/auth/token", data={"grant_type": "client_credentials"},
                       auth=(client_id, secret)).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module", params=[2, 8], ids=lambda n: f"{n}-workers")
def server(request, engine, database_url, tmp_path_factory):
    """A gunicorn with 2 or 8 workers on the test database, and a body's bearer header."""
    with Gunicorn(database_url, tmp_path_factory.mktemp("gunicorn") / "instance", workers=request.param,
                  master_key=MASTER_KEY, env={"REGISTRY_RATELIMIT_ENABLED": "false"}) as live:
        app = create_app(app_config(database_url, PUBLIC_URL=live.url))
        yield live, _login(live.url, app)
        assert "database is locked" not in live.output()


def _all(method, url, headers, payloads):
    with httpx.Client(timeout=60) as http, ThreadPoolExecutor(max_workers=len(payloads)) as pool:
        return list(pool.map(lambda p: http.request(method, p[0], json=p[1], headers=headers),
                             [(url + path, body) for path, body in payloads]))


def _unexpected(responses, allowed):
    return [f"{r.status_code} {r.text[:200]}" for r in responses if r.status_code not in allowed]


def test_twelve_claims_on_one_offset_exactly_one_wins(server):
    live, headers = server
    shared = offsets("1", prefix=uuid.uuid4().hex[:8])
    payloads = [("/api/v1/certificates",
                 certificate_request("carbon-neutral", offsets=shared, coveredQuantity="1000",
                                     renewableElectricityShare="0.5", footprint=footprint(f"0.{80 + i}")))
                for i in range(12)]
    responses = _all("POST", live.url, headers, payloads)
    assert not _unexpected(responses, (201, 409)), _unexpected(responses, (201, 409))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 11
    assert all(r.json()["type"].endswith("/offset-already-used") for r in responses if r.status_code == 409)


def test_fifty_simultaneous_issuances_get_fifty_numbers(server):
    live, headers = server
    responses = _all("POST", live.url, headers,
                     [("/api/v1/certificates", certificate_request(footprint=footprint("0.8"))) for _ in range(50)])
    assert not _unexpected(responses, (201,)), _unexpected(responses, (201,))
    assert len({r.json()["number"] for r in responses}) == 50


def test_simultaneous_suspends_and_reinstates(server):
    live, headers = server
    issued = _all("POST", live.url, headers,
                  [("/api/v1/certificates", certificate_request(footprint=footprint("0.8"))) for _ in range(12)])
    ids = [r.json()["id"] for r in issued]
    for action, status in (("suspend", "suspended"), ("reinstate", "active")):
        responses = _all("POST", live.url, headers,
                         [(f"/api/v1/certificates/{i}/{action}", {"reason": "audit"}) for i in ids])
        assert not _unexpected(responses, (200,)), _unexpected(responses, (200,))
        assert {r.json()["status"] for r in responses} == {status}


def test_batches_and_single_issuances_at_once_number_without_gaps(server, database_url):
    """Four batches and twenty single requests at once, one offset claimed by an item of every batch
    and by two single requests: every number once, none skipped, the offset used once."""
    live, _ = server
    headers = _login(live.url, create_app(app_config(database_url, PUBLIC_URL=live.url)))  # numbers start at 1
    shared = offsets("1", prefix=uuid.uuid4().hex[:8])

    def neutral(pcf: str) -> dict:
        return certificate_request("carbon-neutral", offsets=shared, coveredQuantity="1000",
                                   renewableElectricityShare="0.5", footprint=footprint(pcf))

    batches = [("/api/v1/certificates/batch",
                {"items": [certificate_request(footprint=footprint(f"0.{50 + b * 10 + i}")) for i in range(8)]
                 + [neutral(f"0.8{b}"), {"type": "carbon-footprint"}]
                 + [certificate_request(footprint=footprint(f"0.{20 + b * 10 + i}")) for i in range(8)]})
               for b in range(4)]
    singles = [("/api/v1/certificates", certificate_request(footprint=footprint(f"0.9{i}"))) for i in range(18)]
    singles += [("/api/v1/certificates", neutral(f"0.7{i}")) for i in range(2)]
    payloads = [p for b in range(4) for p in [batches[b]] + singles[b * 5:b * 5 + 5]]
    responses = _all("POST", live.url, headers, payloads)
    assert not _unexpected(responses, (200, 201, 409)), _unexpected(responses, (200, 201, 409))
    issued, offset_claims = [], []
    for (path, body), resp in zip(payloads, responses):
        if path.endswith("/batch"):
            results = resp.json()["results"]
            assert [r["status"] for r in results[:8] + results[10:]] == [201] * 16 and results[9]["status"] == 422
            issued += [r["certificate"]["number"] for r in results if r["status"] == 201]
            offset_claims.append(results[8]["status"])
        elif body["type"] == "carbon-neutral":
            offset_claims.append(resp.status_code)
            issued += [resp.json()["number"]] if resp.status_code == 201 else []
        else:
            assert resp.status_code == 201, resp.text
            issued.append(resp.json()["number"])
    assert sorted(offset_claims) == [201] + [409] * (len(offset_claims) - 1)
    sequence = sorted(int(n.rsplit("-", 1)[1]) for n in issued)
    assert sequence == list(range(1, len(issued) + 1))  # unique, and gap-free: refused items took none


def test_contention_beyond_the_busy_timeout_is_503(engine, database_url, tmp_path):
    """Another writer holds the lock longer than the timeout: a clear, retryable 503."""
    with LiveServer(database_url, tmp_path / "instance", DATABASE_BUSY_TIMEOUT=0.3) as live:
        headers = _login(live.url, live.app)
        path = sqlite_path(database_url)
        if path is not None:
            holder = sqlite3.connect(path, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
        else:
            holder = engine.connect()
            holder.begin()
            holder.execute(text("LOCK TABLE status_lists IN EXCLUSIVE MODE"))
        try:
            resp = httpx.post(f"{live.url}/api/v1/certificates", json=certificate_request(), headers=headers,
                              timeout=30)
        finally:
            holder.rollback() if path is None else holder.execute("ROLLBACK")
            holder.close()
    assert resp.status_code == 503, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["type"].endswith("/database-busy")
    assert int(resp.headers["Retry-After"]) > 0


def test_a_batch_keeps_its_status_list_locks_when_a_savepoint_rolls_back(engine, database_url, is_postgres):
    """An offset taken by another transaction between a batch's check and its write rolls the write's
    savepoint back; the batch then issues item by item and must still hold the open lists' row locks,
    or a concurrent single issuance could draw an index the batch has just handed out."""
    if not is_postgres:
        pytest.skip("row locks: SQLite serialises writers for the whole transaction")
    from sqlalchemy import event, select
    from sqlalchemy.exc import OperationalError

    from registry.db import new_session
    from registry.models import StatusList
    from registry.schemas.certificates import CertificateIn
    from registry.services import accreditation, issuing

    app = create_app(app_config(database_url))
    body_obj, _client_id, _secret = commit_body(app)
    taken = offsets("1", prefix=uuid.uuid4().hex[:8])
    with app.app_context():
        other = new_session()
        holder = issuing.issue(other, app.extensions["registry.signer"], accreditation.get_body(other, body_obj.id),
                               CertificateIn().load(certificate_request(footprint=footprint("0.8"))),
                               public_url=app.config["PUBLIC_URL"], actor="test")
        other.commit()
        session = new_session()
        conn = session.connection()
        stolen, probed = [], []

        def steal(connection, cursor, statement, parameters, context, executemany):
            if stolen and not probed and statement.startswith("INSERT INTO certificates"):
                # Item by item now, after the rollback: are the open lists still locked by the batch?
                with engine.connect() as probe:
                    try:
                        probe.execute(select(StatusList.id).with_for_update(nowait=True)).all()
                        probed.append("free")
                    except OperationalError as err:
                        probed.append("locked" if "could not obtain lock" in str(err) else str(err))
                    probe.rollback()
            # Just before the batch writes its offsets, another transaction records the same offset.
            if statement.startswith("INSERT INTO offsets") and not stolen:
                stolen.append(True)
                with engine.begin() as thief:
                    row = {**(parameters[0] if executemany else parameters), "certificate_id": holder.id}
                    thief.execute(text("INSERT INTO offsets (identity, certificate_id, registry, serial_number, "
                                       "quantity, vintage, kind, retired_at, project) VALUES (:identity, "
                                       ":certificate_id, :registry, :serial_number, :quantity, :vintage, :kind, "
                                       ":retired_at, :project)"), row)

        event.listen(conn, "before_cursor_execute", steal)
        try:
            neutral = certificate_request("carbon-neutral", offsets=taken, coveredQuantity="1000",
                                          renewableElectricityShare="0.5", footprint=footprint("0.80"))
            results = issuing.issue_batch(session, app.extensions["registry.signer"],
                                          accreditation.get_body(session, body_obj.id),
                                          [certificate_request(footprint=footprint("0.81")), neutral],
                                          public_url=app.config["PUBLIC_URL"], actor="test", client_id=_client_id)
            assert stolen and [r.status for r in results] == [201, 409]
            assert probed == ["locked"]
        finally:
            event.remove(conn, "before_cursor_execute", steal)
            session.rollback()
            session.close()
            other.close()
