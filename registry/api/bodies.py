"""Operator endpoints: product categories, certification bodies, accreditation and keys."""

from __future__ import annotations

from flask import current_app, request, url_for
from sqlalchemy import select

from ..auth import current_principal, require
from ..db import get_session
from ..errors import NotFound
from ..models import Body, Category
from ..http import json_body
from ..models import AuditEntry
from ..schemas.bodies import (AccreditationIn, AccreditationQuery, AuditQuery, BodyCreatedOut, BodyIn, BodyPublicOut,
                              CategoryIn, CategoryOut, ReasonIn, RotateIn)
from ..schemas.common import format_time, validate_code
from ..services import accreditation as svc, audit
from . import bp, doc


def _signer():
    return current_app.extensions["registry.signer"]


def _public_url() -> str:
    return current_app.config["PUBLIC_URL"]


@bp.put("/categories/<code>")
@doc(body=CategoryIn, response=CategoryOut, auth="operator", tags=["operator"], responses={201: "Created"},
     example={"name": "General Portland cement", "nameZh": "通用硅酸盐水泥", "declaredUnitOfMeasurement": "kilogram",
              "benchmark": {"value": "0.90", "standard": "T/CCMA 0001-2025", "source": "demo"}})
@require("operator")
def put_category(code: str):
    """Create or replace a product category and its low-carbon benchmark."""
    validate_code(code)
    data = CategoryIn().load(json_body())
    session = get_session()
    category, created = svc.put_category(session, code, data, actor=current_principal().actor)
    session.commit()
    return CategoryOut().dump(category), 201 if created else 200


@bp.get("/categories")
@doc(response=CategoryOut(many=True), tags=["public"])
def list_categories():
    """Product categories with their declared unit and benchmark."""
    rows = get_session().scalars(select(Category).order_by(Category.code)).all()
    return {"items": CategoryOut(many=True).dump(rows)}


@bp.get("/categories/<code>")
@doc(response=CategoryOut, tags=["public"])
def get_category(code: str):
    """One product category."""
    category = get_session().get(Category, code)
    if category is None:
        raise NotFound(f"No product category {code!r}", type="category-not-found")
    return CategoryOut().dump(category)


def _dump_body(body: Body) -> dict:
    body.did = svc.body_did(_public_url(), body.id)
    return BodyPublicOut().dump(body)


@bp.post("/bodies")
@doc(body=BodyIn, response=BodyCreatedOut, status=201, auth="operator", tags=["operator"],
     example={"name": "Example Certification Centre", "nameZh": "示例认证中心", "country": "CN",
              "accreditation": {"number": "CNCA-R-2025-001", "validFrom": "2025-01-01T00:00:00Z",
                                "validUntil": "2030-12-31T23:59:59Z",
                                "scope": {"certificateTypes": ["carbon-footprint", "low-carbon"],
                                          "productCategories": ["cement"]}}})
@require("operator")
def create_body():
    """Accredit a certification body; the response holds its client secret, shown only once."""
    data = BodyIn().load(json_body())
    session = get_session()
    body, client, secret = svc.create_body(session, _signer(), data, public_url=_public_url(),
                                           actor=current_principal().actor,
                                           algorithm=current_app.config["BODY_KEY_ALGORITHM"])
    session.commit()
    out = {"id": body.id, "did": svc.body_did(_public_url(), body.id), "code": body.code,
           "clientId": client.client_id, "clientSecret": secret}
    return BodyCreatedOut().dump(out), 201, {"Location": url_for("api.get_body", body_id=body.id),
                                             "Cache-Control": "no-store"}


@bp.get("/bodies")
@doc(response=BodyPublicOut(many=True), tags=["public"])
def list_bodies():
    """Certification bodies with their accreditation history and keys."""
    rows = get_session().scalars(select(Body).order_by(Body.created_at, Body.id)).all()
    return {"items": [_dump_body(b) for b in rows]}


@bp.get("/bodies/<body_id>")
@doc(response=BodyPublicOut, tags=["public"])
def get_body(body_id: str):
    """One certification body with its accreditation history, interruptions and keys."""
    return _dump_body(svc.get_body(get_session(), body_id))


def _transition(body_id: str, action):
    data = ReasonIn().load(json_body())
    session = get_session()
    body = action(session, svc.get_body(session, body_id), data["reason"], actor=current_principal().actor)
    session.commit()
    return _dump_body(body)


@bp.post("/bodies/<body_id>/suspend")
@doc(body=ReasonIn, response=BodyPublicOut, auth="operator", tags=["operator"], responses={409: "invalid-transition"})
@require("operator")
def suspend_body(body_id: str):
    """Suspend a body's accreditation; it can issue nothing until reinstated."""
    return _transition(body_id, svc.suspend_body)


@bp.post("/bodies/<body_id>/reinstate")
@doc(body=ReasonIn, response=BodyPublicOut, auth="operator", tags=["operator"], responses={409: "invalid-transition"})
@require("operator")
def reinstate_body(body_id: str):
    """End a suspension."""
    return _transition(body_id, svc.reinstate_body)


@bp.post("/bodies/<body_id>/withdraw")
@doc(body=ReasonIn, response=BodyPublicOut, auth="operator", tags=["operator"], responses={409: "invalid-transition"})
@require("operator")
def withdraw_body(body_id: str):
    """Withdraw a body's accreditation for good; its clients are disabled."""
    return _transition(body_id, svc.withdraw_body)


@bp.post("/bodies/<body_id>/accreditations")
@doc(body=AccreditationIn, response=BodyPublicOut, status=201, auth="operator", tags=["operator"])
@require("operator")
def add_accreditation(body_id: str):
    """Record a renewal or change of scope; earlier decisions remain as history."""
    data = AccreditationIn().load(json_body())
    session = get_session()
    body = svc.get_body(session, body_id)
    svc.add_accreditation(session, body, data, actor=current_principal().actor)
    session.commit()
    return _dump_body(body), 201


@bp.post("/bodies/<body_id>/keys/rotate")
@doc(body=RotateIn, status=201, auth="operator", tags=["operator"], responses={409: "body-withdrawn / no-active-key"})
@require("operator")
def rotate_key(body_id: str):
    """Retire the body's current key (it stays published) and activate a new one."""
    data = RotateIn().load(json_body()) if request.content_length else {}
    session = get_session()
    body = svc.get_body(session, body_id)
    key = svc.rotate_key(session, _signer(), body, public_url=_public_url(), actor=current_principal().actor,
                         algorithm=data.get("algorithm"), reason=data.get("reason"))
    session.commit()
    return {"kid": key.kid, "alg": key.algorithm, "activeFrom": key.active_from.strftime("%Y-%m-%dT%H:%M:%SZ")}, 201


@bp.get("/bodies/<body_id>/accreditation")
@doc(tags=["public"], params=[
    {"name": "at", "in": "query", "required": True, "schema": {"type": "string", "format": "date-time"}},
    {"name": "type", "in": "query", "required": True, "schema": {"type": "string"}},
    {"name": "category", "in": "query", "required": True, "schema": {"type": "string"}}])
def accreditation_at(body_id: str):
    """Was the body entitled to certify this kind × category at that moment? Answered from the history."""
    query = AccreditationQuery().load(request.args.to_dict())
    body = svc.get_body(get_session(), body_id)
    ok, refusal = svc.accredited_at(body, query["at"], query["type"], query["category"])
    return {"bodyId": body.id, "at": format_time(query["at"]), "type": query["type"],
            "category": query["category"], "accredited": ok, "reason": refusal}


@bp.get("/audit")
@doc(auth="operator", tags=["operator"], params=[
    {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
    for n in ("target", "action", "before", "limit")])
@require("operator")
def audit_log():
    """The append-only audit trail, newest first (``before`` pages by entry id)."""
    query = AuditQuery().load(request.args.to_dict())
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(query["limit"])
    if query.get("target"):
        stmt = stmt.where(AuditEntry.target_id == query["target"])
    if query.get("action"):
        stmt = stmt.where(AuditEntry.action == query["action"])
    if query.get("before"):
        stmt = stmt.where(AuditEntry.id < query["before"])
    session = get_session()
    rows = session.scalars(stmt).all()
    return {"items": [{"id": e.id, "at": format_time(e.at), "actor": e.actor, "action": e.action,
                       "targetType": e.target_type, "targetId": e.target_id, "reason": e.reason,
                       "details": details, "requestId": e.request_id}
                      for e, details in zip(rows, audit.details(session, rows))],
            "next": f"/api/v1/audit?before={rows[-1].id}&limit={query['limit']}" if len(rows) == query["limit"] else None}
