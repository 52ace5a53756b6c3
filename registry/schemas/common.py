"""Fields and helpers shared by the schemas."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal

from marshmallow import EXCLUDE, INCLUDE, RAISE, Schema, ValidationError, fields
from marshmallow.utils import missing, set_value

KINDS = ("carbon-footprint", "low-carbon", "reduced-carbon", "carbon-neutral")
#: PACT Technical Specifications v3, CarbonFootprint.declaredUnitOfMeasurement.
DECLARED_UNITS = ("liter", "kilogram", "cubic meter", "kilowatt hour", "megajoule",
                  "ton kilometer", "square meter", "piece", "hour", "megabit second")
CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_DECIMAL_RE = re.compile(r"(-?)(\d+)(?:\.(\d+))?", re.ASCII)
_RFC3339_RE = re.compile(
    r"(\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})", re.ASCII)
_NOT_FINITE = {"nan", "snan", "inf", "infinity"}
MAX_INTEGER_DIGITS = 15
MAX_PLACES = 12


@functools.cache
def shared(schema_cls: type[Schema]) -> Schema:
    """One instance of ``schema_cls`` for every request: building a schema (and its nested ones)
    costs more than loading or dumping with it, and a marshmallow 4 schema keeps no per-call state."""
    return schema_cls()


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE

    def _deserialize(self, data, *, error_store, many=False, partial=None, unknown=RAISE, index=None):
        """``Schema._deserialize`` for one object loaded without ``partial`` (every load here): the
        same fields in the same order, the same errors, without a closure, a keyword dict and a
        ``partial`` test per field. A batch loads a thousand requests of about forty fields each.
        (tests/registry/test_certificate_schema.py compares it with marshmallow's own.)"""
        if many or partial is not None or not isinstance(data, Mapping):
            return super()._deserialize(data, error_store=error_store, many=many, partial=partial,
                                        unknown=unknown, index=index)
        index = index if self.opts.index_errors else None
        plan = self.__dict__.get("_load_plan")
        if plan is None or plan[0] is not self.load_fields:  # load_fields is rebuilt when fields change
            steps = [(f.data_key if f.data_key is not None else name, f, f.attribute or name,
                      "." in (f.attribute or name)) for name, f in self.load_fields.items()]
            plan = self._load_plan = (self.load_fields, steps, {step[0] for step in steps})
        _, steps, known = plan
        out = self.dict_class()
        for key, field, attribute, dotted in steps:
            try:
                value = field.deserialize(data.get(key, missing), key, data)
            except ValidationError as error:
                error_store.store_error(error.messages, key, index=index)
                value = error.valid_data or missing
            if value is not missing:
                if dotted:  # a path into nested dicts
                    set_value(out, attribute, value)
                else:
                    out[attribute] = value
        if unknown != EXCLUDE:
            for key in set(data) - known:
                if unknown == INCLUDE:
                    out[key] = data[key]
                elif unknown == RAISE:
                    error_store.store_error([self.error_messages["unknown"]], key, index)
        return out


class Field(fields.Field):
    """A field of our own. Marshmallow composes a field's validators into a new ``validate.And``
    for every value it loads; most of these fields have none, and skip that."""

    def _validate(self, value) -> None:
        if self.validators:
            super()._validate(value)


class DecimalString(Field):
    """A decimal quantity written as a JSON string, loaded as a Decimal.

    ``signed``: negatives allowed; ``positive``: zero refused too.
    """

    default_error_messages = {
        "number": "Must be a decimal written as a string, e.g. \"0.82\": JSON numbers are "
                  "refused because they can lose precision.",
        "type": "Must be a decimal written as a string, e.g. \"0.82\".",
        "not_finite": "Must be a finite decimal (NaN and Infinity are not quantities).",
        "exponent": "Write the number out in full, e.g. \"1000\": exponent notation is refused.",
        "format": "Must be a plain decimal such as \"0.82\" (digits and one point; no sign, "
                  "spaces or separators).",
        "too_long": "At most 15 digits before the point and 12 after it.",
        "negative": "Must not be negative.",
        "positive": "Must be greater than zero.",
    }

    def __init__(self, *, signed: bool = False, positive: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.signed = signed
        self.positive = positive

    def _deserialize(self, value, attr, data, **kwargs) -> Decimal:
        if isinstance(value, (bool,)):
            raise self.make_error("type")
        if isinstance(value, (int, float, Decimal)):
            raise self.make_error("number")
        if not isinstance(value, str):
            raise self.make_error("type")
        match = _DECIMAL_RE.fullmatch(value)
        if not match:  # what went wrong, for the message (a plain decimal is never one of these)
            if value.strip().lstrip("+-").lower() in _NOT_FINITE:
                raise self.make_error("not_finite")
            if "e" in value.lower() and re.fullmatch(r"[+-]?[0-9.]+[eE][+-]?[0-9]+", value.strip()):
                raise self.make_error("exponent")
            raise self.make_error("format")
        sign, whole, places = match.groups()
        if len(whole.lstrip("0")) > MAX_INTEGER_DIGITS or len(places or "") > MAX_PLACES:
            raise self.make_error("too_long")
        number = Decimal(value)
        if sign and number != 0 and not self.signed:
            raise self.make_error("negative")
        if number.is_signed() and number == 0:
            number = abs(number)  # "-0" is zero
        if self.positive and number <= 0:
            raise self.make_error("positive")
        return number

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        text = format(Decimal(value), "f")
        return text[1:] if text.startswith("-") and Decimal(value) == 0 else text


class RFC3339DateTime(Field):
    """An RFC 3339 date-time with ``Z`` or an offset, loaded as an aware UTC datetime."""

    default_error_messages = {
        "invalid": "Must be an RFC 3339 date-time with a time zone, e.g. \"2025-12-31T23:59:59Z\".",
        "fraction": "Whole seconds only (fractional seconds other than zero are refused).",
        "range": "Outside the years 1 to 9999 once converted to UTC.",
    }

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        match = _RFC3339_RE.fullmatch(value)
        if not match:
            raise self.make_error("invalid")
        stamp, fraction, offset = match.groups()
        if fraction and fraction.strip("0"):
            raise self.make_error("fraction")
        offset = "+00:00" if offset in ("Z", "z") else offset
        try:
            return datetime.fromisoformat(stamp.upper() + offset).astimezone(timezone.utc)
        except ValueError as err:
            raise self.make_error("invalid") from err
        except OverflowError as err:  # 9999-12-31T23:59:59-01:00 is past the calendar in UTC
            raise self.make_error("range") from err

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_time(value: datetime) -> str:
    return value.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def validate_code(value: str, field: str = "code") -> str:
    if not CODE_RE.match(value or ""):
        raise ValidationError({field: ["Lower-case letters, digits and hyphens, 2 to 63 characters."]})
    return value
