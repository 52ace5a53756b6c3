"""The outbox: certificate events written in the transaction of the change, delivered by the worker.

``certificate_event`` adds one row next to the change. The worker then
1. notices expiries nobody triggered (``validUntil`` passed) and writes one ``expired`` event each,
2. fans every new event out to the matching subscriptions (one delivery each, carrying the event) and
   deletes it (an expiry event stays, marked, so it is written once), and
3. sends due deliveries: claimed under a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a guarded
   UPDATE on SQLite), so several workers never send one delivery at the same time; a crashed
   worker's lease runs out and the delivery is sent again (at least once). Failures are retried
   with exponential backoff; after the last attempt a delivery is ``dead`` and the subscriber
   sees it at ``GET /api/v1/subscriptions/{id}/deliveries``.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import time
import uuid
from datetime import datetime, timedelta, timezone

from flask import current_app, has_app_context
from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, selectinload

from . import callbacks
from .db import new_session
from .domain.status import effective_status
from .models import Certificate, Delivery, OAuthClient, OutboxEvent, Subscription, utcnow
from .schemas.common import shared
from .worker import task

log = logging.getLogger("registry.outbox")

EVENT_TYPES = ("issued", "suspended", "reinstated", "revoked", "superseded", "expired")
TYPE_PREFIX = "org.carbonlabel.certificate."
FILTER_FIELDS = ("certificateIds", "gtins", "manufacturerIds", "bodyIds")


def new_event_id() -> str:
    return str(uuid.uuid4())


def now_text(at: datetime | None = None) -> str:
    return (at or utcnow()).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _public_url() -> str:
    return current_app.config["PUBLIC_URL"] if has_app_context() else ""


def public_certificate(cert: Certificate) -> dict:
    from .schemas.certificates import CertificatePublicOut

    cert.public_url = _public_url()
    return shared(CertificatePublicOut).dump(cert)


def certificate_event(session: Session, cert: Certificate, kind: str, *, once_key: str | None = None) -> OutboxEvent:
    """Record that ``cert`` was issued, suspended, reinstated, revoked, superseded or expired.

    Call it in the transaction of the change: the event exists exactly when the change does.
    """
    event = OutboxEvent(**event_row(cert, kind, once_key=once_key))
    session.add(event)
    return event


def event_row(cert: Certificate, kind: str, *, once_key: str | None = None) -> dict:
    """The outbox row of a certificate event, as column values (bulk issuance inserts many at once)."""
    if kind not in EVENT_TYPES:
        raise ValueError(f"unknown certificate event {kind!r}")
    return {"id": new_event_id(), "type": TYPE_PREFIX + kind, "certificate_id": cert.id, "once_key": once_key,
            "data": _snapshot(cert), "created_at": utcnow()}


def _snapshot(cert: Certificate) -> dict:
    """What may change after the event, as it was then. The rest of the public certificate (number,
    subject, credential…) never changes: it is read from the certificate when the event is fanned
    out rather than stored again with every event (it is most of a certificate's size)."""
    body = cert.body
    return {"status": effective_status(cert.status, cert.valid_until, utcnow()), "statusReason": cert.status_reason,
            "issuer": {"id": cert.body_id, "name": body.name, "nameZh": body.name_zh, "code": body.code}}


def event_data(session: Session, event: OutboxEvent) -> dict:
    """The public certificate as it was at the event."""
    if "credential" in event.data:  # stored whole (events written before snapshots)
        return event.data
    return {**public_certificate(session.get(Certificate, event.certificate_id)), **event.data}


def pact_callback(session: Session, *, client_id: str, url: str, event: dict) -> Delivery:
    """Queue a PACT event for ``url`` (``{source}/3/events``), sent with the client's callback credentials."""
    delivery = Delivery(id=event["id"], kind="pact", client_id=client_id, url=url, event=event,
                        next_attempt_at=utcnow())
    session.add(delivery)
    return delivery


def matches(filter_: dict, data: dict) -> bool:
    """A subscription filter against a public certificate: each given list must contain the value."""
    subject = data.get("credentialSubject") or {}
    product = subject.get("product") or {}
    values = {"certificateIds": data.get("id"), "gtins": product.get("gtin"),
              "manufacturerIds": (product.get("manufacturer") or {}).get("id"),
              "bodyIds": (data.get("issuer") or {}).get("id")}
    for name in FILTER_FIELDS:
        wanted = filter_.get(name)
        if wanted and values[name] not in wanted:
            return False
    return True


def cloud_event(event: OutboxEvent, data: dict) -> dict:
    return {"specversion": "1.0", "id": event.id, "source": _public_url() or "urn:carbonlabel:registry",
            "type": event.type, "subject": event.certificate_id, "time": now_text(event.created_at),
            "datacontenttype": "application/json", "data": data}


# --- worker tasks ---

def _cfg(name: str, default):
    return current_app.config.get(name, default)


_last_expiry_scan = {"at": 0.0}


@task("certificate-expiry")
def notice_expiries(app) -> int:
    """Write one ``expired`` event per certificate whose validity ended, touched or not."""
    interval = float(_cfg("EXPIRY_SCAN_SECONDS", 30))
    if time.monotonic() - _last_expiry_scan["at"] < interval:
        return 0
    _last_expiry_scan["at"] = time.monotonic()
    session = new_session()
    handled = 0
    try:
        now = utcnow()
        noticed = exists().where(OutboxEvent.once_key == "expired:" + Certificate.id)
        certs = session.scalars(select(Certificate).where(
            Certificate.valid_until <= now, Certificate.status != "revoked", ~noticed).limit(500)).all()
        for cert in certs:
            try:
                with session.begin_nested():
                    certificate_event(session, cert, "expired", once_key=f"expired:{cert.id}")
                handled += 1
            except IntegrityError:
                pass  # another worker noticed it first
        session.commit()
    finally:
        if session is not current_app.config.get("SESSION"):
            session.close()
    return handled


@task("outbox-fan-out")
def fan_out(app) -> int:
    """One delivery per (new event, matching live subscription)."""
    session = new_session()
    try:
        query = (select(OutboxEvent).where(OutboxEvent.fanned_out_at.is_(None))
                 .order_by(OutboxEvent.created_at).limit(200))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        events = session.scalars(query).all()
        if not events:
            session.rollback()
            return 0
        subscriptions = session.scalars(select(Subscription).where(Subscription.deleted_at.is_(None))).all()
        now = utcnow()
        if subscriptions:  # the certificates (and their bodies) in two statements, not one per event
            session.scalars(select(Certificate).where(Certificate.id.in_({e.certificate_id for e in events}))
                            .options(selectinload(Certificate.body))).all()
        for event in events:
            live = [sub for sub in subscriptions if sub.created_at <= event.created_at]
            data = event_data(session, event) if live else None
            body = None
            for sub in live:
                if matches(sub.filter or {}, data):
                    body = body or cloud_event(event, data)
                    session.add(Delivery(id=new_event_id(), kind="webhook", subscription_id=sub.id,
                                         client_id=sub.client_id, url=sub.callback_url, event=body,
                                         next_attempt_at=now, created_at=utcnow()))
            event.fanned_out_at = now
        # Each delivery carries its own copy: a fanned-out event is kept only where it marks an event
        # that may happen once per certificate (expiry), so the outbox does not grow with the registry.
        done = [e.id for e in events if e.once_key is None]
        for start in range(0, len(done), 500):
            session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(done[start:start + 500]))
                            .execution_options(synchronize_session=False))
        session.commit()
        return len(events)
    except OperationalError:  # SQLite busy: another worker is writing; try next round
        session.rollback()
        return 0
    finally:
        if session is not current_app.config.get("SESSION"):
            session.close()


def _claim(session: Session, owner: str, batch: int) -> list[Delivery]:
    now = utcnow()
    lease = timedelta(seconds=float(_cfg("DELIVERY_LEASE_SECONDS", 60)))
    free = or_(Delivery.lease_until.is_(None), Delivery.lease_until < now)
    due = (select(Delivery.id).where(Delivery.status == "pending", Delivery.next_attempt_at <= now, free)
           .order_by(Delivery.next_attempt_at, Delivery.created_at).limit(batch))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    # The guard is repeated in the UPDATE itself: on SQLite (no row locks) it is what makes the
    # claim exclusive, since writers are serialised and each sees the previous claim.
    ids = session.execute(update(Delivery).where(Delivery.id.in_(due.scalar_subquery()), Delivery.status == "pending",
                                                 free)
                          .values(lease_owner=owner, lease_until=now + lease)
                          .returning(Delivery.id)).scalars().all()
    session.commit()
    if not ids:
        return []
    return session.scalars(select(Delivery).where(Delivery.id.in_(ids), Delivery.lease_owner == owner)
                           .order_by(Delivery.created_at)).all()


def _send(delivery: Delivery, config) -> tuple[int | None, str | None]:
    """Send one delivery; (HTTP status, error text). Success is any 2xx."""
    body = json.dumps(delivery.event, ensure_ascii=False, separators=(",", ":")).encode()
    try:
        if delivery.kind == "webhook":
            session = new_session()
            try:
                sub = session.get(Subscription, delivery.subscription_id)
                secret = callbacks.decrypt(config, sub.secret_encrypted)
            finally:
                if session is not config.get("SESSION"):
                    session.close()
            stamp = int(time.time())
            headers = {"Content-Type": "application/cloudevents+json; charset=utf-8",
                       "webhook-id": delivery.id, "webhook-timestamp": str(stamp),
                       "webhook-signature": callbacks.sign(secret, delivery.id, stamp, body)}
        else:
            session = new_session()
            try:
                client = session.scalars(select(OAuthClient).where(OAuthClient.client_id == delivery.client_id)).first()
                if client is None or client.disabled_at is not None or not client.callback_secret_encrypted:
                    return None, "the client is revoked or has no callback credentials"
                cb_id = client.callback_client_id
                cb_secret = callbacks.decrypt(config, client.callback_secret_encrypted)
            finally:
                if session is not config.get("SESSION"):
                    session.close()
            token_url = delivery.url.removesuffix("/3/events") + "/auth/token"
            token = callbacks.client_credentials_token(token_url, cb_id, cb_secret, config)
            headers = {"Content-Type": "application/cloudevents+json; charset=UTF-8",
                       "Authorization": f"Bearer {token}"}
        answer = callbacks.post(delivery.url, body, headers, config)
    except callbacks.CallbackRefused as err:
        return None, f"refused: {err}"
    except (OSError, ValueError) as err:
        return None, f"{type(err).__name__}: {err}"
    if 200 <= answer.status < 300:
        return answer.status, None
    return answer.status, f"HTTP {answer.status}"


def _backoff(attempts: int) -> float:
    base = float(_cfg("DELIVERY_RETRY_BASE_SECONDS", 30))
    cap = float(_cfg("DELIVERY_RETRY_MAX_SECONDS", 6 * 3600))
    delay = min(cap, base * (2 ** (attempts - 1)))
    return delay * (0.8 + 0.4 * random.random())  # jitter so retries of many deliveries spread out


@task("outbox-deliver")
def deliver(app) -> int:
    """Claim due deliveries, send them, and record success, a retry, or the dead letter."""
    config = current_app.config
    owner = secrets.token_hex(8)
    session = new_session()
    try:
        try:
            claimed = _claim(session, owner, int(_cfg("DELIVERY_BATCH", 20)))
        except OperationalError:
            session.rollback()
            return 0
        send_claimed(session, claimed, owner, config)
        return len(claimed)
    finally:
        if session is not config.get("SESSION"):
            session.close()


def send_claimed(session: Session, claimed: list[Delivery], owner: str, config) -> None:
    lease = timedelta(seconds=float(_cfg("DELIVERY_LEASE_SECONDS", 60)))
    for delivery in claimed:
        # A batch can outlast one lease: renew it just before sending, and skip the delivery if
        # another worker has taken it over meanwhile (it is then that worker's to send).
        try:
            renewed = session.execute(update(Delivery).where(Delivery.id == delivery.id,
                                                             Delivery.lease_owner == owner)
                                      .values(lease_until=utcnow() + lease)).rowcount
            session.commit()
        except OperationalError:  # SQLite busy: leave it; the lease runs out and it is sent later
            session.rollback()
            continue
        if not renewed:
            continue
        status, error = _send(delivery, config)
        attempts = delivery.attempts + 1
        now = utcnow()
        values: dict = {"attempts": attempts, "last_status": status, "last_error": error,
                        "lease_owner": None, "lease_until": None}
        if error is None:
            values.update(status="delivered", delivered_at=now)
        elif attempts >= int(_cfg("DELIVERY_MAX_ATTEMPTS", 8)):
            values.update(status="dead")
            log.warning("delivery %s dead after %d attempts: %s", delivery.id, attempts, error)
        else:
            values.update(next_attempt_at=now + timedelta(seconds=_backoff(attempts)))
        # Only while the lease is ours: a worker that outlived its lease records nothing.
        session.execute(update(Delivery).where(Delivery.id == delivery.id, Delivery.lease_owner == owner)
                        .values(**values))
        session.commit()
