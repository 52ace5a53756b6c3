"""Category benchmarks and the low-carbon rule.

A category is a plain dict shaped like the category API's JSON:
``{"code": "cement", "declaredUnitOfMeasurement": "kilogram",
"benchmark": {"value": "1.00", "standard": "…", "source": "…"} | None}``; the benchmark
value is kg CO2e per one ``declaredUnitOfMeasurement`` (a Decimal or decimal string).

The footprint compared with it is ``pcfExcludingBiogenicUptake ÷ declaredUnitAmount``
(kg CO2e per one unit), the same figure :func:`verifier.grading.footprint_grade` grades.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

from verifier import grading

from ..errors import InvalidInput
from .values import decimal_of, decimal_str

__all__ = ["benchmark_of", "benchmark_member", "check_low_carbon"]


def benchmark_of(category: Mapping | None) -> Decimal | None:
    """The category's benchmark value, or None when it has none.

    Raises:
        ValueError: the stored benchmark is not a positive decimal (operator data error).
    """
    benchmark = (category or {}).get("benchmark")
    if not benchmark or benchmark.get("value") is None:
        return None
    value = decimal_of(benchmark["value"], "benchmark.value")
    if value <= 0:
        raise ValueError(f"category benchmark must be positive, got {value}")
    return value


def benchmark_member(category: Mapping | None) -> dict | None:
    """The credentialSubject ``benchmark`` member (value as a decimal string), or None."""
    value = benchmark_of(category)
    if value is None:
        return None
    benchmark = category["benchmark"]
    out = {"value": decimal_str(value)}
    for key in ("standard", "source"):
        if benchmark.get(key):
            out[key] = benchmark[key]
    return out


def check_low_carbon(footprint: Mapping, category: Mapping | None, scheme: Mapping) -> str:
    """Check that a footprint earns a low-carbon certificate; return its grade.

    Raises:
        InvalidInput: type ``benchmark-missing`` (the category has no benchmark,
            field ``product.category``); type ``benchmark-not-met`` (the footprint per
            declared unit exceeds the benchmark, or its grade is not among the scheme's
            ``lowCarbon.allowedGrades``; field ``footprint.pcfExcludingBiogenicUptake``).
    """
    code = (category or {}).get("code", "this category")
    benchmark = benchmark_of(category)
    if benchmark is None:
        message = f"Category {code} has no low-carbon benchmark; a low-carbon certificate needs one."
        raise InvalidInput(message, type="benchmark-missing", title="Benchmark missing",
                           errors={"product.category": [message]})
    pcf = decimal_of(footprint["pcfExcludingBiogenicUptake"])
    amount = decimal_of(footprint["declaredUnitAmount"])
    unit = footprint.get("declaredUnitOfMeasurement", "declared unit")
    field = "footprint.pcfExcludingBiogenicUptake"
    # Exact: pcf / amount <= benchmark  <=>  pcf <= benchmark * amount (amount > 0).
    if Fraction(pcf) > Fraction(benchmark) * Fraction(amount):
        per_unit = grading.footprint_ratio(pcf, Decimal(1), declared_unit_amount=amount)
        message = (f"The footprint {decimal_str(pcf)} kg CO2e per {decimal_str(amount)} {unit} "
                   f"(≈ {decimal_str(per_unit)} per {unit}) exceeds the {code} benchmark of "
                   f"{decimal_str(benchmark)} kg CO2e per {unit}.")
        raise InvalidInput(message, type="benchmark-not-met", title="Benchmark not met",
                           errors={field: [message]})
    grade = grading.footprint_grade(pcf, benchmark, scheme, declared_unit_amount=amount)
    allowed = list(scheme["lowCarbon"]["allowedGrades"])
    if grade not in allowed:
        message = (f"Grade {grade} is not admitted for a low-carbon certificate under "
                   f"{scheme['id']} v{scheme['version']} (admitted: {', '.join(allowed)}).")
        raise InvalidInput(message, type="benchmark-not-met", title="Benchmark not met",
                           errors={field: [message]})
    return grade
