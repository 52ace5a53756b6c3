"""The certification rules as plain Python: pure functions over dicts, dataclasses and
Decimals. No Flask, no database session, no keys, no I/O.

Refusals are :class:`registry.errors.InvalidInput` (422) with a stable ``type``:
``invalid-input`` (field ``errors`` under dotted paths such as ``footprint.stages.use``),
``benchmark-missing``, ``benchmark-not-met``, ``insufficient-baseline``,
``reduction-below-minimum``, ``duplicate-offset`` and ``insufficient-offsets``; and
:class:`registry.errors.Conflict` (409) ``offset-already-used``.
The grade arithmetic itself lives in :mod:`verifier.grading` (one definition, shared
with offline verifiers); this package applies it.
"""

from .footprint import (BOUNDARIES, BOUNDARY_STAGES, GASES, STAGES, check_footprint,
                        check_valid_until, footprint_member, product_member)
from .low_carbon import benchmark_member, benchmark_of, check_low_carbon
from .neutrality import (OFFSET_KINDS, NeutralityResult, assess_neutrality, check_offsets,
                         check_offsets_unused, offset_key, offset_member)
from .reduction import (FootprintRecord, ReductionResult, check_basis, same_product_mismatch,
                        select_baseline)
from .subjects import (build_subject, carbon_neutral_subject, footprint_subject, grade_member,
                       low_carbon_subject, reduced_carbon_subject)
from .values import (SUM_ABSOLUTE_TOLERANCE, SUM_RELATIVE_TOLERANCE, FieldErrors, decimal_str,
                     sum_tolerance, time_str)

REFUSAL_TYPES = ("invalid-input", "benchmark-missing", "benchmark-not-met",
                 "insufficient-baseline", "reduction-below-minimum", "duplicate-offset",
                 "insufficient-offsets", "offset-already-used")

__all__ = [
    "BOUNDARIES", "BOUNDARY_STAGES", "GASES", "OFFSET_KINDS", "REFUSAL_TYPES", "STAGES",
    "SUM_ABSOLUTE_TOLERANCE", "SUM_RELATIVE_TOLERANCE",
    "FieldErrors", "FootprintRecord", "NeutralityResult", "ReductionResult",
    "assess_neutrality", "benchmark_member", "benchmark_of", "build_subject",
    "carbon_neutral_subject", "check_basis", "check_footprint", "check_low_carbon",
    "check_offsets", "check_offsets_unused", "check_valid_until", "decimal_str", "footprint_member",
    "footprint_subject", "grade_member", "low_carbon_subject", "offset_key", "offset_member",
    "product_member", "reduced_carbon_subject", "same_product_mismatch", "select_baseline",
    "sum_tolerance", "time_str",
]
