"""Certificates: the filtered list, a certificate's page with its history, lifecycle actions."""

from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from ..db import get_session
from ..errors import RegistryError
from ..models import AuditEntry, Certificate, CertificateBasis, utcnow
from ..domain.status import STATUSES
from ..schemas.certificates import KINDS
from ..services import revocation
from . import accounts, bp
from .access import own_certificate, roles
from .messages import translate

PAGE_SIZE = 25
FILTERS = ("number", "gtin", "product", "type", "status", "expiring")
ALL_ROLES = ("operator", "body-admin", "certifier")


def _filters() -> dict[str, str]:
    return {k: request.args[k].strip() for k in FILTERS if request.args.get(k, "").strip()}


def _query(filters: dict[str, str]):
    now = utcnow()
    q = select(Certificate)
    if current_user.role != "operator":
        q = q.where(Certificate.body_id == current_user.body_id)
    if "number" in filters:
        q = q.where(func.upper(Certificate.number).contains(filters["number"].upper().replace(" ", ""),
                                                            autoescape=True))
    if "gtin" in filters:
        q = q.where(Certificate.gtin == filters["gtin"].zfill(14))
    if "product" in filters:
        q = q.where(func.lower(Certificate.product_name).contains(filters["product"].lower(), autoescape=True))
    if filters.get("type") in KINDS:
        q = q.where(Certificate.type == filters["type"])
    status = filters.get("status")
    if status == "expired":
        q = q.where(Certificate.status != "revoked", Certificate.valid_until <= now)
    elif status in ("active", "suspended"):
        q = q.where(Certificate.status == status, Certificate.valid_until > now)
    elif status == "revoked":
        q = q.where(Certificate.status == "revoked")
    if filters.get("expiring"):
        q = q.where(Certificate.status == "active", Certificate.valid_until > now,
                    Certificate.valid_until <= now + timedelta(days=90))
    return q


def shown_status(cert: Certificate) -> str:
    if cert.status != "revoked" and cert.valid_until <= utcnow():
        return "expired"
    return cert.status


@bp.get("/certificates")
@roles(*ALL_ROLES)
def certificates():
    filters = _filters()
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    db = get_session()
    q = _query(filters)
    total = db.scalar(select(func.count()).select_from(q.subquery()))
    rows = db.scalars(q.order_by(Certificate.log_index.desc())
                      .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    pages = max(1, -(-total // PAGE_SIZE))
    chips = [(k, v, url_for("portal.certificates", **{n: w for n, w in filters.items() if n != k}))
             for k, v in filters.items()]
    return render_template("portal/certificates.html", rows=rows, filters=filters, chips=chips, page=page,
                           pages=pages, total=total, kinds=KINDS, statuses=STATUSES, shown_status=shown_status)


def _history(cert: Certificate) -> list[AuditEntry]:
    db = get_session()
    dependants = db.scalars(select(CertificateBasis.certificate_id)
                            .where(CertificateBasis.based_on_id == cert.id)).all()
    rows = db.scalars(select(AuditEntry).where(AuditEntry.target_type == "certificate",
                                               AuditEntry.target_id.in_([cert.id, *dependants]))
                      .order_by(AuditEntry.id)).all()
    # A dependant's own history is on its page; here only what this certificate's revocation caused.
    return [e for e in rows if e.target_id == cert.id or (e.details or {}).get("cascadeFrom") == cert.id]


@bp.get("/certificates/<cert_id>")
@roles(*ALL_ROLES)
def certificate(cert_id: str):
    cert = own_certificate(cert_id)
    db = get_session()
    successor = db.scalars(select(Certificate).where(Certificate.supersedes_id == cert.id)).first()
    basis = db.scalars(select(Certificate).join(CertificateBasis, CertificateBasis.based_on_id == Certificate.id)
                       .where(CertificateBasis.certificate_id == cert.id)).all()
    return render_template("portal/certificate.html", cert=cert, status=shown_status(cert), history=_history(cert),
                           successor=successor, basis=basis, errors={}, can_change=_can_change(cert))


def _can_change(cert: Certificate) -> bool:
    if current_user.role == "operator":
        return True
    return cert.body.status != "withdrawn"


@bp.post("/certificates/<cert_id>/<any(suspend, reinstate, revoke):action>")
@roles(*ALL_ROLES)
def change_status(cert_id: str, action: str):
    cert = own_certificate(cert_id)
    reason = (request.form.get("reason") or "").strip()
    errors = {}
    if not reason:
        errors = {"reason": [_("Enter the reason.")]}
    elif len(reason) > 500:
        errors = {"reason": [_("The reason must be 500 characters or fewer.")]}
    elif not _can_change(cert):
        errors = {"_form": [_("A withdrawn body can no longer change certificates; the operator can.")]}
    if not errors:
        db = get_session()
        try:
            revocation.change_status(db, cert, action, reason, actor=accounts.actor(current_user))
            db.commit()
        except RegistryError as err:
            db.rollback()
            errors = {"_form": [translate(err.detail, err.type)]}
        else:
            flash({"suspend": _("Certificate %(number)s is suspended.", number=cert.number),
                   "reinstate": _("Certificate %(number)s is valid again.", number=cert.number),
                   "revoke": _("Certificate %(number)s is revoked.", number=cert.number)}[action], "success")
            return redirect(url_for("portal.certificate", cert_id=cert.id))
    errors = {("f-reason-" + action if k == "reason" else k): v for k, v in errors.items()}
    db = get_session()
    return render_template("portal/certificate.html", cert=cert, status=shown_status(cert), history=_history(cert),
                           successor=None, basis=[], errors=errors, can_change=_can_change(cert), action=action,
                           reason=reason), 400


@bp.route("/certificates/revoke", methods=["GET", "POST"])
@roles(*ALL_ROLES)
def revoke_by_number():
    """Revoke knowing only the number printed on the certificate."""
    errors: dict = {}
    number = (request.values.get("number") or "").strip().upper().replace(" ", "")
    reason = (request.form.get("reason") or "").strip()
    if request.method == "POST":
        db = get_session()
        cert = db.scalars(select(Certificate).where(Certificate.number == number)).first() if number else None
        if cert is None or (current_user.role != "operator" and cert.body_id != current_user.body_id):
            errors["f-number"] = [_("Enter the number of one of your certificates, like HXCC-2026-000123.")]
        if not reason:
            errors["f-reason"] = [_("Enter the reason.")]
        if not errors:
            try:
                if not _can_change(cert):
                    raise RegistryError(_("A withdrawn body can no longer change certificates; the operator can."))
                revocation.change_status(db, cert, "revoke", reason, actor=accounts.actor(current_user))
                db.commit()
            except RegistryError as err:
                db.rollback()
                errors["_form"] = [translate(err.detail, err.type)]
            else:
                flash(_("Certificate %(number)s is revoked.", number=cert.number), "success")
                return redirect(url_for("portal.certificate", cert_id=cert.id))
    return render_template("portal/revoke.html", errors=errors, number=number, reason=reason), 400 if errors else 200
