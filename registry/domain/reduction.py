"""Reduced-carbon: choosing the baseline and current footprints and the reduction.

A reduced-carbon certificate rests on at least two carbon-footprint certificates of
the same product from different, non-overlapping reference periods (half-open, as in
PACT: one period may end exactly when the next starts). The earliest is the baseline,
the latest the current footprint; the reduction is
:func:`verifier.grading.reduction_of` (half-even, 4 places) and must reach the scheme's
minimum (:func:`verifier.grading.minimum_reduction`).

"Same product" means: same manufacturer id, category, declared unit of measurement and
declared unit amount, and system boundary, and the same GTIN where both certificates (or
the request and a certificate) carry one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from verifier import grading

from ..errors import InvalidInput
from .values import decimal_of, decimal_str, parse_time, strip_urn, time_str

__all__ = ["FootprintRecord", "ReductionResult", "select_baseline", "check_basis",
           "same_product_mismatch"]

FOOTPRINT_KIND = "carbon-footprint"
ACTIVE = "active"


@dataclass(frozen=True)
class FootprintRecord:
    """What the rules need to know of an issued certificate used as a basis.

    ``footprint`` is the certificate's signed ``footprint`` member (JSON-ready dict),
    copied into new credentials that rest on it; when None, a minimal member is built
    from the fields here.
    """

    certificate_id: str
    number: str
    status: str
    kind: str
    manufacturer_id: str
    category: str
    gtin: str | None
    declared_unit: str
    declared_unit_amount: Decimal
    boundary: str
    reference_period_start: datetime
    reference_period_end: datetime
    pcf: Decimal
    footprint: Mapping[str, Any] | None = None

    @classmethod
    def from_subject(cls, *, certificate_id: str, status: str,
                     subject: Mapping[str, Any]) -> FootprintRecord:
        """A record from a stored certificate's ``credentialSubject``.

        Raises:
            KeyError, ValueError, TypeError: the subject lacks a member or holds a
                malformed one.
        """
        product, footprint = subject["product"], subject["footprint"]
        return cls(
            certificate_id=strip_urn(certificate_id),
            number=subject["certificateNumber"],
            status=status,
            kind=subject["certificateType"],
            manufacturer_id=product["manufacturer"]["id"],
            category=product["category"],
            gtin=product.get("gtin"),
            declared_unit=footprint["declaredUnitOfMeasurement"],
            declared_unit_amount=decimal_of(footprint["declaredUnitAmount"]),
            boundary=footprint["boundary"],
            reference_period_start=parse_time(footprint["referencePeriodStart"]),
            reference_period_end=parse_time(footprint["referencePeriodEnd"]),
            pcf=decimal_of(footprint["pcfExcludingBiogenicUptake"]),
            footprint=dict(footprint),
        )

    @property
    def urn(self) -> str:
        return f"urn:uuid:{strip_urn(self.certificate_id)}"

    def label(self) -> str:
        return f"{self.number} ({self.certificate_id})"

    def period(self) -> str:
        return f"{time_str(self.reference_period_start)} – {time_str(self.reference_period_end)}"

    def footprint_member(self) -> dict:
        """The footprint member to sign into a credential that rests on this one."""
        if self.footprint is not None:
            return dict(self.footprint)
        return {
            "declaredUnitOfMeasurement": self.declared_unit,
            "declaredUnitAmount": decimal_str(self.declared_unit_amount),
            "pcfExcludingBiogenicUptake": decimal_str(self.pcf),
            "referencePeriodStart": time_str(self.reference_period_start),
            "referencePeriodEnd": time_str(self.reference_period_end),
            "boundary": self.boundary,
        }

    def summary(self) -> dict:
        """``{id, certificateNumber, referencePeriodStart, referencePeriodEnd, pcf}``."""
        return {"id": self.urn, "certificateNumber": self.number,
                "referencePeriodStart": time_str(self.reference_period_start),
                "referencePeriodEnd": time_str(self.reference_period_end),
                "pcf": decimal_str(self.pcf)}


@dataclass(frozen=True)
class ReductionResult:
    """The outcome of :func:`select_baseline`."""

    baseline: FootprintRecord
    current: FootprintRecord
    based_on: tuple[FootprintRecord, ...]  # chronological
    reduction: Decimal
    tier: str

    def member(self) -> dict:
        """The credentialSubject ``reduction`` member (docs/formats.md)."""
        return {"basedOn": [r.urn for r in self.based_on],
                "baseline": self.baseline.summary(),
                "current": self.current.summary(),
                "reduction": decimal_str(self.reduction)}


def _refuse(rule: str, detail: str) -> InvalidInput:
    return InvalidInput(detail, type="insufficient-baseline", title="Insufficient baseline",
                        errors={"basedOn": [detail]}, extra={"rule": rule})


def same_product_mismatch(a: FootprintRecord, b: FootprintRecord) -> str | None:
    """Why two footprint records are not of the same product, or None if they are."""
    checks = [
        ("manufacturer id", a.manufacturer_id, b.manufacturer_id),
        ("category", a.category, b.category),
        ("declared unit of measurement", a.declared_unit, b.declared_unit),
        ("declared unit amount", a.declared_unit_amount, b.declared_unit_amount),
        ("system boundary", a.boundary, b.boundary),
    ]
    if a.gtin and b.gtin:
        checks.append(("GTIN", a.gtin, b.gtin))
    for what, left, right in checks:
        if left != right:
            return f"{what} differs ({left} vs {right})"
    return None


def _product_mismatch(record: FootprintRecord, product: Mapping) -> str | None:
    manufacturer = (product.get("manufacturer") or {}).get("id")
    checks = [("manufacturer id", manufacturer, record.manufacturer_id),
              ("category", product.get("category"), record.category)]
    if product.get("gtin") and record.gtin:
        checks.append(("GTIN", product["gtin"], record.gtin))
    for what, left, right in checks:
        if left != right:
            return f"{what} differs ({left} in the request, {right} on the certificate)"
    return None


def check_basis(records: Iterable[FootprintRecord], *, product: Mapping | None = None,
                minimum: int = 1, maximum: int | None = None) -> list[FootprintRecord]:
    """Check certificates offered as the basis of a new one; return them chronologically.

    Rules, in order: no certificate twice; at least ``minimum`` (and at most
    ``maximum``); each an active carbon-footprint certificate; all of the same product
    (and of the request's ``product`` when given); reference periods pairwise disjoint.

    Raises:
        InvalidInput: type ``invalid-input`` for a repeated certificate (field
            ``basedOn``); otherwise type ``insufficient-baseline`` with a ``detail`` naming
            the broken rule and certificate, ``errors["basedOn"]`` and ``extra["rule"]``
            (``count``, ``kind``, ``status``, ``product``, ``periods``).
    """
    records = list(records)
    seen: dict[str, FootprintRecord] = {}
    for record in records:
        key = strip_urn(record.certificate_id)
        if key in seen:
            message = f"Certificate {record.label()} is listed more than once."
            raise InvalidInput(message, errors={"basedOn": [message]})
        seen[key] = record
    if len(records) < minimum:
        raise _refuse("count", f"At least {minimum} carbon-footprint certificate(s) of the "
                               f"product are needed as a basis; {len(records)} given.")
    if maximum is not None and len(records) > maximum:
        raise _refuse("count", f"At most {maximum} carbon-footprint certificate(s) may be "
                               f"the basis; {len(records)} given.")
    for record in records:
        if record.kind != FOOTPRINT_KIND:
            raise _refuse("kind", f"Certificate {record.label()} is a {record.kind} "
                                  f"certificate; only carbon-footprint certificates can be a basis.")
        if record.status != ACTIVE:
            raise _refuse("status", f"Certificate {record.label()} is {record.status}; only "
                                    f"active certificates can be a basis.")
    first = records[0] if records else None
    for record in records:
        if product is not None:
            why = _product_mismatch(record, product)
            if why:
                raise _refuse("product", f"Certificate {record.label()} is not for the product "
                                         f"of this request: {why}.")
        why = same_product_mismatch(first, record)
        if why:
            raise _refuse("product", f"Certificates {first.label()} and {record.label()} are not "
                                     f"for the same product: {why}.")
    ordered = sorted(records, key=lambda r: (r.reference_period_start, r.reference_period_end))
    for earlier, later in zip(ordered, ordered[1:]):
        if later.reference_period_start < earlier.reference_period_end:
            raise _refuse("periods", f"The reference periods of {earlier.label()} "
                                     f"({earlier.period()}) and {later.label()} "
                                     f"({later.period()}) overlap; each footprint must cover "
                                     f"a different period.")
    return ordered


def select_baseline(footprints: Iterable[FootprintRecord], *, scheme: Mapping,
                    product: Mapping | None = None) -> ReductionResult:
    """Baseline (earliest) and current (latest) footprints and the reduction between them.

    ``product`` is the request's product member; when given, every certificate must be
    for it (manufacturer id, category, GTIN where both have one).

    Raises:
        InvalidInput: as :func:`check_basis` with ``minimum=2`` (type ``invalid-input`` or
            ``insufficient-baseline``); type ``insufficient-baseline`` with rule
            ``baseline-zero`` when the baseline footprint is zero; type
            ``reduction-below-minimum`` (field ``basedOn``, ``extra`` with ``reduction``
            and ``minimum``) when the reduction is under the scheme's minimum.
        ValueError: the scheme is malformed.
    """
    ordered = check_basis(footprints, product=product, minimum=2)
    baseline, current = ordered[0], ordered[-1]
    if baseline.pcf <= 0:
        raise _refuse("baseline-zero", f"The baseline footprint {baseline.label()} is zero; "
                                       "no reduction can be computed from it.")
    places = scheme["reducedCarbon"].get("places", grading.REDUCTION_PLACES)
    reduction = grading.reduction_of(baseline.pcf, current.pcf, places=places)
    tier = grading.reduction_tier(reduction, scheme)
    if tier is None:
        minimum = grading.minimum_reduction(scheme)
        detail = (f"The footprint went from {decimal_str(baseline.pcf)} ({baseline.label()}, "
                  f"{baseline.period()}) to {decimal_str(current.pcf)} ({current.label()}, "
                  f"{current.period()}): a reduction of {decimal_str(reduction)}, below the "
                  f"minimum {decimal_str(minimum)} of {scheme['id']} v{scheme['version']}.")
        raise InvalidInput(detail, type="reduction-below-minimum",
                           title="Reduction below minimum", errors={"basedOn": [detail]},
                           extra={"reduction": decimal_str(reduction),
                                  "minimum": decimal_str(minimum)})
    return ReductionResult(baseline=baseline, current=current, based_on=tuple(ordered),
                           reduction=reduction, tier=tier)
