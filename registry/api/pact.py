"""PACT Technical Specifications v3.0: ``/3/footprints``, ``/3/footprints/{id}`` and ``/3/events``.

Errors here take PACT's own shape, ``{"code", "message"}`` with PACT's codes, not RFC 9457.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from .. import auth, outbox, pact
from ..callbacks import CallbackRefused, check_callback_url
from ..db import get_session
from ..errors import RegistryError
from ..http import _page_for, limiter, log, problem
from ..models import Certificate, OAuthClient, utcnow
from . import doc

bp = Blueprint("pact", __name__, url_prefix="/3")
PACT_ERRORS = {400: 'PACT error {"code": "BadRequest", "message"}',
               401: 'PACT error {"code": "BadRequest" or "TokenExpired", "message"}',
               403: 'PACT error {"code": "AccessDenied", "message"}', 404: 'PACT error {"code": "NotFound", "message"}'}

FILTERS = ("productId", "companyId", "geography", "classification", "validOn", "validAfter", "validBefore",
           "status")
# The specification's own example writes "productid" and "validon": names are matched without case.
_NAMES = {name.lower(): name for name in (*FILTERS, "limit", "offset")}
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
EVENT_PREFIX = "org.wbcsd.pact.ProductFootprint."
CODES = {400: "BadRequest", 401: "BadRequest", 403: "AccessDenied", 404: "NotFound", 405: "BadRequest",
         413: "BadRequest", 415: "BadRequest", 422: "BadRequest", 429: "BadRequest", 501: "NotImplemented"}


class PactError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str) -> Response:
    resp = Response(json.dumps({"code": code, "message": message}), status=status, mimetype="application/json")
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="registry"'
    return resp


@bp.errorhandler(PactError)
def _pact_error(err: PactError):
    return error_response(err.status, err.code, err.message)


@bp.errorhandler(RegistryError)
def _registry_error(err: RegistryError):
    session = get_session()
    session.rollback()
    if isinstance(err, auth.TokenExpired):
        return error_response(401, "TokenExpired", err.detail)
    return error_response(err.status, CODES.get(err.status, "InternalError" if err.status >= 500 else "BadRequest"),
                          err.detail)


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException):
    code = err.code or 500
    return error_response(code, CODES.get(code, "InternalError" if code >= 500 else "BadRequest"),
                          err.description or err.name)


@bp.errorhandler(Exception)
def _unhandled(err: Exception):
    get_session().rollback()
    log.exception("unhandled error")
    return error_response(500, "InternalError", "An internal or unexpected error has occurred")


@bp.before_request
def _https_only():
    # PACT requires HTTPS. Behind a TLS-terminating proxy the proxy says so in X-Forwarded-Proto.
    if current_app.config["PUBLIC_URL"].startswith("https:") and not (
            request.is_secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"):
        raise PactError(400, "BadRequest", "The PACT API is served over HTTPS only")


def _principal() -> auth.Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise PactError(401, "BadRequest", "A bearer access token from /auth/token is required")
    principal = auth.current_principal()
    if principal.role not in ("procurement", "operator"):
        raise PactError(403, "AccessDenied", "Access denied: the PACT API is for procurement clients")
    return principal


def _limiter_key():
    return request.headers.get("Authorization", "")[-32:] or request.remote_addr


def _params(source) -> tuple[dict[str, list[str]], int, int]:
    params: dict[str, list[str]] = {}
    for raw_name, values in source.items():
        name = _NAMES.get(raw_name.lower())
        if name is None:
            if raw_name.lower().startswith("x-"):
                continue  # implementor-specific criteria we do not offer
            raise PactError(400, "BadRequest", f"Unknown query parameter {raw_name!r} (the v2 $filter is "
                                               "not part of PACT v3)")
        params.setdefault(name, []).extend(values)
    try:
        limit = int(params.pop("limit", [str(DEFAULT_LIMIT)])[-1])
        offset = int(params.pop("offset", ["0"])[-1])
    except ValueError as err:
        raise PactError(400, "BadRequest", "limit and offset must be whole numbers") from err
    if limit < 1 or offset < 0:
        raise PactError(400, "BadRequest", "limit must be a positive integer and offset not negative")
    return params, min(limit, MAX_LIMIT), offset


def _base() -> str:
    # Absolute, on the host the client asked (PACT: the link's host equals the request's Host).
    scheme = "https" if (request.is_secure or current_app.config["PUBLIC_URL"].startswith("https:")) else "http"
    return f"{scheme}://{request.host}"


def footprints_for(params: dict[str, list[str]], *, limit: int, offset: int = 0
                   ) -> tuple[list[dict], bool, int]:
    """Up to ``limit`` ProductFootprints from ``offset``; whether more follow; the next offset."""
    now = utcnow()
    public_url = current_app.config["PUBLIC_URL"]
    try:
        query = pact.footprint_query(params, now)
    except pact.FilterError as err:
        raise PactError(400, "BadRequest", str(err)) from err
    out: list[dict] = []
    cursor = offset
    while True:  # certificates whose footprint PACT cannot express are skipped
        rows = get_session().scalars(query.offset(cursor).limit(limit + 1)).all()
        for cert in rows:
            pf = pact.product_footprint(cert, public_url=public_url, now=now)
            if pf is not None:
                if len(out) == limit:
                    return out, True, cursor
                out.append(pf)
            cursor += 1
        if len(rows) < limit + 1:
            return out, False, cursor


@bp.get("/footprints")
@limiter.limit(lambda: current_app.config["RATELIMIT_PUBLIC"], key_func=_limiter_key)
@doc(auth="procurement", tags=["PACT v3"], responses=PACT_ERRORS, params=[
    {"name": n, "in": "query", "required": False, "schema": {"type": "string"}} for n in (*FILTERS, "limit")])
def list_footprints():
    """PACT ListFootprints: certificates with a footprint, filtered and paginated by a Link header."""
    _principal()
    params, limit, offset = _params(request.args.to_dict(flat=False))
    data, more, next_offset = footprints_for(params, limit=limit, offset=offset)
    resp = Response(json.dumps({"data": data}, ensure_ascii=False), status=200, mimetype="application/json")
    if more:
        query = [(name, v) for name in FILTERS for v in params.get(name, [])]
        query += [("limit", str(limit)), ("offset", str(next_offset))]
        resp.headers["Link"] = f'<{_base()}{request.path}?{urlencode(query)}>; rel="next"'
    return resp


@bp.get("/footprints/<pf_id>")
@limiter.limit(lambda: current_app.config["RATELIMIT_PUBLIC"], key_func=_limiter_key)
@doc(auth="procurement", tags=["PACT v3"], responses=PACT_ERRORS)
def get_footprint(pf_id: str):
    """PACT GetFootprint: one certificate's ProductFootprint by its id."""
    _principal()
    cert = get_session().get(Certificate, pf_id) if len(pf_id) <= 36 else None
    pf = pact.product_footprint(cert, public_url=current_app.config["PUBLIC_URL"], now=utcnow()) if cert else None
    if pf is None:
        raise PactError(404, "NotFound", f"The footprint {pf_id!r} does not exist")
    return Response(json.dumps({"data": pf}, ensure_ascii=False), status=200, mimetype="application/json")


def _event() -> dict:
    mimetype = request.mimetype
    if mimetype not in ("application/cloudevents+json", "application/json"):
        raise PactError(400, "BadRequest", "Send one CloudEvent as application/cloudevents+json (structured mode)")
    event = request.get_json(force=True, silent=True)
    if not isinstance(event, dict):
        raise PactError(400, "BadRequest", "The body is not a JSON object")
    for name in ("specversion", "id", "source", "type"):
        if not isinstance(event.get(name), str) or not event[name]:
            raise PactError(400, "BadRequest", f"The CloudEvent attribute {name!r} is missing")
    if event["specversion"] != "1.0":
        raise PactError(400, "BadRequest", "Only CloudEvents specversion 1.0 is understood")
    if not isinstance(event.get("data"), dict):
        raise PactError(400, "BadRequest", "The event has no data object")
    return event


def _request_criteria(data: dict) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for name in FILTERS:
        value = data.get(name)
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in values):
            raise PactError(400, "BadRequest", f"data.{name} must be a string or a list of strings")
        params[name] = values
    return params


@bp.post("/events")
@limiter.limit(lambda: current_app.config["RATELIMIT_PUBLIC"], key_func=_limiter_key)
@doc(auth="procurement", tags=["PACT v3"], responses=PACT_ERRORS)
def receive_event():
    """PACT Action Events: RequestCreated is answered later at ``{source}/3/events``; Published is accepted."""
    principal = _principal()
    event = _event()
    kind = event["type"]
    if kind in (EVENT_PREFIX + "PublishedEvent.3", EVENT_PREFIX + "RequestFulfilledEvent.3",
                EVENT_PREFIX + "RequestRejectedEvent.3"):
        return Response(status=200)  # the registry requests nothing; notices need no action
    if kind != EVENT_PREFIX + "RequestCreatedEvent.3":
        raise PactError(400, "BadRequest", f"Unknown event type {kind!r}")
    session = get_session()
    client = session.scalars(select(OAuthClient).where(OAuthClient.client_id == principal.client_id)).first()
    if client is None or not client.callback_client_id or client.callback_secret_encrypted is None:
        raise PactError(400, "BadRequest", "This client has no callback credentials: the registry could not "
                                           "authenticate at your token endpoint to answer")
    target = event["source"].rstrip("/") + "/3/events"
    try:
        check_callback_url(target, current_app.config)
    except CallbackRefused as err:
        raise PactError(400, "BadRequest", f"The event source cannot be called back: {err}") from err
    params = _request_criteria(event["data"])
    answer = _answer(event, params)
    outbox.pact_callback(session, client_id=principal.client_id, url=target, event=answer)
    session.commit()
    return Response(status=200)


def _answer(event: dict, params: dict[str, list[str]]) -> dict:
    base = {"specversion": "1.0", "id": outbox.new_event_id(), "source": current_app.config["PUBLIC_URL"],
            "time": outbox.now_text()}
    if not params:
        return {**base, "type": EVENT_PREFIX + "RequestRejectedEvent.3",
                "data": {"requestEventId": event["id"],
                         "error": {"code": "BadRequest", "message": "The request names no criteria"}}}
    try:
        pfs, _more, _ = footprints_for(params, limit=MAX_LIMIT)
    except PactError as err:
        return {**base, "type": EVENT_PREFIX + "RequestRejectedEvent.3",
                "data": {"requestEventId": event["id"], "error": {"code": err.code, "message": err.message}}}
    if not pfs:
        return {**base, "type": EVENT_PREFIX + "RequestRejectedEvent.3",
                "data": {"requestEventId": event["id"],
                         "error": {"code": "NotFound", "message": "No footprint matches the request"}}}
    return {**base, "type": EVENT_PREFIX + "RequestFulfilledEvent.3",
            "data": {"requestEventId": event["id"], "pfs": pfs}}


@bp.get("/<path:rest>")
def unknown(rest: str):
    """Anything else under /3/ answers in PACT's error shape."""
    raise PactError(404, "NotFound", f"No PACT action at /3/{rest}")


def register(app) -> None:
    app.register_blueprint(bp)

    @app.errorhandler(405)
    def _method_not_allowed(err):
        # Routing errors happen before the blueprint is known; answer /3/ in PACT's shape here.
        if request.path.startswith("/3/"):
            resp = error_response(405, "BadRequest", f"{request.method} is not allowed on {request.path}")
        else:
            resp = _page_for(err, 405) or problem(405, "method-not-allowed", err.name, err.description or err.name)
        if getattr(err, "valid_methods", None):
            resp.headers["Allow"] = ", ".join(err.valid_methods)
        return resp

    @app.get(pact.EXTENSION_PATH)
    @doc(tags=["PACT v3"])
    def pact_extension_schema():
        """JSON Schema of the registry's PACT data model extension."""
        return (pact.extension_schema(current_app.config["PUBLIC_URL"]), 200,
                {"Cache-Control": "public, max-age=86400", "Access-Control-Allow-Origin": "*"})
