"""Schemas of the certification body API's certificate requests (CONTRACT.md).

``CertificateIn`` loads ``POST /api/v1/certificates``. Field names are the JSON names
(camelCase, PACT's for the footprint), so the loaded dict mirrors the request and the
dotted paths of :mod:`registry.domain` errors match it. What it guarantees:

* unknown members are refused at every level;
* quantities are decimal *strings* (``"0.82"``) and load as :class:`~decimal.Decimal`;
  JSON numbers are refused (binary floats are lossy), as are NaN, Infinity, exponent
  notation, a ``+`` sign, spaces, more than 15 integer digits or 12 decimal places, and
  negatives (except ``pcfIncludingBiogenicUptake``, which PACT allows below zero);
* times are RFC 3339 with ``Z`` or an offset, loaded as aware UTC datetimes; fractional
  seconds are accepted only when zero (``.000Z``), because credentials carry whole seconds;
* ``product.gtin`` is a GTIN-8/12/13/14 with a valid check digit, normalised to 14 digits;
* certificate ids (``basedOn``, ``supersedes``) are UUIDs, optionally ``urn:uuid:``-prefixed,
  loaded as the lower-case UUID string;
* per ``type``: ``footprint`` for carbon-footprint and low-carbon; ``basedOn`` (no
  ``footprint``; how many is the domain's ``insufficient-baseline`` rule) for reduced-carbon;
  for carbon-neutral ``footprint`` or ``basedOn`` with
  exactly one id, plus ``offsets``, ``coveredQuantity`` and ``renewableElectricityShare``,
  which the other kinds must not send.

The certification rules that need the clock, the category or other certificates
(reference period over, stage sums, benchmark, baseline, offsets cover) are
:mod:`registry.domain`'s.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from ..domain.status import effective_status
from .common import (DECLARED_UNITS, KINDS, DecimalString, Field, RFC3339DateTime,  # noqa: F401  (re-exported)
                     StrictSchema)

__all__ = [
    "BOUNDARIES", "CROSS_SECTORAL_STANDARDS", "DECLARED_UNITS", "IPCC_FACTORS", "KINDS",
    "OFFSET_KINDS", "CertificateIn", "CertificateStatusChangeIn", "CertificateId",
    "DecimalString", "FootprintIn", "Gtin", "OffsetIn", "ProductIn", "RFC3339DateTime",
    "normalise_gtin",
]

BOUNDARIES = ("cradle-to-gate", "cradle-to-grave")
#: IPCC assessment reports whose GWP100 characterisation factors may be used.
IPCC_FACTORS = ("AR5", "AR6")
#: PACT v3 crossSectoralStandards values (ISO14067, ISO14083, ISO14040-44, GHGP-Product,
#: PEF, PACT-1.0/2.0/3.0, PAS2050) plus the standards our users certify against:
#: ISO14044, China's GB/T24067 (follows ISO 14067), Japan's TS-Q0010 and ITU-L.1410.
CROSS_SECTORAL_STANDARDS = ("ISO14067", "GB/T24067", "PAS2050", "GHGP-Product", "PEF",
                            "ISO14044", "ISO14040-44", "ISO14083", "TS-Q0010", "ITU-L.1410",
                            "PACT-1.0", "PACT-2.0", "PACT-3.0")
STAGES = ("rawMaterialAcquisition", "rawMaterialTransport", "manufacturing",
          "distribution", "use", "endOfLife")
GASES = ("CO2", "CH4", "N2O", "HFCs", "PFCs", "SF6", "NF3")
OFFSET_KINDS = ("removal", "avoidance")

_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}\Z", re.ASCII)
_URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+\Z", re.ASCII)


def normalise_gtin(value: str) -> str:
    """A GTIN-8/12/13/14 as 14 digits (left-padded with zeros).

    Raises:
        ValueError: not 8, 12, 13 or 14 digits, or a wrong check digit.
    """
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() \
            or len(value) not in (8, 12, 13, 14):
        raise ValueError("A GTIN has 8, 12, 13 or 14 digits.")
    padded = value.zfill(14)
    body, check = padded[:-1], int(padded[-1])
    # GS1: from the right of the body, weights 3, 1, 3, 1 …
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    if (10 - total % 10) % 10 != check:
        raise ValueError("The GTIN check digit is wrong.")
    return padded


class Gtin(Field):
    """A GTIN string with a valid check digit, loaded as 14 digits."""

    default_error_messages = {
        "type": "Must be a string of digits (a JSON number would lose leading zeros).",
        "invalid": "{message}",
    }

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        if not isinstance(value, str):
            raise self.make_error("type")
        try:
            return normalise_gtin(value)
        except ValueError as err:
            raise self.make_error("invalid", message=str(err)) from err


class CertificateId(Field):
    """A certificate id: a UUID, optionally as ``urn:uuid:…``; loaded lower-case."""

    default_error_messages = {"invalid": "Must be a certificate id (a UUID)."}

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        text = value[len("urn:uuid:"):] if value.lower().startswith("urn:uuid:") else value
        if not re.fullmatch(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                            r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", text):
            raise self.make_error("invalid")
        return str(uuid.UUID(text))


class Year(Field):
    """A four-digit year, as a string ``"2024"`` or a JSON integer; loaded as a string."""

    default_error_messages = {"invalid": "Must be a year, e.g. \"2024\"."}

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, int):
            value = str(value)
        if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}", value):
            raise self.make_error("invalid")
        return value


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


def _text(maximum: int, **kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(1, maximum), _not_blank], **kwargs)


def _unique(value: list, **kwargs) -> None:
    if len(set(value)) != len(value):
        raise ValidationError("Must not repeat a value.")


# --------------------------------------------------------------------------- schemas

class ManufacturerIn(StrictSchema):
    name = _text(300, required=True)
    id = fields.String(required=True, validate=[
        validate.Length(1, 200),
        validate.Regexp(_URI_RE, error="Must be a URN or URI naming the manufacturer, "
                                       "e.g. urn:uscc:91310000MA1FL0007C."),
    ])


class ProductIn(StrictSchema):
    name = _text(300, required=True)
    nameZh = _text(300, allow_none=True)
    category = fields.String(required=True, validate=validate.Regexp(
        _CODE_RE, error="A category code: lower-case letters, digits and hyphens."))
    gtin = Gtin(allow_none=True)
    model = _text(100, allow_none=True)
    # How many declared units one retail pack holds (e.g. 50 for a 50 kg bag of cement), so that
    # the footprint can also be shown per pack.
    packSize = DecimalString(allow_none=True, positive=True)
    manufacturer = fields.Nested(ManufacturerIn, required=True)


class StagesIn(StrictSchema):
    """Life-cycle stages; null (or absent) = outside the system boundary."""

    rawMaterialAcquisition = DecimalString(allow_none=True)
    rawMaterialTransport = DecimalString(allow_none=True)
    manufacturing = DecimalString(allow_none=True)
    distribution = DecimalString(allow_none=True)
    use = DecimalString(allow_none=True)
    endOfLife = DecimalString(allow_none=True)


class GasesIn(StrictSchema):
    """The seven Kyoto gases in kg CO2e per declared unit; all seven are given."""

    CO2 = DecimalString(required=True)
    CH4 = DecimalString(required=True)
    N2O = DecimalString(required=True)
    HFCs = DecimalString(required=True)
    PFCs = DecimalString(required=True)
    SF6 = DecimalString(required=True)
    NF3 = DecimalString(required=True)


class FootprintIn(StrictSchema):
    """A product carbon footprint with PACT v3 CarbonFootprint member names."""

    declaredUnitOfMeasurement = fields.String(required=True, validate=validate.OneOf(DECLARED_UNITS))
    declaredUnitAmount = DecimalString(required=True, positive=True)
    pcfExcludingBiogenicUptake = DecimalString(required=True)
    pcfIncludingBiogenicUptake = DecimalString(required=True, signed=True)
    referencePeriodStart = RFC3339DateTime(required=True)
    referencePeriodEnd = RFC3339DateTime(required=True)
    boundary = fields.String(required=True, validate=validate.OneOf(BOUNDARIES))
    ipccCharacterizationFactors = fields.List(
        fields.String(validate=validate.OneOf(IPCC_FACTORS)), required=True,
        validate=[validate.Length(min=1), _unique])
    crossSectoralStandards = fields.List(
        fields.String(validate=validate.OneOf(CROSS_SECTORAL_STANDARDS)), required=True,
        validate=[validate.Length(min=1), _unique])
    stages = fields.Nested(StagesIn, allow_none=True)
    gases = fields.Nested(GasesIn, allow_none=True)

    @validates_schema
    def _period(self, data, **kwargs):
        if data["referencePeriodEnd"] <= data["referencePeriodStart"]:
            raise ValidationError({"referencePeriodEnd": ["Must be after referencePeriodStart."]})


class OffsetIn(StrictSchema):
    """A retired carbon credit (quantity in t CO2e)."""

    registry = _text(100, required=True)
    serialNumber = _text(200, required=True)
    quantity = DecimalString(required=True, positive=True)
    vintage = Year(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(OFFSET_KINDS))
    retiredAt = RFC3339DateTime(required=True)
    project = _text(300, required=True)


_CARBON_NEUTRAL_ONLY = ("offsets", "coveredQuantity", "renewableElectricityShare")


class CertificateIn(StrictSchema):
    """``POST /api/v1/certificates``."""

    type = fields.String(required=True, validate=validate.OneOf(KINDS))
    product = fields.Nested(ProductIn, required=True)
    footprint = fields.Nested(FootprintIn, allow_none=True)
    basedOn = fields.List(CertificateId(), allow_none=True, validate=validate.Length(max=20))
    offsets = fields.List(fields.Nested(OffsetIn), allow_none=True,
                          validate=validate.Length(max=1000))
    coveredQuantity = DecimalString(allow_none=True, positive=True)
    renewableElectricityShare = DecimalString(allow_none=True, validate=validate.Range(
        min=Decimal(0), max=Decimal(1), error="Must be from 0 to 1."))
    validUntil = RFC3339DateTime(required=True)
    supersedes = CertificateId(allow_none=True)

    @validates("basedOn")
    def _distinct(self, value, **kwargs):
        if value and len(set(value)) != len(value):
            raise ValidationError("A certificate is listed more than once.")

    @validates_schema
    def _per_type(self, data, **kwargs):
        kind = data["type"]
        errors: dict[str, list[str]] = {}

        def need(name: str, message: str | None = None) -> None:
            if data.get(name) is None:
                errors[name] = [message or f"Required for a {kind} certificate."]

        def forbid(*names: str) -> None:
            for name in names:
                if data.get(name) is not None:
                    errors[name] = [f"Not allowed on a {kind} certificate."]

        based_on = data.get("basedOn")
        if kind in ("carbon-footprint", "low-carbon"):
            need("footprint")
            forbid("basedOn", *_CARBON_NEUTRAL_ONLY)
        elif kind == "reduced-carbon":
            # How many bases suffice is a certification rule (insufficient-baseline), checked
            # in registry.domain.reduction with the others, not a field-shape error here.
            forbid("footprint", *_CARBON_NEUTRAL_ONLY)
        else:
            if data.get("footprint") is not None and based_on is not None:
                errors["basedOn"] = ["Give either footprint or basedOn (one carbon-footprint "
                                     "certificate id), not both."]
            elif based_on is not None and len(based_on) != 1:
                errors["basedOn"] = ["A carbon-neutral certificate is based on exactly one "
                                     "carbon-footprint certificate."]
            elif based_on is None:
                need("footprint", "Required for a carbon-neutral certificate unless basedOn "
                                  "names one carbon-footprint certificate.")
            for name in _CARBON_NEUTRAL_ONLY:
                need(name)
            if data.get("offsets") is not None and not data["offsets"]:
                errors["offsets"] = ["At least one retired offset is needed."]
        if errors:
            raise ValidationError(errors)


class CertificateStatusChangeIn(StrictSchema):
    """``POST /api/v1/certificates/{id}/suspend`` · ``/reinstate`` · ``/revoke``."""

    reason = fields.String(required=True, validate=[validate.Length(1, 500), _not_blank])


class CertificatePublicOut(Schema):
    """What a certificate discloses to anyone, with its current status."""

    id = fields.String()
    number = fields.String()
    type = fields.String()
    status = fields.Method("_status", metadata={"enum": ["active", "suspended", "revoked", "expired"]})
    statusReason = fields.String(attribute="status_reason", allow_none=True)
    grade = fields.String(allow_none=True)
    validFrom = fields.Method("_valid_from")
    validUntil = fields.Method("_valid_until")
    issuer = fields.Method("_issuer")
    credentialSubject = fields.Dict(attribute="subject")
    credential = fields.String()
    verifyUrl = fields.Method("_verify_url")
    labels = fields.Method("_labels")

    def _status(self, obj):
        return effective_status(obj.status, obj.valid_until, datetime.now(timezone.utc))

    def _valid_from(self, obj):
        return obj.valid_from.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _valid_until(self, obj):
        return obj.valid_until.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _issuer(self, obj):
        return {"id": obj.body_id, "name": obj.body.name, "nameZh": obj.body.name_zh, "code": obj.body.code}

    def _verify_url(self, obj):
        return f"{obj.public_url}/v/{obj.id}"

    def _labels(self, obj):
        return {ext: f"{obj.public_url}/labels/{obj.id}.{ext}" for ext in ("svg", "png", "pdf")}


class CertificateIssuedOut(CertificatePublicOut):
    """The 201 answer to the issuing body."""

    # Filled by the view: {index, checkpoint, inclusionProof, entry} (docs/transparency-log.md).
    log = fields.Dict(dump_only=True, metadata={"description": "the issuance's transparency-log entry and proof"})

    class Meta:
        fields = ("id", "number", "type", "status", "grade", "credential", "verifyUrl", "labels", "validFrom",
                  "validUntil", "log")


#: The contract's carbon-footprint issuance (a category ``cement`` in the body's scope assumed).
ISSUE_EXAMPLE = {
    "type": "carbon-footprint",
    "product": {"name": "P.O 42.5 cement", "nameZh": "普通硅酸盐水泥 P.O 42.5", "category": "cement",
                "gtin": "06901234567892", "model": "PO42.5",
                "manufacturer": {"name": "Anhui Demo Cement Co.", "id": "urn:uscc:91340000MA2N00001X"}},
    "footprint": {"declaredUnitOfMeasurement": "kilogram", "declaredUnitAmount": "1",
                  "pcfExcludingBiogenicUptake": "0.82", "pcfIncludingBiogenicUptake": "0.82",
                  "referencePeriodStart": "2025-01-01T00:00:00Z", "referencePeriodEnd": "2025-12-31T23:59:59Z",
                  "boundary": "cradle-to-gate", "ipccCharacterizationFactors": ["AR6"],
                  "crossSectoralStandards": ["ISO14067"],
                  "stages": {"rawMaterialAcquisition": "0.10", "rawMaterialTransport": "0.02",
                             "manufacturing": "0.70", "distribution": None, "use": None, "endOfLife": None},
                  "gases": {"CO2": "0.80", "CH4": "0.01", "N2O": "0.01", "HFCs": "0", "PFCs": "0", "SF6": "0",
                            "NF3": "0"}},
    "validUntil": "2028-12-31T23:59:59Z",
}
