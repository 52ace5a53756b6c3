"""What a label shows, taken from a decoded credential payload (docs/formats.md)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from urllib.parse import urlsplit

from registry.errors import InvalidInput

__all__ = ["LabelError", "LabelData", "label_data_from_credential", "gs1_digital_link",
           "KINDS", "GRADES"]

KINDS = {
    "CarbonFootprintCertificate": "carbon-footprint",
    "LowCarbonCertificate": "low-carbon",
    "ReducedCarbonCertificate": "reduced-carbon",
    "CarbonNeutralCertificate": "carbon-neutral",
}
GRADES: dict[str, tuple[str | None, ...]] = {
    "carbon-footprint": ("A", "B", "C", "D", "E", None),
    "low-carbon": ("A", "B", "C"),
    "reduced-carbon": ("1", "2", "3"),
    "carbon-neutral": ("1", "2", "3"),
}
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


class LabelError(InvalidInput):
    """A label cannot be made from this data or with these options (HTTP 422 if it escapes)."""

    type = "label-unavailable"
    title = "Label cannot be rendered"


@dataclass(frozen=True)
class LabelData:
    """Everything one label shows, as plain strings (hashable, so renders can be cached).

    Build it with :func:`label_data_from_credential`; quantities are the credential's decimal
    strings, dates are ``YYYY-MM-DD`` (UTC).
    """

    kind: str
    certificate_id: str
    certificate_number: str
    product_name: str
    product_name_zh: str | None
    issuer_name: str
    issuer_name_zh: str | None
    valid_from: str
    valid_until: str
    pcf: str
    declared_unit: str
    declared_amount: str
    boundary: str | None
    grade: str | None
    grade_scheme: str
    grade_scheme_version: str
    verify_url: str
    compact_jws: str
    digital_link_url: str | None = None
    gtin: str | None = None
    benchmark: str | None = None
    reduction: str | None = None            # fraction, e.g. "0.1100"
    baseline_pcf: str | None = None
    baseline_year: str | None = None
    current_year: str | None = None
    renewable_share: str | None = None      # fraction 0–1
    removal_share: str | None = None        # fraction of offset quantity that is removal
    offsets_total: str | None = None        # t CO2e
    offset_registries: tuple[str, ...] = ()
    covered_quantity: str | None = None


def _get(obj: dict, path: str, *, required: bool = True, kind: type = str):
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            if required:
                raise LabelError(f"the credential lacks {path}")
            return None
        cur = cur[part]
    if cur is None and not required:
        return None
    if not isinstance(cur, kind):
        raise LabelError(f"the credential's {path} must be a {kind.__name__}")
    return cur


def _decimal(obj: dict, path: str, *, required: bool = True) -> str | None:
    value = _get(obj, path, required=required)
    if value is None:
        return None
    if not _DECIMAL.match(value):
        raise LabelError(f"the credential's {path} is not a decimal string: {value!r}")
    return value


def _date(obj: dict, path: str) -> str:
    value = _get(obj, path)
    m = _DATE.match(value)
    if not m:
        raise LabelError(f"the credential's {path} is not an RFC 3339 UTC time: {value!r}")
    return m.group(1)


def _year(value: str | None) -> str | None:
    return value[:4] if isinstance(value, str) and re.match(r"^\d{4}-", value) else None


def _b64url_json(part: str) -> dict:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        return json.loads(raw)
    except (binascii.Error, ValueError) as err:
        raise LabelError("compact_jws is not a compact JWS") from err


def gs1_digital_link(base_url: str, gtin: str) -> str:
    """``<base>/01/<gtin14>`` for a GTIN-8/12/13/14 with a valid check digit.

    Raises:
        LabelError: if ``gtin`` is not 8, 12, 13 or 14 digits with a correct check digit.
    """
    if not (gtin.isascii() and gtin.isdigit() and len(gtin) in (8, 12, 13, 14)):
        raise LabelError(f"GTIN {gtin!r} must be 8, 12, 13 or 14 digits")
    g = gtin.zfill(14)
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(g[:13]))
    if (10 - total % 10) % 10 != int(g[13]):
        raise LabelError(f"GTIN {gtin!r} has a wrong check digit")
    return f"{base_url.rstrip('/')}/01/{g}"


def label_data_from_credential(payload: dict, *, compact_jws: str, issuer_name: str,
                               issuer_name_zh: str | None, verify_url: str,
                               digital_link_url: str | None = None) -> LabelData:
    """Collect what a label shows from a decoded credential payload.

    Everything comes from the signed payload except the issuer's display names (the trust
    list's, passed in). ``compact_jws`` must be the token whose payload is ``payload``;
    ``verify_url`` must end in ``/v/<certificate id>``. When ``digital_link_url`` is given (a
    GS1 Digital Link, ``<base>/01/<gtin14>`` for the credential's GTIN), ``link`` labels encode
    it instead of ``verify_url``.

    Raises:
        LabelError: if a member a label needs is missing or malformed, the grade is not one the
            kind can have, the token does not carry this payload, or the URLs do not match it.
    """
    if not isinstance(payload, dict):
        raise LabelError("the credential payload must be a JSON object")
    types = _get(payload, "type", kind=list)
    kinds = [KINDS[t] for t in types if t in KINDS]
    if len(kinds) != 1:
        raise LabelError("the credential's type names no (or more than one) certificate kind")
    kind = kinds[0]
    cred_id = _get(payload, "id")
    if not cred_id.startswith("urn:uuid:") or not _UUID.match(cred_id[9:]):
        raise LabelError("the credential id is not urn:uuid:<lowercase uuid>")
    cert_id = cred_id[9:]
    subject = _get(payload, "credentialSubject", kind=dict)
    declared_type = _get(subject, "certificateType")
    if declared_type != kind:
        raise LabelError(f"certificateType {declared_type!r} does not match type {kind!r}")

    parts = compact_jws.strip().split(".") if isinstance(compact_jws, str) else []
    if len(parts) != 3:
        raise LabelError("compact_jws is not a compact JWS")
    if _b64url_json(parts[1]) != payload:
        raise LabelError("compact_jws does not carry this credential payload")

    if not verify_url.rstrip("/").endswith("/v/" + cert_id) or "#" in verify_url:
        raise LabelError(f"verify_url must end in /v/{cert_id} (and have no fragment)")
    product = _get(subject, "product", kind=dict)
    gtin = _get(product, "gtin", required=False)
    if digital_link_url is not None:
        if not gtin:
            raise LabelError("a GS1 Digital Link needs the product's GTIN in the credential")
        if not urlsplit(digital_link_url).path.endswith("/01/" + gtin.zfill(14)):
            raise LabelError(f"digital_link_url's path must end in /01/{gtin.zfill(14)}")

    grade_obj = _get(subject, "grade", kind=dict)
    grade = _get(grade_obj, "value", required=False)
    if grade not in GRADES[kind]:
        raise LabelError(f"a {kind} certificate cannot have grade {grade!r}")
    footprint = _get(subject, "footprint", kind=dict)
    fields: dict = {}
    if kind in ("carbon-footprint", "low-carbon"):
        fields["benchmark"] = _decimal(subject, "benchmark.value", required=kind == "low-carbon"
                                       or grade is not None)
    if kind == "reduced-carbon":
        red = _get(subject, "reduction", kind=dict)
        fields["reduction"] = _decimal(red, "reduction")
        fields["baseline_pcf"] = _decimal(red, "baseline.pcf")
        fields["baseline_year"] = _year(_get(red, "baseline.referencePeriodEnd", required=False))
        fields["current_year"] = _year(_get(red, "current.referencePeriodEnd", required=False))
    if kind == "carbon-neutral":
        neu = _get(subject, "neutrality", kind=dict)
        fields["renewable_share"] = _decimal(neu, "renewableElectricityShare")
        fields["offsets_total"] = _decimal(neu, "offsetsTotal")
        fields["covered_quantity"] = _decimal(neu, "coveredQuantity")
        offsets = _get(neu, "offsets", kind=list)
        total = removal = Decimal(0)
        registries = []
        try:
            for o in offsets:
                q = Decimal(o["quantity"])
                total += q
                if o.get("kind") == "removal":
                    removal += q
                if o.get("registry") and o["registry"] not in registries:
                    registries.append(str(o["registry"]))
        except (KeyError, TypeError, InvalidOperation) as err:
            raise LabelError("the credential's neutrality.offsets are malformed") from err
        fields["removal_share"] = str((removal / total).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_EVEN)) if total else "0"
        fields["offset_registries"] = tuple(registries)

    return LabelData(
        kind=kind,
        certificate_id=cert_id,
        certificate_number=_get(subject, "certificateNumber"),
        product_name=_get(product, "name"),
        product_name_zh=_get(product, "nameZh", required=False),
        issuer_name=issuer_name,
        issuer_name_zh=issuer_name_zh or None,
        valid_from=_date(payload, "validFrom"),
        valid_until=_date(payload, "validUntil"),
        pcf=_decimal(footprint, "pcfExcludingBiogenicUptake"),
        declared_unit=_get(footprint, "declaredUnitOfMeasurement"),
        declared_amount=_decimal(footprint, "declaredUnitAmount"),
        boundary=_get(footprint, "boundary", required=False),
        grade=grade,
        grade_scheme=_get(grade_obj, "scheme"),
        grade_scheme_version=str(_get(grade_obj, "schemeVersion")),
        verify_url=verify_url.rstrip("/"),
        compact_jws=compact_jws.strip(),
        digital_link_url=digital_link_url,
        gtin=gtin,
        **fields,
    )
