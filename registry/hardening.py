"""Hostile input stopped at the edge: JSON nesting, NUL bytes and lone surrogates become 4xx problems.

* JSON bodies: nesting deeper than :data:`MAX_JSON_DEPTH` is refused (Python's parser stops
  cleanly at ~1,000 levels, but every recursive walk after it — marshmallow, ``json.dumps`` —
  would hit the recursion limit on what it accepted);
  strings holding NUL (which PostgreSQL text cannot store) or a lone UTF-16 surrogate (which no
  encoding can store) are refused with the field's path.
* The URL (path and query) and header values holding NUL are refused before any view runs.

The depth walk visits arrays and objects only (strings are leaves); the per-string walk runs
only when the raw bytes hold a ``\\u0000`` or ``\\uD8xx``–``\\uDFxx`` escape.
"""

from __future__ import annotations

import re

import flask
from flask import json as flask_json
from flask import request

from .errors import InvalidInput, RegistryError

MAX_JSON_DEPTH = 64

_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


class TooDeep(RegistryError):
    status = 400
    type = "json-too-deep"
    title = "JSON nested too deeply"


def too_deep(value, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the parsed JSON ``value`` nests arrays and objects more than ``limit`` levels."""
    # Level by level: a 1,000-item batch holds ~10,000 containers, and a plain loop over each
    # level costs a third of a stack of (container, depth) tuples fed by a generator each.
    level, depth = [value], 1
    while level:
        if depth > limit:
            return True
        below = []
        for item in level:
            for child in (item.values() if isinstance(item, dict) else item):
                if isinstance(child, (dict, list)):
                    below.append(child)
        level, depth = below, depth + 1
    return False


def bad_string(value: str) -> str | None:
    """Why ``value`` cannot be stored, or None."""
    if "\x00" in value:
        return "Must not contain NUL (U+0000)."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Must not contain a lone UTF-16 surrogate (U+D800 to U+DFFF)."
    return None


def check_strings(obj) -> None:
    """Raises InvalidInput (422 ``invalid-characters``) naming each field holding a bad string."""
    errors: dict[str, list[str]] = {}
    stack = [("", obj)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            why = bad_string(value)
            if why:
                errors.setdefault(path or "_schema", []).append(why)
        elif isinstance(value, dict):
            for key, item in value.items():
                name = f"{path}.{key}" if path else str(key)
                why = bad_string(key)
                if why:
                    errors.setdefault(path or "_schema", []).append("A member name: " + why)
                else:
                    stack.append((name, item))
        elif isinstance(value, list):
            stack.extend((f"{path}.{i}" if path else str(i), item) for i, item in enumerate(value))
    if errors:
        raise InvalidInput("The request holds characters that cannot be stored", type="invalid-characters",
                           errors=errors)


class _BoundedJSON:
    """The ``json_module`` of request bodies: Flask's JSON with the depth and character checks."""

    @staticmethod
    def loads(s, **kwargs):
        raw = s.encode("utf-8", "surrogatepass") if isinstance(s, str) else bytes(s)
        try:  # the C parser refuses ~1,000 levels cleanly; the walk below bounds what it accepts
            value = flask_json.loads(s, **kwargs)
        except RecursionError as err:
            raise TooDeep(f"JSON may nest at most {MAX_JSON_DEPTH} levels of arrays and objects") from err
        if isinstance(value, (dict, list)) and too_deep(value):
            raise TooDeep(f"JSON may nest at most {MAX_JSON_DEPTH} levels of arrays and objects")
        if _SUSPECT_ESCAPE.search(raw):
            check_strings(value)
        return value

    def __getattr__(self, name):
        return getattr(flask_json, name)


class Request(flask.Request):
    """Every ``request.get_json()`` goes through the bounds (a RegistryError is not silenced)."""

    _bounded = _BoundedJSON()

    # Flask sets ``request.json_module = app.json`` on every request; the bounds delegate to it.
    @property
    def json_module(self):
        return self._bounded

    @json_module.setter
    def json_module(self, value) -> None:
        pass


def nul_in_headers(environ: dict) -> bool:
    return any(key.startswith("HTTP_") and isinstance(value, str) and "\x00" in value for key, value in environ.items())


def _refuse_nul() -> None:
    req = request._get_current_object()
    environ = req.environ
    if "\x00" in req.path or b"%00" in req.query_string or b"\x00" in req.query_string:
        raise RegistryError("The URL must not contain NUL (%00)", type="invalid-characters",
                            title="Invalid characters")
    if nul_in_headers(environ):
        raise RegistryError("A header must not contain NUL", type="invalid-characters", title="Invalid characters")
    # Without a Content-Type there is no form (request.mimetype would be ""): nothing to parse.
    if environ.get("CONTENT_TYPE") and req.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for key, value in req.form.items(multi=True):
            if bad_string(key) or bad_string(value):
                raise InvalidInput("A form field holds characters that cannot be stored",
                                   type="invalid-characters", errors={"form": [bad_string(key) or bad_string(value)]})


def init_app(app) -> None:
    """Bounded JSON request bodies and the URL/header check."""
    app.request_class = Request
    app.before_request(_refuse_nul)
