"""Cross-cutting HTTP behaviour: problem+json errors, request ids, logs, metrics, headers, limits."""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import time
import weakref

import flask
import flask_limiter
import limits
from flask import Response, current_app, g, has_request_context, request
from flask_limiter import HeaderNames
from flask_limiter.util import get_remote_address
from marshmallow import ValidationError
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException

from . import keycheck
from .db import is_busy
from .errors import PROBLEM_BASE, RegistryError

log = logging.getLogger("registry")

SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))


class Flask(flask.Flask):
    """Flask, remembering which hooks and views are plain functions.

    Flask asks ``inspect.iscoroutinefunction`` about every hook and the view on every request
    (nine times for a verification); the answer for a given function never changes.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._plain: weakref.WeakSet = weakref.WeakSet()

    def ensure_sync(self, func):
        try:
            if func in self._plain:
                return func
        except TypeError:  # cannot be weakly referenced: ask every time
            return super().ensure_sync(func)
        wrapped = super().ensure_sync(func)
        if wrapped is func:
            self._plain.add(func)
        return wrapped


class Limiter(flask_limiter.Limiter):
    """Flask-Limiter without the bookkeeping of checks that cannot find a limit.

    Every limit here is a route's own decorator, so the app-wide ``before_request`` pass (default,
    application, blueprint and meta limits) has nothing to count; and with limiting disabled a
    decorated route has nothing to check either. Either way the upstream code still resolves
    exemptions and limit sets on every request; it runs whenever one of those kinds of limit
    exists, or while the storage is down (its recovery check lives there).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._parsed: dict = {}

    def _nothing_outside_routes(self) -> bool:
        manager = self.limit_manager
        # Unknown attributes (another Flask-Limiter) read as "there may be limits": the full check runs.
        return not (getattr(manager, "_application_limits", True) or getattr(manager, "_default_limits", True)
                    or getattr(manager, "_blueprint_limits", True) or getattr(self, "_meta_limits", True)
                    or getattr(self, "_in_memory_fallback", True) or getattr(self, "_storage_dead", True))

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if in_middleware or not (self.enabled and self.initialized):
            if self._nothing_outside_routes():
                return
        super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)

    def count_outside_flask(self, app, limit_text: str, endpoint: str, environ: dict) -> list[tuple[str, str]] | None:
        """Count a request to a route limited by ``limit_text`` alone, for an answer given outside
        Flask's request handling, in the bucket Flask-Limiter counts that route in; the rate-limit
        headers to send, or None when the request is over the limit, the storage fails, or this is
        not the simple case (the full handling then counts and answers it)."""
        if not (self.enabled and self.initialized):
            return []  # what the route's decorator does then: nothing
        if not self._nothing_outside_routes():
            return None
        cfg = app.config
        if (self._key_func is not get_remote_address or cfg.get("RATELIMIT_REQUEST_IDENTIFIER")
                or getattr(self, "_key_prefix", None) is None or self._retry_after == "http-date"):
            return None
        item = self._parsed.get(limit_text)
        if item is None:
            items = limits.parse_many(limit_text)
            if len(items) != 1:
                return None
            item = self._parsed[limit_text] = items[0]
        # What RuntimeLimit.scope_for and get_remote_address make of an unscoped route limit.
        args = [environ.get("REMOTE_ADDR") or "127.0.0.1", endpoint]
        if self._key_prefix:
            args.insert(0, self._key_prefix)
        try:
            if not self.limiter.hit(item, *args):
                return None
            reset, remaining = self.limiter.get_window_stats(item, *args)
        except Exception:  # noqa: BLE001 - the full handling has the fallback to memory
            return None
        if not (self._headers_enabled and self._header_mapping):
            return []
        reset_at = int(reset + 1)
        names = self._header_mapping
        return [(names[HeaderNames.LIMIT], str(item.amount)), (names[HeaderNames.REMAINING], str(max(0, remaining))),
                (names[HeaderNames.RESET], str(reset_at)), (names[HeaderNames.RETRY_AFTER], str(int(reset_at - time.time())))]


limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
# JSON and images never need to run anything; HTML pages set their own, stricter-per-page policy.
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"


def problem(status: int, type_: str, title: str, detail: str, **extra) -> Response:
    body = {"type": type_ if type_.startswith(("http:", "https:", "about:")) else PROBLEM_BASE + type_,
            "title": title, "status": status, "detail": detail}
    if has_request_context():
        body["instance"] = request.path
        if g.get("request_id"):
            body["requestId"] = g.request_id
    body.update(extra)
    resp = Response(json.dumps(body, ensure_ascii=False), status=status,
                    mimetype="application/problem+json")
    return resp


def _page_for(err: Exception, status: int, headers: dict | None = None) -> Response | None:
    """A page for people instead of problem+json when a part of the site made of pages (the portal)
    claims the path: ``app.extensions["registry.error_pages"]`` holds (path prefix, renderer)."""
    if not has_request_context():
        return None
    path = request.path
    for prefix, render in current_app.extensions.get("registry.error_pages", ()):
        if path == prefix or path.startswith(prefix + "/"):
            resp = render(err, status)
            if resp is not None:
                resp.headers.extend(headers or {})
            return resp
    return None


def _rollback() -> None:
    session = g.get("db_session")
    if session is not None:
        session.rollback()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
                 "logger": record.name, "msg": record.getMessage()}
        if has_request_context():
            entry["requestId"] = g.get("request_id")
        for key in ("requestId", "method", "path", "status", "durationMs", "endpoint", "client"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def init_logging(app) -> None:
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(app.config.get("LOG_LEVEL", "INFO"))


def init_app(app) -> None:
    init_logging(app)
    registry = CollectorRegistry()
    requests = Counter("registry_http_requests_total", "HTTP requests",
                       ["method", "endpoint", "status"], registry=registry)
    latency = Histogram("registry_http_request_duration_seconds", "HTTP request latency",
                        ["method", "endpoint"], registry=registry,
                        buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
    app.extensions["registry.metrics"] = registry
    children: dict[tuple, tuple] = {}

    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    # If the shared store fails (Redis down), count per worker rather than answer 500s.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config["RATELIMIT_ENABLED"] = bool(app.config["RATELIMIT_ENABLED"])
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        # Shared by every worker of this instance (memory:// would be per worker).
        from pathlib import Path

        from . import ratelimit
        from .config import private_instance

        app.config["RATELIMIT_STORAGE_URI"] = ratelimit.default_uri(private_instance(Path(app.instance_path)))
    limiter.init_app(app)

    static_headers = [*SECURITY_HEADERS.items(), ("Content-Security-Policy", DEFAULT_CSP)]
    if app.config["PUBLIC_URL"].startswith("https:"):
        static_headers.append(("Strict-Transport-Security", "max-age=63072000; includeSubDomains"))
    Headers(static_headers)  # validated once here: they are added unchecked to every response

    key_state = app.extensions.setdefault("registry.key_check", keycheck.KeyCheck())

    @app.before_request
    def _start():
        req = request._get_current_object()  # one proxy lookup, not one per attribute
        ctx = g._get_current_object()
        ctx.started = time.perf_counter()
        ctx.request_id = request_id_for(req.environ)
        # Decides BEGIN IMMEDIATE (writes queue for the lock) or a deferred BEGIN on SQLite: db._write_intent.
        ctx.db_write = req.method not in SAFE_METHODS and not getattr(app.view_functions.get(req.endpoint),
                                                                      "db_read_only", False)
        if key_state.state != "ok" and req.endpoint != "public.healthz":
            # Start-up could not check the key (database unreachable or not migrated): check now.
            if keycheck.ensure(app).state == "failed":
                return problem(503, "key-check-failed", "Key check failed",
                               "The registry's key-encryption key does not match its database; "
                               "see /healthz and the error log")

    static_names = frozenset(k.lower() for k, _v in static_headers)
    app.extensions["registry.static_headers"] = static_headers

    def observe(method: str, endpoint: str, status: int, elapsed: float, path: str, request_id: str) -> None:
        """Count a request in the metrics and log it (at INFO)."""
        key = (method, endpoint, status)
        counter = children.get(key)
        if counter is None:  # labels() costs a lock and a tuple hash per call: keep the children
            counter = children[key] = (requests.labels(method, endpoint, str(status)), latency.labels(method, endpoint))
        counter[0].inc()
        counter[1].observe(elapsed)
        if log.isEnabledFor(logging.INFO):
            log.info("request", extra={"requestId": request_id, "method": method, "path": path, "status": status,
                                       "durationMs": round(elapsed * 1000, 2), "endpoint": endpoint})

    # What answers outside Flask's request handling (api.verify.HotAnswers) does instead of _start and _finish.
    app.extensions["registry.observe"] = observe

    @app.after_request
    def _finish(resp: Response):
        headers = resp.headers
        # A view may set one of them itself (a page's own CSP): that one is kept, the rest added.
        own = {k.lower() for k, _v in headers if k.lower() in static_names}
        _extend_checked(headers, [(k, v) for k, v in static_headers if k.lower() not in own] if own else static_headers)
        ctx = g._get_current_object()
        request_id = headers["X-Request-Id"] = ctx.get("request_id", "")
        req = request._get_current_object()
        rule = req.url_rule
        observe(req.method, rule.rule if rule else "unmatched", resp.status_code,
                time.perf_counter() - ctx.get("started", time.perf_counter()), req.path, request_id)
        return resp

    @app.errorhandler(RegistryError)
    def _registry_error(err: RegistryError):
        _rollback()
        page = _page_for(err, err.status, getattr(err, "headers", None))
        if page is not None:
            return page
        resp = problem(err.status, err.type, err.title, err.detail, **err.extra)
        resp.headers.extend(getattr(err, "headers", {}))  # e.g. Retry-After on 503
        if err.status == 401:
            resp.headers["WWW-Authenticate"] = ('Basic realm="registry"' if err.type == "invalid_client"
                                                else 'Bearer realm="registry"')
        return resp

    @app.errorhandler(ValidationError)
    def _validation_error(err: ValidationError):
        _rollback()
        page = _page_for(err, 422)
        if page is not None:
            return page
        messages = err.messages if isinstance(err.messages, dict) else {"_schema": err.messages}
        return problem(422, "invalid-input", "Invalid input", "The request has invalid fields",
                       errors=_flatten(messages))

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        _rollback()
        headers = {}
        if err.code == 405 and getattr(err, "valid_methods", None):
            headers["Allow"] = ", ".join(err.valid_methods)
        if err.code == 429:
            headers["Retry-After"] = "60"
        page = _page_for(err, err.code or 500, headers)
        if page is not None:
            return page
        slug = {400: "bad-request", 404: "not-found", 405: "method-not-allowed", 406: "not-acceptable",
                413: "payload-too-large", 415: "unsupported-media-type", 429: "rate-limited"}.get(
                    err.code, "http-error")
        resp = problem(err.code or 500, slug, err.name, err.description or err.name)
        resp.headers.extend(headers)
        return resp

    @app.errorhandler(Exception)
    def _unhandled(err: Exception):
        _rollback()
        if is_busy(err):
            log.warning("database busy: %s", err)
            page = _page_for(err, 503, {"Retry-After": "2"})
            if page is not None:
                return page
            resp = problem(503, "database-busy", "Database busy",
                           "The database is busy with other writes; retry the request shortly")
            resp.headers["Retry-After"] = "2"
            return resp
        log.exception("unhandled error")
        page = _page_for(err, 500)
        if page is not None:
            return page
        return problem(500, "internal-error", "Internal server error",
                       "The request could not be completed; it has been logged with its request id")

    @app.get("/metrics")
    def metrics():
        """Prometheus metrics: request counts and latencies by endpoint."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Under gunicorn (gunicorn.conf.py) each worker writes its own files: add them all up.
            from prometheus_client import multiprocess

            combined = CollectorRegistry()
            multiprocess.MultiProcessCollector(combined)
            return Response(generate_latest(combined), mimetype=CONTENT_TYPE_LATEST)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def request_id_for(environ: dict) -> str:
    """The caller's ``X-Request-Id`` when it is a short printable text, else a new one."""
    incoming = environ.get("HTTP_X_REQUEST_ID", "")  # what request.headers.get would read
    return incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else secrets.token_hex(8)


def _extend_checked(headers: Headers, items: list[tuple[str, str]]) -> None:
    """Append header pairs validated beforehand (werkzeug checks each value for newlines on
    ``extend``); any other kind of header container goes through its own ``extend``."""
    if type(headers) is Headers and isinstance(getattr(headers, "_list", None), list):
        headers._list.extend(items)
    else:
        headers.extend(items)


def _flatten(messages: dict, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as ``{"footprint.stages.use": [...]}``."""
    out: dict[str, list[str]] = {}
    for key, value in messages.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(_flatten(value, path))
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[path] = value
        elif isinstance(value, list):
            for i, v in enumerate(value):
                if isinstance(v, dict):
                    out.update(_flatten(v, f"{path}.{i}"))
                else:
                    out.setdefault(path, []).append(str(v))
        else:
            out[path] = [str(value)]
    return out


#: For services that report field errors without raising (batch items).
flatten_messages = _flatten


def json_body() -> dict:
    """The request's JSON object, or a 400/415 problem."""
    from .errors import RegistryError as _E

    if not request.is_json:
        raise _E("Send a JSON object with Content-Type: application/json", status=415,
                 type="unsupported-media-type", title="Unsupported media type")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise _E("The body is not a JSON object", type="malformed-json", title="Malformed JSON")
    return data
