"""Procurement clients (PACT data recipients) and their supplier-monitoring subscriptions."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import auth, callbacks
from ..errors import InvalidInput, NotFound
from ..models import Delivery, OAuthClient, Subscription, utcnow
from ..outbox import FILTER_FIELDS
from . import audit

MAX_FILTER_VALUES = 1000


def create_client(session: Session, config, *, name: str, callback_client_id: str | None,
                  callback_client_secret: str | None, actor: str) -> tuple[OAuthClient, str]:
    """A procurement client; the callback secret is kept encrypted, never logged or returned."""
    encrypted = callbacks.encrypt(config, callback_client_secret) if callback_client_secret else None
    client, secret = auth.create_client(session, name=name, role="procurement",
                                        callback_client_id=callback_client_id, callback_secret_encrypted=encrypted)
    audit.record(session, actor=actor, action="client.created", target_type="client", target_id=client.client_id,
                 details={"name": name, "role": "procurement", "callbackClientId": callback_client_id})
    return client, secret


def get_client(session: Session, client_id: str) -> OAuthClient:
    client = session.scalars(select(OAuthClient).where(OAuthClient.client_id == client_id,
                                                       OAuthClient.role == "procurement")).first()
    if client is None:
        raise NotFound(f"No procurement client {client_id!r}", type="client-not-found")
    return client


def revoke_client(session: Session, client: OAuthClient, *, actor: str) -> OAuthClient:
    if client.disabled_at is None:
        client.disabled_at = utcnow()
        for sub in session.scalars(select(Subscription).where(Subscription.client_id == client.client_id,
                                                              Subscription.deleted_at.is_(None))):
            delete_subscription(session, sub)
        audit.record(session, actor=actor, action="client.revoked", target_type="client", target_id=client.client_id)
    session.flush()
    return client


def create_subscription(session: Session, config, *, client_id: str, callback_url: str, filter_: dict
                        ) -> tuple[Subscription, str]:
    try:
        callbacks.check_callback_url(callback_url, config)
    except callbacks.CallbackRefused as err:
        raise InvalidInput(f"callbackUrl: {err}", type="callback-url-refused",
                           errors={"callbackUrl": [str(err)]}) from err
    clean = {}
    for name in FILTER_FIELDS:
        values = filter_.get(name)
        if values:
            clean[name] = [str(v).removeprefix("urn:uuid:") if name == "certificateIds"
                           else str(v).zfill(14) if name == "gtins" else str(v) for v in values]
    secret = callbacks.new_webhook_secret()
    sub = Subscription(client_id=client_id, callback_url=callback_url, filter=clean,
                       secret_encrypted=callbacks.encrypt(config, secret), created_at=utcnow())
    session.add(sub)
    session.flush()
    return sub, secret


def own_subscription(session: Session, client_id: str, sub_id: str) -> Subscription:
    sub = session.get(Subscription, sub_id) if len(sub_id) <= 36 else None
    # Someone else's subscription answers like a missing one: ids are not disclosed across clients.
    if sub is None or sub.client_id != client_id or sub.deleted_at is not None:
        raise NotFound(f"No subscription {sub_id!r}", type="subscription-not-found")
    return sub


def delete_subscription(session: Session, sub: Subscription) -> None:
    sub.deleted_at = utcnow()
    session.execute(update(Delivery).where(Delivery.subscription_id == sub.id, Delivery.status == "pending")
                    .values(status="cancelled"))
    session.flush()
