"""Who may see and change what: roles, and a body's own data only."""

from __future__ import annotations

import functools

from flask import abort
from flask_login import current_user, login_required

from ..db import get_session
from ..models import Certificate


def roles(*allowed: str):
    """Guard a view: signed in, with one of ``allowed`` roles (403 otherwise)."""

    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def own_certificate(cert_id: str) -> Certificate:
    """The certificate if this person may see it; another body's is answered as missing (404)."""
    cert = get_session().get(Certificate, cert_id) if isinstance(cert_id, str) and len(cert_id) <= 45 else None
    if cert is None or (current_user.role != "operator" and cert.body_id != current_user.body_id):
        abort(404)
    return cert
