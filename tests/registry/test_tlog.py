"""The transparency log end to end: entries with every change, tiles, proofs, checkpoints, monitor."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import random
import json
import uuid
from urllib.parse import quote
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select, text, update

from registry import tlog
from registry.models import TlogEdge, TlogEntry, TlogState, TlogTile
from verifier import _monitor
from verifier import _tlog as t

from ..factories import (bearer, body_data, certificate_request, commit_body, footprint, make_body, make_category,
                         operator_headers, token_for)
from ..verifier.test_tlog import naive_mth


@pytest.fixture(autouse=True)
def fresh_checkpoints(app):
    """Checkpoints of the tree as it is: a checkpoint another test committed (and stored a moment
    ago) must not stand in for this test's tree. Tests of the interval set it themselves."""
    app.config["TLOG_CHECKPOINT_INTERVAL"] = 0


@pytest.fixture
def env(app, client, session):
    make_category(session, "cement")
    body, client_id, secret = make_body(session, app)
    return {"body": body, "headers": bearer(token_for(client, client_id, secret)),
            "op": operator_headers(client, session)}


def issue(client, env, **overrides):
    resp = client.post("/api/v1/certificates", json=certificate_request(**overrides), headers=env["headers"])
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def log_key(client) -> str:
    resp = client.get("/log/key")
    assert resp.status_code == 200
    return resp.text.strip()


def all_entries(session) -> list[bytes]:
    return list(session.scalars(select(TlogEntry.entry).order_by(TlogEntry.idx)))


def fill(session, app, n: int) -> None:
    """Append ``n`` events through the same path as the services use."""
    with app.app_context():
        for i in range(n):
            tlog.append(session, "trust-list.published", document=f"doc {uuid.uuid4()} {i}")
    session.commit()  # as a view does (and so that an error answer's rollback keeps them)


def test_issuance_answer_carries_a_verifiable_log_claim(client, env, session):
    out = issue(client, env)
    claim = out["log"]
    key = log_key(client)
    event = json.loads(claim["entry"])
    assert event["kind"] == "certificate.issued" and event["certificateId"] == out["id"]
    assert event["certificateNumber"] == out["number"] and event["body"] == env["body"].id
    assert event["sha256"] == hashlib.sha256(out["credential"].encode()).hexdigest()
    assert claim["entry"].encode() == t.canonical_json(event)  # RFC 8785 as stored
    cp = t.verify_log_claim(claim, t.leaf_hash(claim["entry"].encode()), key)
    assert claim["index"] < cp.size <= tlog.size(session) and cp.root == naive_mth(all_entries(session)[:cp.size])
    # the trust list names the same key
    token = client.get("/trust-list").text
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert payload["transparencyLog"]["key"] == key
    # and a tampered proof or checkpoint fails
    bad = dict(claim, inclusionProof=[base64.b64encode(bytes(32)).decode()] + claim["inclusionProof"][1:])
    if claim["inclusionProof"]:
        with pytest.raises(t.LogProofInvalid):
            t.verify_log_claim(bad, t.leaf_hash(claim["entry"].encode()), key)
    with pytest.raises(t.LogProofInvalid):
        t.verify_log_claim(dict(claim, checkpoint=claim["checkpoint"].replace("\n", "\n1", 1).replace("\n1", "\n", 1)
                                .replace(f"\n{cp.size}\n", f"\n{cp.size + 1}\n")),
                           t.leaf_hash(claim["entry"].encode()), key)


def test_every_change_is_an_entry_in_the_same_transaction(client, env, session, app):
    start = tlog.size(session)
    out = issue(client, env)
    for action in ("suspend", "reinstate", "revoke"):
        resp = client.post(f"/api/v1/certificates/{out['id']}/{action}", json={"reason": "audit"}, headers=env["op"])
        assert resp.status_code == 200, resp.get_json()
    body_id = env["body"].id
    for action in ("suspend", "reinstate"):
        assert client.post(f"/api/v1/bodies/{body_id}/{action}", json={"reason": "x"}, headers=env["op"]).status_code == 200
    assert client.post(f"/api/v1/bodies/{body_id}/keys/rotate", json={}, headers=env["op"]).status_code in (200, 201)
    kinds = [json.loads(e)["kind"] for e in all_entries(session)[start:]]
    for kind in ("certificate.issued", "certificate.suspended", "certificate.reinstated", "certificate.revoked",
                 "body.suspended", "body.reinstated", "body.key-rotated", "key.created"):
        assert kind in kinds, kinds
    # a refused change appends nothing
    before = tlog.size(session)
    resp = client.post(f"/api/v1/certificates/{out['id']}/reinstate", json={"reason": "x"}, headers=env["op"])
    assert resp.status_code == 409 and tlog.size(session) == before


def test_supersession_is_its_own_event(client, env, session):
    first = issue(client, env)
    second = issue(client, env, supersedes=first["id"])
    events = [json.loads(e) for e in all_entries(session)]
    superseded = [e for e in events if e["kind"] == "certificate.superseded"]
    assert superseded and superseded[-1]["certificateId"] == first["id"]
    assert superseded[-1]["supersededBy"] == second["id"]


def test_tiles_proofs_and_checkpoint_agree_with_an_independent_tree(client, app, session):
    key = log_key(client)  # made on first use, which is itself an entry
    fill(session, app, 600 - tlog.size(session) % 256)  # at least two full level-0 tiles and a partial one
    entries = all_entries(session)
    n = len(entries)
    leaves = [t.leaf_hash(e) for e in entries]
    # full tile: immutable, the 256 leaf hashes
    resp = client.get("/log/tile/0/000")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert t.tile_hashes(resp.data, 256) == leaves[:256]
    width = n % 256
    resp = client.get(f"/log/tile/0/{t.tile_index_path(n // 256)}.p/{width}")
    assert resp.status_code == 200 and "immutable" not in resp.headers["Cache-Control"]
    assert t.tile_hashes(resp.data, width) == leaves[n - width:]
    resp = client.get("/log/tile/entries/001")
    assert t.bundle_entries(resp.data) == entries[256:512]
    # level 1: one hash per full level-0 tile
    resp = client.get(f"/log/tile/1/000.p/{n // 256}")
    assert t.tile_hashes(resp.data, n // 256) == [t.root_of(leaves[i * 256:(i + 1) * 256]) for i in range(n // 256)]
    assert client.get(f"/log/tile/0/{t.tile_index_path(n // 256)}").status_code == 404
    assert client.get("/log/tile/0/0001").status_code == 404
    assert client.get(f"/log/tile/0/000.p/{256}").status_code == 404
    # the checkpoint
    cp = t.verify_checkpoint(client.get("/log/checkpoint").text, key)
    assert cp.size == n and cp.root == naive_mth(entries)
    # proofs against naive roots
    for index in (0, 255, 256, 300, n - 1):
        for size in {index + 1, 256, 513, n} - {s for s in (256, 513) if s <= index}:
            proof = client.get(f"/log/proof/inclusion?index={index}&size={size}").get_json()["inclusionProof"]
            t.verify_inclusion(leaves[index], index, size, t.unb64_hashes(proof), naive_mth(entries[:size]))
    proof = client.get(f"/log/proof/inclusion?hash={quote(base64.b64encode(leaves[300]).decode())}&size={n}").get_json()
    assert proof["index"] == 300
    for first, second in ((1, n), (255, 257), (256, 512), (300, n), (n, n)):
        body = client.get(f"/log/proof/consistency?first={first}&second={second}").get_json()
        t.verify_consistency(first, second, t.unb64_hashes(body["consistencyProof"]),
                             naive_mth(entries[:first]), naive_mth(entries[:second]))
    for bad in ("index=5&size=3", "index=x", f"index=0&size={n + 1}"):
        resp = client.get(f"/log/proof/inclusion?{bad}")
        assert resp.status_code == 422 and resp.get_json()["type"].endswith("/invalid-log-query")
    assert client.get("/log/proof/consistency?first=0&second=1").status_code == 422


def test_bulk_append_builds_the_same_tree(app, session):
    with app.app_context():
        start = tlog.size(session)
        events = [{"kind": "test", "time": "2026-01-01T00:00:00Z", "n": i} for i in range(700)]
        size = tlog.bulk_append(session.connection(), events)
        assert size == start + 700
        entries = all_entries(session)
        tree = tlog.tree(session)
        assert tree.root() == naive_mth(entries)
        expected_tiles = size // 256
        assert session.scalar(select(func.count()).select_from(TlogTile).where(TlogTile.level == 0)) == expected_tiles


@contextlib.contextmanager
def statements(conn):
    """The SQL statements ``conn`` sends meanwhile (an executemany counts once)."""
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_):
        seen.append(statement)

    from sqlalchemy import event

    event.listen(conn.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(conn.engine, "before_cursor_execute", note)


def test_a_cold_proof_is_one_read_and_agrees_with_an_independent_tree(app, session):
    with app.app_context():
        start = tlog.size(session)
        # past 65,536: a partial tile at three levels, as at a million entries (the right edge)
        size = tlog.bulk_append(session.connection(), [{"kind": "test", "n": i} for i in range(66_100 - start + 37)])
    entries = all_entries(session)
    leaves = [t.leaf_hash(e) for e in entries]
    root = t.root_of(leaves)
    assert root == naive_mth(entries)
    conn = session.connection()
    for index in (0, 300, 65_535, 65_536, size - 40, size - 1):
        with statements(conn) as seen:
            proof = tlog.Tree(conn, size).inclusion(index)  # nothing cached
        assert len(seen) == 1, seen
        t.verify_inclusion(leaves[index], index, size, proof, root)
    with statements(conn) as seen:
        proof = tlog.Tree(conn, size).consistency(60_000)
    assert len(seen) <= 2, seen  # the edge and the old tree's path; the rest are in full tiles
    t.verify_consistency(60_000, size, proof, t.root_of(leaves[:60_000]), root)
    # a tree grown since shares what it read: only the new entries are read
    edge, cache = {}, tlog._TileCache()
    tlog.Tree(conn, size - 5, cache, edge).root()
    with statements(conn) as seen:
        assert tlog.Tree(conn, size, cache, edge).root() == root
    assert len(seen) == 1


def test_a_stored_checkpoint_keeps_its_right_edge_for_new_processes(app, session):
    app.config["TLOG_CHECKPOINT_INTERVAL"] = 0
    with app.app_context():
        start = tlog.size(session)
        tlog.bulk_append(session.connection(), [{"kind": "test", "n": i} for i in range(66_100 - start)])
        session.commit()
        first = tlog.checkpoint(session)
        fill(session, app, 3)
        cp = tlog.checkpoint(session)
    assert cp.size == first.size + 3
    stored = session.execute(select(TlogEdge.size, TlogEdge.hashes)).all()
    assert [row.size for row in stored] == [cp.size]  # the previous edge is dropped
    entries = all_entries(session)[:cp.size]
    leaves = [t.leaf_hash(e) for e in entries]
    conn = session.connection()
    for index in (7, 65_600, cp.size - 1):
        with statements(conn) as seen:
            tree = tlog.Tree(conn, cp.size)  # a new process: nothing cached
            proof = tree.inclusion(index)
        assert len(seen) == 1
        # no partial tile read or hashed (only the edge's subtrees combined, kept as ("mth", lo, hi))
        assert not [k for k in tree._partial if k[0] not in ("edge", "mth")]
        t.verify_inclusion(leaves[index], index, cp.size, proof, cp.root)
    assert tlog.Tree(conn, cp.size).root() == cp.root
    # a process keeps the edge it read: its next proofs against that size read nothing more
    cache, edge = tlog._TileCache(), {}
    tlog.Tree(conn, cp.size, cache, edge).inclusion(7)
    with statements(conn) as seen:
        for index in (8, 200, cp.size - 1):
            t.verify_inclusion(leaves[index], index, cp.size, tlog.Tree(conn, cp.size, cache, edge).inclusion(index),
                               cp.root)
    assert seen == []
    # what a stored edge holds is what proofs use: a wrong one gives proofs that fail
    blob, pos, wrong = stored[0].hashes, 0, bytearray()
    for _level, _width, hashes in tlog._edge_parts(blob):  # headers kept, every hash flipped
        wrong += blob[pos:pos + 3] + bytes(b ^ 0xFF for b in hashes)
        pos += 3 + len(hashes)
    session.execute(update(TlogEdge).values(hashes=bytes(wrong)).where(TlogEdge.size == cp.size))
    with pytest.raises(t.LogProofInvalid):
        t.verify_inclusion(leaves[7], 7, cp.size, tlog.Tree(conn, cp.size).inclusion(7), cp.root)
    # and a size with no stored edge reads the partial tiles in the same one query
    with statements(conn) as seen:
        proof = tlog.Tree(conn, cp.size - 1).inclusion(7)
    assert len(seen) == 1
    t.verify_inclusion(leaves[7], 7, cp.size - 1, proof, t.root_of(leaves[:-1]))


def test_bulk_append_writes_in_few_statements(app, session):
    conn = session.connection()
    with app.app_context(), statements(conn) as seen:
        tlog.bulk_append(conn, [{"kind": "test", "n": i} for i in range(3 * 256 * 4)])
    # 12 tiles: written together, not one statement each
    assert sum("tlog_tiles" in s and s.lstrip().upper().startswith("INSERT") for s in seen) == 1, seen
    assert len(seen) <= 6, seen


def test_tampering_with_a_stored_tile_is_detected(client, app, session, tmp_path):
    app.config["TLOG_CHECKPOINT_INTERVAL"] = 0  # every request sees the latest tree
    fill(session, app, 300)
    key = log_key(client)
    fetch = _client_fetch(client)
    assert _monitor.main(["--registry", "http://registry.test", "--state", str(tmp_path)], fetch=fetch,
                         out=io.StringIO()) == 0
    fill(session, app, 260)
    # a rewritten hash tile: the proofs served from it no longer lead to the signed root
    session.execute(update(TlogTile).where(TlogTile.level == 0, TlogTile.idx == 0)
                    .values(hashes=bytes(32) + session.scalar(select(TlogTile.hashes).where(
                        TlogTile.level == 0, TlogTile.idx == 0))[32:]))
    session.commit()
    app.extensions.pop("registry.tlog", None)  # as another process would, without the good tile cached
    entries = all_entries(session)
    cp = t.verify_checkpoint(client.get("/log/checkpoint").text, key)
    proof = client.get(f"/log/proof/inclusion?index=1&size={cp.size}").get_json()["inclusionProof"]
    with pytest.raises(t.LogProofInvalid):
        t.verify_inclusion(t.leaf_hash(entries[1]), 1, cp.size, t.unb64_hashes(proof), naive_mth(entries[:cp.size]))
    # a monitor reading the log from the start compares every hash tile with the entries
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert _monitor.main(["--registry", "http://registry.test", "--state", str(tmp_path / "fresh")],
                             fetch=fetch, out=io.StringIO()) == 3
    assert "ALARM" in err.getvalue() and "hash tile" in err.getvalue()


def test_rewritten_entry_makes_monitor_alarm(client, app, session, tmp_path):
    app.config["TLOG_CHECKPOINT_INTERVAL"] = 0
    fill(session, app, 20)
    fetch = _client_fetch(client)
    args = ["--registry", "http://registry.test", "--state", str(tmp_path)]
    assert _monitor.main(args, fetch=fetch, out=io.StringIO()) == 0
    fill(session, app, 5)
    last = tlog.size(session) - 1
    # rewrite an old entry (and its leaf hash, so the log looks coherent): history changed
    forged = b'{"kind":"forged"}'
    target = last - 10
    session.execute(update(TlogEntry).where(TlogEntry.idx == target).values(entry=forged, leaf_hash=t.leaf_hash(forged)))
    session.flush()
    app.extensions.pop("registry.tlog", None)
    assert _monitor.main(args, fetch=fetch, out=io.StringIO()) == 3


def test_monitor_prints_matching_events_and_alarms_on_rollback_and_fork(client, env, app, session, tmp_path):
    app.config["TLOG_CHECKPOINT_INTERVAL"] = 0
    fetch = _client_fetch(client)
    args = ["--registry", "http://registry.test", "--state", str(tmp_path)]
    assert _monitor.main(args, fetch=fetch, out=io.StringIO()) == 0
    gtin = "06901234567892"
    issued = issue(client, env)
    other = issue(client, env, product={**certificate_request()["product"], "gtin": "00012345600012"})
    out = io.StringIO()
    assert _monitor.main([*args, "--gtin", gtin], fetch=fetch, out=out) == 0
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [x["certificateId"] for x in lines if x["kind"] == "certificate.issued"] == [issued["id"]]
    assert other["id"] not in out.getvalue()
    state = json.loads((tmp_path / _monitor.STATE_FILE).read_text())
    # a rollback: the log loses its last entries
    size = tlog.size(session)
    session.execute(text("DELETE FROM tlog_checkpoints"))
    session.execute(text(f"DELETE FROM tlog_entries WHERE idx >= {size - 2}"))
    session.execute(update(TlogState).values(size=size - 2))
    session.execute(text(f"DELETE FROM tlog_tiles WHERE idx * 256 + 255 >= {size - 2} AND level = 0"))
    app.extensions.pop("registry.tlog", None)
    assert _monitor.main(args, fetch=fetch, out=io.StringIO()) == 3
    # a fork: as many entries again, but different ones
    fill(session, app, 2)
    app.extensions.pop("registry.tlog", None)
    assert tlog.size(session) == size
    assert _monitor.main(args, fetch=fetch, out=io.StringIO()) == 3
    # and a longer fork
    fill(session, app, 3)
    app.extensions.pop("registry.tlog", None)
    assert _monitor.main(args, fetch=fetch, out=io.StringIO()) == 3
    assert json.loads((tmp_path / _monitor.STATE_FILE).read_text()) == state  # the alarm saves nothing


def test_metrics_show_the_log(client, app, session):
    fill(session, app, 3)
    client.get("/log/checkpoint")
    body = client.get("/metrics").text
    assert f"registry_tlog_size {float(tlog.size(session))}" in body
    assert "registry_tlog_checkpoint_age_seconds" in body


def test_worker_task_signs_checkpoints(app, session):
    from registry import worker

    fill(session, app, 2)
    task = worker.TASKS["tlog-checkpoint"]
    with app.app_context():
        assert task(app) == 1  # the first checkpoint
        assert task(app) == 0  # nothing new
        assert tlog.checkpoint(session).size == tlog.size(session)


def test_history_rebuilds_the_same_events_from_the_audit_trail(client, env, session, app):
    out = issue(client, env)
    client.post(f"/api/v1/certificates/{out['id']}/suspend", json={"reason": "audit"}, headers=env["op"])
    client.post(f"/api/v1/certificates/{out['id']}/reinstate", json={"reason": "ok"}, headers=env["op"])
    with app.app_context():
        history = [e for e in tlog.history_events(session.connection()) if e.get("certificateId") == out["id"]]
    live = [json.loads(e) for e in all_entries(session)]
    live = [e for e in live if e.get("certificateId") == out["id"]]
    strip = lambda events: [{k: v for k, v in e.items() if k != "time"} for e in events]  # noqa: E731
    assert [e["kind"] for e in history] == ["certificate.issued", "certificate.suspended", "certificate.reinstated"]
    assert strip(history) == strip(live)


def _client_fetch(client):
    def fetch(url, headers):
        path = url.removeprefix("http://registry.test").removeprefix("https://registry.test")
        resp = client.get(path, headers=dict(headers or {}))
        return resp.status_code, dict(resp.headers), resp.data
    return fetch


# --------------------------------------------------------------------------------------------
# PostgreSQL: concurrent appends


@pytest.mark.postgres
def test_concurrent_issuances_get_gap_free_unique_indices(live_server, is_postgres, engine):
    if not is_postgres:
        pytest.skip("concurrency guarantees are tested on PostgreSQL (REGISTRY_TEST_DATABASE_URL)")
    _body, client_id, secret = commit_body(live_server.app)
    token = httpx.post(f"{live_server.url}/auth/token", data={"grant_type": "client_credentials"},
                       auth=(client_id, secret)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    payloads = [certificate_request(footprint=footprint("0.8")) for _ in range(30)]
    with httpx.Client(timeout=60) as http, ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda p: http.post(f"{live_server.url}/api/v1/certificates", json=p,
                                                      headers=headers), payloads))
    assert [r.status_code for r in responses] == [201] * 30
    indices = [r.json()["log"]["index"] for r in responses]
    assert len(set(indices)) == 30
    with engine.connect() as conn:
        size = conn.execute(select(TlogState.size)).scalar_one()
        count, low, high = conn.execute(select(func.count(), func.min(TlogEntry.idx), func.max(TlogEntry.idx))).one()
        assert (count, low, high) == (size, 0, size - 1)
        key = live_server.app.test_client().get("/log/key").text.strip()
        entries = list(conn.execute(select(TlogEntry.entry).order_by(TlogEntry.idx)).scalars())
    for r in responses:
        claim = r.json()["log"]
        cp = t.verify_log_claim(claim, t.leaf_hash(claim["entry"].encode()), key)
        assert cp.root == naive_mth(entries[:cp.size])  # the server's caches built the true tree


def test_carbon_verify_reports_log_inclusion_online_and_offline(client, env, session, tmp_path, capsys):
    from verifier._cli import main

    out = issue(client, env)
    path = tmp_path / "cred.jwt"
    path.write_text(out["credential"])
    fetch = _client_fetch(client)
    data = tmp_path / "data"
    code = main(["--json", "--registry", "http://registry.test", "--data-dir", str(data), str(path)], fetch=fetch)
    result = json.loads(capsys.readouterr().out)
    check = next(c for c in result["checks"] if c["name"] == "log-inclusion")
    assert code == 0 and check["ok"] and not check.get("skipped"), check
    code = main(["--registry", "http://registry.test", "--data-dir", str(data), "--save-offline", str(data), str(path)],
                fetch=fetch)
    capsys.readouterr()
    assert code == 0 and (data / "log" / f"{out['id']}.json").exists()
    code = main(["--json", "--offline", "--data-dir", str(data), str(path)])
    result = json.loads(capsys.readouterr().out)
    check = next(c for c in result["checks"] if c["name"] == "log-inclusion")
    assert check["ok"] and not check.get("skipped"), check
    # a saved proof that was tampered with fails the check
    saved = data / "log" / f"{out['id']}.json"
    claim = json.loads(saved.read_text())
    claim["index"] += 1
    saved.write_text(json.dumps(claim))
    main(["--json", "--offline", "--data-dir", str(data), str(path)])
    check = next(c for c in json.loads(capsys.readouterr().out)["checks"] if c["name"] == "log-inclusion")
    assert not check["ok"] and not check.get("skipped"), check


def test_verification_answers_carry_the_log_claim(client, env, app, session):
    out = issue(client, env)
    key = log_key(client)
    leaf_of = lambda claim: t.leaf_hash(claim["entry"].encode())  # noqa: E731
    resp = client.post("/api/v1/verify", json={"credential": out["credential"]})
    claim = resp.get_json()["log"]
    assert json.loads(claim["entry"])["certificateId"] == out["id"]
    t.verify_log_claim(claim, leaf_of(claim), key)
    batch = client.post("/api/v1/verify", json={"items": [{"credential": out["credential"]}, {"qr": "garbage"}]})
    results = batch.get_json()["results"]
    assert results[0]["log"]["index"] == claim["index"] and "log" not in results[1]
    first = client.get(f"/v/{out['id']}", headers={"Accept": "application/json"})
    body = first.get_json()
    assert body["verified"] and body["log"]["index"] == claim["index"]
    t.verify_log_claim(body["log"], leaf_of(body["log"]), key)
    etag = first.headers["ETag"]
    # the memoised answer is reused, and the ETag follows the checkpoint it carries
    again = client.get(f"/v/{out['id']}", headers={"Accept": "application/json", "If-None-Match": etag})
    assert again.status_code == 304
    app.config["TLOG_CHECKPOINT_INTERVAL"] = 0
    issue(client, env)  # the log grows: a newer checkpoint
    later = client.get(f"/v/{out['id']}", headers={"Accept": "application/json", "If-None-Match": etag})
    assert later.status_code == 200 and later.headers["ETag"] != etag
    newer = later.get_json()["log"]
    cp = t.verify_log_claim(newer, leaf_of(newer), key)
    assert cp.size > t.verify_checkpoint(claim["checkpoint"], key).size
    assert [later.get_json()[k] for k in ("verified", "certificate", "credential")] == \
        [body[k] for k in ("verified", "certificate", "credential")]


def test_a_cold_certificate_claim_builds_its_entry_from_the_certificate(client, env, app, session):
    """A certificate's claim reads no log entry when its row rebuilds the entry that hashes to the
    logged leaf (one random page fewer for a first verification in a large log); a row that no
    longer matches gets the logged entry, never the rebuilt one."""
    from registry.models import Certificate

    single = issue(client, env)
    resp = client.post("/api/v1/certificates/batch", headers=env["headers"], json={"items": [
        certificate_request(footprint=footprint(f"0.{600 + i}")) for i in range(260)]})
    assert resp.status_code == 200
    batch_ids = [r["certificate"]["id"] for r in resp.get_json()["results"]]
    key = log_key(client)
    logged = dict(session.execute(select(Certificate.id, TlogEntry.entry)
                                  .join(TlogEntry, TlogEntry.idx == Certificate.log_index)).all())
    conn = session.connection()

    def cold_claim(cid):
        app.extensions.pop("registry.tlog", None)  # nothing cached: as a new process...
        session.info.pop("tlog.noted", None)  # ...whose session did not append the entries itself
        session.info.pop("tlog.issued", None)
        with app.app_context(), statements(conn) as seen:
            claim = tlog.certificate_claim(session, cid, app=app)
        return claim, [s for s in seen if "tlog_entries.entry" in s]

    for cid in (single["id"], batch_ids[0], batch_ids[-1]):  # sealed tiles and the right edge
        claim, entry_reads = cold_claim(cid)
        assert claim["entry"].encode() == logged[cid]
        t.verify_log_claim(claim, t.leaf_hash(logged[cid]), key)
        assert entry_reads == []
    # A row changed behind the log's back does not change what the claim says was logged.
    session.execute(update(Certificate).where(Certificate.id == batch_ids[3]).values(manufacturer_id="someone-else"))
    claim, entry_reads = cold_claim(batch_ids[3])
    assert claim["entry"].encode() == logged[batch_ids[3]] and entry_reads
    assert json.loads(claim["entry"])["manufacturer"] != "someone-else"


def test_a_readers_claim_holds_for_an_interval_while_others_issue(client, env, app, session):
    """Issuance answers sign checkpoints covering their own entries; readers of other certificates
    keep the claim they got for up to an interval (no proof rebuilt per issuance), and it verifies."""
    app.config["TLOG_CHECKPOINT_INTERVAL"] = 60
    out = issue(client, env)
    key = log_key(client)
    first = client.get(f"/v/{out['id']}", headers={"Accept": "application/json"})
    claim = first.get_json()["log"]
    for _ in range(3):
        newer = issue(client, env)["log"]  # each answer's checkpoint covers its own entry
        assert t.verify_checkpoint(newer["checkpoint"], key).size > claim["index"] + 1
        again = client.get(f"/v/{out['id']}", headers={"Accept": "application/json", "If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304
    body = client.get(f"/v/{out['id']}", headers={"Accept": "application/json"}).get_json()
    assert body["log"] == claim
    t.verify_log_claim(body["log"], t.leaf_hash(body["log"]["entry"].encode()), key)
    app.config["TLOG_CHECKPOINT_INTERVAL"] = 0  # the interval has passed: the claim moves on
    moved = client.get(f"/v/{out['id']}", headers={"Accept": "application/json"}).get_json()["log"]
    assert t.verify_checkpoint(moved["checkpoint"], key).size == t.verify_checkpoint(newer["checkpoint"], key).size
    t.verify_log_claim(moved, t.leaf_hash(moved["entry"].encode()), key)


def test_one_process_serves_right_proofs_while_the_log_grows(app, session):
    """The process-wide caches (full tiles, the right edge, complete subtrees) stay right as entries arrive."""
    app.config["TLOG_CHECKPOINT_INTERVAL"] = 0
    with app.app_context():
        tlog.verifier_key(session)
        rng = random.Random(7)
        while tlog.size(session) < 700:
            fill(session, app, rng.choice((1, 1, 2, 5, 31)))
            entries = all_entries(session)
            n = len(entries)
            index = rng.randrange(n)
            c = tlog.claim(session, index)
            cp = t.Checkpoint.parse_body(c["checkpoint"][:c["checkpoint"].index("\n\n") + 1])
            assert cp.size == n and cp.root == naive_mth(entries)
            t.verify_inclusion(t.leaf_hash(entries[index]), index, n, t.unb64_hashes(c["inclusionProof"]), cp.root)
            first = rng.randint(1, n)
            proof = tlog.tree(session).consistency(first)
            t.verify_consistency(first, n, proof, naive_mth(entries[:first]), cp.root)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 256, 300, 1027])
def test_proofs_walked_together_are_the_proofs_one_by_one(size):
    """A batch's answer proves its entries together (tlog._inclusion_paths): the same proofs."""
    leaves = [t.leaf_hash(str(n).encode()) for n in range(size)]

    def mth(lo, hi):
        return t.root_of(leaves[lo:hi])

    rnd = random.Random(size)
    for indices in (list(range(size)), sorted(rnd.sample(range(size), min(size, 5))), [size - 1],
                    list(range(max(0, size - 40), size))):
        together = tlog._inclusion_paths(indices, size, mth)
        assert together == {i: t.b64_hashes(t.inclusion_path(i, size, mth)) for i in indices}
