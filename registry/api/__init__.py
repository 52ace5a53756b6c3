"""The JSON API: one Blueprint at /api/v1, and the public documents outside it."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
public = Blueprint("public", __name__)


def doc(*, body=None, response=None, status: int = 200, auth: str | None = None, params=None,
        responses: dict | None = None, tags: list[str] | None = None, media: dict | None = None,
        example: dict | None = None):
    """Attach OpenAPI facts to a view; ``registry.openapi`` reads them off the URL map.

    ``media``: other media types of the success response (``{"text/html": {}}``); ``example``: a
    valid request body (clients copy it, and the conformance run sends it).
    """

    def decorator(view):
        view.openapi = {"body": body, "response": response, "status": status, "auth": auth,
                        "params": params or [], "responses": responses or {}, "tags": tags or [],
                        "media": media or {}, "example": example}
        return view

    return decorator


from . import bodies, certificates, labels, public_docs, status  # noqa: E402,F401  (register routes)
from . import verify  # noqa: E402,F401  (register routes: /api/v1/verify, /v/<id>)
from . import subscriptions  # noqa: E402,F401  (register routes: /api/v1/subscriptions, procurement clients)
from . import clients  # noqa: E402,F401  (register routes: /api/v1/clients)
from . import log  # noqa: E402,F401  (register routes: /log/…)
