"""Procurement clients and supplier-monitoring subscriptions."""

from __future__ import annotations

from marshmallow import fields, validate

from .common import StrictSchema, format_time

_VALUES = fields.List(fields.String(validate=validate.Length(1, 200)), validate=validate.Length(max=1000))


class SubscriptionFilterIn(StrictSchema):
    certificateIds = _VALUES
    gtins = fields.List(fields.String(validate=validate.Regexp(r"^\d{8,14}$", error="A GTIN of 8 to 14 digits.")),
                        validate=validate.Length(max=1000))
    manufacturerIds = _VALUES
    bodyIds = _VALUES


class SubscriptionIn(StrictSchema):
    """``POST /api/v1/subscriptions``."""

    callbackUrl = fields.String(required=True, validate=validate.Length(1, 2000))
    filter = fields.Nested(SubscriptionFilterIn, load_default=dict)


class SubscriptionOut(StrictSchema):
    id = fields.String()
    callbackUrl = fields.String(attribute="callback_url")
    filter = fields.Dict()
    createdAt = fields.Function(lambda s: format_time(s.created_at))


class DeliveryOut(StrictSchema):
    id = fields.String()
    type = fields.Function(lambda d: d.event.get("type"))
    subject = fields.Function(lambda d: d.event.get("subject"))
    status = fields.String()
    attempts = fields.Integer()
    nextAttemptAt = fields.Function(lambda d: format_time(d.next_attempt_at) if d.status == "pending" else None)
    lastStatus = fields.Integer(attribute="last_status", allow_none=True)
    lastError = fields.String(attribute="last_error", allow_none=True)
    createdAt = fields.Function(lambda d: format_time(d.created_at))
    deliveredAt = fields.Function(lambda d: format_time(d.delivered_at) if d.delivered_at else None)


class ProcurementClientIn(StrictSchema):
    """``POST /api/v1/procurement-clients``."""

    name = fields.String(required=True, validate=validate.Length(1, 200))
    callbackClientId = fields.String(validate=validate.Length(1, 200), load_default=None)
    callbackClientSecret = fields.String(validate=validate.Length(1, 500), load_default=None, load_only=True)


class ProcurementClientOut(StrictSchema):
    clientId = fields.String(attribute="client_id")
    name = fields.String()
    callbackClientId = fields.String(attribute="callback_client_id", allow_none=True)
    createdAt = fields.Function(lambda c: format_time(c.created_at))
    revokedAt = fields.Function(lambda c: format_time(c.disabled_at) if c.disabled_at else None)
