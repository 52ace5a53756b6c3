"""Supplier monitoring (procurement role) and procurement clients (operator role)."""

from __future__ import annotations

from flask import current_app, request, url_for
from marshmallow import ValidationError
from sqlalchemy import select

from ..auth import current_principal, require
from ..db import get_session
from ..http import json_body
from ..models import Delivery, OAuthClient, Subscription
from ..schemas.procurement import (DeliveryOut, ProcurementClientIn, ProcurementClientOut, SubscriptionIn,
                                   SubscriptionOut)
from ..services import procurement
from . import bp, doc


@bp.post("/subscriptions")
@doc(body=SubscriptionIn, status=201, auth="procurement", tags=["procurement"],
     responses={422: "field errors, callback-url-refused"})
@require("procurement")
def create_subscription():
    """Watch certificates matching a filter; events go to callbackUrl signed with the returned secret."""
    data = SubscriptionIn().load(json_body())
    session = get_session()
    sub, secret = procurement.create_subscription(session, current_app.config, client_id=current_principal().client_id,
                                                  callback_url=data["callbackUrl"], filter_=data["filter"])
    session.commit()
    return ({**SubscriptionOut().dump(sub), "secret": secret}, 201,
            {"Location": url_for("api.get_subscription", sub_id=sub.id)})


@bp.get("/subscriptions")
@doc(response=SubscriptionOut(many=True), auth="procurement", tags=["procurement"])
@require("procurement")
def list_subscriptions():
    """The caller's own subscriptions."""
    subs = get_session().scalars(select(Subscription).where(
        Subscription.client_id == current_principal().client_id, Subscription.deleted_at.is_(None))
        .order_by(Subscription.created_at)).all()
    return {"items": SubscriptionOut(many=True).dump(subs)}


@bp.get("/subscriptions/<sub_id>")
@doc(response=SubscriptionOut, auth="procurement", tags=["procurement"])
@require("procurement")
def get_subscription(sub_id: str):
    """One of the caller's subscriptions."""
    return SubscriptionOut().dump(procurement.own_subscription(get_session(), current_principal().client_id, sub_id))


@bp.delete("/subscriptions/<sub_id>")
@doc(status=204, auth="procurement", tags=["procurement"])
@require("procurement")
def delete_subscription(sub_id: str):
    """Stop a subscription; deliveries not yet sent are cancelled."""
    session = get_session()
    procurement.delete_subscription(session, procurement.own_subscription(session, current_principal().client_id, sub_id))
    session.commit()
    return "", 204


@bp.get("/subscriptions/<sub_id>/deliveries")
@doc(response=DeliveryOut(many=True), auth="procurement", tags=["procurement"],
     params=[{"name": "status", "in": "query", "required": False,
              "schema": {"enum": ["pending", "delivered", "dead", "cancelled"]}}])
@require("procurement")
def list_deliveries(sub_id: str):
    """Deliveries of a subscription, newest first; ``dead`` ones exhausted their retries."""
    session = get_session()
    sub = procurement.own_subscription(session, current_principal().client_id, sub_id)
    query = select(Delivery).where(Delivery.subscription_id == sub.id)
    if request.args.get("status"):
        query = query.where(Delivery.status == request.args["status"])
    rows = session.scalars(query.order_by(Delivery.created_at.desc()).limit(200)).all()
    return {"items": DeliveryOut(many=True).dump(rows)}


@bp.post("/procurement-clients")
@doc(body=ProcurementClientIn, status=201, auth="operator", tags=["operator"])
@require("operator")
def create_procurement_client():
    """A PACT data recipient's OAuth client; the secret is shown once."""
    data = ProcurementClientIn().load(json_body())
    if bool(data["callbackClientId"]) != bool(data["callbackClientSecret"]):
        raise ValidationError({"callbackClientSecret": ["Give callbackClientId and callbackClientSecret together."]})
    session = get_session()
    client, secret = procurement.create_client(
        session, current_app.config, name=data["name"], callback_client_id=data["callbackClientId"],
        callback_client_secret=data["callbackClientSecret"], actor=current_principal().actor)
    session.commit()
    return {**ProcurementClientOut().dump(client), "clientSecret": secret}, 201


@bp.get("/procurement-clients")
@doc(response=ProcurementClientOut(many=True), auth="operator", tags=["operator"])
@require("operator")
def list_procurement_clients():
    """Procurement clients, revoked ones included."""
    clients = get_session().scalars(select(OAuthClient).where(OAuthClient.role == "procurement")
                                    .order_by(OAuthClient.created_at)).all()
    return {"items": ProcurementClientOut(many=True).dump(clients)}


@bp.post("/procurement-clients/<client_id>/revoke")
@doc(response=ProcurementClientOut, auth="operator", tags=["operator"])
@require("operator")
def revoke_procurement_client(client_id: str):
    """Revoke a procurement client: its tokens stop working at the next token request, its subscriptions end."""
    session = get_session()
    client = procurement.revoke_client(session, procurement.get_client(session, client_id),
                                       actor=current_principal().actor)
    session.commit()
    return ProcurementClientOut().dump(client)
