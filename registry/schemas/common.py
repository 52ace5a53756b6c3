"""Fields and helpers shared by the schemas."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from marshmallow import Schema, ValidationError, fields, RAISE

KINDS = ("carbon-footprint", "low-carbon", "reduced-carbon", "carbon-neutral")
# PACT Technical Specifications, DeclaredUnit enumeration (v2) plus "piece" for discrete goods.
DECLARED_UNITS = ("liter", "kilogram", "cubic meter", "kilowatt hour", "megajoule",
                  "ton kilometer", "square meter", "piece")
CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_DECIMAL_RE = re.compile(r"^\d{1,15}(\.\d{1,12})?$")


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class DecimalString(fields.Field):
    """A non-negative decimal carried as a JSON string; JSON numbers are refused as lossy."""

    default_error_messages = {
        "type": "Must be a decimal number written as a string, e.g. \"0.82\".",
        "format": "Must be a plain non-negative decimal such as \"0.82\" (no sign, exponent or spaces).",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("type")
        if not _DECIMAL_RE.match(value):
            raise self.make_error("format")
        try:
            return Decimal(value)
        except InvalidOperation as err:
            raise self.make_error("format") from err

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else str(value)


class UTCDateTime(fields.DateTime):
    """RFC 3339 with an explicit offset, loaded as aware UTC and dumped with ``Z``."""

    default_error_messages = {"naive": "Must carry a time zone, e.g. 2026-01-01T00:00:00Z."}

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if result.tzinfo is None:
            raise self.make_error("naive")
        return result.astimezone(timezone.utc)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else format_time(value)


def format_time(value: datetime) -> str:
    return value.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def validate_code(value: str, field: str = "code") -> str:
    if not CODE_RE.match(value or ""):
        raise ValidationError({field: ["Lower-case letters, digits and hyphens, 2 to 63 characters."]})
    return value
