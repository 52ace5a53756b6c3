"""Verification for everyone: ``POST /api/v1/verify`` and the page a phone opens, ``GET /v/<id>``."""

from __future__ import annotations

import hashlib
import json
import re
import time
from datetime import datetime, timezone

from flask import Response, current_app, render_template, request

from ..db import get_session, read_only
from ..domain.status import effective_status
from ..errors import InvalidInput, NotFound
from ..hardening import nul_in_headers
from ..http import json_body, limiter, request_id_for
from ..models import Certificate
from .. import public_pages, tlog, verification
from ..services import lookup
from . import bp, doc, public

MAX_TEXT = 20 * 1024
CHECKED_AT = "@@checked-at@@"
CHECKED_AT_BYTES = CHECKED_AT.encode()
MAX_BATCH = 100
#: The consumer page loads only its own stylesheet (and, for offline labels, its own script).
PAGE_CSP = public_pages.SCRIPT_CSP

VERIFY_BODY = {"type": "object", "description": "One of: {credential}, {qr}, {number}, {gtin}, or "
               "{items: [{credential}|{qr}|{number}|{gtin}, …]}; a number forgives case, spaces and hyphens, "
               "a gtin answers for each of the product's current certificates; "
               f"(at most {MAX_BATCH} items, each text at most {MAX_TEXT} characters)",
               "properties": {"credential": {"type": "string"}, "qr": {"type": "string"},
                              "number": {"type": "string"}, "gtin": {"type": "string"},
                              "items": {"type": "array", "maxItems": MAX_BATCH}}}
VERIFY_RESULT = {"type": "object", "properties": {
    "verified": {"type": "boolean"}, "checks": {"type": "array"}, "errors": {"type": "array"},
    "credential": {"type": "object", "nullable": True}, "results": {"type": "array"}}}


# --------------------------------------------------------------------------------------------
# POST /api/v1/verify

ITEM_KINDS = ("credential", "qr", "number", "gtin")


def _item(raw, where: str, errors: dict[str, list[str]]) -> dict | None:
    prefix = f"{where}." if where else ""
    if not isinstance(raw, dict):
        errors.setdefault(where or "_schema", []).append("Must be an object with credential, qr, number or gtin.")
        return None
    for name in sorted(set(raw) - set(ITEM_KINDS)):
        errors.setdefault(prefix + name, []).append("Unknown field.")
    given = [n for n in ITEM_KINDS if n in raw]
    if len(given) != 1:
        message = ("Give exactly one of credential, qr, number and gtin, not several." if given
                   else "Give exactly one of credential, qr, number and gtin.")
        for name in (given or ("credential", "qr")):
            errors.setdefault(prefix + name, []).append(message)
        return None
    name = given[0]
    value = raw[name]
    if not isinstance(value, str):
        errors.setdefault(prefix + name, []).append("Not a string.")
        return None
    if len(value) > MAX_TEXT:
        errors.setdefault(prefix + name, []).append(f"Longer than {MAX_TEXT} characters.")
        return None
    if not value.strip():
        errors.setdefault(prefix + name, []).append("Must not be empty.")
        return None
    return {name: value} if not errors else None


def _parse_verify_request(data: dict) -> tuple[list[dict], bool]:
    """``(items, is_batch)``; raises InvalidInput with field errors."""
    errors: dict[str, list[str]] = {}
    if "items" in data:
        for name in sorted(set(data) - {"items"}):
            errors.setdefault(name, []).append("Unknown field (a batch has only items).")
        items = data["items"]
        if not isinstance(items, list):
            errors.setdefault("items", []).append("Not a list.")
        elif not items:
            errors.setdefault("items", []).append("Must hold at least one item.")
        elif len(items) > MAX_BATCH:
            errors.setdefault("items", []).append(f"At most {MAX_BATCH} items.")
        else:
            parsed = [_item(raw, f"items.{i}", errors) for i, raw in enumerate(items)]
            if not errors:
                return parsed, True
        raise InvalidInput("The verification request has invalid fields", errors=errors)
    item = _item(data, "", errors)
    if errors or item is None:
        raise InvalidInput("The verification request has invalid fields", errors=errors)
    return [item], False


@bp.post("/verify")
@read_only
@limiter.limit(lambda: current_app.config["RATELIMIT_PUBLIC"])
@doc(body=VERIFY_BODY, response=VERIFY_RESULT, tags=["public"],
     responses={422: "neither or both of credential and qr, not a string, too long, or batch too large"})
def verify_api():
    """Verify a credential or scanned QR text (or a batch of up to 100); a failed check is a 200 result."""
    items, batch = _parse_verify_request(json_body())
    session = get_session()
    res = verification.resolver(session)
    results = [lookup.verify_by_reference(session, res, i) if ("number" in i or "gtin" in i)
               else verification.verify(session, credential=i.get("credential"), qr=i.get("qr"), res=res).to_dict()
               for i in items]
    for result in results:
        _add_log(session, result)
    return {"results": results} if batch else results[0]


def _add_log(session, result: dict) -> None:
    """The issuance entry's log claim, when the credential is one this registry issued."""
    cid = str((result.get("credential") or {}).get("id") or "").removeprefix("urn:uuid:")
    if 0 < len(cid) <= 36:
        claim = tlog.certificate_claim(session, cid)
        if claim is not None:
            result["log"] = claim


# --------------------------------------------------------------------------------------------
# GET /v/<id>

def _wants_json() -> bool:
    # No query string, no arguments: skips building an empty MultiDict on every scan.
    fmt = request.args.get("format") if request.environ.get("QUERY_STRING") else None
    if fmt:
        return fmt == "json"
    accept = request.headers.get("Accept", "")
    if accept == "application/json":  # what API clients send; parsing it costs more than the check
        return True
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def _cache_headers(resp: Response, etag: str | None = None) -> Response:
    headers = resp.headers
    headers["Cache-Control"] = _cache_control(current_app.config)
    headers["Vary"] = "Accept, Accept-Language"
    if etag:
        headers["ETag"] = f'"{etag}"'
    return resp


def _cache_control(config) -> str:
    return f"public, max-age={int(config['VERIFY_CACHE_SECONDS'])}"


def _summary(cert) -> dict:
    base = current_app.config["PUBLIC_URL"]
    status = effective_status(cert.status, cert.valid_until, datetime.now(timezone.utc))
    return {"id": cert.id, "number": cert.number, "type": cert.type, "status": status,
            "statusReason": cert.status_reason, "grade": cert.grade,
            "validFrom": cert.valid_from.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "validUntil": cert.valid_until.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "verifyUrl": f"{base}/v/{cert.id}", "credentialUrl": f"{base}/api/v1/certificates/{cert.id}"}


@public.get("/v/<cert_id>")
@limiter.limit(lambda: current_app.config["RATELIMIT_PUBLIC"])
@doc(response=VERIFY_RESULT, tags=["public"], media={"text/html": {"type": "string"}},
     responses={304: "Not modified", 404: {"description": "No such certificate: the page, or problem+json for JSON",
                                           "content": {"application/problem+json": {}, "text/html": {}}}},
     # Lenient by design (a label's link must always open): other values fall back to Accept and
     # Accept-Language.
     params=[{"name": "format", "in": "query", "required": False, "schema": {"type": "string"},
              "description": "json for the verification result; anything else: by the Accept header"},
             {"name": "lang", "in": "query", "required": False, "schema": {"type": "string"},
              "description": "zh or en; anything else: by Accept-Language"}])
def verify_page(cert_id: str):
    """The page a scanned label opens (HTML), or with ``Accept: application/json`` the verification result."""
    as_json = _wants_json()
    lang = "" if as_json else public_pages.page_lang()  # the JSON answer is the same in every language
    cert, fp = verification.certificate_for_verify(cert_id.lower()) if len(cert_id) <= 36 else (None, None)
    if cert is None and (found := lookup.id_for_number(cert_id)) is not None:
        cert, fp = verification.certificate_for_verify(found)
    if cert is None:
        if as_json:
            raise NotFound(f"No certificate {cert_id!r}", type="certificate-not-found")
        html = render_template("verify.html", **public_pages.verify_page_context(None, None, cert_id))
        return _cache_headers(_page(html, 404))
    # The ORM session is opened only if a cache is cold or the HTML page needs the full record.
    res = verification.resolver(get_session, fingerprint=fp)
    now = datetime.now(timezone.utc)
    log_claim = tlog.certificate_claim(get_session, cert.id) if as_json else None
    memo_key, etag = _answer_keys(cert, fp, res, now, lang, as_json, log_claim)
    if request.if_none_match.contains(etag):
        resp = _cache_headers(Response(status=304), etag)
        if not as_json:
            resp.headers["Content-Security-Policy"] = PAGE_CSP
        return resp
    if as_json:
        # The ETag is computed from this request's own reads (status, list versions, trust
        # fingerprint, expiry), so an answer stored under it is the answer verification would give;
        # only the time of checking differs, and it is filled in per request.
        cache = verification.cache_for(current_app)
        # Stored as the answer's UTF-8 bytes split where the time of checking goes: a hit only joins.
        parts = cache.answers.get(memo_key)
        if parts is None:
            credential = verification.stored_credential(res.session, cert.id)
            body = verification.verify_credential(credential, res, now=now).to_dict()
            body["certificate"] = _summary(cert)
            body["checkedAt"] = CHECKED_AT
            if "statusAsOf" in body:  # the status versions are read by every request
                body.update(statusAsOf=CHECKED_AT, statusAgeSeconds=0)
            parts = tuple(_dump(body).split(CHECKED_AT_BYTES))
            cache.answers.put(memo_key, parts)
        return _cache_headers(Response(_joined(cache, parts, now, log_claim), mimetype="application/json"), etag)
    session = res.session
    result = verification.verify_credential(verification.stored_credential(session, cert.id), res, now=now)
    html = render_template("verify.html", **public_pages.verify_page_context(session.get(Certificate, cert.id), result,
                                                                             cert_id))
    return _cache_headers(_page(html, 200), etag)


def _answer_keys(cert, fp, res, now, lang: str, as_json: bool, log_claim: dict | None) -> tuple[str, str]:
    """``(memo key, ETag)``: the memo key covers everything the answer depends on but its log claim,
    whose checkpoint the ETag adds."""
    tag = "|".join([cert.id, cert.status, *_status_versions(res, cert), repr(fp), lang,
                    "json" if as_json else "html", "x" if now >= cert.valid_until else "v"])
    memo_key = hashlib.sha256(tag.encode()).hexdigest()[:32]
    etag = (hashlib.sha256((memo_key + log_claim["checkpoint"]).encode()).hexdigest()[:32]
            if log_claim else memo_key)
    return memo_key, etag


def _joined(cache: verification.VerifyCache, parts: tuple[bytes, ...], now: datetime, log_claim: dict | None) -> bytes:
    """A memoised JSON answer with its time of checking and log claim filled in."""
    data = now.strftime("%Y-%m-%dT%H:%M:%SZ").encode().join(parts)
    if log_claim is not None:  # kept out of the memo: the checkpoint moves on more often
        data = b"".join((data[:-1], b',"log":', _claim_bytes(cache, log_claim), b"}"))
    return data


def _dump(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _claim_bytes(cache: verification.VerifyCache, claim: dict) -> bytes:
    """The log claim serialised once per (entry, checkpoint): its proof and entry follow from those."""
    key = (claim["index"], claim["checkpoint"])
    data = cache.claims.get(key)
    if data is None:
        data = _dump(claim)
        cache.claims.put(key, data)
    return data


def _status_versions(res: verification.RegistryResolver, cert) -> list[str]:
    versions = res.versions()
    return [f"{lid}:{versions.get(lid, ('', 0))[1]}" for lid in (cert.revocation_list_id, cert.suspension_list_id)]


def _page(html: str, status: int) -> Response:
    resp = Response(html, status=status, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = PAGE_CSP
    return resp


# --------------------------------------------------------------------------------------------
# GET /v/<id> as JSON, answered from the memo outside Flask's request handling

#: The ids labels carry; anything else (a certificate number, other spellings) takes the full path.
_HOT_PATH = re.compile(r"/v/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\Z")
_VARY = "Accept, Accept-Language, Cookie"  # what the full path sends (Flask-Login reads the session)


class _Cold(Exception):
    """The answer needs a read that only the full request handling makes."""


def _cold():
    raise _Cold


class HotAnswers:
    """WSGI middleware: ``GET /v/<id>`` with ``Accept: application/json`` whose answer is memoised,
    answered without Flask's request handling.

    Procurement systems and the verification API's clients ask this the most; Flask's request
    and response objects, URL matching and hooks cost three times what the answer itself does.
    The answer is the one the view gives, byte for byte, headers included: the same statement
    reads the certificate's status and the trust and status versions on every request, the memo
    and log claim are the view's own, and the request is counted in the view's rate-limit bucket
    and in the metrics. Anything else goes to Flask: a cookie, a conditional request, a query
    string, HEAD, any other id spelling, a NUL in a header, a memo miss, a log claim or status
    versions that need the database, the rate limit reached, or the limiter's storage failing.
    """

    def __init__(self, app, wsgi_app) -> None:
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if (environ.get("REQUEST_METHOD") == "GET" and environ.get("HTTP_ACCEPT") == "application/json"
                and not environ.get("QUERY_STRING")):
            match = _HOT_PATH.match(environ.get("PATH_INFO", ""))
            if match is not None:
                answer = self._answer(environ, match[1])
                if answer is not None:
                    start_response("200 OK", answer[0])
                    return [answer[1]]
        return self.wsgi_app(environ, start_response)

    def _answer(self, environ: dict, cert_id: str) -> tuple[list, bytes] | None:
        started = time.perf_counter()
        app = self.app
        if "HTTP_COOKIE" in environ or "HTTP_IF_NONE_MATCH" in environ:
            return None
        if nul_in_headers(environ):  # hardening._refuse_nul answers these
            return None
        if app.extensions["registry.key_check"].state != "ok":
            return None
        with app.app_context():
            try:
                cert, fp = verification.certificate_for_verify(cert_id)
                if cert is None:
                    return None
                res = verification.resolver(_cold, fingerprint=fp)
                now = datetime.now(timezone.utc)
                log_claim = tlog.certificate_claim(_cold, cert.id, app=app)
                memo_key, etag = _answer_keys(cert, fp, res, now, "", True, log_claim)
                cache = verification.cache_for(app)
                parts = cache.answers.get(memo_key)
                if parts is None:
                    return None
                data = _joined(cache, parts, now, log_claim)
            except Exception:  # noqa: BLE001 - _Cold, or a failure the full handling reports (503 busy, 500 logged)
                return None
            limit_headers = limiter.count_outside_flask(app, app.config["RATELIMIT_PUBLIC"], "public.verify_page",
                                                        environ)
            if limit_headers is None:
                return None
        request_id = request_id_for(environ)
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                   ("Cache-Control", _cache_control(app.config)),
                   ("Vary", _VARY), ("ETag", f'"{etag}"'), *app.extensions["registry.static_headers"],
                   ("X-Request-Id", request_id), *limit_headers]
        app.extensions["registry.observe"]("GET", "/v/<cert_id>", 200, time.perf_counter() - started,
                                           environ.get("PATH_INFO", ""), request_id)
        return headers, data
