"""OAuth clients the operator manages: disabling one ends its tokens at once."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Conflict, NotFound
from ..models import OAuthClient, utcnow
from . import audit


def get_client(session: Session, client_id: str) -> OAuthClient:
    """Raises NotFound (``client-not-found``)."""
    client = session.scalars(select(OAuthClient).where(OAuthClient.client_id == client_id)).first()
    if client is None:
        raise NotFound(f"No client {client_id!r}", type="client-not-found")
    return client


def disable_client(session: Session, client: OAuthClient, reason: str, *, actor: str) -> OAuthClient:
    """Disable for good: its secret and every token already issued stop working (401).

    Raises Conflict (``invalid-transition``) when it is already disabled.
    """
    if client.disabled_at is not None:
        raise Conflict("The client is already disabled", type="invalid-transition")
    client.disabled_at = utcnow()
    session.flush()
    audit.record(session, actor=actor, action="client.disabled", target_type="client", target_id=client.client_id,
                 reason=reason, details={"role": client.role, "bodyId": client.body_id})
    return client
