"""Issuing certificates: rules, grading, numbering, status entries, signing, offsets — one transaction."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from verifier import credential as vc
from verifier import grading

from ..domain.neutrality import check_offsets_unused, offset_key
from ..domain.reduction import FootprintRecord
from ..domain.subjects import build_subject
from ..errors import Conflict, Forbidden, InvalidInput, NotAccredited, NotFound, OutOfScope, RegistryError
from ..models import (Body, Category, Certificate, CertificateBasis, CertificateCounter, IdempotencyKey, Offset, new_id,
                      utcnow)
from ..schemas.bodies import CategoryOut
from ..signing import Signer
from .. import tlog
from . import accreditation, audit, revocation, statuslists


def request_hash(raw: dict) -> str:
    return hashlib.sha256(json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def find_idempotent(session: Session, client_id: str, key: str, digest: str) -> Certificate | None:
    row = session.get(IdempotencyKey, (client_id, key))
    if row is None:
        return None
    if row.request_hash != digest:
        raise Conflict("This Idempotency-Key was used for a different request", type="idempotency-key-reused")
    return session.get(Certificate, row.certificate_id)


def next_number(session: Session, body: Body, year: int) -> str:
    """``<BODY>-<YEAR>-<NNNNNN>``: an atomic upsert, so concurrent issuers never share a number."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (insert(CertificateCounter).values(body_id=body.id, year=year, last_value=1)
            .on_conflict_do_update(index_elements=["body_id", "year"],
                                   set_={"last_value": CertificateCounter.last_value + 1})
            .returning(CertificateCounter.last_value))
    value = session.execute(stmt).scalar_one()
    return f"{body.code}-{year}-{value:06d}"


def check_entitled(body: Body, kind: str, category: str, now: datetime) -> None:
    if body.status != "active":
        raise NotAccredited(f"The certification body is {body.status}")
    ok, refusal = accreditation.accredited_at(body, now, kind, category)
    if not ok:
        if refusal == "out-of-scope":
            raise OutOfScope(f"The accreditation in force does not cover {kind} certificates for {category}")
        raise NotAccredited("The certification body holds no accreditation in force")


def _category_dict(category: Category) -> dict:
    return {"code": category.code, **CategoryOut().dump(category)}


def _basis_records(session: Session, ids: list[str]) -> list[FootprintRecord]:
    records = []
    for raw in ids:
        cid = raw.removeprefix("urn:uuid:")
        cert = session.get(Certificate, cid)
        if cert is None:
            raise InvalidInput(f"basedOn names an unknown certificate {raw}", type="insufficient-baseline",
                               errors={"basedOn": [f"Unknown certificate {raw}"]})
        records.append(FootprintRecord.from_subject(certificate_id=cert.id, status=cert.status,
                                                    subject=cert.subject))
    return records


def issue(session: Session, signer: Signer, body: Body, data: dict, *, public_url: str, actor: str,
          now: datetime | None = None) -> Certificate:
    """Check, grade, number, sign and store one certificate; flushes, never commits."""
    now = now or utcnow()
    kind = data["type"]
    code = data["product"]["category"]
    check_entitled(body, kind, code, now)
    category = session.get(Category, code)
    if category is None:
        raise InvalidInput(f"Unknown product category {code}", errors={"product.category": ["Unknown category."]})
    preceding = None
    if data.get("supersedes"):
        preceding = session.get(Certificate, str(data["supersedes"]).removeprefix("urn:uuid:"))
        if preceding is None:
            raise NotFound("The certificate to supersede does not exist", type="certificate-not-found")
        if preceding.body_id != body.id:
            raise Forbidden("Only the issuing body can correct a certificate", type="not-your-certificate")
        if preceding.status == "revoked":
            raise Conflict("A revoked certificate cannot be corrected", type="invalid-transition")
    scheme = grading.load_scheme()
    based_on = data.get("basedOn") or []
    records = _basis_records(session, based_on) if based_on else []
    members = build_subject(kind, data, category=_category_dict(category), scheme=scheme, now=now, footprints=records)
    offsets = (members.get("neutrality") or {}).get("offsets") or []
    _check_offsets_free(session, offsets)

    cert = Certificate(body_id=body.id, type=kind, status="active", category_code=code, created_at=now)
    cert.id = new_id()
    cert.number = next_number(session, body, now.year)
    r_list, r_index = statuslists.allocate(session, "revocation")
    s_list, s_index = statuslists.allocate(session, "suspension")
    subject = {"certificateNumber": cert.number, **members}
    if preceding is not None:
        subject["precedingIds"] = [f"urn:uuid:{preceding.id}"]
    key = accreditation.current_key(session, body)
    payload = vc.build_credential(
        certificate_id=cert.id, kind=kind, issuer=accreditation.body_did(public_url, body.id), valid_from=now,
        valid_until=data["validUntil"], subject=subject, public_url=public_url,
        status_entries=[vc.status_entry(list_url=f"{public_url}/status/{r_list}", index=r_index, purpose="revocation"),
                        vc.status_entry(list_url=f"{public_url}/status/{s_list}", index=s_index, purpose="suspension")])
    signed_subject = payload["credentialSubject"]
    product = signed_subject["product"]
    cert.gtin = product.get("gtin")
    cert.manufacturer_id = product["manufacturer"]["id"]
    cert.manufacturer_name = product["manufacturer"]["name"]
    cert.product_name = product["name"]
    cert.grade = signed_subject["grade"]["value"]
    cert.pcf = signed_subject["footprint"]["pcfExcludingBiogenicUptake"]
    cert.valid_from, cert.valid_until = now, data["validUntil"]
    cert.subject = signed_subject
    cert.kid = key.kid
    cert.revocation_list_id, cert.revocation_index = r_list, r_index
    cert.suspension_list_id, cert.suspension_index = s_list, s_index
    cert.supersedes_id = preceding.id if preceding else None
    cert.credential = signer.sign(payload, key, typ="vc+jwt", cty="vc")
    session.add(cert)
    for record in records:
        session.add(CertificateBasis(certificate_id=cert.id, based_on_id=record.certificate_id))
    for o in offsets:
        session.add(Offset(identity=_identity(o), certificate_id=cert.id, registry_name=o["registry"], serial_number=o["serialNumber"],
                           quantity=o["quantity"], vintage=o["vintage"], kind=o["kind"],
                           retired_at=vc.parse_time(o["retiredAt"]), project=o["project"]))
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as err:
        if "offsets" in str(err.orig).lower():
            raise Conflict("An offset in this request already backs another certificate",
                           type="offset-already-used") from err
        raise
    audit.record(session, actor=actor, action="certificate.issued", target_type="certificate", target_id=cert.id,
                 details={"number": cert.number, "type": kind, "grade": cert.grade, "kid": key.kid,
                          "basedOn": [r.certificate_id for r in records],
                          "offsets": [f"{o['registry']}:{o['serialNumber']}" for o in offsets]})
    tlog.append(session, "certificate.issued", certificate=cert, now=now)
    if preceding is not None:
        revocation.change_status(session, preceding, "revoke", "superseded", actor=actor,
                                 details={"supersededBy": cert.id})
    return cert


def _identity(offset: dict) -> str:
    return "|".join(offset_key(offset))


def _check_offsets_free(session: Session, offsets: list[dict]) -> None:
    if not offsets:
        return
    rows = session.execute(select(Offset.identity, Certificate.number).join(Certificate, Offset.certificate)
                           .where(Offset.identity.in_([_identity(o) for o in offsets]))).all()
    check_offsets_unused(offsets, {tuple(identity.split("|", 1)): number for identity, number in rows})


def remember_idempotency(session: Session, client_id: str, key: str, digest: str, cert: Certificate) -> None:
    session.add(IdempotencyKey(client_id=client_id, key=key, request_hash=digest, certificate_id=cert.id))
