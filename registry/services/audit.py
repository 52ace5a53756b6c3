"""Append-only audit trail, written in the same transaction as the change it records."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import AuditEntry, Certificate, CertificateBasis, Offset, credential_header


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


def details(session: Session, entries: list[AuditEntry]) -> list[dict]:
    """Each entry's details as readers see them. An issuance stores none: its number, kind, grade,
    key, bases and offsets are the certificate's own, read from it here rather than kept twice."""
    issued = [e.target_id for e in entries if e.action == "certificate.issued" and not e.details]
    derived: dict[str, dict] = {}
    if issued:
        for cert in session.execute(select(Certificate.id, Certificate.number, Certificate.type, Certificate.grade,
                                           Certificate.credential).where(Certificate.id.in_(issued))):
            derived[cert.id] = {"number": cert.number, "type": cert.type, "grade": cert.grade,
                                "kid": credential_header(cert.credential)["kid"], "basedOn": [], "offsets": []}
        for cert_id, based_on in session.execute(select(CertificateBasis.certificate_id, CertificateBasis.based_on_id)
                                                 .where(CertificateBasis.certificate_id.in_(issued))
                                                 .order_by(CertificateBasis.based_on_id)):
            derived[cert_id]["basedOn"].append(based_on)
        for cert_id, registry, serial in session.execute(
                select(Offset.certificate_id, Offset.registry_name, Offset.serial_number)
                .where(Offset.certificate_id.in_(issued)).order_by(Offset.id)):
            derived[cert_id]["offsets"].append(f"{registry}:{serial}")
    return [derived.get(e.target_id, e.details) if e.action == "certificate.issued" and not e.details
            else e.details for e in entries]
