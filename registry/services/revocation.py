"""Suspend, reinstate and revoke certificates; status lists change in the same transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import outbox
from ..errors import Conflict, Forbidden, NotFound
from ..models import Certificate, CertificateBasis
from .. import tlog
from . import audit, statuslists

#: Who may hold a certificate suspended: whoever suspended it decides when it is lifted.
PARTIES = ("operator", "body", "system")

TRANSITIONS = {"suspend": ({"active"}, "suspended"), "reinstate": ({"suspended"}, "active"),
               "revoke": ({"active", "suspended"}, "revoked")}
EVENTS = {"suspended": "suspended", "active": "reinstated", "revoked": "revoked"}


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


def party_of(actor: str) -> str:
    """``operator`` or ``body`` from an audit actor (``operator:<client>``, ``body:<id>``, ``cli``)."""
    return "body" if actor.startswith("body:") else "operator"


def _check_reinstate(session: Session, cert: Certificate, party: str) -> None:
    """Only the party that suspended may lift it (the operator any), and only on an active basis.

    Rows suspended before ``suspended_by`` was recorded carry None: only the operator lifts those.
    """
    # A cascade ("system") suspension is lifted by whoever asks, but only once the basis is active.
    if party != "operator" and cert.suspended_by not in (party, "system"):
        raise Forbidden("The registry operator suspended this certificate; only the operator can reinstate it",
                        type="suspended-by-operator")
    inactive = session.execute(select(Certificate.number, Certificate.status).join(
        CertificateBasis, CertificateBasis.based_on_id == Certificate.id)
        .where(CertificateBasis.certificate_id == cert.id, Certificate.status != "active")).all()
    if inactive:
        names = ", ".join(f"{number} ({status})" for number, status in inactive)
        raise Conflict(f"The certificates this one rests on are not active: {names}; only a correction "
                       "(supersedes) can replace it", type="basis-not-active",
                       extra={"basis": [{"number": n, "status": st} for n, st in inactive]})


def change_status(session: Session, cert: Certificate, action: str, reason: str, *, actor: str,
                  party: str | None = None, details: dict | None = None) -> Certificate:
    """Apply ``action`` for ``party`` (``operator``/``body``/``system``; from ``actor`` when not given).

    Raises:
        Conflict: ``invalid-transition``; ``basis-not-active`` when reinstating a certificate whose
            basis is suspended or revoked.
        Forbidden: ``suspended-by-operator`` when a body tries to lift the operator's suspension.
    """
    party = party or party_of(actor)
    if party not in PARTIES:
        raise ValueError(f"unknown party {party!r}")
    allowed, target = TRANSITIONS[action]
    if cert.status not in allowed:
        raise Conflict(f"A {cert.status} certificate cannot be {target}"
                       + (" (revocation is final)" if cert.status == "revoked" else ""), type="invalid-transition")
    if action == "reinstate":
        _check_reinstate(session, cert, party)
    before = cert.status
    cert.status = target
    cert.status_reason = reason
    cert.suspended_by = party if target == "suspended" else None
    if action == "revoke":
        statuslists.set_status(session, cert.revocation_list_id, cert.revocation_index, True)
        statuslists.set_status(session, cert.suspension_list_id, cert.suspension_index, False)
    else:
        statuslists.set_status(session, cert.suspension_list_id, cert.suspension_index, target == "suspended")
    audit.record(session, actor=actor, action=f"certificate.{target}", target_type="certificate", target_id=cert.id,
                 reason=reason, details={"number": cert.number, "from": before, "by": party, **(details or {})})
    outbox.certificate_event(session, cert, "superseded" if (details or {}).get("supersededBy") else EVENTS[target])
    tlog.append(session, f"certificate.{'reinstated' if action == 'reinstate' else target}", certificate=cert, details=details)
    session.flush()
    if action == "revoke":
        _suspend_dependants(session, cert, reason, actor)
    return cert


def _suspend_dependants(session: Session, cert: Certificate, reason: str, actor: str) -> None:
    """Certificates resting on a revoked footprint certificate lose their basis: suspend them."""
    # Two primary-key-driven reads rather than one join: with a status filter in the same query a
    # planner may walk every active certificate instead of the few resting on this one.
    ids = session.scalars(select(CertificateBasis.certificate_id).where(CertificateBasis.based_on_id == cert.id)).all()
    dependants = [dep for dep in (session.get(Certificate, i) for i in ids) if dep.status == "active"]
    for dep in dependants:
        change_status(session, dep, "suspend", f"basis certificate {cert.number} revoked: {reason}", actor=actor,
                      party="system", details={"cascadeFrom": cert.id})
