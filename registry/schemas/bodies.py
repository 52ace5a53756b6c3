"""Operator-side schemas: categories, bodies, accreditations."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from .common import DECLARED_UNITS, KINDS, CODE_RE, DecimalString, StrictSchema, RFC3339DateTime


class BenchmarkIn(StrictSchema):
    value = DecimalString(required=True)
    standard = fields.String(required=True, validate=validate.Length(1, 300))
    source = fields.String(required=True, validate=validate.Length(1, 500))


class CategoryIn(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    nameZh = fields.String(validate=validate.Length(1, 200))
    declaredUnitOfMeasurement = fields.String(required=True, validate=validate.OneOf(DECLARED_UNITS))
    benchmark = fields.Nested(BenchmarkIn, allow_none=True)

    @validates_schema
    def _positive_benchmark(self, data, **kwargs):
        benchmark = data.get("benchmark")
        if benchmark and benchmark["value"] <= 0:
            raise ValidationError({"benchmark": {"value": ["Must be greater than zero."]}})


class CategoryOut(StrictSchema):
    code = fields.String()
    name = fields.String()
    nameZh = fields.String(attribute="name_zh", allow_none=True)
    declaredUnitOfMeasurement = fields.String(attribute="declared_unit")
    benchmark = fields.Method("_benchmark")
    demo = fields.Boolean()

    def _benchmark(self, obj):
        if obj.benchmark_value is None:
            return None
        return {"value": obj.benchmark_value, "standard": obj.benchmark_standard,
                "source": obj.benchmark_source}


class ScopeIn(StrictSchema):
    certificateTypes = fields.List(fields.String(validate=validate.OneOf(KINDS)), required=True,
                                   validate=validate.Length(min=1))
    productCategories = fields.List(fields.String(validate=validate.Regexp(CODE_RE)), required=True,
                                    validate=validate.Length(min=1))


class AccreditationIn(StrictSchema):
    number = fields.String(required=True, validate=validate.Length(1, 100))
    validFrom = RFC3339DateTime(required=True)
    validUntil = RFC3339DateTime(required=True)
    scope = fields.Nested(ScopeIn, required=True)

    @validates_schema
    def _period(self, data, **kwargs):
        if "validFrom" in data and "validUntil" in data and data["validUntil"] <= data["validFrom"]:
            raise ValidationError({"validUntil": ["Must be after validFrom."]})


class BodyIn(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(1, 300))
    nameZh = fields.String(validate=validate.Length(1, 300))
    country = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{2}$", error="ISO 3166-1 alpha-2 code, e.g. CN."))
    code = fields.String(validate=validate.Regexp(r"^[A-Z][A-Z0-9]{1,9}$",
                                                  error="2-10 upper-case letters or digits; the prefix of certificate numbers."))
    accreditation = fields.Nested(AccreditationIn, required=True)
    keyAlgorithm = fields.String(validate=validate.OneOf(("EdDSA", "ES256")))


class ReasonIn(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(1, 500))


class RotateIn(StrictSchema):
    algorithm = fields.String(validate=validate.OneOf(("EdDSA", "ES256")))
    reason = fields.String(validate=validate.Length(1, 500))


class AccreditationOut(StrictSchema):
    number = fields.String()
    validFrom = RFC3339DateTime(attribute="valid_from")
    validUntil = RFC3339DateTime(attribute="valid_until")
    certificateTypes = fields.List(fields.String(), attribute="certificate_types")
    productCategories = fields.List(fields.String(), attribute="product_categories")
    recordedAt = RFC3339DateTime(attribute="created_at")


class InterruptionOut(StrictSchema):
    status = fields.String(attribute="kind")
    reason = fields.String()
    start = RFC3339DateTime(attribute="started_at", data_key="from")
    until = RFC3339DateTime(attribute="ended_at", allow_none=True)
    endReason = fields.String(attribute="end_reason", allow_none=True)


class KeyOut(StrictSchema):
    kid = fields.String()
    alg = fields.String(attribute="algorithm")
    jwk = fields.Dict(attribute="public_jwk")
    activeFrom = RFC3339DateTime(attribute="active_from")
    activeUntil = RFC3339DateTime(attribute="active_until", allow_none=True)


class BodyPublicOut(StrictSchema):
    id = fields.String()
    did = fields.String()
    code = fields.String()
    name = fields.String()
    nameZh = fields.String(attribute="name_zh", allow_none=True)
    country = fields.String()
    status = fields.String()
    demo = fields.Boolean()
    accreditations = fields.List(fields.Nested(AccreditationOut))
    interruptions = fields.List(fields.Nested(InterruptionOut))
    keys = fields.List(fields.Nested(KeyOut))


class BodyCreatedOut(StrictSchema):
    id = fields.String()
    did = fields.String()
    code = fields.String()
    clientId = fields.String()
    clientSecret = fields.String()


class AccreditationQuery(StrictSchema):
    at = RFC3339DateTime(required=True)
    type = fields.String(required=True, validate=validate.OneOf(KINDS))
    category = fields.String(required=True, validate=validate.Regexp(CODE_RE))


class AuditQuery(StrictSchema):
    target = fields.String(validate=validate.Length(1, 120))
    action = fields.String(validate=validate.Length(1, 60))
    before = fields.Integer(validate=validate.Range(min=1))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
