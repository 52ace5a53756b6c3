"""The portal: server-rendered pages at ``/portal`` for certifiers, body administrators and the operator.

Sessions are Flask's signed cookie (HttpOnly, SameSite=Lax, Secure behind https) managed by
Flask-Login; each carries the account's password epoch, the sign-in time and the last request
time, so a changed password, a disabled account, an idle or an old session all end it. CSRF
protection (Flask-WTF) covers every state-changing request of the whole app except the bearer
token APIs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_login import LoginManager, current_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect

bp = Blueprint("portal", __name__, url_prefix="/portal", template_folder="templates",
               static_folder="static", static_url_path="/static")
csrf = CSRFProtect()
login_manager = LoginManager()

#: Requests authenticated by bearer tokens or client credentials, never by the cookie.
CSRF_EXEMPT_PREFIXES = ("/api/", "/auth/", "/3/")
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


class _LeanSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, minus the signing serializer built for every request that
    carries no session cookie at all (every consumer scan and API call): it is needed only to
    read a cookie or to write one."""

    def open_session(self, app, request):
        if not request.environ.get("HTTP_COOKIE") or self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        # An empty session nobody changed sets and deletes no cookie: all Flask would do is add
        # "Vary: Cookie" if it was read (Flask-Login reads it on every response).
        if not session and not session.modified:
            if session.accessed:
                vary_cookie(response)
            return
        super().save_session(app, session, response)


#: A header value Flask's ``HeaderSet`` writes back unchanged: tokens joined by ", ".
_TOKEN_LIST = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:, [!#$%&'*+.^_`|~0-9A-Za-z-]+)*")


def vary_cookie(response) -> None:
    """``response.vary.add("Cookie")`` without parsing and rebuilding the header through a
    ``HeaderSet`` when it is a plain list of tokens (``Accept, Accept-Language``); the same bytes."""
    value = response.headers.get("Vary")
    if value is None:
        response.headers["Vary"] = "Cookie"
    elif _TOKEN_LIST.fullmatch(value):
        if "cookie" not in value.lower().split(", "):
            response.headers["Vary"] = value + ", Cookie"
    else:
        response.vary.add("Cookie")


def init_app(app) -> None:
    app.session_interface = _LeanSessionInterface()
    cfg = app.config
    if not cfg.get("SECRET_KEY"):
        # One secret to configure: the session key derives from the key-encryption key.
        cfg["SECRET_KEY"] = hmac.new(cfg["MASTER_KEY"].encode(), b"portal session", hashlib.sha256).hexdigest()
    cfg.setdefault("PORTAL_IDLE_TIMEOUT", 30 * 60)
    cfg.setdefault("PORTAL_SESSION_MAX", 12 * 3600)
    cfg["SESSION_COOKIE_HTTPONLY"] = True
    cfg["SESSION_COOKIE_SAMESITE"] = "Lax"
    cfg.setdefault("SESSION_COOKIE_SECURE", cfg["PUBLIC_URL"].startswith("https:"))
    cfg["WTF_CSRF_CHECK_DEFAULT"] = False
    cfg.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the session
    cfg.setdefault("WTF_CSRF_SSL_STRICT", cfg["PUBLIC_URL"].startswith("https:"))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "portal.login"
    login_manager.login_message = None
    login_manager.session_protection = None  # we end sessions by epoch and timeouts instead

    @app.before_request
    def _csrf_guard():
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and not request.path.startswith(CSRF_EXEMPT_PREFIXES):
            csrf.protect()

    from . import admin, certificates, filters, imports, issue, printing, views  # noqa: F401  (routes)

    filters.init_app(app)
    app.register_blueprint(bp)
    app.extensions.setdefault("registry.error_pages", []).append((bp.url_prefix, error_page))

    from ..cli import operator_cli
    from .cli import create_user

    if "create-user" not in operator_cli.commands:
        operator_cli.add_command(create_user)


@login_manager.user_loader
def _load_user(user_id: str):
    from ..db import get_session
    from ..models import User

    try:
        user = get_session().get(User, int(user_id))
    except (TypeError, ValueError):
        return None
    if user is None or user.disabled_at is not None or session.get("epoch") != user.password_epoch:
        return None
    return user


@login_manager.unauthorized_handler
def _unauthorized():
    return redirect(url_for("portal.login", next=request.full_path if request.method == "GET" else None))


@bp.before_request
def _timeouts():
    if not session.get("_user_id"):
        return None
    now = int(time.time())
    cfg = current_app.config
    if now - session.get("seen", 0) > cfg["PORTAL_IDLE_TIMEOUT"] or now - session.get("since", 0) > cfg["PORTAL_SESSION_MAX"]:
        lang = session.get("lang")
        logout_user()
        session.clear()
        if lang:
            session["lang"] = lang
        flash(_("Your session has ended. Log in again."), "info")
        return redirect(url_for("portal.login"))
    session["seen"] = now
    if current_user.is_authenticated and current_user.lang and "lang" not in session:
        session["lang"] = current_user.lang
    return None


@bp.after_request
def _headers(resp):
    resp.headers["Content-Security-Policy"] = PAGE_CSP
    if resp.mimetype == "text/html":
        resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.errorhandler(CSRFError)
def _csrf_error(err):
    from ..http import _rollback

    _rollback()
    return render_template("portal/error.html", status=400, title=_("The form has expired"),
                           message=_("The form could not be accepted because its security token is missing or "
                                     "out of date. Go back, reload the page and try again.")), 400


def error_page(err: Exception, status: int):
    """The page a person gets for an error anywhere under /portal (routing 404s and 405s included);
    the API keeps problem+json. None when the page itself cannot be drawn (the caller answers JSON)."""
    from ..errors import RegistryError
    from .messages import translate

    titles = {
        400: (_("The request could not be understood"), _("Go back, reload the page and try again.")),
        403: (_("You cannot use this page"), _("Your role does not give access to this page.")),
        404: (_("Page not found"), _("Check the address, or go back to the dashboard.")),
        405: (_("This page cannot be used that way"),
              _("Use the links and buttons on the portal's pages: go back to the dashboard and start again.")),
        413: (_("The file is too large"), _("Upload a smaller file, or split it into smaller files.")),
        422: (_("The request has invalid data"), _("Go back, check what you entered and try again.")),
        429: (_("Too many requests"), _("Wait a minute, then try again.")),
        503: (_("The registry is busy"), _("Wait a moment, then try again.")),
    }
    title, message = titles.get(status) or (
        _("Something went wrong"),
        _("The page could not be shown. Try again; if it keeps happening, tell the registry operator the "
          "request id %(id)s.", id=g.get("request_id", "")))
    if isinstance(err, RegistryError) and status not in (404, 500):
        message = translate(err.detail, err.type)
    try:
        resp = current_app.make_response((render_template("portal/error.html", status=status, title=title,
                                                          message=message), status))
    except Exception:  # noqa: BLE001  (an error page that fails must not hide the first error)
        current_app.logger.exception("the portal error page failed")
        return None
    return _headers(resp)
