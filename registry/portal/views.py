"""Signing in and out, language, the dashboard and the person's own account."""

from __future__ import annotations

import io
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pyotp
import qrcode
import qrcode.image.svg
from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from markupsafe import Markup, escape
from sqlalchemy import func, select

from ..db import get_session
from ..errors import RegistryError
from ..i18n import LANGUAGES
from ..models import Body, Certificate, utcnow
from . import accounts, bp
from .forms import AcceptInviteForm, LoginForm, PasswordForm, RecoveryForm, form_errors
from .messages import translate


def master_key() -> str:
    return current_app.config["MASTER_KEY"]


def client_address() -> str | None:
    return request.remote_addr


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/portal") and not urlsplit(target).netloc and not target.startswith("//"):
        return target
    return url_for("portal.dashboard")


def start_session(user) -> None:
    """A new session for a signed-in person: fresh cookie contents and a fresh CSRF token."""
    session.clear()
    g.pop("csrf_token", None)
    login_user(user)
    now = int(time.time())
    session["epoch"] = user.password_epoch
    session["since"] = session["seen"] = now
    if user.lang in LANGUAGES:
        session["lang"] = user.lang


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("portal.dashboard"))
    form = LoginForm()
    errors: dict = {}
    status = 200
    if request.method == "POST":
        if form.validate():
            db = get_session()
            try:
                user = accounts.authenticate(db, email=form.email.data, password=form.password.data,
                                             code=form.code.data, address=client_address(), master_key=master_key())
            except accounts.TooManyFailures:
                db.commit()
                errors = {"email": [_("Too many failed attempts. Wait 15 minutes, then try again.")]}
                status = 429
            except accounts.InvalidCredentials:
                db.commit()
                errors = {"email": [_("Enter a correct email address, password and one-time code.")]}
                status = 401
            else:
                db.commit()
                start_session(user)
                return redirect(_safe_next(request.form.get("next")))
        else:
            errors = form_errors(form)
            status = 400
    return render_template("portal/login.html", errors=errors, email=form.email.data or "",
                           next=request.values.get("next")), status


@bp.post("/logout")
def logout():
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have logged out."), "info")
    return redirect(url_for("portal.login"))


@bp.post("/language")
def set_language():
    lang = request.form.get("lang")
    if lang not in LANGUAGES:
        abort(400)
    session["lang"] = lang
    if current_user.is_authenticated:
        current_user.lang = lang
        get_session().commit()
    return redirect(_safe_next(request.form.get("next")))


@bp.get("/")
@login_required
def dashboard():
    db = get_session()
    query = select(Certificate.status, func.count(Certificate.id)).group_by(Certificate.status)
    if current_user.role != "operator":
        query = query.where(Certificate.body_id == current_user.body_id)
    counts = dict(db.execute(query).all())
    soon = utcnow() + timedelta(days=90)
    expiring = select(func.count(Certificate.id)).where(Certificate.status == "active",
                                                        Certificate.valid_until > utcnow(),
                                                        Certificate.valid_until <= soon)
    recent = select(Certificate).order_by(Certificate.log_index.desc()).limit(5)
    if current_user.role != "operator":
        expiring = expiring.where(Certificate.body_id == current_user.body_id)
        recent = recent.where(Certificate.body_id == current_user.body_id)
    body = db.get(Body, current_user.body_id) if current_user.body_id else None
    log = None
    if current_user.role == "operator":
        from .. import tlog

        size, last = tlog.status(db)
        log = {"size": size, "checkpoint": last}
    return render_template("portal/dashboard.html", counts=counts, expiring=db.scalar(expiring),
                           recent=db.scalars(recent).all(), body=body, log=log)


# --------------------------------------------------------------------------- own account

@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    form = PasswordForm()
    errors: dict = {}
    if request.method == "POST":
        if form.validate():
            db = get_session()
            try:
                accounts.change_password(db, current_user, form.current.data, form.new.data)
            except accounts.InvalidPassword as err:
                errors = {"f-current" if str(err) == "wrong" else "f-new":
                          [_("Enter your current password.") if str(err) == "wrong"
                           else _("Enter a new password of at least 12 characters.")]}
            else:
                db.commit()
                session["epoch"] = current_user.password_epoch  # this session stays; every other ends
                flash(_("Your password has been changed. Other sessions have ended."), "success")
                return redirect(url_for("portal.account"))
        else:
            errors = form_errors(form, prefix="f-")
    unused = sum(1 for r in current_user.recovery_codes if r.used_at is None)
    return render_template("portal/account.html", errors=errors, unused=unused), 400 if errors else 200


@bp.route("/account/recovery-codes", methods=["GET", "POST"])
@login_required
def recovery_codes():
    form = RecoveryForm()
    errors: dict = {}
    codes = None
    if request.method == "POST":
        db = get_session()
        try:
            codes = accounts.regenerate_recovery_codes(db, current_user, form.password.data or "")
        except accounts.InvalidPassword:
            errors = {"f-password": [_("Enter your current password.")]}
        else:
            db.commit()
    return render_template("portal/recovery.html", errors=errors, codes=codes), 400 if errors else 200


def totp_qr(uri: str, label: str) -> Markup:
    img = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    out = io.BytesIO()
    img.save(out)
    svg = out.getvalue().decode()
    svg = svg[svg.index("<svg"):]
    return Markup(svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1))


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token: str):
    db = get_session()
    try:
        invitation = accounts.find_invitation(db, token)
    except accounts.InvitationInvalid:
        return render_template("portal/error.html", title=_("This invitation link cannot be used"),
                               message=_("It has been used already or has expired. Ask your administrator for a new one.")), 404
    # The new secret stays in the session until a code confirms it (nothing is stored before).
    key = f"enrol:{invitation.id}"
    secret = session.get(key)
    if not secret:
        secret = session[key] = pyotp.random_base32()
    form = AcceptInviteForm()
    errors: dict = {}
    if request.method == "POST":
        try:
            if not form.validate():
                raise accounts.InvalidPassword("short")
            user = accounts.accept_invitation(db, invitation, password=form.password.data, secret=secret,
                                              code=form.code.data, master_key=master_key(), lang=session.get("lang"))
        except accounts.InvalidPassword:
            errors = {"f-password": [_("Enter a new password of at least 12 characters.")]}
        except accounts.InvalidCode:
            errors = {"f-code": [_("Enter the 6-digit code your authenticator app shows for this account.")]}
        except RegistryError as err:
            errors = {"_form": [translate(err.detail, err.type)]}
        else:
            codes = accounts.regenerate_recovery_codes(db, user, form.password.data)
            db.commit()
            session.pop(key, None)
            start_session(user)
            return render_template("portal/recovery.html", errors={}, codes=codes, welcome=True)
    uri = pyotp.TOTP(secret).provisioning_uri(name=invitation.email, issuer_name="Carbon label registry")
    return render_template("portal/invite.html", errors=errors, invitation=invitation, secret=secret,
                           qr=totp_qr(uri, _("QR code for your authenticator app"))), 400 if errors else 200
