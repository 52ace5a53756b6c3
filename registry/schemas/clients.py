"""Operator-side schema of OAuth clients (never the secret, which only its hash stores)."""

from __future__ import annotations

from marshmallow import Schema, fields

from .common import format_time


class ClientOut(Schema):
    clientId = fields.String(attribute="client_id")
    name = fields.String()
    role = fields.String()
    bodyId = fields.String(attribute="body_id", allow_none=True)
    disabledAt = fields.Function(lambda c: format_time(c.disabled_at) if c.disabled_at else None, allow_none=True)
