"""Supplier monitoring: subscriptions, the outbox, signed CloudEvents, retries, dead letters, crashes, SSRF."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from registry import callbacks, outbox
from registry.db import new_session
from registry.models import Certificate, Delivery, OutboxEvent, utcnow

from ..conftest import MASTER_KEY
from .conftest import Supplier, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def buyer(registry_tls):
    creds = registry_tls.cli("operator", "create-client", "Monitoring buyer", "--role", "procurement")
    token = registry_tls.token(creds["clientId"], creds["clientSecret"])
    return {"creds": creds, "headers": {"Authorization": f"Bearer {token}"}}


def _subscribe(reg, buyer, url, filter_, status=201):
    resp = reg.http.post("/api/v1/subscriptions", json={"callbackUrl": url, "filter": filter_}, headers=buyer["headers"])
    assert resp.status_code == status, resp.text
    return resp.json()


def _deliveries(reg, buyer, sub_id):
    resp = reg.http.get(f"/api/v1/subscriptions/{sub_id}/deliveries", headers=buyer["headers"])
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def _db(reg):
    class _Ctx:
        def __enter__(self):
            self.ctx = reg.app.app_context()
            self.ctx.push()
            self.session = new_session()
            return self.session

        def __exit__(self, *exc):
            self.session.close()
            self.ctx.pop()

    return _Ctx()


def test_subscription_crud_is_per_client(registry_tls, buyer, requester):
    reg = registry_tls
    sub = _subscribe(reg, buyer, f"{requester.url}/hooks/crud", {"gtins": ["06901234567892"]})
    assert sub["secret"].startswith("whsec_") and sub["filter"] == {"gtins": ["06901234567892"]}
    listed = reg.http.get("/api/v1/subscriptions", headers=buyer["headers"]).json()["items"]
    assert sub["id"] in {s["id"] for s in listed} and all("secret" not in s for s in listed)
    other = reg.cli("operator", "create-client", "Other buyer", "--role", "procurement")
    other_headers = {"Authorization": f"Bearer {reg.token(other['clientId'], other['clientSecret'])}"}
    assert reg.http.get(f"/api/v1/subscriptions/{sub['id']}", headers=other_headers).status_code == 404
    assert reg.http.delete(f"/api/v1/subscriptions/{sub['id']}", headers=other_headers).status_code == 404
    body_headers = Supplier(reg).headers
    resp = reg.http.post("/api/v1/subscriptions", json={"callbackUrl": f"{requester.url}/hooks/x"},
                         headers=body_headers)
    assert resp.status_code == 403 and resp.headers["Content-Type"] == "application/problem+json"
    bad = reg.http.post("/api/v1/subscriptions", json={"callbackUrl": f"{requester.url}/x", "filter": {"colour": []}},
                        headers=buyer["headers"])
    assert bad.status_code == 422 and "filter.colour" in bad.json()["errors"]
    assert reg.http.get(f"/api/v1/subscriptions/{sub['id']}", headers=buyer["headers"]).status_code == 200
    assert reg.http.delete(f"/api/v1/subscriptions/{sub['id']}", headers=buyer["headers"]).status_code == 204
    assert reg.http.get(f"/api/v1/subscriptions/{sub['id']}", headers=buyer["headers"]).status_code == 404


def test_lifecycle_events_are_signed_cloudevents(registry_tls, buyer, requester):
    reg = registry_tls
    supplier = Supplier(reg)
    sub = _subscribe(reg, buyer, f"{requester.url}/hooks/life", {"manufacturerIds": [supplier.manufacturer]})
    unrelated = _subscribe(reg, buyer, f"{requester.url}/hooks/unrelated", {"manufacturerIds": ["urn:uscc:none"]})
    cert = supplier.issue()
    supplier.change(cert["id"], "suspend")
    supplier.change(cert["id"], "reinstate")
    other = supplier.issue()
    correction = supplier.issue(supersedes=other["id"])
    supplier.change(cert["id"], "revoke")
    reg.run_worker(rounds=2)
    hooks = wait_for(lambda: len(requester.hooks_for("life")) >= 7 and requester.hooks_for("life"))
    wh = Webhook(sub["secret"])
    events = []
    for hook in hooks:
        payload = wh.verify(hook["raw"], hook["headers"])
        assert hook["headers"]["Content-Type"].startswith("application/cloudevents+json")
        events.append(payload)
    assert len({h["headers"]["Webhook-Id"] for h in hooks}) == len({e["id"] for e in events}) == 7
    assert all(e["specversion"] == "1.0" and e["source"] == reg.url for e in events)
    seen = [(e["subject"], e["type"].removeprefix("org.carbonlabel.certificate.")) for e in events]
    assert seen == [(cert["id"], "issued"), (cert["id"], "suspended"), (cert["id"], "reinstated"),
                    (other["id"], "issued"), (correction["id"], "issued"), (other["id"], "superseded"),
                    (cert["id"], "revoked")]
    assert events[1]["data"]["status"] == "suspended" and events[1]["data"]["id"] == cert["id"]
    assert events[0]["data"]["number"] == cert["number"] and events[0]["data"]["credential"] == cert["credential"]
    # Each event says the status of its time (the certificate is revoked now), whole:
    assert [e["data"]["status"] for e in events] == ["active", "suspended", "active", "active", "active",
                                                    "revoked", "revoked"]
    assert all(e["data"]["credentialSubject"]["product"]["manufacturer"]["id"] == supplier.manufacturer
               for e in events)
    # …and once fanned out, the deliveries hold the events: the outbox keeps none of them.
    with _db(reg) as session:
        assert session.scalars(select(OutboxEvent.id).where(OutboxEvent.certificate_id.in_(
            [cert["id"], other["id"], correction["id"]]))).all() == []
    # A wrong secret or a tampered body does not verify.
    with pytest.raises(WebhookVerificationError):
        Webhook(callbacks.new_webhook_secret()).verify(hooks[0]["raw"], hooks[0]["headers"])
    with pytest.raises(WebhookVerificationError):
        wh.verify(hooks[0]["raw"].replace(b"issued", b"revoked"), hooks[0]["headers"])
    assert requester.hooks_for("unrelated") == []
    assert all(d["status"] == "delivered" and d["attempts"] == 1 for d in _deliveries(reg, buyer, sub["id"]))
    assert _deliveries(reg, buyer, unrelated["id"]) == []


def test_the_event_is_written_with_the_change_or_not_at_all(registry_tls, buyer):
    reg = registry_tls
    supplier = Supplier(reg)
    cert = supplier.issue()
    resp = reg.http.post(f"/api/v1/certificates/{cert['id']}/reinstate", json={"reason": "x"}, headers=supplier.headers)
    assert resp.status_code == 409  # refused: no event
    with _db(reg) as session:
        kinds = session.scalars(select(OutboxEvent.type).where(OutboxEvent.certificate_id == cert["id"])).all()
    assert kinds == ["org.carbonlabel.certificate.issued"]


def test_expiry_is_noticed_once_without_touching_the_certificate(registry_tls, buyer, requester):
    reg = registry_tls
    supplier = Supplier(reg)
    sub = _subscribe(reg, buyer, f"{requester.url}/hooks/expiry", {"manufacturerIds": [supplier.manufacturer]})
    cert = supplier.issue()
    reg.run_worker(rounds=2)
    with _db(reg) as session:  # time passes: the validity ends, nobody calls the API
        session.execute(update(Certificate).where(Certificate.id == cert["id"])
                        .values(valid_until=utcnow() - timedelta(seconds=1)))
        session.commit()
    reg.run_worker(rounds=2)
    reg.run_worker(rounds=2)
    hooks = wait_for(lambda: len(requester.hooks_for("expiry")) >= 2 and requester.hooks_for("expiry"))
    types = [json.loads(h["raw"])["type"] for h in hooks]
    assert types == ["org.carbonlabel.certificate.issued", "org.carbonlabel.certificate.expired"]
    assert len(_deliveries(reg, buyer, sub["id"])) == 2


def test_failed_deliveries_are_retried_then_dead_lettered(registry_tls, buyer, requester):
    reg = registry_tls
    supplier = Supplier(reg)
    flaky = _subscribe(reg, buyer, f"{requester.url}/hooks/flaky", {"manufacturerIds": [supplier.manufacturer]})
    broken = _subscribe(reg, buyer, f"{requester.url}/hooks/broken", {"manufacturerIds": [supplier.manufacturer]})
    requester.hook_status["flaky"] = [500, 503]
    requester.hook_status["broken"] = [500] * 10
    reg.app.config["DELIVERY_MAX_ATTEMPTS"] = 3
    try:
        supplier.issue()
        for _ in range(5):
            reg.run_worker()
    finally:
        reg.app.config["DELIVERY_MAX_ATTEMPTS"] = 8
    (ok,) = _deliveries(reg, buyer, flaky["id"])
    assert ok["status"] == "delivered" and ok["attempts"] == 3 and ok["lastStatus"] == 204
    (dead,) = _deliveries(reg, buyer, broken["id"])
    assert dead["status"] == "dead" and dead["attempts"] == 3 and dead["lastError"] == "HTTP 500"
    dead_only = reg.http.get(f"/api/v1/subscriptions/{broken['id']}/deliveries", params={"status": "dead"},
                             headers=buyer["headers"]).json()["items"]
    assert [d["id"] for d in dead_only] == [dead["id"]]
    # the same webhook-id on every attempt, so a receiver can drop duplicates
    ids = {h["headers"]["Webhook-Id"] for h in requester.hooks_for("flaky")}
    assert ids == {ok["id"]} and len(requester.hooks_for("flaky")) == 3


def test_backoff_grows_exponentially(registry_tls):
    with registry_tls.app.app_context():
        registry_tls.app.config["DELIVERY_RETRY_BASE_SECONDS"] = 30
        try:
            delays = [outbox._backoff(n) for n in (1, 2, 3, 4)]
        finally:
            registry_tls.app.config["DELIVERY_RETRY_BASE_SECONDS"] = 0
    for n, delay in enumerate(delays):
        assert 30 * 2 ** n * 0.8 <= delay <= 30 * 2 ** n * 1.2


@pytest.mark.parametrize("url", [
    "http://example.org/hook", "https://127.0.0.1/hook", "https://localhost/hook", "https://10.1.2.3/hook",
    "https://192.168.0.10/hook", "https://169.254.169.254/latest/meta-data", "https://[::1]/hook",
    "https://[fe80::1]/hook", "https://0.0.0.0/hook", "https://[::ffff:127.0.0.1]/hook", "https://100.64.0.1/h",
    "ftp://example.org/x", "https://user:pw@example.org/x", "https://no-such-host.invalid/x",
])
def test_ssrf_refusals(url):
    with pytest.raises(callbacks.CallbackRefused):
        callbacks.check_callback_url(url, {"ALLOW_PRIVATE_CALLBACKS": False})


def test_public_https_addresses_pass_the_check():
    target = callbacks.check_callback_url("https://93.184.216.34:8443/hook?x=1", {})
    assert (target.address, target.port, target.path) == ("93.184.216.34", 8443, "/hook?x=1")


def test_ssrf_refused_at_subscription_time_and_again_at_delivery(registry_tls, buyer, requester):
    reg = registry_tls
    reg.app.config["ALLOW_PRIVATE_CALLBACKS"] = False
    try:
        resp = reg.http.post("/api/v1/subscriptions", json={"callbackUrl": f"{requester.url}/hooks/ssrf"},
                             headers=buyer["headers"])
        assert resp.status_code == 422 and resp.json()["type"].endswith("/callback-url-refused")
    finally:
        reg.app.config["ALLOW_PRIVATE_CALLBACKS"] = True
    supplier = Supplier(reg)
    # accepted while allowed (as if DNS then pointed elsewhere), refused when it is time to deliver
    sub = _subscribe(reg, buyer, f"{requester.url}/hooks/rebound", {"manufacturerIds": [supplier.manufacturer]})
    supplier.issue()
    with reg.app.app_context():
        outbox.fan_out(reg.app)
    reg.app.config["ALLOW_PRIVATE_CALLBACKS"] = False
    try:
        reg.run_worker()
    finally:
        reg.app.config["ALLOW_PRIVATE_CALLBACKS"] = True
    (item,) = _deliveries(reg, buyer, sub["id"])
    assert item["status"] == "pending" and item["lastError"].startswith("refused:")
    assert requester.hooks_for("rebound") == []


def test_a_worker_killed_mid_delivery_does_not_lose_the_event(registry_tls, buyer, requester, database_url, tls):
    reg = registry_tls
    supplier = Supplier(reg)
    sub = _subscribe(reg, buyer, f"{requester.url}/hooks/crash", {"manufacturerIds": [supplier.manufacturer]})
    arrived = threading.Event()
    gate = threading.Event()

    class Gate:  # the receiver hangs on the first attempt, like a slow network
        def wait(self, timeout):
            arrived.set()
            gate.wait(timeout)

    requester.hook_delay["crash"] = Gate()
    supplier.issue()
    env = {**os.environ, "REGISTRY_DATABASE_URL": database_url, "REGISTRY_MASTER_KEY": MASTER_KEY,
           "REGISTRY_PUBLIC_URL": reg.url, "REGISTRY_ENV": "development", "REGISTRY_ALLOW_PRIVATE_CALLBACKS": "true",
           "REGISTRY_CALLBACK_CA_FILE": tls["ca_file"], "REGISTRY_DELIVERY_LEASE_SECONDS": "1",
           "REGISTRY_CALLBACK_TIMEOUT": "30", "REGISTRY_EXPIRY_SCAN_SECONDS": "3600", "REGISTRY_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "registry", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert arrived.wait(30), proc.stderr.read1() if proc.poll() is not None else "no delivery attempt"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    del requester.hook_delay["crash"]
    gate.set()
    with _db(reg) as session:
        row = session.scalars(select(Delivery).where(Delivery.subscription_id == sub["id"])).one()
        assert row.status == "pending" and row.attempts == 0 and row.lease_owner is not None
    time.sleep(1.1)  # the dead worker's lease runs out
    reg.run_worker()
    (item,) = _deliveries(reg, buyer, sub["id"])
    assert item["status"] == "delivered" and item["attempts"] == 1
    assert len(requester.hooks_for("crash")) >= 1  # at least once


def test_concurrent_claims_never_share_a_delivery(registry_tls):
    reg = registry_tls
    with _db(reg) as session:
        ids = [str(uuid.uuid4()) for _ in range(12)]
        for i in ids:
            session.add(Delivery(id=i, kind="webhook", client_id="nobody", url="https://x.invalid/", event={},
                                 next_attempt_at=utcnow() - timedelta(days=3650)))
        session.commit()
    results: dict[str, list] = {}
    barrier = threading.Barrier(3)

    def claim(name):
        with _db(reg) as session:
            barrier.wait()
            got = []
            for _ in range(30):
                try:
                    claimed = [d.id for d in outbox._claim(session, name, 3)]
                except OperationalError:  # SQLite busy under contention: the round is simply retried
                    session.rollback()
                    time.sleep(0.01)
                    continue
                if not claimed:
                    break
                got += claimed
            results[name] = got

    threads = [threading.Thread(target=claim, args=(f"w{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        claimed = [i for got in results.values() for i in got]
        assert len(claimed) == len(set(claimed))  # no delivery claimed by two workers
        assert set(ids) <= set(claimed)
    finally:
        with _db(reg) as session:
            session.execute(update(Delivery).where(Delivery.id.in_(claimed)).values(lease_owner=None, lease_until=None))
            session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(status="cancelled"))
            session.commit()


def test_a_delivery_taken_over_after_its_lease_is_not_sent_by_the_first_worker(registry_tls, buyer, requester):
    reg = registry_tls
    supplier = Supplier(reg)
    sub = _subscribe(reg, buyer, f"{requester.url}/hooks/takeover", {"manufacturerIds": [supplier.manufacturer]})
    supplier.issue()
    with reg.app.app_context():
        outbox.fan_out(reg.app)
        session = new_session()
        try:
            everything = outbox._claim(session, "first", 50)
            claimed = [d for d in everything if d.subscription_id == sub["id"]]
            assert len(claimed) == 1
            session.execute(update(Delivery).where(Delivery.id.in_([d.id for d in everything if d not in claimed]))
                            .values(lease_owner=None, lease_until=None))
            session.commit()
            # the first worker stalls past its lease; a second one claims the delivery
            session.execute(update(Delivery).where(Delivery.id == claimed[0].id)
                            .values(lease_owner="second", lease_until=utcnow() + timedelta(seconds=60)))
            session.commit()
            outbox.send_claimed(session, claimed, "first", reg.app.config)
            row = session.get(Delivery, claimed[0].id)
            session.refresh(row)
            assert (row.lease_owner, row.attempts, row.status) == ("second", 0, "pending")
            session.execute(update(Delivery).where(Delivery.id == claimed[0].id)
                            .values(lease_owner=None, lease_until=None))
            session.commit()
        finally:
            session.close()
    assert requester.hooks_for("takeover") == []
    reg.run_worker()
    assert len(requester.hooks_for("takeover")) == 1
