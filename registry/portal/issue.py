"""Issuing from forms, through ``CertificateIn`` and ``services.issuing`` like the API.

Preview runs the real issuance inside a SAVEPOINT and rolls it back, so what the person checks
(grade, reduction tier or neutrality level, label) is what signing will produce, and every
rule refusal shows before anything is stored. A one-time form token is the idempotency key:
submitting the same form twice issues once.
"""

from __future__ import annotations

import base64
import secrets

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import labels
from ..db import get_session
from ..errors import RegistryError
from ..http import _flatten
from ..models import Body, Category, Certificate
from ..schemas.certificates import (BOUNDARIES, CROSS_SECTORAL_STANDARDS, DECLARED_UNITS, GASES, KINDS,
                                    OFFSET_KINDS, STAGES, CertificateIn)
from ..schemas.common import shared
from ..services import issuing
from . import accounts, bp
from .access import own_certificate, roles
from .filters import BOUNDARY_NAMES, UNIT_NAMES
from .fields import FOOTPRINT, NEUTRAL, OFFSET_FIELDS, PRODUCT, flatten, resolve, unflatten
from .messages import translate, translate_errors

BODY_ROLES = ("body-admin", "certifier")
MIN_OFFSET_ROWS = 2
GROUPS = {"product", "product.manufacturer", "footprint", "footprint.stages", "footprint.gases", "basedOn",
          "offsets", "validUntil", "supersedes", "type"}


def idempotency_client(body_id: str) -> str:
    """The idempotency namespace of a body's people (never equal to an OAuth client id)."""
    return f"portal:{body_id}"


def _signer():
    return current_app.extensions["registry.signer"]


def _public_url() -> str:
    return current_app.config["PUBLIC_URL"]


def _body() -> Body:
    body = get_session().get(Body, current_user.body_id)
    if body is None:
        abort(404)
    return body


def _fields_for(kind: str, offset_rows: int) -> list[str]:
    names = ["type", *PRODUCT]
    if kind != "reduced-carbon":
        names += FOOTPRINT
    if kind in ("reduced-carbon", "carbon-neutral"):
        names.append("basedOn")
    if kind == "carbon-neutral":
        names += NEUTRAL
        names += [f"offsets.{i}.{f}" for i in range(offset_rows) for f in OFFSET_FIELDS]
    return [*names, "validUntil", "supersedes"]


def _offset_rows(flat: dict) -> int:
    used = {int(k.split(".")[1]) for k, v in flat.items() if k.startswith("offsets.") and v}
    return max(MIN_OFFSET_ROWS, (max(used) + 1) if used else 0)


def _read_form(kind: str) -> dict[str, str]:
    form = request.form
    flat = {k: form.get(k, "") for k in form if k.startswith(("product.", "footprint.", "offsets.")) or k in
            ("coveredQuantity", "renewableElectricityShare", "validUntil", "supersedes")}
    picked = form.getlist("basedOn")
    if len(picked) == 1 and ";" in picked[0]:
        picked = picked[0].split(";")
    flat["basedOn"] = ";".join(p for p in picked if p)
    return flat


def _defaults(kind: str) -> dict[str, str]:
    if kind not in ("carbon-footprint", "low-carbon"):
        return {}
    return {"footprint.declaredUnitOfMeasurement": "kilogram", "footprint.declaredUnitAmount": "1",
            "footprint.boundary": "cradle-to-gate", "footprint.ipccCharacterizationFactors": "AR6",
            "footprint.crossSectoralStandards": "ISO14067;GB/T24067"}


def _candidates(body: Body, category: str | None) -> list[Certificate]:
    q = (select(Certificate).where(Certificate.body_id == body.id, Certificate.type == "carbon-footprint",
                                   Certificate.status == "active")
         .order_by(Certificate.log_index.desc()).limit(60))
    if category:
        q = q.where(Certificate.category_code == category)
    return get_session().scalars(q).all()


def _render_form(kind: str, flat: dict, errors: dict, token: str, status: int = 200, focus: str | None = None,
                 rows: int | None = None):
    body = _body()
    categories = get_session().scalars(select(Category).order_by(Category.code)).all()
    rows = rows or _offset_rows(flat)
    return render_template(
        "portal/issue_form.html", kind=kind, v=flat, errors=errors, token=token, focus=focus,
        category_options=[(c.code, f"{c.name_zh or c.name} ({c.code})" if _lang() == "zh" else f"{c.name} ({c.code})")
                          for c in categories],
        unit_options=[(u, str(UNIT_NAMES.get(u, u))) for u in DECLARED_UNITS],
        boundary_options=[(b, str(BOUNDARY_NAMES.get(b, b))) for b in BOUNDARIES],
        categories=categories, candidates=_candidates(body, flat.get("product.category")),
        picked=set(filter(None, flat.get("basedOn", "").split(";"))), offset_rows=rows,
        units=DECLARED_UNITS, boundaries=BOUNDARIES, standards=CROSS_SECTORAL_STANDARDS, stages=STAGES,
        gases=GASES, offset_kinds=OFFSET_KINDS, body=body), status


def field_errors(err: Exception, known: set[str], *, translated: bool = True) -> dict[str, list[str]]:
    """A ValidationError or RegistryError as messages per form field, in the reader's language
    (or as the rules wrote them, for storing: ``translated=False``)."""
    if isinstance(err, ValidationError):
        messages = err.messages if isinstance(err.messages, dict) else {"_schema": err.messages}
        raw = _flatten(messages)
        detail = None
    else:
        raw = dict(err.extra.get("errors") or {})
        detail = err.detail
    kind = getattr(err, "type", None)
    out: dict[str, list[str]] = {}
    for path, msgs in (translate_errors(raw, kind) if translated else raw).items():
        out.setdefault(resolve(path, known), []).extend(msgs)
    if not out and detail:
        out["_form"] = [translate(detail, kind) if translated else detail]
    return out


def validate(kind: str, flat: dict) -> tuple[dict | None, dict, dict]:
    """(loaded request or None, raw request, errors)."""
    raw = {"type": kind, **unflatten({k: v for k, v in flat.items() if k != "type"})}
    known = set(_fields_for(kind, _offset_rows(flat))) | GROUPS
    try:
        return shared(CertificateIn).load(raw), raw, {}
    except ValidationError as err:
        return None, raw, field_errors(err, known)


def dry_run(body: Body, data: dict, lang: str) -> dict:
    """Issue inside a savepoint and roll back: the grade and label signing would give."""
    db = get_session()
    nested = db.begin_nested()
    try:
        cert = issuing.issue(db, _signer(), body, data, public_url=_public_url(), actor=accounts.actor(current_user))
        from ..api.labels import label_data

        rendered = labels.render_label(label_data(cert), fmt="svg", lang="zh" if lang == "zh" else "en")
        out = {"grade": cert.grade, "subject": cert.subject, "pcf": cert.pcf,
               "label": "data:image/svg+xml;base64," + base64.b64encode(rendered.content).decode(),
               "warnings": rendered.warnings}
    finally:
        nested.rollback()
    return out


@bp.get("/issue")
@roles(*BODY_ROLES)
def issue_start():
    return render_template("portal/issue_start.html", kinds=KINDS, errors={})


@bp.get("/issue/<any(" + ", ".join(f"'{k}'" for k in KINDS) + "):kind>")
@roles(*BODY_ROLES)
def issue_form(kind: str):
    flat = _defaults(kind)
    source = request.args.get("correct")
    if source:
        cert = own_certificate(source)
        if cert.type != kind:
            abort(404)
        flat = _correction(cert)
    return _render_form(kind, flat, {}, secrets.token_urlsafe(18))


def _correction(cert: Certificate) -> dict[str, str]:
    subject = cert.subject
    flat = flatten({"product": subject.get("product", {}), "footprint": subject.get("footprint", {})})
    based = (subject.get("reduction") or {}).get("basedOn") or (subject.get("neutrality") or {}).get("basedOn")
    if based:
        flat["basedOn"] = ";".join(str(b).removeprefix("urn:uuid:") for b in based)
    if cert.type == "reduced-carbon":
        flat = {k: v for k, v in flat.items() if not k.startswith("footprint.")}
    flat["validUntil"] = cert.valid_until.strftime("%Y-%m-%d")
    flat["supersedes"] = cert.id
    return flat


@bp.post("/issue/<any(" + ", ".join(f"'{k}'" for k in KINDS) + "):kind>")
@roles(*BODY_ROLES)
def issue_submit(kind: str):
    flat = _read_form(kind)
    token = request.form.get("form_token") or secrets.token_urlsafe(18)
    action = request.form.get("action", "preview")
    if action == "add-offset":
        rows = _requested_rows(flat) + 1
        return _render_form(kind, flat, {}, token, focus=f"offsets.{rows - 1}.registry", rows=rows)
    if action.startswith("edit:"):
        return _render_form(kind, flat, {}, token, focus=action[5:])
    if action == "refresh":
        return _render_form(kind, flat, {}, token)
    body = _body()
    data, raw, errors = validate(kind, flat)
    known = set(_fields_for(kind, _offset_rows(flat))) | GROUPS
    if errors:
        return _render_form(kind, flat, errors, token, 400)
    db = get_session()
    if action == "issue":
        client = idempotency_client(body.id)
        digest = issuing.request_hash(raw)
        try:
            earlier = issuing.find_idempotent(db, client, token, digest)
            if earlier is None:
                cert = issuing.issue(db, _signer(), body, data, public_url=_public_url(),
                                     actor=accounts.actor(current_user))
                issuing.remember_idempotency(db, client, token, digest, cert)
                db.commit()
            else:
                cert = earlier
        except IntegrityError:
            db.rollback()
            cert = issuing.find_idempotent(db, client, token, digest)
            if cert is None:
                return _render_form(kind, flat, {"_form": [_("An offset in this request already backs another "
                                                              "certificate.")]}, token, 409)
        except RegistryError as err:
            db.rollback()
            return _render_form(kind, flat, field_errors(err, known), token, err.status)
        flash(_("Certificate %(number)s is issued.", number=cert.number), "success")
        return redirect(url_for("portal.certificate", cert_id=cert.id))
    try:
        preview = dry_run(body, data, _lang())
    except RegistryError as err:
        return _render_form(kind, flat, field_errors(err, known), token, err.status)
    basis = []
    if flat.get("basedOn"):
        ids = [i.removeprefix("urn:uuid:") for i in flat["basedOn"].split(";") if i]
        basis = db.scalars(select(Certificate).where(Certificate.id.in_(ids))).all()
    return render_template("portal/issue_preview.html", kind=kind, v=flat, token=token, preview=preview,
                           basis=basis, errors={}, product_fields=PRODUCT,
                           footprint_fields=[f for f in FOOTPRINT if flat.get(f)],
                           neutral_fields=NEUTRAL, offset_rows=_offset_rows(flat), offset_fields=OFFSET_FIELDS)


def _requested_rows(flat: dict) -> int:
    try:
        wanted = min(int(request.form.get("offset_rows", 0)), 50)
    except ValueError:
        wanted = 0
    return max(wanted, _offset_rows(flat))


def _lang() -> str:
    from .filters import lang

    return lang()
