"""The credentialSubject body of each certificate kind, from a validated request.

``data`` is what ``registry.schemas.certificates.CertificateIn`` loads (camelCase keys,
Decimals, aware datetimes). The functions here check every certification rule, then
return the JSON-ready members ``product``, ``footprint``, ``benchmark`` (carbon-footprint
with a category benchmark, and low-carbon), ``grade`` and ``reduction`` / ``neutrality``.
The issuing service adds ``id``, ``type``, ``certificateNumber``, ``certificateType`` (and
``precedingIds``) before signing.

Decimal strings: inputs keep the client's places (``"0.820"`` stays ``"0.820"``);
computed figures have their documented precision (reduction: 4 places; emissionsCovered:
up to 3 places, rounded up; offsetsTotal: the places of the most precise offset).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from verifier import grading

from .footprint import check_footprint, check_valid_until, footprint_member, product_member
from .low_carbon import benchmark_member, benchmark_of, check_low_carbon
from .neutrality import assess_neutrality
from .reduction import FootprintRecord, check_basis, select_baseline
from .values import FieldErrors, decimal_of, require_aware, strip_urn

__all__ = ["build_subject", "footprint_subject", "low_carbon_subject", "reduced_carbon_subject",
           "carbon_neutral_subject", "grade_member"]


def grade_member(scheme: Mapping, value: str | None) -> dict:
    """``{"scheme", "schemeVersion", "value"}`` for ``scheme``."""
    return {"scheme": scheme["id"], "schemeVersion": scheme["version"], "value": value}


def _check_category(errors: FieldErrors, data: Mapping, category: Mapping | None,
                    unit: str | None, unit_path: str) -> None:
    category = category or {}
    code = category.get("code")
    if code is not None and data["product"].get("category") != code:
        errors.add("product.category", f"Does not match the category given ({code}).")
    expected = category.get("declaredUnitOfMeasurement")
    if expected is not None and unit is not None and unit != expected:
        name = f"Category {code}" if code else "The category"
        errors.add(unit_path, f"{name} is declared per {expected}; a footprint per {unit} "
                              "cannot be compared with it.")


def _forbid(errors: FieldErrors, data: Mapping, names: Iterable[str], kind: str) -> None:
    for name in names:
        if data.get(name) is not None:
            errors.add(name, f"Not allowed on a {kind} certificate.")


def _self_check(kind: str, subject: dict, scheme: Mapping) -> dict:
    # One definition: what we sign must re-grade to the same value in any verifier.
    recomputed = grading.grade_for_subject(kind, subject, scheme)
    if recomputed != subject["grade"]["value"]:
        raise RuntimeError(f"grade {subject['grade']['value']!r} does not re-grade "
                           f"({recomputed!r}) under {scheme['id']} v{scheme['version']}")
    return subject


def _footprint_kind(kind: str, data: Mapping, *, category, scheme, now) -> tuple[dict, dict | None]:
    errors = FieldErrors()
    footprint = data.get("footprint")
    if footprint is None:
        errors.add("footprint", "Missing data for required field.")
        errors.raise_if_any()
    _forbid(errors, data, ("basedOn", "offsets", "coveredQuantity",
                           "renewableElectricityShare"), kind)
    if data.get("validUntil") is None:
        errors.add("validUntil", "Missing data for required field.")
    check_footprint(footprint, now=now, valid_until=data.get("validUntil"), errors=errors)
    _check_category(errors, data, category, footprint.get("declaredUnitOfMeasurement"),
                    "footprint.declaredUnitOfMeasurement")
    errors.raise_if_any()
    return footprint_member(footprint), benchmark_member(category)


def footprint_subject(data: Mapping, *, category: Mapping | None, scheme: Mapping,
                      now: datetime) -> dict:
    """Subject members of a carbon-footprint certificate.

    The grade is the footprint grade against the category benchmark, or null without one.

    Raises:
        InvalidInput: type ``invalid-input`` (footprint rules, ``validUntil``, product
            category or declared unit not matching the category).
    """
    footprint = data.get("footprint") or {}
    member, benchmark = _footprint_kind("carbon-footprint", data, category=category,
                                        scheme=scheme, now=now)
    grade = grading.footprint_grade(decimal_of(footprint["pcfExcludingBiogenicUptake"]),
                                    benchmark_of(category), scheme,
                                    declared_unit_amount=decimal_of(footprint["declaredUnitAmount"]))
    subject = {"product": product_member(data["product"]), "footprint": member}
    if benchmark is not None:
        subject["benchmark"] = benchmark
    subject["grade"] = grade_member(scheme, grade)
    return _self_check("carbon-footprint", subject, scheme)


def low_carbon_subject(data: Mapping, *, category: Mapping | None, scheme: Mapping,
                       now: datetime) -> dict:
    """Subject members of a low-carbon certificate.

    Raises:
        InvalidInput: type ``invalid-input`` (as :func:`footprint_subject`),
            ``benchmark-missing`` or ``benchmark-not-met``.
    """
    member, benchmark = _footprint_kind("low-carbon", data, category=category, scheme=scheme,
                                        now=now)
    grade = check_low_carbon(data["footprint"], category, scheme)
    subject = {"product": product_member(data["product"]), "footprint": member,
               "benchmark": benchmark, "grade": grade_member(scheme, grade)}
    return _self_check("low-carbon", subject, scheme)


def _match_based_on(data: Mapping, records: list[FootprintRecord]) -> None:
    """The records must be exactly the certificates the request names (a caller check)."""
    named = data.get("basedOn") or []
    ids = [strip_urn(i) for i in named]
    if len(set(ids)) != len(ids):
        message = "A certificate is listed more than once."
        errors = FieldErrors()
        errors.add("basedOn", message)
        errors.raise_if_any()
    if set(ids) != {strip_urn(r.certificate_id) for r in records}:
        raise ValueError("the footprint records given are not the certificates named in basedOn")


def reduced_carbon_subject(data: Mapping, *, category: Mapping | None, scheme: Mapping,
                           now: datetime, footprints: Iterable[FootprintRecord]) -> dict:
    """Subject members of a reduced-carbon certificate.

    ``footprints`` are the certificates named in ``basedOn``, resolved by the caller.
    The subject's footprint is the current (latest) certificate's.

    Raises:
        InvalidInput: type ``invalid-input`` (``footprint``/``offsets`` given, a repeated
            ``basedOn`` id, ``validUntil``, category mismatch); ``insufficient-baseline``;
            ``reduction-below-minimum``.
        ValueError: ``footprints`` are not the certificates named in ``basedOn``.
    """
    now = require_aware(now, "now")
    records = list(footprints)
    errors = FieldErrors()
    _forbid(errors, data, ("footprint", "offsets", "coveredQuantity",
                           "renewableElectricityShare"), "reduced-carbon")
    errors.raise_if_any()
    _match_based_on(data, records)
    result = select_baseline(records, scheme=scheme, product=data["product"])
    current = result.current
    _check_category(errors, data, category, current.declared_unit, "basedOn")
    check_valid_until(data.get("validUntil"), now=now,
                      reference_period_end=current.reference_period_end, errors=errors)
    errors.raise_if_any()
    subject = {"product": product_member(data["product"]),
               "footprint": current.footprint_member(),
               "grade": grade_member(scheme, result.tier),
               "reduction": result.member()}
    return _self_check("reduced-carbon", subject, scheme)


def carbon_neutral_subject(data: Mapping, *, category: Mapping | None, scheme: Mapping,
                           now: datetime, footprints: Iterable[FootprintRecord] = ()) -> dict:
    """Subject members of a carbon-neutral certificate.

    The footprint is the request's ``footprint``, or the one certificate named in
    ``basedOn`` (``footprints``, resolved by the caller), whose id then appears as
    ``neutrality.basedOn``.

    Raises:
        InvalidInput: type ``invalid-input`` (footprint rules, offsets' fields,
            ``coveredQuantity``, ``renewableElectricityShare``, ``validUntil``, category
            mismatch); ``insufficient-baseline`` (the basedOn certificate is not an active
            carbon-footprint certificate of the product); ``duplicate-offset``;
            ``insufficient-offsets``.
        ValueError: ``footprints`` are not the certificates named in ``basedOn``.
    """
    now = require_aware(now, "now")
    errors = FieldErrors()
    based_on = None
    if data.get("footprint") is not None:
        if data.get("basedOn"):
            errors.add("basedOn", "Give either footprint or basedOn, not both.")
            errors.raise_if_any()
        footprint = data["footprint"]
        if data.get("validUntil") is None:
            errors.add("validUntil", "Missing data for required field.")
        check_footprint(footprint, now=now, valid_until=data.get("validUntil"), errors=errors)
        _check_category(errors, data, category, footprint.get("declaredUnitOfMeasurement"),
                        "footprint.declaredUnitOfMeasurement")
        errors.raise_if_any()
        member = footprint_member(footprint)
    else:
        records = list(footprints)
        _match_based_on(data, records)
        record = check_basis(records, product=data["product"], minimum=1, maximum=1)[0]
        _check_category(errors, data, category, record.declared_unit, "basedOn")
        check_valid_until(data.get("validUntil"), now=now,
                          reference_period_end=record.reference_period_end, errors=errors)
        errors.raise_if_any()
        member = record.footprint_member()
        based_on = record.urn
    result = assess_neutrality(footprint=member, covered_quantity=data.get("coveredQuantity"),
                               renewable_share=data.get("renewableElectricityShare"),
                               offsets=data.get("offsets") or [], now=now, scheme=scheme,
                               based_on=based_on)
    subject = {"product": product_member(data["product"]), "footprint": member,
               "grade": grade_member(scheme, result.level), "neutrality": result.member}
    return _self_check("carbon-neutral", subject, scheme)


_BUILDERS = {
    "carbon-footprint": footprint_subject,
    "low-carbon": low_carbon_subject,
    "reduced-carbon": reduced_carbon_subject,
    "carbon-neutral": carbon_neutral_subject,
}


def build_subject(kind: str, data: Mapping, *, category: Mapping | None, scheme: Mapping,
                  now: datetime, footprints: Iterable[FootprintRecord] = ()) -> dict:
    """Dispatch to the builder of ``kind`` (``footprints`` only for reduced-carbon and
    carbon-neutral with ``basedOn``).

    Raises:
        InvalidInput: as the builder of ``kind``.
        ValueError: unknown kind, or ``footprints`` not matching ``basedOn``.
    """
    try:
        builder = _BUILDERS[kind]
    except KeyError:
        raise ValueError(f"unknown certificate kind {kind!r}") from None
    if kind in ("reduced-carbon", "carbon-neutral"):
        return builder(data, category=category, scheme=scheme, now=now, footprints=footprints)
    return builder(data, category=category, scheme=scheme, now=now)
