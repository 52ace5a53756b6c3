"""Rules for a product carbon footprint (PACT CarbonFootprint member names) and product.

Decisions, documented here because clients rely on them:

* Quantities are kg CO2e per ``declaredUnitAmount`` ``declaredUnitOfMeasurement``.
  ``declaredUnitAmount`` must be positive; ``pcfExcludingBiogenicUptake``, stages and
  gases must not be negative. ``pcfIncludingBiogenicUptake`` may be lower than the
  excluding figure and even negative (PACT: biogenic CO2 uptake is ≤ 0, e.g. wood), but
  never higher, since including = excluding + uptake.
* The reference period is half-open like PACT's (start inclusive, end exclusive): start
  must be before end, and the end must not be in the future (the period is over).
* ``stages``: ``null`` (or an absent key) means "outside the system boundary". The
  stages of the boundary must all be given, the others must be null:
  cradle-to-gate = rawMaterialAcquisition, rawMaterialTransport, manufacturing;
  cradle-to-grave = all six (a negligible stage is written ``"0"``, not null).
* ``gases``: all seven (CO2, CH4, N2O, HFCs, PFCs, SF6, NF3) are given, as CO2e.
* Stages, and gases, each sum to ``pcfExcludingBiogenicUptake`` within
  ``max(0.5 % of the total, 0.001 kg CO2e)`` (:func:`registry.domain.values.sum_tolerance`).
* ``validUntil`` is in the future and after the reference period end.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from .values import FieldErrors, decimal_of, decimal_str, require_aware, sum_tolerance, time_str

__all__ = ["STAGES", "GASES", "BOUNDARY_STAGES", "BOUNDARIES", "check_footprint",
           "check_valid_until", "footprint_member", "product_member"]

STAGES = ("rawMaterialAcquisition", "rawMaterialTransport", "manufacturing",
          "distribution", "use", "endOfLife")
GASES = ("CO2", "CH4", "N2O", "HFCs", "PFCs", "SF6", "NF3")
#: The life-cycle stages inside each system boundary.
BOUNDARY_STAGES = {
    "cradle-to-gate": ("rawMaterialAcquisition", "rawMaterialTransport", "manufacturing"),
    "cradle-to-grave": STAGES,
}
BOUNDARIES = tuple(BOUNDARY_STAGES)


def _quantity(errors: FieldErrors, path: str, value, *, positive: bool = False,
              signed: bool = False):
    """The Decimal at ``path``, or None after recording why it is unusable."""
    if value is None:
        errors.add(path, "Missing data for required field.")
        return None
    try:
        number = decimal_of(value, path)
    except (TypeError, ValueError):
        errors.add(path, "Must be a decimal number.")
        return None
    if positive and number <= 0:
        errors.add(path, "Must be greater than zero.")
        return None
    if not signed and not positive and number < 0:
        errors.add(path, "Must not be negative.")
        return None
    return number


def _time(errors: FieldErrors, path: str, value) -> datetime | None:
    try:
        return require_aware(value, path)
    except (TypeError, ValueError):
        errors.add(path, "Must be an RFC 3339 date-time with a time zone.")
        return None


def _check_breakdown(errors: FieldErrors, path: str, parts: dict, total, what: str) -> None:
    """``parts`` (name → Decimal) must add up to ``total`` within the tolerance."""
    if total is None or not parts:
        return
    summed = sum(parts.values())
    tolerance = sum_tolerance(total)
    if abs(summed - total) > tolerance:
        errors.add(path, f"The {what} add up to {decimal_str(summed)}, not "
                         f"pcfExcludingBiogenicUptake {decimal_str(total)} "
                         f"(allowed difference {decimal_str(tolerance.normalize())}).")


def check_valid_until(valid_until, *, now: datetime, reference_period_end: datetime | None,
                      errors: FieldErrors | None = None, path: str = "validUntil") -> None:
    """``validUntil`` must be in the future and after the reference period end.

    Records into ``errors`` when given, otherwise raises.

    Raises:
        InvalidInput: (type ``invalid-input``) with ``{"validUntil": [...]}``.
    """
    own = errors is None
    errors = FieldErrors() if own else errors
    now = require_aware(now, "now")
    until = _time(errors, path, valid_until)
    if until is not None:
        if until <= now:
            errors.add(path, "Must be in the future.")
        if reference_period_end is not None and until <= reference_period_end:
            errors.add(path, "Must be after the footprint's referencePeriodEnd.")
    if own:
        errors.raise_if_any()


def check_footprint(footprint: Mapping, *, now: datetime, valid_until=None,
                    path: str = "footprint", errors: FieldErrors | None = None) -> None:
    """Check a footprint (as loaded by ``CertificateIn``) against the rules above.

    Every broken rule is reported at once, under dotted paths such as
    ``footprint.stages.use`` or ``footprint.gases`` (and ``validUntil`` when given).

    Raises:
        InvalidInput: type ``invalid-input`` with field ``errors``.
        ValueError: ``now`` is naive.
    """
    own = errors is None
    errors = FieldErrors() if own else errors
    now = require_aware(now, "now")
    if not isinstance(footprint, Mapping):
        errors.add(path, "Must be an object.")
        errors.raise_if_any()
        return

    _quantity(errors, f"{path}.declaredUnitAmount", footprint.get("declaredUnitAmount"),
              positive=True)
    total = _quantity(errors, f"{path}.pcfExcludingBiogenicUptake",
                      footprint.get("pcfExcludingBiogenicUptake"))
    including = _quantity(errors, f"{path}.pcfIncludingBiogenicUptake",
                          footprint.get("pcfIncludingBiogenicUptake"), signed=True)
    if total is not None and including is not None and including > total:
        errors.add(f"{path}.pcfIncludingBiogenicUptake",
                   "Must not exceed pcfExcludingBiogenicUptake (biogenic uptake is zero or "
                   "negative).")

    start = _time(errors, f"{path}.referencePeriodStart", footprint.get("referencePeriodStart"))
    end = _time(errors, f"{path}.referencePeriodEnd", footprint.get("referencePeriodEnd"))
    if start is not None and end is not None and start >= end:
        errors.add(f"{path}.referencePeriodEnd", "Must be after referencePeriodStart.")
    if end is not None and end > now:
        errors.add(f"{path}.referencePeriodEnd",
                   "Must not be in the future: a footprint covers a period that is over.")

    boundary = footprint.get("boundary")
    if boundary not in BOUNDARY_STAGES:
        errors.add(f"{path}.boundary", f"Must be one of: {', '.join(BOUNDARIES)}.")

    stages = footprint.get("stages")
    if stages is not None:
        if not isinstance(stages, Mapping):
            errors.add(f"{path}.stages", "Must be an object.")
        else:
            before = sum(len(v) for v in errors.errors.values())
            unknown = sorted(set(stages) - set(STAGES))
            for name in unknown:
                errors.add(f"{path}.stages.{name}", "Unknown life-cycle stage.")
            inside = BOUNDARY_STAGES.get(boundary, ())
            parts = {}
            for name in STAGES:
                value = stages.get(name)
                if value is None:
                    if boundary in BOUNDARY_STAGES and name in inside:
                        errors.add(f"{path}.stages.{name}",
                                   f"Must be given: {name} is inside a {boundary} boundary "
                                   "(write \"0\" for a negligible stage).")
                    continue
                if boundary in BOUNDARY_STAGES and name not in inside:
                    errors.add(f"{path}.stages.{name}",
                               f"Must be null: {name} is outside a {boundary} boundary.")
                    continue
                number = _quantity(errors, f"{path}.stages.{name}", value)
                if number is not None:
                    parts[name] = number
            after = sum(len(v) for v in errors.errors.values())
            if after == before:
                _check_breakdown(errors, f"{path}.stages", parts, total, "life-cycle stages")

    gases = footprint.get("gases")
    if gases is not None:
        if not isinstance(gases, Mapping):
            errors.add(f"{path}.gases", "Must be an object.")
        else:
            before = sum(len(v) for v in errors.errors.values())
            for name in sorted(set(gases) - set(GASES)):
                errors.add(f"{path}.gases.{name}", "Not one of the seven Kyoto gases.")
            parts = {}
            for name in GASES:
                number = _quantity(errors, f"{path}.gases.{name}", gases.get(name))
                if number is not None:
                    parts[name] = number
            after = sum(len(v) for v in errors.errors.values())
            if after == before:
                _check_breakdown(errors, f"{path}.gases", parts, total, "gases")

    if valid_until is not None:
        check_valid_until(valid_until, now=now, reference_period_end=end, errors=errors)
    if own:
        errors.raise_if_any()


def _copy_list(values) -> list:
    return [str(v) for v in values]


def footprint_member(footprint: Mapping) -> dict:
    """The credentialSubject ``footprint`` member: decimal strings as given, times in
    whole-second UTC, null stages omitted, PACT member names."""
    out = {
        "declaredUnitOfMeasurement": footprint["declaredUnitOfMeasurement"],
        "declaredUnitAmount": decimal_str(footprint["declaredUnitAmount"]),
        "pcfExcludingBiogenicUptake": decimal_str(footprint["pcfExcludingBiogenicUptake"]),
        "pcfIncludingBiogenicUptake": decimal_str(footprint["pcfIncludingBiogenicUptake"]),
        "referencePeriodStart": time_str(footprint["referencePeriodStart"]),
        "referencePeriodEnd": time_str(footprint["referencePeriodEnd"]),
        "boundary": footprint["boundary"],
        "ipccCharacterizationFactors": _copy_list(footprint.get("ipccCharacterizationFactors", [])),
        "crossSectoralStandards": _copy_list(footprint.get("crossSectoralStandards", [])),
    }
    stages = footprint.get("stages")
    if stages:
        given = {name: decimal_str(stages[name]) for name in STAGES if stages.get(name) is not None}
        if given:
            out["stages"] = given
    gases = footprint.get("gases")
    if gases:
        out["gases"] = {name: decimal_str(gases[name]) for name in GASES
                        if gases.get(name) is not None}
    return out


def product_member(product: Mapping) -> dict:
    """The credentialSubject ``product`` member; absent optional members are omitted."""
    out = {"name": product["name"]}
    if product.get("nameZh"):
        out["nameZh"] = product["nameZh"]
    out["category"] = product["category"]
    if product.get("gtin"):
        out["gtin"] = product["gtin"]
    if product.get("model"):
        out["model"] = product["model"]
    if product.get("packSize") is not None:
        out["packSize"] = str(product["packSize"])
    manufacturer = product["manufacturer"]
    out["manufacturer"] = {"name": manufacturer["name"], "id": manufacturer["id"]}
    return out
