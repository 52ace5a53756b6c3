"""Bulk issuance: each item through the same rules as one-by-one issuance, on its own, in input order."""

from __future__ import annotations

import jwt
import pytest
from sqlalchemy import func, select

from registry.models import AuditEntry, Certificate, IdempotencyKey, Offset, StatusList
from registry.services import accreditation, issuing

from ..factories import (bearer, body_data, certificate_request, footprint, make_body, make_category, offsets,
                         token_for)


@pytest.fixture
def env(app, client, session):
    return body_for_batches(app, client, session)


def body_for_batches(app, client, session) -> dict:
    """A body accredited for every kind in cement, its token, and a second category out of scope."""
    make_category(session, "cement")
    make_category(session, "textile-fabric")
    body, client_id, secret = make_body(session, app, accreditation={
        **body_data()["accreditation"],
        "scope": {"certificateTypes": ["carbon-footprint", "low-carbon", "reduced-carbon", "carbon-neutral"],
                  "productCategories": ["cement"]}})
    return {"body": body, "client_id": client_id, "headers": bearer(token_for(client, client_id, secret))}


def batch(client, env, items, status=200):
    resp = client.post("/api/v1/certificates/batch", json={"items": items}, headers=env["headers"])
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def slug(problem: dict) -> str:
    return problem["type"].rsplit("/", 1)[1]


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_each_item_succeeds_or_fails_on_its_own_in_input_order(client, env, session):
    shared = offsets("0.5", "0.4")
    neutral = certificate_request("carbon-neutral", offsets=shared, coveredQuantity="1000",
                                  renewableElectricityShare="1")
    items = [
        certificate_request(footprint=footprint("0.80")),
        certificate_request(footprint=footprint(pcfExcludingBiogenicUptake=0.82)),          # field error
        certificate_request(product={**certificate_request()["product"], "category": "textile-fabric"}),
        neutral,
        neutral,                                                                           # same offsets again
        "not an object",
        certificate_request("low-carbon", footprint=footprint("0.95")),                    # above the benchmark
        certificate_request(footprint=footprint("0.70")),
    ]
    before = {m: count(session, m) for m in (Certificate, AuditEntry, Offset)}
    results = batch(client, env, items)["results"]
    assert [r["status"] for r in results] == [201, 422, 403, 201, 409, 422, 422, 201]
    assert "footprint.pcfExcludingBiogenicUptake" in results[1]["problem"]["errors"]
    assert [slug(results[i]["problem"]) for i in (2, 4, 5, 6)] == [
        "out-of-scope", "offset-already-used", "malformed-json", "benchmark-not-met"]
    for r in results:
        assert ("certificate" in r) == (r["status"] == 201) and ("problem" in r) == (r["status"] != 201)
        if "problem" in r:
            assert r["problem"]["status"] == r["status"] and r["problem"]["instance"] == "/api/v1/certificates/batch"
    issued = [results[i]["certificate"] for i in (0, 3, 7)]
    # Numbers are consecutive: a refused item consumes none.
    seq = [int(c["number"].rsplit("-", 1)[1]) for c in issued]
    assert seq == list(range(seq[0], seq[0] + 3))
    assert count(session, Certificate) == before[Certificate] + 3
    assert count(session, Offset) == before[Offset] + 2
    audits = session.scalars(select(AuditEntry).where(AuditEntry.action == "certificate.issued")
                             .where(AuditEntry.target_id.in_([c["id"] for c in issued]))).all()
    assert len(audits) == 3 and all(a.actor.startswith("body:") for a in audits)
    assert count(session, AuditEntry) == before[AuditEntry] + 3
    for out in issued:
        stored = client.get(f"/api/v1/certificates/{out['id']}").get_json()
        assert stored["credential"] == out["credential"] and stored["status"] == "active"
        assert out["verifyUrl"] == f"http://registry.test/v/{out['id']}"
        verdict = client.post("/api/v1/verify", json={"credential": out["credential"]}).get_json()
        assert verdict["verified"], verdict


def test_batch_issues_what_single_issuance_issues(client, env, session):
    req = certificate_request(footprint=footprint("0.81"))
    single = client.post("/api/v1/certificates", json=req, headers=env["headers"]).get_json()
    bulk = batch(client, env, [req])["results"][0]["certificate"]
    a, b = (jwt.decode(c["credential"], options={"verify_signature": False}) for c in (single, bulk))
    assert jwt.get_unverified_header(single["credential"]) == jwt.get_unverified_header(bulk["credential"])
    for claims in (a, b):
        claims.pop("id"), claims.pop("validFrom"), claims["credentialSubject"].pop("certificateNumber")
        claims["credentialSubject"].pop("id")
        for entry in claims.pop("credentialStatus"):
            assert entry["statusListIndex"]  # a random index in a list of its own purpose
    assert a == b
    assert set(single) == set(bulk) and single["grade"] == bulk["grade"] == "C"
    rows = {c.id: c for c in session.scalars(select(Certificate).where(Certificate.id.in_([single["id"], bulk["id"]])))}
    assert rows[single["id"]].revocation_list_id == rows[bulk["id"]].revocation_list_id
    details = [session.scalars(select(AuditEntry.details).where(AuditEntry.target_id == c["id"])).one()
               for c in (single, bulk)]
    assert set(details[0]) == set(details[1])


def test_status_list_usage_counts_only_issued_items(client, env, session):
    before = session.scalar(select(func.sum(StatusList.used))) or 0
    results = batch(client, env, [certificate_request(), {"type": "carbon-footprint"}, certificate_request()])["results"]
    assert [r["status"] for r in results] == [201, 422, 201]
    assert session.scalar(select(func.sum(StatusList.used))) == before + 4  # two entries per certificate


def test_resending_a_batch_with_keys_issues_nothing_new(client, env, session):
    keys_before = count(session, IdempotencyKey)  # live-server tests commit keys of their own
    items = [{**certificate_request(footprint=footprint(pcf)), "idempotencyKey": f"sku-{pcf}"}
             for pcf in ("0.80", "0.81")]
    first = batch(client, env, items)["results"]
    n = count(session, Certificate)
    again = batch(client, env, items)["results"]
    assert [r["certificate"]["id"] for r in again] == [r["certificate"]["id"] for r in first]
    assert [r["status"] for r in again] == [201, 201] and count(session, Certificate) == n
    changed = [{**certificate_request(footprint=footprint("0.79")), "idempotencyKey": "sku-0.80"}]
    assert slug(batch(client, env, changed)["results"][0]["problem"]) == "idempotency-key-reused"
    # The same key twice in one batch: the second answers with the first's certificate.
    twice = [{**certificate_request(footprint=footprint("0.60")), "idempotencyKey": "dup"}] * 2
    dup = batch(client, env, twice)["results"]
    assert dup[0]["certificate"]["id"] == dup[1]["certificate"]["id"] and count(session, Certificate) == n + 1
    # Keys are one namespace with the single path's Idempotency-Key header.
    req = certificate_request(footprint=footprint("0.61"))
    single = client.post("/api/v1/certificates", json=req, headers={**env["headers"], "Idempotency-Key": "one"})
    replay = batch(client, env, [{**req, "idempotencyKey": "one"}])["results"][0]
    assert replay["certificate"]["id"] == single.get_json()["id"]
    bad = batch(client, env, [{**req, "idempotencyKey": ""}])["results"][0]
    assert bad["status"] == 422 and slug(bad["problem"]) == "invalid-idempotency-key"
    assert count(session, IdempotencyKey) == keys_before + 4


@pytest.mark.parametrize("payload", [{"items": []}, {"items": {}}, {}, {"items": [certificate_request()] * 1001},
                                     {"items": [certificate_request()], "extra": 1}])
def test_malformed_batches_are_refused_whole(client, env, session, payload):
    before = count(session, Certificate)
    resp = client.post("/api/v1/certificates/batch", json=payload, headers=env["headers"])
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    assert count(session, Certificate) == before


def test_batch_needs_a_body_token(client, env):
    resp = client.post("/api/v1/certificates/batch", json={"items": [certificate_request()]})
    assert resp.status_code == 401


def test_suspended_body_gets_not_accredited_for_every_item(client, env, session):
    accreditation.suspend_body(session, env["body"], "audit", actor="test")
    results = batch(client, env, [certificate_request()] * 2)["results"]
    assert [slug(r["problem"]) for r in results] == ["not-accredited"] * 2


def test_service_is_callable_in_process(app, env, session):
    signer = app.extensions["registry.signer"]
    with app.app_context():
        results = issuing.issue_batch(session, signer, env["body"],
                                      [certificate_request(), certificate_request(footprint=footprint("2"))],
                                      public_url="http://registry.test", actor="portal:test",
                                      client_id=env["client_id"])
    assert [r.status for r in results] == [201, 201]
    assert all(isinstance(r.certificate, Certificate) for r in results)
    assert session.scalar(select(AuditEntry.actor).where(AuditEntry.target_id == results[0].certificate.id)) == \
        "portal:test"


def test_a_batch_that_fills_a_status_list_moves_on_to_a_new_one(client, env, session):
    batch(client, env, [certificate_request()])
    lists = {row.purpose: row for row in session.scalars(select(StatusList).order_by(StatusList.id))}
    for row in lists.values():  # one entry left below the fill limit
        row.used = int(row.size * 0.75) - 1
    session.flush()
    results = batch(client, env, [certificate_request(footprint=footprint(f"0.{n}")) for n in (71, 72, 73)])["results"]
    assert [r["status"] for r in results] == [201, 201, 201]
    rows = session.scalars(select(Certificate).where(Certificate.id.in_([r["certificate"]["id"] for r in results]))
                           .order_by(Certificate.number)).all()
    assert [c.revocation_list_id for c in rows] == [lists["revocation"].id] + ["r" + str(int(lists["revocation"].id[1:]) + 1)] * 2
    session.expire_all()
    for row in session.scalars(select(StatusList)):
        held = session.scalar(select(func.count()).select_from(Certificate).where(
            (Certificate.revocation_list_id if row.purpose == "revocation" else Certificate.suspension_list_id) == row.id))
        if row.id in {lists["revocation"].id, lists["suspension"].id}:
            continue  # their used was set by hand above; the batch recounts only what it touched
        assert row.used == held
    for r in results:
        assert client.post("/api/v1/verify", json={"credential": r["certificate"]["credential"]}).get_json()["verified"]


def test_the_tenth_status_list_is_made_once(client, env, session):
    """Lists are numbered r1, r2 …: the newest is the highest number, not the last as text
    ("r10" < "r9"), or the list after r9 would be made again and every issuance would fail."""
    batch(client, env, [certificate_request()])
    for purpose, prefix in (("revocation", "r"), ("suspension", "s")):
        first = session.scalars(select(StatusList).where(StatusList.purpose == purpose)).one()
        for n in range(int(first.id[1:]) + 1, 10):  # full lists up to r9 / s9
            session.add(StatusList(id=f"{prefix}{n}", purpose=purpose, size=first.size, bits=bytes(first.size // 8),
                                   used=int(first.size * 0.75), version=1, updated_at=first.updated_at))
        first.used = int(first.size * 0.75)
    session.flush()
    session.expire_all()
    one = client.post("/api/v1/certificates", json=certificate_request(footprint=footprint("0.61")),
                      headers=env["headers"])
    assert one.status_code == 201, one.get_json()
    results = batch(client, env, [certificate_request(footprint=footprint(f"0.{n}")) for n in (62, 63)])["results"]
    assert [r["status"] for r in results] == [201, 201]
    ids = [one.get_json()["id"]] + [r["certificate"]["id"] for r in results]
    rows = session.scalars(select(Certificate).where(Certificate.id.in_(ids))).all()
    assert {(c.revocation_list_id, c.suspension_list_id) for c in rows} == {("r10", "s10")}
    assert count(session, StatusList) == 20
    listed = client.get("/status").get_json()["lists"]
    assert [u.rsplit("/", 1)[1] for u in listed][-2:] == ["r10", "s10"]


def test_batch_status_indexes_are_checked_against_the_table_a_few_at_a_time(client, env, session, monkeypatch):
    """BatchLists.draw checks random indexes PROBE at a time: with a tiny probe many checks run, and
    every index handed out is still one no certificate of the list held."""
    from registry.services import statuslists

    batch(client, env, [certificate_request(footprint=footprint(f"0.{n}")) for n in range(60, 72)])
    monkeypatch.setattr(statuslists, "PROBE", 3)
    results = batch(client, env, [certificate_request(footprint=footprint(f"0.{n}")) for n in range(72, 84)])["results"]
    assert [r["status"] for r in results] == [201] * 12
    for index_col, list_col in (statuslists._columns("revocation"), statuslists._columns("suspension")):
        pairs = session.execute(select(list_col, index_col)).all()
        assert len(pairs) == len(set(pairs)) == count(session, Certificate)
