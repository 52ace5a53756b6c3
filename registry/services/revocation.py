"""Suspend, reinstate and revoke certificates; status lists change in the same transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Conflict, Forbidden, NotFound
from ..models import Certificate, CertificateBasis
from .. import tlog
from . import audit, statuslists

TRANSITIONS = {"suspend": ({"active"}, "suspended"), "reinstate": ({"suspended"}, "active"),
               "revoke": ({"active", "suspended"}, "revoked")}


def get_certificate(session: Session, cert_id: str) -> Certificate:
    cert = session.get(Certificate, cert_id) if isinstance(cert_id, str) and len(cert_id) <= 45 else None
    if cert is None:
        raise NotFound(f"No certificate {cert_id!r}", type="certificate-not-found")
    return cert


def authorise(cert: Certificate, role: str, body_id: str | None) -> None:
    if role == "operator":
        return
    if role != "body" or cert.body_id != body_id:
        raise Forbidden("Only the issuing body or the registry operator may change this certificate",
                        type="not-your-certificate")


def change_status(session: Session, cert: Certificate, action: str, reason: str, *, actor: str,
                  details: dict | None = None) -> Certificate:
    allowed, target = TRANSITIONS[action]
    if cert.status not in allowed:
        raise Conflict(f"A {cert.status} certificate cannot be {target}"
                       + (" (revocation is final)" if cert.status == "revoked" else ""), type="invalid-transition")
    before = cert.status
    cert.status = target
    cert.status_reason = reason
    if action == "revoke":
        statuslists.set_status(session, cert.revocation_list_id, cert.revocation_index, True)
        statuslists.set_status(session, cert.suspension_list_id, cert.suspension_index, False)
    else:
        statuslists.set_status(session, cert.suspension_list_id, cert.suspension_index, target == "suspended")
    audit.record(session, actor=actor, action=f"certificate.{target}", target_type="certificate", target_id=cert.id,
                 reason=reason, details={"number": cert.number, "from": before, **(details or {})})
    tlog.append(session, f"certificate.{'reinstated' if action == 'reinstate' else target}", certificate=cert, details=details)
    session.flush()
    if action == "revoke":
        _suspend_dependants(session, cert, reason, actor)
    return cert


def _suspend_dependants(session: Session, cert: Certificate, reason: str, actor: str) -> None:
    """Certificates resting on a revoked footprint certificate lose their basis: suspend them."""
    dependants = session.scalars(select(Certificate).join(
        CertificateBasis, CertificateBasis.certificate_id == Certificate.id)
        .where(CertificateBasis.based_on_id == cert.id, Certificate.status == "active")).all()
    for dep in dependants:
        change_status(session, dep, "suspend", f"basis certificate {cert.number} revoked: {reason}", actor=actor,
                      details={"cascadeFrom": cert.id})
