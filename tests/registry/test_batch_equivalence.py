"""Bulk issuance stores what one-by-one issuance stores: the same items issued one by one and then,
from the same starting state, as one batch give the same numbers, rows, audit, outbox and log."""

from __future__ import annotations

import hashlib
import json
import random

import jwt
import pytest
from marshmallow import ValidationError
from sqlalchemy import event, func, select

from registry import tlog
from registry.errors import RegistryError
from registry.models import (AuditEntry, Certificate, CertificateBasis, IdempotencyKey, Offset, OutboxEvent,
                             RegistryVersion, StatusList, TlogEntry, TlogState, TlogTile, credential_payload)
from registry.schemas.certificates import CertificateIn
from registry.services import issuing
from verifier import _tlog as t

from ..verifier.test_tlog import naive_mth
from .test_issuing_batch import body_for_batches
from ..factories import certificate_request, footprint, offsets, product


@pytest.fixture
def env(app, client, session):
    return {**body_for_batches(app, client, session), "signer": app.extensions["registry.signer"]}


def _issue_one(app, session, env, raw):
    """One item as ``POST /api/v1/certificates`` issues it, in a savepoint; (status, problem type, detail)."""
    try:
        with session.begin_nested():
            data = CertificateIn().load(raw)
            cert = issuing.issue(session, env["signer"], env["body"], data, public_url=app.config["PUBLIC_URL"],
                                 actor="body:test")
    except RegistryError as err:
        return (err.status, issuing._problem(err)), None
    except ValidationError as err:
        return (422, issuing._invalid_fields(err)), None
    return (201, None), cert


def _outcome(result: issuing.Result):
    return result.status, result.problem


def _snapshot(session, body_id: str, log_from: int, versions_before: dict, earlier: tuple = ()) -> dict:
    """Everything issuance stored for ``body_id``, with ids, times and random status indexes left out;
    ``earlier``: certificates issued before, whose changes (a correction revokes one) count too."""
    session.flush()
    certs = session.scalars(select(Certificate).where(Certificate.body_id == body_id, Certificate.log_index >= log_from)
                            .order_by(Certificate.number)).all()
    pos = {c.id: f"#{n}" for n, c in enumerate(certs)} | {cid: f"E{n}" for n, cid in enumerate(earlier)}

    def plain(value):
        text = json.dumps(value, sort_keys=True, default=str)
        for cid, token in pos.items():
            text = text.replace(cid, token)
        return json.loads(text)

    def claims(cert):
        payload = dict(credential_payload(cert.credential))
        payload.pop("validFrom")
        payload["credentialStatus"] = [{**e, "statusListIndex": None, "id": e["id"].split("#")[0]}
                                       for e in payload["credentialStatus"]]
        return plain(payload)

    ids = list(pos)
    earlier_now = [plain([cid, status, reason]) for cid, status, reason in session.execute(
        select(Certificate.id, Certificate.status, Certificate.status_reason).where(Certificate.id.in_(earlier))
        .order_by(Certificate.number))]
    rows = [plain({k: getattr(c, k) for k in ("number", "number_key", "type", "status", "category_code", "gtin",
                                                  "manufacturer_id", "manufacturer_name", "product_name", "grade",
                                                  "pcf", "valid_until", "revocation_list_id", "suspension_list_id",
                                                  "supersedes_id", "status_reason", "log_index")}) for c in certs]
    audit = session.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.target_id, AuditEntry.details)
                            .where(AuditEntry.target_id.in_(ids), AuditEntry.at >= versions_before["at"])
                            .order_by(AuditEntry.id)).all()
    events = session.execute(select(OutboxEvent.type, OutboxEvent.certificate_id, OutboxEvent.data)
                             .where(OutboxEvent.certificate_id.in_(ids),
                                    OutboxEvent.created_at >= versions_before["at"])
                             .order_by(OutboxEvent.created_at, OutboxEvent.certificate_id)).all()
    entries = dict(session.execute(select(TlogEntry.idx, TlogEntry.entry)
                                   .where(TlogEntry.idx >= log_from).order_by(TlogEntry.idx)).all())
    log = []
    for idx, entry in entries.items():
        event_ = json.loads(entry)
        event_.pop("time")
        event_.pop("sha256", None)
        log.append((idx, plain(event_)))
    for c in certs:  # its log index is its issuance entry, whose hash is the stored credential's
        event_ = json.loads(entries[c.log_index])
        assert event_["kind"] == "certificate.issued" and event_["certificateId"] == c.id
        assert event_["sha256"] == hashlib.sha256(c.credential.encode()).hexdigest()
    for c in certs:  # the event keeps the certificate's state at the time; the rest is read from it
        data = next(d for t, cid, d in events if cid == c.id)
        assert data == {"status": "active", "statusReason": None, "issuer": {
            "id": c.body_id, "name": c.body.name, "nameZh": c.body.name_zh, "code": c.body.code}}
    versions = {name: value - versions_before[name] for name, value in session.execute(
        select(RegistryVersion.name, RegistryVersion.value))}
    return {
        "certificates": rows,
        "credentials": [claims(c) for c in certs],
        "bases": sorted(plain([(b.certificate_id, b.based_on_id)]) for b in session.scalars(
            select(CertificateBasis).where(CertificateBasis.certificate_id.in_(ids)))),
        "offsets": sorted(plain([(o.identity, o.certificate_id, o.quantity, o.kind, str(o.retired_at))])
                          for o in session.scalars(select(Offset).where(Offset.certificate_id.in_(ids)))),
        "audit": [plain([a.actor, a.action, a.target_id, a.details]) for a in audit],
        "outbox": [plain([t, cid, {k: v for k, v in d.items() if k not in ("validFrom", "credential")}])
                   for t, cid, d in events],
        "log": log,
        "log_size": session.scalar(select(TlogState.size)),
        "tiles": session.scalar(select(func.count()).select_from(TlogTile)),
        "used": dict(session.execute(select(StatusList.id, StatusList.used).order_by(StatusList.id)).all()),
        "versions": versions,
        "earlier": earlier_now,
    }


def _start(session):
    return (session.scalar(select(TlogState.size)),
            dict(session.execute(select(RegistryVersion.name, RegistryVersion.value)).all())
            | {"at": session.scalar(select(func.max(AuditEntry.at)))})


def _items(existing: dict) -> list[dict]:
    shared = offsets("0.5", "0.4", prefix="shared")
    neutral = dict(offsets=shared, coveredQuantity="1000", renewableElectricityShare="1")
    no_gtin = {k: v for k, v in product().items() if k != "gtin"}
    return [
        certificate_request(footprint=footprint("0.80")),
        certificate_request(product=no_gtin, footprint=footprint("0.81")),
        certificate_request("low-carbon", footprint=footprint("0.70")),
        certificate_request(footprint=footprint(pcfExcludingBiogenicUptake=0.82)),            # field error
        certificate_request("carbon-neutral", **neutral),
        certificate_request("carbon-neutral", footprint=footprint("0.79"), **neutral),        # same offsets
        certificate_request("reduced-carbon", footprint=None, basedOn=[existing["b"], existing["a"]]),
        certificate_request("low-carbon", footprint=footprint("0.95")),                      # above the benchmark
        certificate_request("carbon-neutral", footprint=footprint("0.5"), offsets=existing["used"],
                            coveredQuantity="1000", renewableElectricityShare="1"),           # offsets used before
        certificate_request(product=product(category="textile-fabric")),                    # out of scope
        certificate_request(footprint=footprint("0.60"), validUntil="2020-12-31T23:59:59Z"),  # already over
        certificate_request("carbon-neutral", footprint=footprint("0.78"), offsets=[shared[1], existing["used"][0]],
                            coveredQuantity="1000", renewableElectricityShare="1"),          # batch's first, then stored
        certificate_request("carbon-neutral", footprint=footprint("0.77"), offsets=[existing["used"][0], shared[0]],
                            coveredQuantity="1000", renewableElectricityShare="1"),          # stored first, then batch's
        *[certificate_request(footprint=footprint(f"0.{60 + n}")) for n in range(7)],
    ]


def _existing(client, env) -> dict:
    """Two footprints to reduce from and a neutral certificate holding some offsets, issued before."""
    out = {}
    for name, fp in (("a", footprint("1.00", start="2023-01-01T00:00:00Z", end="2023-12-31T23:59:59Z")),
                     ("b", footprint("0.85"))):
        resp = client.post("/api/v1/certificates", json=certificate_request(footprint=fp), headers=env["headers"])
        out[name] = resp.get_json()["id"]
    out["used"] = offsets("1", prefix="before")
    resp = client.post("/api/v1/certificates", headers=env["headers"], json=certificate_request(
        "carbon-neutral", offsets=out["used"], coveredQuantity="1000", renewableElectricityShare="1"))
    assert resp.status_code == 201, resp.get_json()
    return out


def test_batch_stores_what_one_by_one_issuance_stores(app, client, env, session):
    existing = _existing(client, env)
    items = _items(existing)
    body_id = env["body"].id
    log_from, versions = _start(session)
    with app.test_request_context():
        outer = session.begin_nested()
        singles = [_issue_one(app, session, env, raw) for raw in items]
        one_by_one = _snapshot(session, body_id, log_from, versions)
        outer.rollback()
        assert _start(session) == (log_from, versions)  # the same starting state again
        results = issuing.issue_batch(session, env["signer"], env["body"], items, public_url=app.config["PUBLIC_URL"],
                                      actor="body:test", client_id=env["client_id"])
        bulk = _snapshot(session, body_id, log_from, versions)
    assert [_outcome(r) for r in results] == [outcome for outcome, _ in singles]
    assert [r.status for r in results] == [201, 201, 201, 422, 201, 409, 201, 422, 409, 403, 422, 409, 409] + [201] * 7
    assert "CCER-shared-1" in results[11].problem["detail"] and "CCER-before-0" in results[12].problem["detail"]
    for key in one_by_one:
        assert bulk[key] == one_by_one[key], key
    issued = [r.certificate for r in results if r.certificate is not None]
    assert [c.number for c in issued] == [c.number for _, c in singles if c is not None]
    seq = [int(c.number.rsplit("-", 1)[1]) for c in issued]
    assert seq == list(range(seq[0], seq[0] + len(issued)))  # refused items take no number
    assert results[5].problem["detail"].startswith("Offset CCER CCER-shared-0 already backs certificate "
                                                   f"{results[4].certificate.number};")
    for cert in issued:
        verdict = client.post("/api/v1/verify", json={"credential": cert.credential}).get_json()
        assert verdict["verified"], verdict
        claims = jwt.decode(cert.credential, options={"verify_signature": False})
        assert claims["credentialSubject"]["certificateNumber"] == cert.number


def _mixed_items(rng: random.Random, existing: dict, n: int) -> list:
    """A random mix of what bulk issuance meets: plain, refused, neutral items sharing offsets,
    reductions, corrections (one of them twice), repeated idempotency keys and repeated items."""
    pool = [offsets(*rng.choice([("1",), ("0.5", "0.6")]), prefix=f"mix{k}") for k in range(5)] + [existing["used"]]
    keys = [f"key-{k}" for k in range(12)]
    items: list = []
    for _ in range(n):
        roll = rng.random()
        pcf = f"0.{rng.randint(40, 99)}"
        if roll < 0.35:
            item = certificate_request(footprint=footprint(pcf))
        elif roll < 0.45:
            item = certificate_request("low-carbon", footprint=footprint(pcf))  # refused above 0.90
        elif roll < 0.62:
            item = certificate_request("carbon-neutral", footprint=footprint(pcf), offsets=rng.choice(pool),
                                       coveredQuantity="1000", renewableElectricityShare="1")
        elif roll < 0.68:
            item = certificate_request("reduced-carbon", footprint=None, basedOn=[existing["b"], existing["a"]])
        elif roll < 0.74:
            item = certificate_request(footprint=footprint(pcf), supersedes=rng.choice(existing["old"]))
        elif roll < 0.80:
            item = certificate_request(footprint=footprint(pcf), validUntil="not a time")
        elif roll < 0.83:
            item = ["not", "an", "object"]
        elif roll < 0.95 and items:
            keyed = [i for i in items if isinstance(i, dict) and "idempotencyKey" in i]
            item = rng.choice(keyed or items)  # the same request again, with its key
        else:
            item = certificate_request(product=product(category="textile-fabric"))
        if isinstance(item, dict) and "idempotencyKey" not in item and rng.random() < 0.4:
            item = {**item, "idempotencyKey": rng.choice(keys)}
        items.append(item)
    return items


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_mixes_give_what_the_item_by_item_path_gives(app, client, env, session, seed):
    """Against the item-by-item path (``_issue_item`` in a savepoint each, as bulk issuance worked
    before and still works after a concurrent writer's conflict): the same answers, the same rows."""
    existing = _existing(client, env)
    existing["old"] = [client.post("/api/v1/certificates", json=certificate_request(footprint=footprint(f"0.{n}")),
                                   headers=env["headers"]).get_json()["id"] for n in (81, 82, 83)]
    earlier = (existing["a"], existing["b"], *existing["old"])
    items = _mixed_items(random.Random(seed), existing, 60)
    log_from, versions = _start(session)
    signer, public_url, body = env["signer"], app.config["PUBLIC_URL"], env["body"]

    def outcomes(results):
        return [(r.status, r.problem, r.replayed, r.certificate.number if r.certificate else None) for r in results]

    with app.test_request_context():
        outer = session.begin_nested()
        schema, context = CertificateIn(), issuing.BatchContext()
        singles = [issuing._issue_item(session, signer, body, raw, schema, context, public_url=public_url,
                                       actor="body:test", client_id=env["client_id"], now=None) for raw in items]
        context.lists.settle(session)
        expected = outcomes(singles), _snapshot(session, body.id, log_from, versions, earlier)
        outer.rollback()
        results = issuing.issue_batch(session, signer, body, items, public_url=public_url, actor="body:test",
                                      client_id=env["client_id"])
        got = outcomes(results), _snapshot(session, body.id, log_from, versions, earlier)
    assert got[0] == expected[0]
    for key in expected[1]:
        assert got[1][key] == expected[1][key], key
    statuses = {status for status, *_ in got[0]}
    assert {201, 409, 422} <= statuses and any(replayed for _, _, replayed, _ in got[0])


def test_answers_read_no_row_again(app, client, env, session):
    """The batch's certificates are in the session as stored: the answer and the outbox need no query."""
    with app.test_request_context():
        results = issuing.issue_batch(session, env["signer"], env["body"],
                                      [certificate_request(footprint=footprint(f"0.{70 + n}")) for n in range(3)],
                                      public_url=app.config["PUBLIC_URL"], actor="body:test",
                                      client_id=env["client_id"])
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(session.get_bind(), "before_cursor_execute", listener)
    try:
        for r in results:
            cert = r.certificate
            assert session.get(Certificate, cert.id) is cert and cert not in session.dirty
            assert (cert.status, cert.status_reason, cert.body.id) == ("active", None, env["body"].id)
    finally:
        event.remove(session.get_bind(), "before_cursor_execute", listener)
    assert statements == []
    stored = session.scalars(select(Certificate).where(Certificate.id == results[0].certificate.id)
                             .execution_options(populate_existing=True)).one()
    assert stored.credential == results[0].certificate.credential


def test_a_refused_item_frees_its_key_and_offsets_for_later_items(client, env, session):
    shared = offsets("0.5", "0.4")
    neutral = dict(offsets=shared, coveredQuantity="1000", renewableElectricityShare="1")
    items = [
        {**certificate_request("carbon-neutral", footprint=footprint("0.95"), **neutral), "idempotencyKey": "k1"},
        {**certificate_request("low-carbon", footprint=footprint("0.95")), "idempotencyKey": "k2"},  # refused
        {**certificate_request(footprint=footprint("0.70")), "idempotencyKey": "k2"},               # k2 is free
        {**certificate_request("carbon-neutral", footprint=footprint("0.80"), **neutral), "idempotencyKey": "k3"},
        {**certificate_request(footprint=footprint("0.71")), "idempotencyKey": "k2"},               # other request
        {**certificate_request(footprint=footprint("0.70")), "idempotencyKey": "k2"},               # replay
    ]
    items[0]["coveredQuantity"] = "0"  # refused: the first holder of the offsets never takes them
    resp = client.post("/api/v1/certificates/batch", json={"items": items}, headers=env["headers"])
    results = resp.get_json()["results"]
    assert [r["status"] for r in results] == [422, 422, 201, 201, 409, 201]
    assert results[4]["problem"]["type"].endswith("/idempotency-key-reused")
    assert results[5]["certificate"]["id"] == results[2]["certificate"]["id"]
    seq = [int(results[i]["certificate"]["number"].rsplit("-", 1)[1]) for i in (2, 3)]
    assert seq[1] == seq[0] + 1
    keys = dict(session.execute(select(IdempotencyKey.key, IdempotencyKey.certificate_id)
                                .where(IdempotencyKey.client_id == env["client_id"])).all())
    assert keys == {"k2": results[2]["certificate"]["id"], "k3": results[3]["certificate"]["id"]}
    assert session.scalar(select(func.count()).select_from(Offset).where(
        Offset.certificate_id == results[3]["certificate"]["id"])) == 2


def test_a_correction_in_a_batch_keeps_numbers_in_input_order(client, env, session):
    first = client.post("/api/v1/certificates", json=certificate_request(), headers=env["headers"]).get_json()
    items = [certificate_request(footprint=footprint("0.71")),
             certificate_request(footprint=footprint("0.72")),
             certificate_request(footprint=footprint("0.80"), supersedes=first["id"]),
             certificate_request(footprint=footprint(pcfExcludingBiogenicUptake=1)),
             certificate_request(footprint=footprint("0.73")),
             certificate_request(footprint=footprint("0.81"), supersedes=first["id"])]  # revoked by now
    results = client.post("/api/v1/certificates/batch", json={"items": items}, headers=env["headers"]).get_json()
    results = results["results"]
    assert [r["status"] for r in results] == [201, 201, 201, 422, 201, 409]
    assert results[5]["problem"]["type"].endswith("/invalid-transition")
    numbers = [int(results[i]["certificate"]["number"].rsplit("-", 1)[1]) for i in (0, 1, 2, 4)]
    assert numbers == list(range(numbers[0], numbers[0] + 4)) and numbers[0] == int(first["number"][-6:]) + 1
    old = client.get(f"/api/v1/certificates/{first['id']}").get_json()
    assert old["status"] == "revoked" and old["statusReason"] == "superseded"
    log = [(e["kind"], e["certificateId"]) for e in map(json.loads, session.scalars(
        select(TlogEntry.entry).order_by(TlogEntry.idx.desc()).limit(5)).all()[::-1])]
    assert log == [("certificate.issued", results[0]["certificate"]["id"]),
                   ("certificate.issued", results[1]["certificate"]["id"]),
                   ("certificate.issued", results[2]["certificate"]["id"]),
                   ("certificate.superseded", first["id"]),
                   ("certificate.issued", results[4]["certificate"]["id"])]
    for r in results:
        if r["status"] == 201:
            assert r["certificate"]["log"]["entry"] and r["certificate"]["log"]["inclusionProof"] is not None


@pytest.mark.parametrize("plain", [2, 150], ids=["small", "large"])
def test_an_offset_taken_meanwhile_sends_the_run_one_by_one(app, client, env, session, is_postgres, plain):
    """A writer that commits an offset between the batch's check and its insert (simulated on this
    connection) costs that item a 409, not the batch a 500."""
    victim = offsets("0.5", "0.4")
    holder = client.post("/api/v1/certificates", json=certificate_request(), headers=env["headers"]).get_json()
    items = [certificate_request("carbon-neutral", footprint=footprint("0.80"), offsets=victim,
                                 coveredQuantity="1000", renewableElectricityShare="1")]
    items += [certificate_request(footprint=footprint(f"{0.5 + n / 1000:.3f}")) for n in range(plain - 1)]
    items += [{**certificate_request(footprint=footprint("0.71")), "idempotencyKey": "after"}]
    conn = session.connection()
    checked, taken = [], []

    def meanwhile(conn_, cursor, statement, parameters, context, executemany):
        # After the batch checked the offsets, before the savepoint its rows are written in.
        # (On this connection a row written later would go with the savepoint when it is undone.)
        if "FROM offsets" in statement:
            checked.append(True)
        elif statement.startswith("SAVEPOINT") and checked and not taken:
            taken.append(True)
            mark = "%s" if is_postgres else "?"
            cursor.execute(f"INSERT INTO offsets (identity, certificate_id, registry, serial_number, quantity, "
                           f"vintage, kind, retired_at, project) VALUES ({', '.join([mark] * 9)})",
                           ("ccer|" + victim[0]["serialNumber"].lower(), holder["id"], "CCER",
                            victim[0]["serialNumber"], "0.5", "2024", "removal", "2025-06-30 00:00:00.000000",
                            "elsewhere"))

    numbers_before = session.scalar(select(func.count()).select_from(Certificate).where(
        Certificate.body_id == env["body"].id))
    event.listen(conn, "before_cursor_execute", meanwhile)
    try:
        resp = client.post("/api/v1/certificates/batch", json={"items": items}, headers=env["headers"])
    finally:
        event.remove(conn, "before_cursor_execute", meanwhile)
    assert taken and resp.status_code == 200, resp.get_json()
    results = resp.get_json()["results"]
    assert [r["status"] for r in results] == [409] + [201] * plain
    assert results[0]["problem"]["type"].endswith("/offset-already-used")
    assert holder["number"] in results[0]["problem"]["detail"]
    issued = [r["certificate"]["id"] for r in results[1:]]
    seq = [int(r["certificate"]["number"].rsplit("-", 1)[1]) for r in results[1:]]
    assert seq == list(range(numbers_before + 1, numbers_before + plain + 1))  # the undone attempt left no gap
    assert session.scalar(select(IdempotencyKey.certificate_id).where(IdempotencyKey.key == "after")) == issued[-1]
    audit = session.scalars(select(AuditEntry.target_id).where(AuditEntry.action == "certificate.issued")
                            .where(AuditEntry.target_id.in_(issued)).order_by(AuditEntry.id)).all()
    assert audit == issued
    assert session.scalar(select(func.count()).select_from(OutboxEvent).where(
        OutboxEvent.certificate_id.in_(issued))) == plain
    # each certificate points at its own issuance entry, in input order
    indices = sorted(session.scalars(select(Certificate.log_index).where(Certificate.id.in_(issued))))
    logged = dict(session.execute(select(TlogEntry.idx, TlogEntry.entry).where(TlogEntry.idx.in_(indices))).all())
    assert [(e["kind"], e["certificateId"]) for e in (json.loads(logged[i]) for i in indices)] == \
        [("certificate.issued", i) for i in issued]
    size_after = session.scalar(select(TlogState.size))
    assert session.scalar(select(func.max(TlogEntry.idx))) == size_after - 1
    # The undone attempt left no certificate in the session that the database does not hold.
    held = {o.id for o in session.identity_map.values() if isinstance(o, Certificate)}
    assert held == set(session.scalars(select(Certificate.id).where(Certificate.id.in_(held))))


def test_a_large_batch_seals_tiles_and_every_answer_proves_its_entry(app, client, env, session):
    items = [certificate_request(footprint=footprint(f"{0.5 + n / 1000:.3f}")) for n in range(300)]
    resp = client.post("/api/v1/certificates/batch", json={"items": items}, headers=env["headers"])
    results = resp.get_json()["results"]
    assert [r["status"] for r in results] == [201] * 300
    entries = list(session.scalars(select(TlogEntry.entry).order_by(TlogEntry.idx)))
    size = len(entries)
    assert size == session.scalar(select(TlogState.size)) and size >= 300
    with app.app_context():
        assert tlog.tree(session).root() == naive_mth(entries)  # read through the sealed tiles
    assert session.scalar(select(func.count()).select_from(TlogTile).where(TlogTile.level == 0)) == size // 256
    key = client.get("/log/key").text.strip()
    assert len({r["certificate"]["log"]["checkpoint"] for r in results}) == 1  # one checkpoint for the batch
    for r in results:
        claim = r["certificate"]["log"]
        event = json.loads(claim["entry"])
        assert event["certificateId"] == r["certificate"]["id"]
        assert event["sha256"] == hashlib.sha256(r["certificate"]["credential"].encode()).hexdigest()
        t.verify_log_claim(claim, t.leaf_hash(claim["entry"].encode()), key)


def test_many_appends_build_the_tree_one_by_one_builds(app, session):
    with app.app_context():
        start = tlog.size(session)
        events = [tlog.build_event("trust-list.published", document=f"doc {n}") for n in range(700)]
        assert tlog.append_many(session, events) == list(range(start, start + 700))
    entries = list(session.scalars(select(TlogEntry.entry).order_by(TlogEntry.idx)))
    assert entries[start:] == [t.canonical_json(e) for e in events]
    with app.app_context():
        assert tlog.tree(session).root() == naive_mth(entries)
    assert session.scalar(select(func.count()).select_from(TlogTile).where(TlogTile.level == 0)) == len(entries) // 256
