"""Operator endpoints for OAuth clients."""

from __future__ import annotations

from ..auth import current_principal, require
from ..db import get_session
from ..http import json_body
from ..schemas.bodies import ReasonIn
from ..schemas.clients import ClientOut
from ..services import clients as svc
from . import bp, doc


@bp.post("/clients/<client_id>/disable")
@doc(body=ReasonIn, response=ClientOut, auth="operator", tags=["operator"],
     responses={404: "client-not-found", 409: "invalid-transition (already disabled)"})
@require("operator")
def disable_client(client_id: str):
    """Disable an OAuth client: its secret and every token it holds stop working at once."""
    data = ReasonIn().load(json_body())
    session = get_session()
    client = svc.disable_client(session, svc.get_client(session, client_id), data["reason"],
                                actor=current_principal().actor)
    session.commit()
    return ClientOut().dump(client)
