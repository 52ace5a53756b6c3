"""Issuing certificates: rules, grading, numbering, status entries, signing, offsets — one transaction."""

from __future__ import annotations

import functools
import gc
import hashlib
import json
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from marshmallow import ValidationError
from sqlalchemy import inspect as sa_inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

import verifier as vc
from verifier import grading

from ..domain.neutrality import check_offsets_unused, offset_key
from ..domain.reduction import FootprintRecord
from ..domain.subjects import build_subject
from ..errors import PROBLEM_BASE, Conflict, Forbidden, InvalidInput, NotAccredited, NotFound, OutOfScope, RegistryError
from ..models import (AuditEntry, Body, Category, Certificate, CertificateBasis, CertificateCounter, IdempotencyKey,
                      Offset, OutboxEvent, new_id, number_key, utcnow)
from .. import outbox
from ..schemas.certificates import CertificateIn
from ..schemas.common import shared
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
        raise _key_reused()
    return session.get(Certificate, row.certificate_id)


def _key_reused() -> Conflict:
    return Conflict("This Idempotency-Key was used for a different request", type="idempotency-key-reused")


def next_number(session: Session, body: Body, year: int) -> str:
    """``<BODY>-<YEAR>-<NNNNNN>``: an atomic upsert, so concurrent issuers never share a number."""
    return _number(body, year, _reserve_numbers(session, body, year, 1))


def _number(body: Body, year: int, value: int) -> str:
    return f"{body.code}-{year}-{value:06d}"


def _reserve_numbers(session: Session, body: Body, year: int, count: int) -> int:
    """Move the counter of ``body`` and ``year`` on by ``count``; returns the last value reserved."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (insert(CertificateCounter).values(body_id=body.id, year=year, last_value=count)
            .on_conflict_do_update(index_elements=["body_id", "year"],
                                   set_={"last_value": CertificateCounter.last_value + count})
            .returning(CertificateCounter.last_value))
    return session.connection().execute(stmt).scalar_one()


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
    """What stays the same for every item of one batch, read once: the body's current key,
    category dictionaries and the open status lists. Only valid inside one transaction."""

    def __init__(self) -> None:
        self.key = None
        self.categories: dict[str, tuple[Category, dict]] = {}
        self.lists = statuslists.BatchLists()


@dataclass
class _Checked:
    """An issuance request that passed every rule, with what its certificate is built from."""

    kind: str
    code: str
    preceding: Certificate | None
    records: list[FootprintRecord]
    members: dict
    offsets: list[dict]


def _check(session: Session, body: Body, data: dict, now: datetime, batch: BatchContext | None) -> _Checked:
    """Every rule an issuance request must meet, in the order refusals are reported, short of
    offsets being unused (the caller checks those)."""
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
    scheme = _shipped_scheme()
    based_on = data.get("basedOn") or []
    records = _basis_records(session, based_on) if based_on else []
    members = build_subject(kind, data, category=category_dict, scheme=scheme, now=now, footprints=records)
    offsets = (members.get("neutrality") or {}).get("offsets") or []
    return _Checked(kind, code, preceding, records, members, offsets)


def _signed(signer: Signer, body: Body, data: dict, checked: _Checked, *, cert_id: str, number: str,
            statuses: tuple[str, int, str, int], key, public_url: str, now: datetime) -> dict:
    """The column values of a checked request's certificate, numbered and signed."""
    r_list, r_index, s_list, s_index = statuses
    subject = {"certificateNumber": number, **checked.members}
    if checked.preceding is not None:
        subject["precedingIds"] = [f"urn:uuid:{checked.preceding.id}"]
    payload = vc.build_credential(
        certificate_id=cert_id, kind=checked.kind, issuer=accreditation.body_did(public_url, body.id),
        valid_from=now, valid_until=data["validUntil"], subject=subject, public_url=public_url,
        status_entries=[vc.status_entry(list_url=f"{public_url}/status/{r_list}", index=r_index, purpose="revocation"),
                        vc.status_entry(list_url=f"{public_url}/status/{s_list}", index=s_index, purpose="suspension")])
    signed_subject = payload["credentialSubject"]
    product = signed_subject["product"]
    return {"id": cert_id, "number": number, "body_id": body.id, "type": checked.kind, "status": "active",
            "category_code": checked.code, "created_at": now, "gtin": product.get("gtin"),
            "manufacturer_id": product["manufacturer"]["id"], "manufacturer_name": product["manufacturer"]["name"],
            "product_name": product["name"], "grade": signed_subject["grade"]["value"],
            "pcf": signed_subject["footprint"]["pcfExcludingBiogenicUptake"],
            "valid_from": now, "valid_until": data["validUntil"],
            "revocation_list_id": r_list, "revocation_index": r_index,
            "suspension_list_id": s_list, "suspension_index": s_index,
            "supersedes_id": checked.preceding.id if checked.preceding else None,
            "credential": signer.sign(payload, key, typ="vc+jwt", cty="vc")}


def _offset_row(o: dict, certificate_id: str) -> dict:
    return {"identity": _identity(o), "certificate_id": certificate_id, "registry_name": o["registry"],
            "serial_number": o["serialNumber"], "quantity": o["quantity"], "vintage": o["vintage"],
            "kind": o["kind"], "retired_at": vc.parse_time(o["retiredAt"]), "project": o["project"]}


def issue(session: Session, signer: Signer, body: Body, data: dict, *, public_url: str, actor: str,
          now: datetime | None = None, batch: BatchContext | None = None) -> Certificate:
    """Check, grade, number, sign and store one certificate; flushes, never commits.

    ``batch`` (from :func:`issue_batch`) only saves repeated reads; the checks are the same.
    """
    now = now or utcnow()
    checked = _check(session, body, data, now, batch)
    _check_offsets_free(session, checked.offsets)
    cert_id = new_id()
    number = next_number(session, body, now.year)
    lists = batch.lists if batch is not None else None
    r_list, r_index = statuslists.allocate(session, "revocation", batch=lists)
    s_list, s_index = statuslists.allocate(session, "suspension", batch=lists)
    key = _key(session, body, batch)
    cert = Certificate(**_signed(signer, body, data, checked, cert_id=cert_id, number=number,
                                 statuses=(r_list, r_index, s_list, s_index), key=key, public_url=public_url, now=now))
    # Logged before the row is written: the row carries its entry's index (what listings page by).
    cert.log_index = tlog.append(session, "certificate.issued", certificate=cert, now=now)
    # Known without a flush (a batch item flushes only when it ends), and not a change to write.
    set_committed_value(cert, "body", body)
    session.add(cert)
    for record in checked.records:
        session.add(CertificateBasis(certificate=cert, based_on_id=record.certificate_id))
    for o in checked.offsets:
        session.add(Offset(**_offset_row(o, cert.id)))
    try:
        # Offsets are the one thing a concurrent issuer can take between the check and the write:
        # written in a savepoint here so that the refusal is a 409. A batch item runs in a
        # savepoint of its own, flushed once when it ends.
        if batch is None and checked.offsets:
            with session.begin_nested():
                session.flush()
    except IntegrityError as err:
        if "offsets" in str(err.orig).lower():
            raise Conflict("An offset in this request already backs another certificate",
                           type="offset-already-used") from err
        raise
    # No details: what an issuance would record is the certificate's own (services.audit.details).
    audit.record(session, actor=actor, action="certificate.issued", target_type="certificate", target_id=cert.id)
    outbox.certificate_event(session, cert, "issued")
    if checked.preceding is not None:
        revocation.change_status(session, checked.preceding, "revoke", "superseded", actor=actor,
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


@functools.cache
def _shipped_scheme() -> dict:
    # One copy per process, read only: the shipped schemes change with a release, not at run time,
    # and grading parses a scheme it has seen (the same object) once.
    return grading.load_scheme()


def _key(session: Session, body: Body, batch: BatchContext | None):
    if batch is None:
        return accreditation.current_key(session, body)
    if batch.key is None:
        batch.key = accreditation.current_key(session, body)
    return batch.key


def _identity(offset: dict) -> str:
    return "|".join(offset_key(offset))


def _offsets_used(session: Session, offsets: list[dict]) -> dict[tuple[str, str], str]:
    """Which of ``offsets`` already back a certificate: offset key → its number."""
    if not offsets:
        return {}
    rows = session.execute(select(Offset.identity, Certificate.number).join(Certificate, Offset.certificate)
                           .where(Offset.identity.in_([_identity(o) for o in offsets]))).all()
    return {tuple(identity.split("|", 1)): number for identity, number in rows}


def _check_offsets_free(session: Session, offsets: list[dict]) -> None:
    check_offsets_unused(offsets, _offsets_used(session, offsets))


def remember_idempotency(session: Session, client_id: str, key: str, digest: str, cert: Certificate) -> None:
    session.add(IdempotencyKey(client_id=client_id, key=key, request_hash=digest, certificate_id=cert.id))


@contextmanager
def cycle_collection_paused():
    """No cyclic garbage collection while a batch runs. A 1,000-item batch keeps tens of thousands
    of objects alive until it answers, so the collector would walk them (and the whole heap) again
    and again for nothing: about a seventh of a batch's time. Reference counting still frees
    what it can, and the collector, resumed after, finds the batch's few cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
    """Issue each item on its own, in input order, as :func:`issue` would; flushes, never commits.

    A refused item leaves nothing behind and does not undo the others; the caller commits once for
    the whole batch. An item may carry ``idempotencyKey``: a key this client already used for the
    same request answers with the certificate issued then (``replayed``), for a different request
    with 409 ``idempotency-key-reused``.

    Items are checked one after another with the same rules as :func:`issue`; the accepted ones
    between two items that supersede a certificate (which go through :func:`issue` on their own)
    are then numbered with one counter update and written together. Should a concurrent writer
    take an offset or a key meanwhile, those items are issued again one by one in savepoints.
    """
    if not isinstance(items, list) or not 1 <= len(items) <= BATCH_LIMIT:
        raise InvalidInput(f"items must be a list of 1 to {BATCH_LIMIT} issuance requests",
                           type="invalid-batch", errors={"items": [f"Send 1 to {BATCH_LIMIT} items."]})
    schema = shared(CertificateIn)
    batch = BatchContext()
    run = _Run(session, signer, body, items, batch, schema, public_url=public_url, actor=actor,
               client_id=client_id, now=now)
    results = run.results
    for i, raw in enumerate(items):
        if not isinstance(raw, dict):
            results[i] = Result(422, problem=_problem(InvalidInput("An item is not a JSON object",
                                                                   type="malformed-json")))
            continue
        raw = dict(raw)
        key = raw.pop("idempotencyKey", None)
        if key is not None and not (isinstance(key, str) and 0 < len(key) <= 200):
            results[i] = Result(422, problem=_problem(InvalidInput("idempotencyKey must be 1 to 200 characters",
                                                                   type="invalid-idempotency-key")))
            continue
        digest = request_hash(raw) if key else None
        if key and key in run.seen:
            earlier_digest, earlier = run.seen[key]
            if earlier_digest != digest:
                results[i] = Result(409, problem=_problem(_key_reused()))
            elif isinstance(earlier, _Accepted):
                run.replays.append((i, earlier))
            else:
                results[i] = Result(201, certificate=earlier, replayed=True)
            continue
        try:
            data = schema.load(raw)
        except ValidationError as err:
            results[i] = Result(422, problem=_invalid_fields(err))
            continue
        if data.get("supersedes"):
            # It revokes its predecessor: on its own, after everything before it is written.
            run.write(i)
            results[i] = result = _issue_item(session, signer, body, items[i], schema, batch, public_url=public_url, actor=actor,
                                              client_id=client_id, now=now)
            if key and result.certificate is not None:
                run.seen[key] = (digest, result.certificate)
            run.start = i + 1
            continue
        run.check(i, key, digest, data)
    run.write(len(items))
    batch.lists.settle(session)
    session.flush()
    return results


@dataclass
class _Accepted:
    """An item that passed every check, waiting to be numbered, signed and written."""

    index: int
    key: str | None
    digest: str | None
    data: dict
    checked: _Checked
    now: datetime
    cert: Certificate | None = None


class _Run:
    """The accepted items of a batch from ``start`` on, written together by :meth:`write`."""

    def __init__(self, session: Session, signer: Signer, body: Body, items: list, batch: BatchContext, schema, *,
                 public_url: str, actor: str, client_id: str, now: datetime | None) -> None:
        self.session, self.signer, self.body, self.items, self.batch, self.schema = (
            session, signer, body, items, batch, schema)
        self.public_url, self.actor, self.client_id, self.now = public_url, actor, client_id, now
        self.results: list[Result | None] = [None] * len(items)
        self.start = 0
        self.accepted: list[_Accepted] = []
        self.replays: list[tuple[int, _Accepted]] = []  # a key repeated in the batch, for the same request
        self.clashes: list[tuple[int, list[dict], dict, dict]] = []  # offsets an earlier item of the run took
        self.claimed: dict[tuple, _Accepted] = {}
        self.seen = self._stored_keys()  # key → (request hash, Certificate or _Accepted)
        self._read_bases()

    def _stored_keys(self) -> dict:
        keys = list({raw["idempotencyKey"] for raw in self.items if isinstance(raw, dict)
                     and isinstance(raw.get("idempotencyKey"), str) and 0 < len(raw["idempotencyKey"]) <= 200})
        found = {}
        for chunk in _chunks(keys):
            found.update({row.key: (row.request_hash, row.certificate_id) for row in self.session.execute(
                select(IdempotencyKey.key, IdempotencyKey.request_hash, IdempotencyKey.certificate_id)
                .where(IdempotencyKey.client_id == self.client_id, IdempotencyKey.key.in_(chunk)))})
        certs = {}
        for chunk in _chunks(list({cid for _, cid in found.values()})):
            certs.update({c.id: c for c in self.session.scalars(select(Certificate).where(Certificate.id.in_(chunk)))})
        return {key: (digest, certs[cid]) for key, (digest, cid) in found.items()}

    def _read_bases(self) -> None:
        """Certificates named in ``basedOn``, read at once into the session (``_basis_records`` finds them there)."""
        ids = {str(i).removeprefix("urn:uuid:") for raw in self.items if isinstance(raw, dict)
               and isinstance(raw.get("basedOn"), list) for i in raw["basedOn"] if isinstance(i, str)}
        for chunk in _chunks([i for i in ids if len(i) <= 36]):
            self.session.scalars(select(Certificate).where(Certificate.id.in_(chunk))).all()

    def check(self, i: int, key: str | None, digest: str | None, data: dict) -> None:
        """Every rule :func:`issue` applies, in its order; an accepted item joins the run."""
        now = self.now or utcnow()
        try:
            checked = _check(self.session, self.body, data, now, self.batch)
            used = _offsets_used(self.session, checked.offsets)
            keys = [offset_key(o) for o in checked.offsets]
            taken = {k: self.claimed[k] for k in keys if k in self.claimed}
            if taken:  # refused once the earlier item has its number, which the refusal may name
                self.clashes.append((i, checked.offsets, used, taken))
                return
            check_offsets_unused(checked.offsets, used)
            _key(self.session, self.body, self.batch)
        except RegistryError as err:
            self.results[i] = Result(err.status, problem=_problem(err))
            return
        item = _Accepted(i, key, digest, data, checked, now)
        self.accepted.append(item)
        self.claimed.update(dict.fromkeys(keys, item))
        if key:
            self.seen[key] = (digest, item)

    def write(self, end: int) -> None:
        """Number, sign and store the accepted items before ``end``; then start a new run at ``end``."""
        if self.accepted:
            try:
                with self.session.begin_nested():
                    certs = _write_accepted(self.session, self.signer, self.body, self.accepted, self.batch,
                                            public_url=self.public_url, actor=self.actor, client_id=self.client_id)
            except IntegrityError:
                self.batch.lists.forget()
                self._one_by_one(end)
            else:
                for item, cert in zip(self.accepted, certs):
                    item.cert = cert
                    self.results[item.index] = Result(201, certificate=cert)
                    if item.key:
                        self.seen[item.key] = (item.digest, cert)
                for i, item in self.replays:
                    self.results[i] = Result(201, certificate=item.cert, replayed=True)
                for i, offsets, used, taken in self.clashes:
                    try:
                        check_offsets_unused(offsets, {**used, **{k: item.cert.number for k, item in taken.items()}})
                    except Conflict as err:
                        self.results[i] = Result(err.status, problem=_problem(err))
        self.start = end
        self.accepted, self.replays, self.clashes, self.claimed = [], [], [], {}

    def _one_by_one(self, end: int) -> None:
        """The run again, item by item in savepoints, as a concurrent writer changed what it was checked against."""
        self.seen = {k: v for k, v in self.seen.items() if not isinstance(v[1], _Accepted)}
        for i in range(self.start, end):
            raw = self.items[i]
            self.results[i] = result = _issue_item(self.session, self.signer, self.body, raw, self.schema, self.batch,
                                                   public_url=self.public_url, actor=self.actor,
                                                   client_id=self.client_id, now=self.now)
            key = raw.get("idempotencyKey") if isinstance(raw, dict) else None
            if result.certificate is not None and key:
                self.seen[key] = (request_hash({k: v for k, v in raw.items() if k != "idempotencyKey"}),
                                  result.certificate)


def _chunks(values: list, size: int = 500):
    for n in range(0, len(values), size):
        yield values[n:n + size]


_CERTIFICATES, _BASES, _OFFSETS = Certificate.__table__, CertificateBasis.__table__, Offset.__table__
_KEYS, _AUDIT, _OUTBOX = IdempotencyKey.__table__, AuditEntry.__table__, OutboxEvent.__table__
_OFFSET_COLUMNS = {a.key: a.columns[0].key for a in sa_inspect(Offset).column_attrs}


def _write_accepted(session: Session, signer: Signer, body: Body, accepted: list[_Accepted], batch: BatchContext, *,
                    public_url: str, actor: str, client_id: str) -> list[Certificate]:
    """Number (one counter update per year), allocate status entries, sign, and insert every row
    :func:`issue` would, table by table; returns the certificates, persistent in ``session``."""
    last: dict[int, int] = {}
    for item in accepted:
        last[item.now.year] = last.get(item.now.year, 0) + 1
    for year, count in last.items():
        last[year] = _reserve_numbers(session, body, year, count) - count
    key = _key(session, body, batch)
    rows, updated = [], utcnow()
    for item in accepted:
        year = item.now.year
        last[year] += 1
        r_list, r_index = statuslists.allocate(session, "revocation", batch=batch.lists)
        s_list, s_index = statuslists.allocate(session, "suspension", batch=batch.lists)
        row = _signed(signer, body, item.data, item.checked, cert_id=new_id(), number=_number(body, year, last[year]),
                      statuses=(r_list, r_index, s_list, s_index), key=key, public_url=public_url, now=item.now)
        row.update(number_key=number_key(row["number"]), status_reason=None, suspended_by=None, updated_at=updated)
        rows.append(row)
    certs = []
    for row in rows:
        # As if just loaded (values set without change events): the outbox and the answer read them
        # without a query. They join the session once every row is written.
        cert = Certificate()
        cert.__dict__.update(row)
        make_transient_to_detached(cert)
        set_committed_value(cert, "body", body)
        certs.append(cert)
    indices = tlog.append_many(session, [tlog.build_event("certificate.issued", certificate=cert, now=item.now)
                                         for item, cert in zip(accepted, certs)])
    for row, cert, index in zip(rows, certs, indices):
        row["log_index"] = cert.__dict__["log_index"] = index
    conn = session.connection()
    conn.execute(_CERTIFICATES.insert(), rows)
    bases = [{"certificate_id": cert.id, "based_on_id": r.certificate_id}
             for item, cert in zip(accepted, certs) for r in item.checked.records]
    if bases:
        conn.execute(_BASES.insert(), bases)
    offsets = [_offset_row(o, cert.id) for item, cert in zip(accepted, certs) for o in item.checked.offsets]
    if offsets:
        conn.execute(_OFFSETS.insert(), [{_OFFSET_COLUMNS[k]: v for k, v in row.items()} for row in offsets])
    keys = [{"client_id": client_id, "key": item.key, "request_hash": item.digest, "certificate_id": cert.id,
             "created_at": utcnow()} for item, cert in zip(accepted, certs) if item.key]
    if keys:
        conn.execute(_KEYS.insert(), keys)
    request_id = audit._request_id()
    conn.execute(_AUDIT.insert(), [
        {"at": utcnow(), "actor": actor, "action": "certificate.issued", "target_type": "certificate",
         "target_id": cert.id, "reason": None, "details": {},
         "request_id": request_id} for item, cert in zip(accepted, certs)])
    conn.execute(_OUTBOX.insert(), [outbox.event_row(cert, "issued") for cert in certs])
    for cert in certs:
        session.add(cert)
    return certs


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
        try:
            with session.begin_nested():
                cert = issue(session, signer, body, data, public_url=public_url, actor=actor, now=now, batch=batch)
                if key:
                    remember_idempotency(session, client_id, key, digest, cert)
        except Exception:
            batch.lists.forget()  # the savepoint rolled back, and any list lock first taken in it
            raise
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
