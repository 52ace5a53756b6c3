"""Issuing certificates: rules, grading, numbering, status entries, signing, offsets — one transaction."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

import verifier as vc
from verifier import grading

from ..domain.neutrality import check_offsets_unused, offset_key
from ..domain.reduction import FootprintRecord
from ..domain.subjects import build_subject
from ..errors import PROBLEM_BASE, Conflict, Forbidden, InvalidInput, NotAccredited, NotFound, OutOfScope, RegistryError
from ..models import (Body, Category, Certificate, CertificateBasis, CertificateCounter, IdempotencyKey, Offset, new_id,
                      utcnow)
from .. import outbox
from ..schemas.certificates import CertificateIn
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
    value = session.connection().execute(stmt).scalar_one()
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
    """The category as the domain rules read it (plain data, not an API representation)."""
    benchmark = None
    if category.benchmark_value is not None:
        benchmark = {"value": category.benchmark_value, "standard": category.benchmark_standard,
                     "source": category.benchmark_source}
    return {"code": category.code, "name": category.name, "nameZh": category.name_zh,
            "declaredUnitOfMeasurement": category.declared_unit, "benchmark": benchmark, "demo": category.demo}


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


class BatchContext:
    """What stays the same for every item of one batch, read once: the grading scheme, the body's
    current key, category dictionaries and the open status lists. Only valid inside one transaction."""

    def __init__(self) -> None:
        self.scheme: dict | None = None
        self.key = None
        self.categories: dict[str, tuple[Category, dict]] = {}
        self.lists = statuslists.BatchLists()


def issue(session: Session, signer: Signer, body: Body, data: dict, *, public_url: str, actor: str,
          now: datetime | None = None, batch: BatchContext | None = None) -> Certificate:
    """Check, grade, number, sign and store one certificate; flushes, never commits.

    ``batch`` (from :func:`issue_batch`) only saves repeated reads; the checks are the same.
    """
    now = now or utcnow()
    kind = data["type"]
    code = data["product"]["category"]
    check_entitled(body, kind, code, now)
    category, category_dict = _category(session, code, batch)
    preceding = None
    if data.get("supersedes"):
        preceding = session.get(Certificate, str(data["supersedes"]).removeprefix("urn:uuid:"))
        if preceding is None:
            raise NotFound("The certificate to supersede does not exist", type="certificate-not-found")
        if preceding.body_id != body.id:
            raise Forbidden("Only the issuing body can correct a certificate", type="not-your-certificate")
        if preceding.status == "revoked":
            raise Conflict("A revoked certificate cannot be corrected", type="invalid-transition")
    scheme = _scheme(batch)
    based_on = data.get("basedOn") or []
    records = _basis_records(session, based_on) if based_on else []
    members = build_subject(kind, data, category=category_dict, scheme=scheme, now=now, footprints=records)
    offsets = (members.get("neutrality") or {}).get("offsets") or []
    _check_offsets_free(session, offsets)

    cert = Certificate(body_id=body.id, type=kind, status="active", category_code=code, created_at=now)
    # Known without a flush (a batch item flushes only when it ends), and not a change to write.
    set_committed_value(cert, "body", body)
    cert.id = new_id()
    cert.number = next_number(session, body, now.year)
    lists = batch.lists if batch is not None else None
    r_list, r_index = statuslists.allocate(session, "revocation", batch=lists)
    s_list, s_index = statuslists.allocate(session, "suspension", batch=lists)
    subject = {"certificateNumber": cert.number, **members}
    if preceding is not None:
        subject["precedingIds"] = [f"urn:uuid:{preceding.id}"]
    key = _key(session, body, batch)
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
    cert.revocation_list_id, cert.revocation_index = r_list, r_index
    cert.suspension_list_id, cert.suspension_index = s_list, s_index
    cert.supersedes_id = preceding.id if preceding else None
    cert.credential = signer.sign(payload, key, typ="vc+jwt", cty="vc")
    session.add(cert)
    for record in records:
        session.add(CertificateBasis(certificate=cert, based_on_id=record.certificate_id))
    for o in offsets:
        session.add(Offset(identity=_identity(o), certificate_id=cert.id, registry_name=o["registry"], serial_number=o["serialNumber"],
                           quantity=o["quantity"], vintage=o["vintage"], kind=o["kind"],
                           retired_at=vc.parse_time(o["retiredAt"]), project=o["project"]))
    try:
        if batch is None:  # a batch item runs in a savepoint of its own, flushed once when it ends
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
    outbox.certificate_event(session, cert, "issued")
    tlog.append(session, "certificate.issued", certificate=cert, now=now)
    if preceding is not None:
        revocation.change_status(session, preceding, "revoke", "superseded", actor=actor,
                                 details={"supersededBy": cert.id})
    return cert


def _category(session: Session, code: str, batch: BatchContext | None) -> tuple[Category, dict]:
    if batch is not None and code in batch.categories:
        return batch.categories[code]
    category = session.get(Category, code)
    if category is None:
        raise InvalidInput(f"Unknown product category {code}", errors={"product.category": ["Unknown category."]})
    found = category, _category_dict(category)
    if batch is not None:
        batch.categories[code] = found
    return found


def _scheme(batch: BatchContext | None) -> dict:
    if batch is None:
        return grading.load_scheme()
    if batch.scheme is None:
        batch.scheme = grading.load_scheme()
    return batch.scheme


def _key(session: Session, body: Body, batch: BatchContext | None):
    if batch is None:
        return accreditation.current_key(session, body)
    if batch.key is None:
        batch.key = accreditation.current_key(session, body)
    return batch.key


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


#: Most items one batch may carry: a spreadsheet page, and a transaction short enough to hold its locks.
BATCH_LIMIT = 1000


@dataclass
class Result:
    """One batch item's outcome: ``status`` 201 with ``certificate``, or a 4xx with ``problem``."""

    status: int
    certificate: Certificate | None = None
    problem: dict | None = None
    replayed: bool = False


def _problem(err: RegistryError) -> dict:
    return {"type": PROBLEM_BASE + err.type, "title": err.title, "status": err.status, "detail": err.detail,
            **err.extra}


def _invalid_fields(err: ValidationError) -> dict:
    from ..http import flatten_messages

    messages = err.messages if isinstance(err.messages, dict) else {"_schema": err.messages}
    return _problem(InvalidInput("The request has invalid fields", errors=flatten_messages(messages)))


def issue_batch(session: Session, signer: Signer, body: Body, items: list, *, public_url: str, actor: str,
                client_id: str, now: datetime | None = None) -> list[Result]:
    """Issue each item on its own through :func:`issue`, in input order; flushes, never commits.

    Every item runs inside its own SAVEPOINT, so a refused item leaves nothing behind and does not
    undo the others; the caller commits once for the whole batch. An item may carry
    ``idempotencyKey``: a key this client already used for the same request answers with the
    certificate issued then (``replayed``), for a different request with 409 ``idempotency-key-reused``.
    """
    if not isinstance(items, list) or not 1 <= len(items) <= BATCH_LIMIT:
        raise InvalidInput(f"items must be a list of 1 to {BATCH_LIMIT} issuance requests",
                           type="invalid-batch", errors={"items": [f"Send 1 to {BATCH_LIMIT} items."]})
    schema = CertificateIn()  # one instance: building a schema costs more than loading with it
    batch = BatchContext()
    results = [_issue_item(session, signer, body, raw, schema, batch, public_url=public_url, actor=actor,
                           client_id=client_id, now=now) for raw in items]
    batch.lists.settle(session)
    session.flush()
    return results


def _issue_item(session: Session, signer: Signer, body: Body, raw, schema, batch: BatchContext, *, public_url: str, actor: str,
                client_id: str, now: datetime | None) -> Result:
    if not isinstance(raw, dict):
        return Result(422, problem=_problem(InvalidInput("An item is not a JSON object", type="malformed-json")))
    raw = dict(raw)
    key = raw.pop("idempotencyKey", None)
    if key is not None and not (isinstance(key, str) and 0 < len(key) <= 200):
        return Result(422, problem=_problem(InvalidInput("idempotencyKey must be 1 to 200 characters",
                                                         type="invalid-idempotency-key")))
    digest = request_hash(raw)
    try:
        if key:
            earlier = find_idempotent(session, client_id, key, digest)
            if earlier is not None:
                return Result(201, certificate=earlier, replayed=True)
        data = schema.load(raw)
    except RegistryError as err:
        return Result(err.status, problem=_problem(err))
    except ValidationError as err:
        return Result(422, problem=_invalid_fields(err))
    try:
        with session.begin_nested():
            cert = issue(session, signer, body, data, public_url=public_url, actor=actor, now=now, batch=batch)
            if key:
                remember_idempotency(session, client_id, key, digest, cert)
    except RegistryError as err:
        return Result(err.status, problem=_problem(err))
    except IntegrityError as err:
        if key:  # a concurrent request with the same key won the race: answer with its certificate
            try:
                earlier = find_idempotent(session, client_id, key, digest)
            except RegistryError as conflict:
                return Result(conflict.status, problem=_problem(conflict))
            if earlier is not None:
                return Result(201, certificate=earlier, replayed=True)
        if "offsets" in str(err.orig).lower():
            conflict = Conflict("An offset in this request already backs another certificate",
                                type="offset-already-used")
            return Result(conflict.status, problem=_problem(conflict))
        raise
    return Result(201, certificate=cert)
