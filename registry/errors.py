"""The one error type of the registry; handlers turn it into RFC 9457 problem+json."""

from __future__ import annotations

PROBLEM_BASE = "https://carbon-label-registry.org/problems/"


class RegistryError(Exception):
    """A refusal with an HTTP status and a stable problem ``type`` slug."""

    status = 400
    type = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str | None = None, *, type: str | None = None,
                 title: str | None = None, status: int | None = None,
                 errors: dict[str, list[str]] | None = None, extra: dict | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if type:
            self.type = type
        if title:
            self.title = title
        if status:
            self.status = status
        self.extra = dict(extra or {})
        if errors:
            self.extra["errors"] = errors


class NotFound(RegistryError):
    status = 404
    type = "not-found"
    title = "Not found"


class Conflict(RegistryError):
    status = 409
    type = "conflict"
    title = "Conflict"


class Forbidden(RegistryError):
    status = 403
    type = "forbidden"
    title = "Forbidden"


class Unauthorized(RegistryError):
    status = 401
    type = "unauthorized"
    title = "Unauthorized"


class InvalidInput(RegistryError):
    """422: the request is well-formed but breaks a rule (field errors go under ``errors``)."""

    status = 422
    type = "invalid-input"
    title = "Invalid input"


class NotAccredited(Forbidden):
    type = "not-accredited"
    title = "Certification body is not accredited"


class OutOfScope(Forbidden):
    type = "out-of-scope"
    title = "Outside the accreditation scope"


def field_error(field: str, message: str, *, type: str = "invalid-input",
                detail: str | None = None) -> InvalidInput:
    """A 422 for a single field, the shape marshmallow errors take too."""
    return InvalidInput(detail or f"{field}: {message}", type=type, errors={field: [message]})
