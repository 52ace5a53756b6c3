"""Finding certificates the way people type them: by number (case, spaces and hyphens forgiven) or GTIN."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import read_connection
from ..domain.status import STATUSES, effective_status
from ..errors import InvalidInput, NotFound
from ..models import Certificate, number_key
from .. import verification

# Not superseded by another certificate: what a product's "current" certificates are.
_SUPERSEDED = select(Certificate.supersedes_id).where(Certificate.supersedes_id.is_not(None))
MAX_PER_GTIN = 20


def _key(text: str) -> str | None:
    key = number_key(text) if isinstance(text, str) else ""
    return key if 0 < len(key) <= 40 else None


def id_for_number(text: str) -> str | None:
    """The id of the certificate numbered ``text``, or None."""
    key = _key(text)
    if key is None:
        return None
    with read_connection() as conn:
        return conn.execute(select(Certificate.id).where(Certificate.number_key == key)).scalar()


def for_reading(session: Session, id_or_number: str) -> Certificate:
    """A certificate by id or by number; raises NotFound (``certificate-not-found``)."""
    cert = session.get(Certificate, id_or_number.lower()) if len(id_or_number) <= 36 else None
    if cert is None and (key := _key(id_or_number)) is not None:
        cert = session.scalars(select(Certificate).where(Certificate.number_key == key)).first()
    if cert is None:
        raise NotFound(f"No certificate {id_or_number!r}", type="certificate-not-found")
    return cert


def gtin_key(text: str) -> str | None:
    digits = "".join(text.split()).replace("-", "") if isinstance(text, str) else ""
    return digits.zfill(14) if digits.isdigit() and 8 <= len(digits) <= 14 else None


def current_for_gtin(session: Session, text: str) -> list[Certificate]:
    key = gtin_key(text)
    if key is None:
        return []
    return list(session.scalars(select(Certificate).where(Certificate.gtin == key, Certificate.id.not_in(_SUPERSEDED))
                                .order_by(Certificate.log_index.desc()).limit(MAX_PER_GTIN)))


def summary(cert: Certificate, public_url: str) -> dict:
    status = effective_status(cert.status, cert.valid_until, datetime.now(timezone.utc))
    return {"id": cert.id, "number": cert.number, "type": cert.type, "status": status,
            "statusReason": cert.status_reason, "grade": cert.grade, "gtin": cert.gtin,
            "validFrom": cert.valid_from.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "validUntil": cert.valid_until.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "verifyUrl": f"{public_url}/v/{cert.id}", "credentialUrl": f"{public_url}/api/v1/certificates/{cert.id}"}


def _verify_one(session: Session, res, cert: Certificate) -> dict:
    result = verification.verify_credential(cert.credential, res, now=res.now).to_dict()
    result["certificate"] = summary(cert, res.public_url)
    return result


def verify_by_reference(session: Session, res, item: dict) -> dict:
    """The verification result for ``{"number"}`` or, per current certificate, for ``{"gtin"}``."""
    if "number" in item:
        key = _key(item["number"])
        cert = session.scalars(select(Certificate).where(Certificate.number_key == key)).first() if key else None
        if cert is None:
            return verification.VerificationResult.failure(
                "NOT_FOUND", f"no certificate numbered {item['number']!r}").to_dict()
        return _verify_one(session, res, cert)
    certs = current_for_gtin(session, item["gtin"])
    if not certs:
        failure = verification.VerificationResult.failure(
            "NOT_FOUND", f"no certificate for GTIN {item['gtin']!r}").to_dict()
        return {**failure, "gtin": gtin_key(item["gtin"]) or item["gtin"], "results": []}
    results = [_verify_one(session, res, c) for c in certs]
    return {"verified": any(r["verified"] for r in results), "gtin": certs[0].gtin, "results": results,
            "checks": [], "errors": [] if any(r["verified"] for r in results) else
            [{"code": "NOT_VERIFIED", "message": "none of the product's current certificates verifies"}]}


def status_filter(value: str, now) -> list:
    """Conditions for a status as readers see it: expiry is derived from ``validUntil``."""
    if value not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}",
                           errors={"status": [f"One of {', '.join(STATUSES)}."]})
    if value == "expired":
        return [Certificate.status != "revoked", Certificate.valid_until <= now]
    if value == "revoked":
        return [Certificate.status == "revoked"]
    return [Certificate.status == value, Certificate.valid_until > now]
