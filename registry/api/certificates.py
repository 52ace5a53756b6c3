"""Issuing and managing certificates; public reads and search."""

from __future__ import annotations

import base64
import json

from flask import current_app, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from verifier import grading

from ..auth import current_principal, require
from ..db import get_session
from ..errors import Conflict, InvalidInput, NotAccredited, NotFound
from ..http import json_body, limiter
from ..models import Certificate, utcnow
from ..schemas.certificates import (ISSUE_EXAMPLE, CertificateIn, CertificateIssuedOut, CertificatePublicOut,
                                    CertificateStatusChangeIn)
from ..schemas.common import KINDS, shared
from ..services import accreditation, issuing, lookup, revocation
from .. import tlog
from . import bp, doc

FILTERS = {"gtin": Certificate.gtin, "manufacturer": Certificate.manufacturer_id, "category": Certificate.category_code,
           "type": Certificate.type, "status": Certificate.status, "body": Certificate.body_id,
           "number": Certificate.number}


SEARCH_PARAMS = {"type": {"type": "string", "enum": list(KINDS)},
                 "status": {"type": "string", "enum": ["active", "suspended", "revoked"]},
                 "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}}


def _public_url() -> str:
    return current_app.config["PUBLIC_URL"]


def _out(cert: Certificate, schema=CertificatePublicOut) -> dict:
    cert.public_url = _public_url()
    return shared(schema).dump(cert)


def _issued(cert: Certificate) -> dict:
    out = _out(cert, CertificateIssuedOut)
    out["log"] = tlog.certificate_claim(get_session(), cert.id)
    return out


@bp.post("/certificates")
@doc(body=CertificateIn, response=CertificateIssuedOut, status=201, auth="body", tags=["certification body"],
     example=ISSUE_EXAMPLE,
     params=[{"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"}}],
     responses={403: "not-accredited / out-of-scope", 409: "offset-already-used",
                422: "field errors, benchmark-not-met, insufficient-baseline, insufficient-offsets"})
@require("body")
def issue_certificate():
    """Issue one certificate, signed with the body's current key."""
    principal = current_principal()
    raw = json_body()
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= 200):
        raise InvalidInput("Idempotency-Key must be 1 to 200 characters", type="invalid-idempotency-key")
    digest = issuing.request_hash(raw)
    session = get_session()
    if key:
        earlier = issuing.find_idempotent(session, principal.client_id, key, digest)
        if earlier is not None:
            return _issued(earlier), 201, {"Idempotent-Replayed": "true"}
    data = shared(CertificateIn).load(raw)
    body = accreditation.get_body(session, principal.body_id)
    cert = issuing.issue(session, current_app.extensions["registry.signer"], body, data, public_url=_public_url(),
                         actor=principal.actor)
    if key:
        issuing.remember_idempotency(session, principal.client_id, key, digest, cert)
    try:
        session.commit()
    except IntegrityError as err:
        session.rollback()
        if key:  # a concurrent retry with the same key won the race: answer with its certificate
            earlier = issuing.find_idempotent(session, principal.client_id, key, digest)
            if earlier is not None:
                return _issued(earlier), 201, {"Idempotent-Replayed": "true"}
        if "offsets" in str(err.orig).lower():
            raise Conflict("An offset in this request already backs another certificate",
                           type="offset-already-used") from err
        raise
    return _issued(cert), 201, {"Location": url_for("api.get_certificate", cert_id=cert.id)}


BATCH_BODY = {"type": "object", "required": ["items"], "additionalProperties": False,
              "properties": {"items": {"type": "array", "minItems": 1, "maxItems": 1000,
                                       "description": "issuance requests as for POST /certificates, each with an "
                                                      "optional idempotencyKey",
                                       "items": {"type": "object"}}}}


@bp.post("/certificates/batch")
@doc(body=BATCH_BODY, auth="body", tags=["certification body"],
     responses={200: "one result per item, in input order: status 201 with certificate, or 4xx with problem",
                422: "invalid-batch (items missing, not a list, or more than 1,000)"})
@require("body")
def issue_certificate_batch():
    """Issue up to 1,000 certificates; each item succeeds or fails on its own, one commit for all."""
    # From the parse of the body on. What the batch holds (tens of thousands of containers) is
    # freed as _batch returns, before the collector resumes, so that it does not walk it once more.
    with issuing.cycle_collection_paused():
        return _batch(current_principal())


def _batch(principal):
    raw = json_body()
    unknown = set(raw) - {"items"}
    if unknown:
        raise InvalidInput("Unknown fields", errors={k: ["Unknown field."] for k in sorted(unknown)})
    session = get_session()
    body = accreditation.get_body(session, principal.body_id)
    results = issuing.issue_batch(session, current_app.extensions["registry.signer"], body, raw.get("items"),
                                  public_url=_public_url(), actor=principal.actor, client_id=principal.client_id)
    session.commit()
    # One checkpoint covers every item, instead of one signed per item for trees one entry longer each.
    claims = tlog.certificate_claims(session, [r.certificate.id for r in results if r.certificate is not None])
    dumper, out, public_url = shared(CertificateIssuedOut), [], _public_url()
    for result in results:
        item = {"status": result.status}
        if result.certificate is not None:
            result.certificate.public_url = public_url
            item["certificate"] = dumper.dump(result.certificate)
            item["certificate"]["log"] = claims[result.certificate.id]
        if result.problem is not None:
            item["problem"] = {**result.problem, "instance": request.path}
        out.append(item)
    return current_app.json.response({"results": out})


@bp.get("/certificates/<cert_id>")
@limiter.limit(lambda: current_app.config["RATELIMIT_PUBLIC"])
@doc(response=CertificatePublicOut, tags=["public"])
def get_certificate(cert_id: str):
    """What a certificate discloses, with its current status (by id, or by number)."""
    cert = lookup.for_reading(get_session(), cert_id)
    return _out(cert), 200, {"Cache-Control": f"public, max-age={current_app.config['VERIFY_CACHE_SECONDS']}"}


def _cursor_decode(value: str) -> int:
    try:
        index = json.loads(base64.urlsafe_b64decode(value.encode() + b"==").decode())
        if type(index) is not int or not 0 <= index < 2**63:
            raise ValueError("a cursor holds a log index")
        return index
    except (ValueError, TypeError, OverflowError, RecursionError) as err:
        raise InvalidInput("The cursor is not one this API returned", type="invalid-cursor",
                           errors={"cursor": ["Invalid cursor."]}) from err


def _cursor_encode(cert: Certificate) -> str:
    return base64.urlsafe_b64encode(json.dumps(cert.log_index).encode()).rstrip(b"=").decode()


def search_statement(filters: dict[str, str], after: int | None, limit: int, now=None):
    """Newest first, ``after`` a log-index cursor: each filter has an index ending in
    ``log_index``, so a page is read in index order (tests/registry/test_search_plans.py)."""
    query = select(Certificate)
    for name, value in filters.items():
        if name == "status":  # as readers see it: expiry is derived from validUntil
            query = query.where(*lookup.status_filter(value, now or utcnow()))
            continue
        query = query.where(FILTERS[name] == (value.zfill(14) if name == "gtin" else value))
    if after is not None:
        query = query.where(Certificate.log_index < after)
    return query.order_by(Certificate.log_index.desc()).limit(limit)


@bp.get("/certificates")
@limiter.limit(lambda: current_app.config["RATELIMIT_PUBLIC"])
@doc(response=CertificatePublicOut(many=True), tags=["public"],
     params=[{"name": n, "in": "query", "required": False, "schema": SEARCH_PARAMS.get(n, {"type": "string"})}
             for n in (*FILTERS, "limit", "cursor")])
def search_certificates():
    """Search certificates (newest first, stable order), paginated by an opaque cursor."""
    args = request.args
    unknown = set(args) - set(FILTERS) - {"limit", "cursor"}
    if unknown:
        raise InvalidInput("Unknown query parameters", errors={k: ["Unknown parameter."] for k in sorted(unknown)})
    try:
        limit = int(args.get("limit", 50))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 200:
        raise InvalidInput("limit must be 1 to 200", errors={"limit": ["Must be 1 to 200."]})
    filters = {name: args[name] for name in FILTERS if args.get(name)}
    after = _cursor_decode(args["cursor"]) if args.get("cursor") else None
    rows = get_session().scalars(search_statement(filters, after, limit + 1)).all()
    page = rows[:limit]
    out = {"items": [_out(c) for c in page], "next": None}
    if len(rows) > limit:
        params = {k: v for k, v in args.items() if k != "cursor"}
        out["next"] = url_for("api.search_certificates", **params, cursor=_cursor_encode(page[-1]), _external=False)
    return out


def _status_change(cert_id: str, action: str):
    principal = current_principal()
    data = CertificateStatusChangeIn().load(json_body())
    session = get_session()
    cert = revocation.get_certificate(session, cert_id)
    revocation.authorise(cert, principal.role, principal.body_id)
    if principal.role == "body" and cert.body.status == "withdrawn":
        raise NotAccredited("A withdrawn body can no longer change certificates; the operator can")
    if principal.role == "body" and action == "reinstate" and cert.body.status != "active":
        # A suspended body may still suspend or revoke (protective), not vouch for a certificate again.
        raise NotAccredited(f"The certification body is {cert.body.status}; it cannot reinstate certificates")
    revocation.change_status(session, cert, action, data["reason"], actor=principal.actor)
    session.commit()
    return _out(cert)


@bp.post("/certificates/<cert_id>/suspend")
@doc(body=CertificateStatusChangeIn, response=CertificatePublicOut, auth="body or operator", tags=["certification body"],
     responses={403: "not-your-certificate / not-accredited", 409: "invalid-transition"})
@require("body", "operator")
def suspend_certificate(cert_id: str):
    """Suspend a certificate (the issuing body or the operator)."""
    return _status_change(cert_id, "suspend")


@bp.post("/certificates/<cert_id>/reinstate")
@doc(body=CertificateStatusChangeIn, response=CertificatePublicOut, auth="body or operator", tags=["certification body"],
     responses={403: "not-your-certificate / suspended-by-operator / not-accredited", 409: "invalid-transition / "
                "basis-not-active"})
@require("body", "operator")
def reinstate_certificate(cert_id: str):
    """Lift a suspension."""
    return _status_change(cert_id, "reinstate")


@bp.post("/certificates/<cert_id>/revoke")
@doc(body=CertificateStatusChangeIn, response=CertificatePublicOut, auth="body or operator", tags=["certification body"],
     responses={403: "not-your-certificate / not-accredited", 409: "invalid-transition"})
@require("body", "operator")
def revoke_certificate(cert_id: str):
    """Revoke a certificate for good; certificates based on it are suspended."""
    return _status_change(cert_id, "revoke")


@bp.get("/grading-schemes")
@doc(tags=["public"])
def list_grading_schemes():
    """Grading schemes (data, versioned)."""
    return {"items": grading.list_schemes()}


@bp.get("/grading-schemes/<scheme_id>")
@doc(tags=["public"])
def get_grading_scheme(scheme_id: str):
    """The latest version of a grading scheme."""
    return _scheme(scheme_id, None)


@bp.get("/grading-schemes/<scheme_id>/versions/<version>")
@doc(tags=["public"])
def get_grading_scheme_version(scheme_id: str, version: str):
    """One version of a grading scheme, as credentials name it."""
    return _scheme(scheme_id, version)


def _scheme(scheme_id: str, version: str | None):
    try:
        scheme = grading.load_scheme(scheme_id, version)
    except grading.UnknownScheme as err:
        raise NotFound(f"No grading scheme {scheme_id} {version or ''}".strip(), type="scheme-not-found") from err
    return scheme, 200, {"Cache-Control": "public, max-age=86400"}
