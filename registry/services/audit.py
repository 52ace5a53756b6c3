"""Append-only audit trail, written in the same transaction as the change it records."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..models import AuditEntry


def record(session: Session, *, actor: str, action: str, target_type: str, target_id: str,
           reason: str | None = None, details: dict | None = None,
           request_id: str | None = None) -> AuditEntry:
    entry = AuditEntry(actor=actor, action=action, target_type=target_type, target_id=str(target_id),
                       reason=reason, details=details or {}, request_id=request_id or _request_id())
    session.add(entry)
    return entry


def _request_id() -> str | None:
    from flask import g, has_request_context

    return g.get("request_id") if has_request_context() else None
