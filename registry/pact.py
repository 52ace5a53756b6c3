"""Certificates as PACT v3.0 ProductFootprints, and the v3 list filters as SQL.

One certificate carrying a footprint is one ProductFootprint with the certificate's id. What PACT
has a place for is mapped there; the rest (number, kind, grade, per-stage and per-gas figures, the
signed credential) travels in the registry's data model extension, whose JSON Schema the registry
publishes at :data:`EXTENSION_PATH`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import and_, false, or_, select, true

from .models import Body, Certificate, number_key

SPEC_VERSION = "3.0.0"
EXTENSION_VERSION = "1.0.0"
EXTENSION_PATH = f"/schemas/pact/carbon-label-certificate/{EXTENSION_VERSION}/schema.json"
GTIN_URN = "urn:gtin:"
CERTIFICATE_URN = "urn:carbonlabel:certificate:"
CATEGORY_URN = "urn:carbonlabel:category:"
MANUFACTURER_URN = "urn:carbonlabel:manufacturer:"
# Unified Social Credit Codes are issued in mainland China only, so they place the product there.
COUNTRY_BY_COMPANY_ID = {"urn:uscc:": "CN"}

# Our declared units onto PACT's enumeration, with a factor applied to the declared amount and
# the mass in kg of one unit where the unit is itself a mass (else None: "not relevant" is 0).
UNITS: dict[str, tuple[str, Decimal, Decimal | None]] = {
    "kilogram": ("kilogram", Decimal(1), Decimal(1)),
    "kg": ("kilogram", Decimal(1), Decimal(1)),
    "tonne": ("kilogram", Decimal(1000), Decimal(1)),
    "ton": ("kilogram", Decimal(1000), Decimal(1)),
    "t": ("kilogram", Decimal(1000), Decimal(1)),
    "liter": ("liter", Decimal(1), None), "litre": ("liter", Decimal(1), None),
    "cubic meter": ("cubic meter", Decimal(1), None), "cubic metre": ("cubic meter", Decimal(1), None),
    "square meter": ("square meter", Decimal(1), None), "square metre": ("square meter", Decimal(1), None),
    "kilowatt hour": ("kilowatt hour", Decimal(1), None), "kWh": ("kilowatt hour", Decimal(1), None),
    "megajoule": ("megajoule", Decimal(1), None),
    "ton kilometer": ("ton kilometer", Decimal(1), None),
    "piece": ("piece", Decimal(1), None), "unit": ("piece", Decimal(1), None),
    "hour": ("hour", Decimal(1), None),
}
NOT_DECLARED = ("fossilCarbonContent, exemptedEmissionsPercent and (for units that are not a mass) "
                "productMassPerDeclaredUnit are not declared in the certificate and are given as 0; "
                "fossilGhgEmissions is the PCF excluding biogenic uptake.")


def _time(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dec(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".") or "0"


def company_ids(manufacturer_id: str) -> list[str]:
    return [manufacturer_id if manufacturer_id.lower().startswith("urn:") else MANUFACTURER_URN + manufacturer_id]


def product_ids(cert: Certificate) -> list[str]:
    ids = [GTIN_URN + cert.gtin] if cert.gtin else []
    return ids + [CERTIFICATE_URN + cert.number]


def geography(manufacturer_id: str) -> str | None:
    for prefix, country in COUNTRY_BY_COMPANY_ID.items():
        if manufacturer_id.lower().startswith(prefix):
            return country
    return None


def deprecated(cert: Certificate, now: datetime) -> bool:
    """Revoked (superseded certificates are revoked too) or past their validity."""
    return cert.status == "revoked" or cert.valid_until <= now


def carbon_footprint(footprint: dict, manufacturer_id: str) -> dict | None:
    unit = UNITS.get(footprint["declaredUnitOfMeasurement"])
    if unit is None:
        return None
    pact_unit, factor, mass = unit
    amount = Decimal(footprint["declaredUnitAmount"]) * factor
    excluding = Decimal(footprint["pcfExcludingBiogenicUptake"])
    pcf = {
        "declaredUnitOfMeasurement": pact_unit,
        "declaredUnitAmount": _dec(amount),
        "productMassPerDeclaredUnit": _dec(amount * mass) if mass is not None else "0",
        "referencePeriodStart": footprint["referencePeriodStart"],
        "referencePeriodEnd": footprint["referencePeriodEnd"],
    }
    country = geography(manufacturer_id)
    if country:
        pcf["geographyCountry"] = country
    pcf["boundaryProcessesDescription"] = footprint["boundary"]
    pcf["pcfExcludingBiogenicUptake"] = footprint["pcfExcludingBiogenicUptake"]
    pcf["pcfIncludingBiogenicUptake"] = footprint["pcfIncludingBiogenicUptake"]
    pcf["fossilGhgEmissions"] = footprint["pcfExcludingBiogenicUptake"] if excluding >= 0 else "0"
    pcf["fossilCarbonContent"] = "0"
    distribution = (footprint.get("stages") or {}).get("distribution")
    if distribution is not None and Decimal(distribution) >= 0:
        pcf["outboundLogisticsGhgEmissions"] = distribution
    factors = [f for f in footprint.get("ipccCharacterizationFactors", []) if f[:2] == "AR" and f[2:].isdigit()]
    pcf["ipccCharacterizationFactors"] = list(dict.fromkeys(factors)) or ["AR6"]
    standards = list(dict.fromkeys(footprint.get("crossSectoralStandards") or []))
    pcf["crossSectoralStandards"] = standards or ["ISO14067"]
    pcf["exemptedEmissionsPercent"] = "0"
    return pcf


def product_footprint(cert: Certificate, *, public_url: str, now: datetime) -> dict | None:
    """The ProductFootprint of ``cert``, or None when it carries no footprint PACT can express."""
    subject = cert.subject or {}
    footprint = subject.get("footprint")
    if not footprint:
        return None
    pcf = carbon_footprint(footprint, cert.manufacturer_id)
    if pcf is None:
        return None
    body: Body = cert.body
    product = subject.get("product", {})
    pcf["verification"] = {
        "coverage": "product level",
        "providerName": body.name,
        "completedAt": _time(cert.created_at),
        "standardName": ", ".join(pcf["crossSectoralStandards"]),
        "comments": f"Certificate {cert.number} issued by {body.name}"
                    + (f" ({body.name_zh})" if body.name_zh else "") + f"; verify at {public_url}/v/{cert.id}",
    }
    description = " ".join(x for x in (product.get("nameZh"), product.get("model") and f"model {product['model']}") if x)
    pf = {
        "id": cert.id,
        "specVersion": SPEC_VERSION,
    }
    if cert.supersedes_id:
        pf["precedingPfIds"] = [cert.supersedes_id]
    pf.update({
        "created": _time(cert.created_at),
        "status": "Deprecated" if deprecated(cert, now) else "Active",
        "validityPeriodStart": _time(cert.valid_from),
        "validityPeriodEnd": _time(cert.valid_until),
        "companyName": cert.manufacturer_name,
        "companyIds": company_ids(cert.manufacturer_id),
        "productDescription": description or cert.product_name,
        "productIds": product_ids(cert),
        "productClassifications": [CATEGORY_URN + cert.category_code],
        "productNameCompany": cert.product_name,
        "comment": NOT_DECLARED,
        "pcf": pcf,
        "extensions": [extension(cert, public_url=public_url, now=now)],
    })
    return pf


def certificate_status(cert: Certificate, now: datetime) -> str:
    if cert.status == "active" and cert.valid_until <= now:
        return "expired"
    return cert.status


def extension(cert: Certificate, *, public_url: str, now: datetime) -> dict:
    subject = cert.subject or {}
    grade = subject.get("grade") or {}
    footprint = subject.get("footprint") or {}
    data = {
        "certificateNumber": cert.number,
        "kind": cert.type,
        "status": certificate_status(cert, now),
        "grade": {"value": grade.get("value"), "scheme": grade.get("scheme"),
                  "schemeVersion": grade.get("schemeVersion")},
        "certificationBody": {"id": cert.body_id, "name": cert.body.name, "did": cert.kid.split("#", 1)[0]},
        "verifyUrl": f"{public_url}/v/{cert.id}",
        "credential": cert.credential,
        "boundary": footprint.get("boundary"),
    }
    if footprint.get("stages"):
        data["stages"] = footprint["stages"]
    if footprint.get("gases"):
        data["gases"] = footprint["gases"]
    return {"specVersion": EXTENSION_VERSION, "dataSchema": public_url + EXTENSION_PATH,
            "documentation": f"{public_url}/openapi.json", "data": data}


def extension_schema(public_url: str) -> dict:
    """The JSON Schema of the extension's ``data``, published at :data:`EXTENSION_PATH`."""
    decimal = {"type": "string", "pattern": r"^[+-]?\d+(\.\d+)?$"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": public_url + EXTENSION_PATH,
        "title": "Carbon label certificate (PACT data model extension)",
        "description": "The certificate behind a ProductFootprint. The credential is a compact JWS "
                       "(VC-JOSE-COSE) that any verifier can check against the issuing body's did:web keys.",
        "type": "object",
        "required": ["certificateNumber", "kind", "status", "grade", "certificationBody", "verifyUrl", "credential"],
        "properties": {
            "certificateNumber": {"type": "string", "minLength": 1},
            "kind": {"enum": ["carbon-footprint", "low-carbon", "reduced-carbon", "carbon-neutral"]},
            "status": {"enum": ["active", "suspended", "revoked", "expired"]},
            "grade": {"type": "object", "required": ["value", "scheme", "schemeVersion"], "properties": {
                "value": {"type": ["string", "null"]}, "scheme": {"type": ["string", "null"]},
                "schemeVersion": {"type": ["string", "null"]}}},
            "certificationBody": {"type": "object", "required": ["id", "name", "did"], "properties": {
                "id": {"type": "string"}, "name": {"type": "string"}, "did": {"type": "string"}}},
            "verifyUrl": {"type": "string", "format": "uri"},
            "credential": {"type": "string", "pattern": r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"},
            "boundary": {"type": ["string", "null"]},
            "stages": {"type": "object", "additionalProperties": decimal},
            "gases": {"type": "object", "additionalProperties": decimal},
        },
    }


class FilterError(ValueError):
    """A filter value that cannot be understood (answered with PACT BadRequest)."""


def _parse_time(name: str, value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as err:
        raise FilterError(f"{name} must be an RFC 3339 date-time") from err
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def _next_second(at: datetime) -> datetime:
    return at.replace(microsecond=0) + timedelta(seconds=1)


def _product_clause(value: str):
    lowered = value.lower()
    if lowered.startswith(GTIN_URN):
        digits = value[len(GTIN_URN):].strip()
        return Certificate.gtin == digits.zfill(14) if digits.isdigit() and len(digits) <= 14 else false()
    if lowered.startswith(CERTIFICATE_URN):
        return Certificate.number_key == number_key(value[len(CERTIFICATE_URN):])
    return false()


def _company_clause(value: str):
    if value.lower().startswith(MANUFACTURER_URN):
        return Certificate.manufacturer_id == value[len(MANUFACTURER_URN):]
    return Certificate.manufacturer_id == value


def _geography_clause(value: str):
    prefixes = [p for p, country in COUNTRY_BY_COMPANY_ID.items() if country == value.strip()]
    if not prefixes:
        return false()
    return or_(*[Certificate.manufacturer_id.ilike(p + "%") for p in prefixes])


def _classification_clause(value: str):
    if value.lower().startswith(CATEGORY_URN):
        return Certificate.category_code == value[len(CATEGORY_URN):]
    return false()


def criteria(params: dict[str, list[str]], now: datetime) -> list:
    """SQL conditions for the v3 filters: values of one filter OR'ed, filters AND'ed."""
    clauses = []
    for name, build in (("productId", _product_clause), ("companyId", _company_clause),
                        ("geography", _geography_clause), ("classification", _classification_clause)):
        values = [v for v in params.get(name, []) if v != ""]
        if values:
            clauses.append(or_(*[build(v) for v in values]))
    for name in ("validOn", "validAfter", "validBefore", "status"):
        if len(params.get(name, [])) > 1:
            raise FilterError(f"{name} may be given once")
    # Validity periods are published to the second; compare as published, not to the microsecond.
    if params.get("validOn"):
        at = _parse_time("validOn", params["validOn"][0])
        clauses.append(and_(Certificate.valid_from < _next_second(at), Certificate.valid_until >= at))
    if params.get("validAfter"):
        clauses.append(Certificate.valid_from >= _next_second(_parse_time("validAfter", params["validAfter"][0])))
    if params.get("validBefore"):
        clauses.append(Certificate.valid_until < _parse_time("validBefore", params["validBefore"][0]))
    if params.get("status"):
        status = params["status"][0]
        is_deprecated = or_(Certificate.status == "revoked", Certificate.valid_until <= now)
        # An unknown status matches nothing (the conformance suite expects an empty list, not 400).
        clauses.append({"Active": ~is_deprecated, "Deprecated": is_deprecated}.get(status, false()))
    return clauses


def footprint_query(params: dict[str, list[str]], now: datetime):
    return (select(Certificate).where(true(), *criteria(params, now))
            .order_by(Certificate.log_index))

