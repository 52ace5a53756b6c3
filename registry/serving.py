"""gunicorn integration (``gunicorn.conf.py`` names :class:`Logger`): safe access logs, problem+json errors.

* Access-log atoms are escaped: the Basic-auth user name (``%(u)s``), the request line, the
  query, the referrer and the user agent are client-controlled, and a raw CR or LF in them
  would let a client write forged lines into the log.
* Requests gunicorn refuses itself before the app sees them (request line too long, 414;
  header fields too large, 431; malformed request line or header, 400) are answered as
  RFC 9457 ``application/problem+json`` like every other error, not gunicorn's HTML page.
"""

from __future__ import annotations

import json

from gunicorn import glogging, util

from .errors import PROBLEM_BASE

_SLUGS = {400: "bad-request", 403: "forbidden", 414: "uri-too-long", 417: "expectation-failed",
          431: "request-header-fields-too-large", 500: "internal-error", 501: "not-implemented"}


def escape(value):
    """``value`` with control characters (CR, LF, NUL, ESC …) and backslashes written as escapes."""
    if not isinstance(value, str):
        return value
    if value.isprintable() and "\\" not in value:
        return value
    return value.encode("unicode_escape").decode("ascii")


class Logger(glogging.Logger):
    """gunicorn's logger with every client-controlled access-log atom escaped."""

    def atoms(self, resp, req, environ, request_time):
        return {key: escape(value) for key, value in super().atoms(resp, req, environ, request_time).items()}

    def warning(self, msg, *args, **kwargs):
        # "Invalid request from ip=…: <the client's request line>" arrives already formatted.
        super().warning(escape(msg) if isinstance(msg, str) else msg, *args, **kwargs)


def write_problem(sock, status_int, reason, mesg):
    """gunicorn's ``util.write_error``, answering problem+json instead of an HTML page."""
    body = json.dumps({"type": PROBLEM_BASE + _SLUGS.get(status_int, "http-error"), "title": reason,
                       "status": status_int, "detail": mesg}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/problem+json\r\nContent-Length: {len(body)}\r\n\r\n").encode("latin-1")
    util.write_nonblock(sock, head + body)


# The workers call util.write_error by attribute at the time of the error.
util.write_error = write_problem
