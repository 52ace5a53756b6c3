"""Body administrators' and the operator's pages: staff, API clients, keys, accreditation,
categories, grading schemes, the audit trail and the registry key. Every change goes through
the services the API uses and writes its audit row with the person's identity."""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta, timezone

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import func, or_, select

from verifier import grading

from .. import auth
from ..db import get_session
from ..errors import RegistryError
from ..http import _flatten
from ..models import AuditEntry, Body, Category, Certificate, OAuthClient, SigningKey, User, utcnow
from ..schemas.bodies import AccreditationIn, BodyIn, CategoryIn
from ..schemas.common import DECLARED_UNITS, KINDS
from ..services import accreditation, audit
from . import accounts, bp
from .access import roles
from .filters import AUDIT_ACTIONS, AUDIT_GROUPS, audit_action
from .messages import translate, translate_errors

AUDIT_PAGE = 50


def _signer():
    return current_app.extensions["registry.signer"]


def _public_url() -> str:
    return current_app.config["PUBLIC_URL"]


def _actor() -> str:
    return accounts.actor(current_user)


def _errors(err: Exception, prefix: str = "f-") -> dict[str, list[str]]:
    if isinstance(err, ValidationError):
        raw = _flatten(err.messages if isinstance(err.messages, dict) else {"_form": err.messages})
    else:
        raw = dict(err.extra.get("errors") or {}) or {"_form": [err.detail]}
    out: dict[str, list[str]] = {}
    for path, messages in translate_errors(raw, getattr(err, "type", None)).items():
        key = "_form" if path == "_form" else prefix + path.replace(".", "-")
        out.setdefault(key, []).extend(messages)
    return out


def _reason() -> tuple[str, dict]:
    reason = (request.form.get("reason") or "").strip()
    if not reason or len(reason) > 500:
        return reason, {"f-reason": [_("Enter the reason (at most 500 characters).")]}
    return reason, {}


def _body_for_admin(body_id: str | None = None) -> Body:
    """The body a person administers: their own, or (operator) any."""
    db = get_session()
    if current_user.role == "operator":
        body = db.get(Body, body_id) if body_id else None
    else:
        body = db.get(Body, current_user.body_id)
    if body is None:
        abort(404)
    return body


# --------------------------------------------------------------------------- a body's own page

def _body_page(body: Body, errors: dict | None = None, shown: dict | None = None, status: int = 200, **extra):
    db = get_session()
    users = db.scalars(select(User).where(User.body_id == body.id).order_by(User.email)).all()
    clients = db.scalars(select(OAuthClient).where(OAuthClient.body_id == body.id).order_by(OAuthClient.id)).all()
    keys = db.scalars(select(SigningKey).where(SigningKey.body_id == body.id).order_by(SigningKey.id)).all()
    history = db.scalars(select(AuditEntry).where(AuditEntry.target_type == "body", AuditEntry.target_id == body.id)
                         .order_by(AuditEntry.id)).all()
    categories = db.scalars(select(Category).order_by(Category.code)).all()
    return render_template("portal/body.html", body=body, users=users, clients=clients, keys=keys, history=history,
                           errors=errors or {}, shown=shown or {}, kinds=KINDS, categories=categories,
                           form=request.form, **extra), status


@bp.get("/body")
@roles("body-admin")
def body_admin():
    return _body_page(_body_for_admin())


@bp.get("/bodies/<body_id>")
@roles("operator")
def body_detail(body_id: str):
    return _body_page(_body_for_admin(body_id))


def _back(body: Body):
    if current_user.role == "operator":
        return redirect(url_for("portal.body_detail", body_id=body.id))
    return redirect(url_for("portal.body_admin"))


def _admin_body_from_form() -> Body:
    return _body_for_admin(request.form.get("body_id") if current_user.role == "operator" else None)


@bp.post("/body/staff/invite")
@roles("body-admin", "operator")
def invite_staff():
    body = _admin_body_from_form() if current_user.role != "operator" or request.form.get("body_id") else None
    role = request.form.get("role", "certifier")
    allowed = accounts.ROLES if current_user.role == "operator" else accounts.BODY_ROLES
    errors = {}
    if role not in allowed:
        errors["f-role"] = [_("Choose a role.")]
    if role in accounts.BODY_ROLES and body is None:
        errors["f-body_id"] = [_("Choose the body.")]
    email = request.form.get("email", "")
    if "@" not in email:
        errors["f-email"] = [_("Enter an email address, like name@example.org.")]
    db = get_session()
    if not errors:
        try:
            invitation, token = accounts.invite(db, email=email, role=role, body_id=body.id if body else None,
                                                by=_actor())
            db.commit()
        except RegistryError as err:
            db.rollback()
            errors = _errors(err)
        else:
            link = f"{_public_url()}{url_for('portal.accept_invite', token=token)}"
            shown = {"invite": link, "invite_email": invitation.email, "invite_expires": invitation.expires_at}
            if body is None:
                return _staff_page(shown=shown)
            return _body_page(body, shown=shown)
    if body is None:
        return _staff_page(errors=errors, status=400)
    return _body_page(body, errors=errors, status=400)


@bp.post("/users/<int:user_id>/<any(disable, enable):action>")
@roles("body-admin", "operator")
def set_user_disabled(user_id: int, action: str):
    db = get_session()
    user = db.get(User, user_id)
    if user is None or (current_user.role != "operator" and user.body_id != current_user.body_id) or \
            user.id == current_user.id:
        abort(404)
    accounts.set_disabled(db, user, action == "disable", by=_actor())
    db.commit()
    flash(_("The account %(email)s is disabled.", email=user.email) if action == "disable"
          else _("The account %(email)s can log in again.", email=user.email), "success")
    if request.form.get("from") == "staff" and current_user.role == "operator":
        return redirect(url_for("portal.staff"))
    return _back(user.body) if user.body else redirect(url_for("portal.staff"))


@bp.post("/body/clients")
@roles("body-admin", "operator")
def create_client():
    body = _admin_body_from_form()
    name = (request.form.get("name") or "").strip()
    if not name or len(name) > 200:
        return _body_page(body, errors={"f-name": [_("Enter a name for the API client, like the system that uses it.")]},
                          status=400)
    db = get_session()
    client, secret = auth.create_client(db, name=name, role="body", body_id=body.id)
    audit.record(db, actor=_actor(), action="client.created", target_type="client", target_id=client.client_id,
                 details={"name": name, "role": "body", "body": body.id})
    db.commit()
    return _body_page(body, shown={"client_id": client.client_id, "client_secret": secret})


def _own_client(client_id: int) -> OAuthClient:
    client = get_session().get(OAuthClient, client_id)
    if client is None or client.role != "body" or (current_user.role != "operator"
                                                    and client.body_id != current_user.body_id):
        abort(404)
    return client


@bp.post("/body/clients/<int:client_id>/rotate")
@roles("body-admin", "operator")
def rotate_client_secret(client_id: int):
    client = _own_client(client_id)
    if client.disabled_at is not None:
        abort(404)
    db = get_session()
    secret = secrets.token_urlsafe(32)
    client.secret_hash = auth.hash_secret(secret)
    audit.record(db, actor=_actor(), action="client.secret-rotated", target_type="client", target_id=client.client_id)
    db.commit()
    return _body_page(client.body, shown={"client_id": client.client_id, "client_secret": secret})


@bp.post("/body/clients/<int:client_id>/disable")
@roles("body-admin", "operator")
def disable_client(client_id: int):
    client = _own_client(client_id)
    db = get_session()
    client.disabled_at = client.disabled_at or utcnow()
    audit.record(db, actor=_actor(), action="client.disabled", target_type="client", target_id=client.client_id)
    db.commit()
    flash(_("The API client %(id)s is disabled.", id=client.client_id), "success")
    return _back(client.body)


@bp.post("/body/keys/rotate")
@roles("body-admin", "operator")
def rotate_body_key():
    body = _admin_body_from_form()
    db = get_session()
    try:
        key = accreditation.rotate_key(db, _signer(), body, public_url=_public_url(), actor=_actor(),
                                       reason=(request.form.get("reason") or "").strip() or None)
        db.commit()
    except RegistryError as err:
        db.rollback()
        return _body_page(body, errors={"_form": [translate(err.detail, err.type)]}, status=err.status)
    flash(_("New signing key %(kid)s is in use; the old one stays published.", kid=key.key_name), "success")
    return _back(body)


# --------------------------------------------------------------------------- operator: bodies

@bp.get("/bodies")
@roles("operator")
def bodies():
    db = get_session()
    rows = db.scalars(select(Body).order_by(Body.name)).all()
    categories = db.scalars(select(Category).order_by(Category.code)).all()
    return render_template("portal/bodies.html", rows=rows, errors={}, form=request.form, kinds=KINDS, categories=categories,
                           shown={})


def _accreditation_input(form) -> dict:
    def when(value: str, end: bool) -> str:
        value = (value or "").strip()
        if len(value) == 10:
            return value + ("T23:59:59Z" if end else "T00:00:00Z")
        return value

    return {"number": form.get("number", "").strip(), "validFrom": when(form.get("validFrom"), False),
            "validUntil": when(form.get("validUntil"), True),
            "scope": {"certificateTypes": form.getlist("certificateTypes"),
                      "productCategories": form.getlist("productCategories")}}


@bp.post("/bodies")
@roles("operator")
def create_body():
    form = request.form
    raw = {"name": form.get("name", "").strip(), "country": form.get("country", "").strip().upper(),
           "accreditation": _accreditation_input(form)}
    for key in ("nameZh", "code"):
        if form.get(key, "").strip():
            raw[key] = form[key].strip()
    db = get_session()
    try:
        data = BodyIn().load(raw)
        body, client, secret = accreditation.create_body(db, _signer(), data, public_url=_public_url(), actor=_actor(),
                                                         algorithm=current_app.config["BODY_KEY_ALGORITHM"])
        db.commit()
    except (ValidationError, RegistryError) as err:
        db.rollback()
        errors = {k.replace("f-accreditation-scope-", "f-").replace("f-accreditation-", "f-"): v
                  for k, v in _errors(err).items()}
        rows = db.scalars(select(Body).order_by(Body.name)).all()
        categories = db.scalars(select(Category).order_by(Category.code)).all()
        return render_template("portal/bodies.html", rows=rows, errors=errors, form=form, kinds=KINDS,
                               categories=categories, shown={}), 400
    return _body_page(body, shown={"client_id": client.client_id, "client_secret": secret, "created": True})


@bp.post("/bodies/<body_id>/<any(suspend, reinstate, withdraw):action>")
@roles("operator")
def body_transition(body_id: str, action: str):
    body = _body_for_admin(body_id)
    reason, errors = _reason()
    if errors:
        return _body_page(body, errors={f"f-reason-{action}": errors["f-reason"]}, status=400, action=action)
    db = get_session()
    fn = {"suspend": accreditation.suspend_body, "reinstate": accreditation.reinstate_body,
          "withdraw": accreditation.withdraw_body}[action]
    try:
        fn(db, body, reason, actor=_actor())
        db.commit()
    except RegistryError as err:
        db.rollback()
        return _body_page(body, errors={"_form": [translate(err.detail, err.type)]}, status=err.status)
    flash(_("The body's status is now: %(status)s.", status=_status_name(body.status)), "success")
    return redirect(url_for("portal.body_detail", body_id=body.id))


def _status_name(status: str) -> str:
    from .filters import STATUS_NAMES

    return str(STATUS_NAMES.get(status, status))


@bp.post("/bodies/<body_id>/accreditations")
@roles("operator")
def renew_accreditation(body_id: str):
    body = _body_for_admin(body_id)
    db = get_session()
    try:
        data = AccreditationIn().load(_accreditation_input(request.form))
        accreditation.add_accreditation(db, body, data, actor=_actor())
        db.commit()
    except (ValidationError, RegistryError) as err:
        db.rollback()
        errors = {k.replace("f-scope-", "f-"): v for k, v in _errors(err).items()}
        return _body_page(body, errors=errors, status=400)
    flash(_("The accreditation is recorded; earlier decisions stay in the history."), "success")
    return redirect(url_for("portal.body_detail", body_id=body.id))


# --------------------------------------------------------------------------- categories, grading

@bp.get("/categories")
@roles("operator")
def categories():
    rows = get_session().scalars(select(Category).order_by(Category.code)).all()
    return render_template("portal/categories.html", rows=rows, errors={}, form=request.form, units=DECLARED_UNITS)


@bp.post("/categories")
@roles("operator")
def save_category():
    form = request.form
    code = form.get("code", "").strip()
    raw = {"name": form.get("name", "").strip(), "declaredUnitOfMeasurement": form.get("declaredUnitOfMeasurement", "")}
    if form.get("nameZh", "").strip():
        raw["nameZh"] = form["nameZh"].strip()
    if form.get("benchmark.value", "").strip():
        raw["benchmark"] = {"value": form["benchmark.value"].strip(), "standard": form.get("benchmark.standard", "").strip(),
                            "source": form.get("benchmark.source", "").strip()}
    db = get_session()
    errors = {}
    from ..schemas.common import CODE_RE
    import re

    if not re.match(CODE_RE, code):
        errors["f-code"] = [_("Enter a code of lower-case letters, digits and hyphens, like flat-glass.")]
    try:
        data = CategoryIn().load(raw)
    except ValidationError as err:
        errors.update(_errors(err))
    if not errors:
        accreditation.put_category(db, code, data, actor=_actor())
        db.commit()
        flash(_("Category %(code)s is saved.", code=code), "success")
        return redirect(url_for("portal.categories"))
    rows = db.scalars(select(Category).order_by(Category.code)).all()
    return render_template("portal/categories.html", rows=rows, errors=errors, form=form, units=DECLARED_UNITS), 400


@bp.get("/grading")
@roles("operator", "body-admin", "certifier")
def grading_schemes():
    schemes = grading.list_schemes()
    return render_template("portal/grading.html", schemes=schemes, errors={},
                           pretty=lambda s: json.dumps(s, ensure_ascii=False, indent=2))


# --------------------------------------------------------------------------- audit trail, registry key, staff

AUDIT_FILTERS = ("actor", "body", "certificate", "action", "from", "to")


@bp.get("/audit")
@roles("operator")
def audit_trail():
    args = {k: request.args[k].strip() for k in AUDIT_FILTERS if request.args.get(k, "").strip()}
    errors = {}
    db = get_session()
    q = select(AuditEntry)
    if "actor" in args:
        q = q.where(AuditEntry.actor.contains(args["actor"], autoescape=True))
    if "action" in args:
        q = q.where(AuditEntry.action.startswith(args["action"], autoescape=True))
    if "body" in args:
        cert_ids = select(Certificate.id).where(Certificate.body_id == args["body"])
        q = q.where(or_(AuditEntry.target_id == args["body"], AuditEntry.actor == f"body:{args['body']}",
                        AuditEntry.target_id.in_(cert_ids)))
    if "certificate" in args:
        wanted = args["certificate"]
        cert = db.scalars(select(Certificate).where(or_(Certificate.id == wanted,
                                                        Certificate.number == wanted.upper()))).first()
        q = q.where(AuditEntry.target_id == (cert.id if cert else wanted))
    for key, op in (("from", "ge"), ("to", "le")):
        if key in args:
            try:
                day = datetime.strptime(args[key], "%Y-%m-%d").replace(tzinfo=timezone.utc)
            except ValueError:
                errors[f"f-{key}"] = [_("Enter a date, like 2026-12-31.")]
                continue
            q = q.where(AuditEntry.at >= day if op == "ge" else AuditEntry.at < day + timedelta(days=1))
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    total = db.scalar(select(func.count()).select_from(q.subquery()))
    rows = db.scalars(q.order_by(AuditEntry.id.desc()).offset((page - 1) * AUDIT_PAGE).limit(AUDIT_PAGE)).all()
    bodies = db.scalars(select(Body).order_by(Body.name)).all()
    chips = [(k, v, url_for("portal.audit_trail", **{n: w for n, w in args.items() if n != k})) for k, v in args.items()]
    zh = str(get_locale()) == "zh"
    body_names = {b.id: (b.name_zh if zh and b.name_zh else b.name) for b in bodies}
    action_groups = [(group, str(label), [(a, audit_action(a)) for a in AUDIT_ACTIONS if a.startswith(group)])
                     for group, label in AUDIT_GROUPS.items()]
    return render_template("portal/audit.html", rows=rows, filters=args, chips=chips, errors=errors, page=page,
                           pages=max(1, -(-total // AUDIT_PAGE)), total=total, bodies=bodies, body_names=body_names,
                           action_groups=action_groups), 400 if errors else 200


@bp.route("/registry-key", methods=["GET", "POST"])
@roles("operator")
def registry_key():
    db = get_session()
    signer = _signer()
    if request.method == "POST":
        old = signer.registry_key(db, _public_url())
        old.active_until = utcnow()
        db.flush()
        new = signer.registry_key(db, _public_url())
        audit.record(db, actor=_actor(), action="registry.key-rotated", target_type="registry", target_id="registry",
                     details={"retired": old.kid, "new": new.kid})
        db.commit()
        current_app.extensions["registry.token_keys"]._keys.clear()
        flash(_("The registry signs with a new key; the old one stays published."), "success")
        return redirect(url_for("portal.registry_key"))
    keys = db.scalars(select(SigningKey).where(SigningKey.owner == "registry").order_by(SigningKey.id)).all()
    return render_template("portal/registry_key.html", keys=keys, errors={})


def _staff_page(errors: dict | None = None, shown: dict | None = None, status: int = 200):
    db = get_session()
    users = db.scalars(select(User).order_by(User.role, User.email)).all()
    bodies = db.scalars(select(Body).order_by(Body.name)).all()
    return render_template("portal/staff.html", users=users, bodies=bodies, errors=errors or {}, shown=shown or {},
                           form=request.form, roles=accounts.ROLES), status


@bp.get("/staff")
@roles("operator")
def staff():
    return _staff_page()
