"""Carbon-neutral: retired offsets covering the footprint of a quantity of product.

Rules:

* Each offset has ``registry``, ``serialNumber``, ``project`` (non-empty),
  ``quantity`` (t CO2e, > 0), ``vintage`` (a year, not in the future and not after the
  year of retirement), ``kind`` (``removal`` or ``avoidance``) and ``retiredAt`` (not in
  the future: an offset counts only once retired).
* One (registry, serialNumber) appears once per request (compared case-insensitively,
  see :func:`offset_key`; the registry-wide uniqueness is the issuing service's, with the
  same key).
* emissionsCovered (kg CO2e) = pcf × coveredQuantity ÷ declaredUnitAmount, rounded up
  to whole grams (:func:`verifier.grading.emissions_covered`); the offsets cover when
  offsetsTotal (t) × 1000 ≥ emissionsCovered.
* ``renewableElectricityShare`` is in [0, 1]; the level is
  :func:`verifier.grading.neutrality_level`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from verifier import grading

from ..errors import Conflict, InvalidInput
from .values import FieldErrors, decimal_of, decimal_str, require_aware, time_str

__all__ = ["OFFSET_KINDS", "NeutralityResult", "assess_neutrality", "check_offsets",
           "check_offsets_unused", "offset_key", "offset_member"]

OFFSET_KINDS = ("removal", "avoidance")
_YEAR_RE = re.compile(r"^\d{4}$", re.ASCII)
EARLIEST_VINTAGE = 1990


def offset_key(offset: Mapping) -> tuple[str, str]:
    """The identity of an offset: (registry, serialNumber), trimmed and case-folded."""
    return (str(offset.get("registry", "")).strip().casefold(),
            str(offset.get("serialNumber", "")).strip().casefold())


def check_offsets_unused(offsets: Sequence[Mapping], used: Mapping[tuple[str, str], str]) -> None:
    """Refuse offsets that already back another certificate, registry-wide.

    ``used`` maps :func:`offset_key` of every offset already recorded to the number of
    the certificate it backs (the caller looks them up; a unique index on the same key
    closes the race between two requests).

    Raises:
        Conflict: type ``offset-already-used`` (409), naming the offset and certificate,
            with ``extra["offset"] = {"registry", "serialNumber"}``.
    """
    for offset in offsets:
        number = used.get(offset_key(offset))
        if number is not None:
            registry, serial = offset["registry"], offset["serialNumber"]
            raise Conflict(f"Offset {registry} {serial} already backs certificate {number}; "
                           "one offset backs one certificate only.", type="offset-already-used",
                           title="Offset already used",
                           extra={"offset": {"registry": registry, "serialNumber": serial}})


def _year(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _YEAR_RE.fullmatch(value):
        return int(value)
    return None


def _text(errors: FieldErrors, path: str, value) -> None:
    if not isinstance(value, str) or not value.strip():
        errors.add(path, "Must be a non-empty string.")


def check_offsets(offsets: Sequence[Mapping], *, now: datetime, path: str = "offsets") -> None:
    """Check the offsets of a carbon-neutral request (as loaded by ``CertificateIn``).

    Raises:
        InvalidInput: type ``invalid-input`` with errors under ``offsets.<i>.<member>``;
            then type ``duplicate-offset`` with errors under ``offsets.<i>.serialNumber``
            when one (registry, serialNumber) is listed twice.
        ValueError: ``now`` is naive.
    """
    errors = FieldErrors()
    _offset_fields(offsets, now=now, path=path, errors=errors)
    errors.raise_if_any()
    _no_duplicates(offsets, path=path)


def _offset_fields(offsets, *, now: datetime, path: str, errors: FieldErrors) -> None:
    now = require_aware(now, "now")
    if not isinstance(offsets, Sequence) or isinstance(offsets, (str, bytes)) or not offsets:
        errors.add(path, "At least one retired offset is needed.")
        return
    for i, offset in enumerate(offsets):
        here = f"{path}.{i}"
        if not isinstance(offset, Mapping):
            errors.add(here, "Must be an object.")
            continue
        for name in ("registry", "serialNumber", "project"):
            _text(errors, f"{here}.{name}", offset.get(name))
        try:
            quantity = decimal_of(offset.get("quantity"), "quantity")
        except (TypeError, ValueError):
            errors.add(f"{here}.quantity", "Must be a decimal number of t CO2e.")
        else:
            if quantity <= 0:
                errors.add(f"{here}.quantity", "Must be greater than zero (t CO2e).")
        if offset.get("kind") not in OFFSET_KINDS:
            errors.add(f"{here}.kind", f"Must be one of: {', '.join(OFFSET_KINDS)}.")
        try:
            retired = require_aware(offset.get("retiredAt"), "retiredAt")
        except (TypeError, ValueError):
            errors.add(f"{here}.retiredAt", "Must be an RFC 3339 date-time with a time zone.")
            retired = None
        if retired is not None and retired > now:
            errors.add(f"{here}.retiredAt", "Must not be in the future: only retired offsets count.")
        vintage = _year(offset.get("vintage"))
        if vintage is None:
            errors.add(f"{here}.vintage", "Must be a year, e.g. \"2024\".")
        else:
            if vintage < EARLIEST_VINTAGE:
                errors.add(f"{here}.vintage", f"Must not be before {EARLIEST_VINTAGE}.")
            if vintage > now.year:
                errors.add(f"{here}.vintage", "Must not be in the future.")
            elif retired is not None and vintage > retired.year:
                errors.add(f"{here}.vintage",
                           "Must not be after the year of retirement (retiredAt).")


def _no_duplicates(offsets, *, path: str) -> None:
    first_seen: dict[tuple[str, str], int] = {}
    duplicates = FieldErrors()
    for i, offset in enumerate(offsets):
        key = offset_key(offset)
        if key in first_seen:
            duplicates.add(f"{path}.{i}.serialNumber",
                           f"{offset.get('registry')} {offset.get('serialNumber')} is already "
                           f"listed at {path}.{first_seen[key]}; an offset backs one certificate once.")
        else:
            first_seen[key] = i
    if duplicates:
        keys = ", ".join(duplicates.errors)
        duplicates.raise_if_any(type="duplicate-offset",
                                detail=f"The same offset is listed more than once ({keys}).")


def offset_member(offset: Mapping) -> dict:
    """One entry of the ``neutrality.offsets`` member (decimal strings, whole-second UTC)."""
    return {"registry": offset["registry"].strip(),
            "serialNumber": offset["serialNumber"].strip(),
            "quantity": decimal_str(offset["quantity"]),
            "vintage": str(_year(offset["vintage"])),
            "kind": offset["kind"],
            "retiredAt": time_str(offset["retiredAt"]),
            "project": offset["project"].strip()}


@dataclass(frozen=True)
class NeutralityResult:
    """The outcome of :func:`assess_neutrality`: the member to sign and its level."""

    member: dict
    level: str
    emissions_covered: Decimal
    offsets_total: Decimal


def assess_neutrality(*, footprint: Mapping, covered_quantity, renewable_share,
                      offsets: Sequence[Mapping], now: datetime, scheme: Mapping,
                      based_on: str | None = None) -> NeutralityResult:
    """Check the offsets against the footprint and build the ``neutrality`` member.

    ``footprint`` needs ``pcfExcludingBiogenicUptake`` and ``declaredUnitAmount``
    (Decimals or decimal strings); ``based_on`` is the ``urn:uuid:`` of the footprint
    certificate when the footprint came from one.

    Raises:
        InvalidInput: type ``invalid-input`` (offset fields, ``coveredQuantity`` not
            positive, ``renewableElectricityShare`` outside [0, 1]); type
            ``duplicate-offset``; type ``insufficient-offsets`` (field ``offsets``, with
            ``extra`` ``emissionsCovered`` kg and ``offsetsTotal`` t) when the offsets do
            not cover the emissions or no level of the scheme holds.
        ValueError: ``now`` is naive or the scheme is malformed.
    """
    errors = FieldErrors()
    try:
        covered = decimal_of(covered_quantity, "coveredQuantity")
    except (TypeError, ValueError):
        errors.add("coveredQuantity", "Must be a decimal number of declared units.")
        covered = None
    else:
        if covered <= 0:
            errors.add("coveredQuantity", "Must be greater than zero.")
    try:
        share = decimal_of(renewable_share, "renewableElectricityShare")
    except (TypeError, ValueError):
        errors.add("renewableElectricityShare", "Must be a decimal number from 0 to 1.")
        share = None
    else:
        if not 0 <= share <= 1:
            errors.add("renewableElectricityShare", "Must be from 0 to 1.")
    _offset_fields(offsets, now=now, path="offsets", errors=errors)
    errors.raise_if_any()
    _no_duplicates(offsets, path="offsets")

    pcf = decimal_of(footprint["pcfExcludingBiogenicUptake"])
    amount = decimal_of(footprint["declaredUnitAmount"])
    unit = footprint.get("declaredUnitOfMeasurement", "declared unit")
    emissions = grading.emissions_covered(pcf, covered, amount)
    total = grading.offsets_total(decimal_of(o["quantity"]) for o in offsets)
    figures = {"emissionsCovered": decimal_str(emissions), "offsetsTotal": decimal_str(total)}
    total_kg = decimal_str(total.scaleb(3).normalize())
    all_removal = all(o["kind"] == "removal" for o in offsets)
    if Fraction(total) * 1000 < Fraction(emissions):
        detail = (f"The retired offsets total {decimal_str(total)} t CO2e ({total_kg} kg), less "
                  f"than the {decimal_str(emissions)} kg CO2e of {decimal_str(covered)} {unit} "
                  f"at {decimal_str(pcf)} kg CO2e per {decimal_str(amount)} {unit}.")
        raise InvalidInput(detail, type="insufficient-offsets", title="Insufficient offsets",
                           errors={"offsets": [detail]}, extra=figures)
    level = grading.neutrality_level(emissions_covered_kg=emissions, offsets_total_t=total,
                                     renewable_share=share, all_removal=all_removal,
                                     scheme=scheme)
    if level is None:
        detail = (f"The offsets ({decimal_str(total)} t CO2e) against {decimal_str(emissions)} "
                  f"kg CO2e meet no carbon-neutral level of {scheme['id']} v{scheme['version']}.")
        raise InvalidInput(detail, type="insufficient-offsets", title="Insufficient offsets",
                           errors={"offsets": [detail]}, extra=figures)
    member = {"coveredQuantity": decimal_str(covered),
              "emissionsCovered": figures["emissionsCovered"],
              "offsetsTotal": figures["offsetsTotal"],
              "renewableElectricityShare": decimal_str(share)}
    if based_on:
        member["basedOn"] = based_on
    member["offsets"] = [offset_member(o) for o in offsets]
    return NeutralityResult(member=member, level=level, emissions_covered=emissions,
                            offsets_total=total)
