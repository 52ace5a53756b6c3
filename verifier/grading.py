"""Grading schemes: how a certificate's grade follows from what its credential states.

A grading scheme is data (``verifier/schemes/<id>-<version>.json``, each with a
``description`` of its rules); this module is the one definition of the arithmetic.
The registry calls it when it issues a certificate and a verifier calls it, through
:func:`grade_for_subject`, to recompute the grade from a credential alone.

Rules of the arithmetic:

* Quantities are :class:`decimal.Decimal` (``int`` is accepted too); a ``float`` is a
  ``TypeError`` everywhere, because binary floats cannot hold ``0.7`` exactly.
* Comparisons are exact: ratios and products are computed as
  :class:`fractions.Fraction`, so no context precision or double rounding can move a
  footprint across a grade boundary.
* Computed figures have one documented precision each: a reduction has
  ``places`` (4) decimal places, rounded half-even; ``emissionsCovered`` is rounded
  *up* to 3 decimal places (whole grams), so the published figure never understates
  what the offsets must cover; a display ratio has 4 places, half-even.

Only the standard library is imported here (the verifier runs without the registry).
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from fractions import Fraction
from importlib import resources

__all__ = [
    "DEFAULT_SCHEME_ID",
    "EMISSIONS_PLACES",
    "KINDS",
    "REDUCTION_PLACES",
    "UnknownScheme",
    "emissions_covered",
    "footprint_grade",
    "footprint_ratio",
    "format_decimal",
    "grade_for_subject",
    "list_schemes",
    "load_scheme",
    "minimum_reduction",
    "neutrality_level",
    "offsets_total",
    "reduction_of",
    "reduction_tier",
    "validate_scheme",
]

DEFAULT_SCHEME_ID = "cn-carbon-label"
KINDS = ("carbon-footprint", "low-carbon", "reduced-carbon", "carbon-neutral")
#: Decimal places of a reduction (formats.md: half-even to 4 places).
REDUCTION_PLACES = 4
#: Decimal places of ``emissionsCovered`` in kg CO2e (rounded up: whole grams).
EMISSIONS_PLACES = 3
#: Decimal places of the display ratio returned by :func:`footprint_ratio`.
RATIO_PLACES = 4

_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", re.ASCII)
_VERSION_RE = re.compile(r"^\d+(?:\.\d+)*$", re.ASCII)
# A decimal as credentials carry it: plain digits, optional fraction, optional minus.
_DECIMAL_RE = re.compile(r"^-?\d+(?:\.\d+)?$", re.ASCII)
_LEVEL_REQUIREMENTS = frozenset({"minOffsetCoverage", "minRenewableElectricityShare",
                                 "allOffsetsRemoval"})
_OFFSET_KINDS = frozenset({"removal", "avoidance"})


class UnknownScheme(KeyError):
    """No grading scheme with that id (and version) ships with this verifier."""


# --------------------------------------------------------------------------- numbers

def _num(value, name: str) -> Decimal:
    """``value`` as a finite Decimal; ``TypeError`` for floats and non-numbers."""
    if type(value) is Decimal:  # the common case, without a copy
        if not value.is_finite():
            raise ValueError(f"{name} must be a finite number, got {value}")
        return value
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    value = Decimal(value)
    if not value.is_finite():
        raise ValueError(f"{name} must be a finite number, got {value}")
    return value


def _from_json(value, where: str) -> Decimal:
    """A decimal string (or Decimal) read from a credential; ``ValueError`` otherwise."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{where} must be a finite decimal")
        return value
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a decimal string, got {type(value).__name__}")
    if not _DECIMAL_RE.fullmatch(value):
        raise ValueError(f"{where} is not a plain decimal string: {value!r}")
    return Decimal(value)


def _scaled(numerator: int, places: int) -> Decimal:
    """The exact Decimal ``numerator / 10**places`` (no context rounding)."""
    sign = 1 if numerator < 0 else 0
    digits = tuple(int(c) for c in str(abs(numerator)))
    return Decimal((sign, digits, -places))


def _round_half_even(value: Fraction, places: int) -> Decimal:
    # Fraction.__round__ with ndigits rounds half to even, exactly.
    rounded = round(value, places)
    return _scaled(int(rounded * 10**places), places)


def _round_up(value: Fraction, places: int) -> Decimal:
    return _scaled(math.ceil(value * 10**places), places)


def _strip_zeros(value: Decimal) -> Decimal:
    """Drop trailing fractional zeros without exponent notation or context rounding."""
    sign, digits, exponent = value.as_tuple()
    digits = list(digits)
    while exponent < 0 and len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exponent += 1
    if exponent < 0 and digits == [0]:
        exponent = 0
    return Decimal((sign, tuple(digits), exponent))


def format_decimal(value: Decimal) -> str:
    """Write a Decimal as a plain decimal string: no exponent, no ``-0``.

    The digits after the point are kept as they are (``Decimal("0.820")`` → ``"0.820"``,
    ``Decimal("1E+3")`` → ``"1000"``, ``Decimal("5E-7")`` → ``"0.0000005"``).

    Raises:
        TypeError: ``value`` is a float or not a number.
        ValueError: ``value`` is NaN or infinite.
    """
    value = _num(value, "value")
    text = format(value, "f")
    if value == 0 and text.startswith("-"):
        text = text[1:]
    return text


# --------------------------------------------------------------------------- schemes

def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _ratio_or_none(value, where: str) -> Fraction | None:
    if value is None:
        return None
    return Fraction(_from_json(value, where))


#: The schemes parsed last, by identity: (the scheme, a copy of it as parsed, its rules). Grading one
#: certificate parses its scheme several times; a copy that still compares equal needs no new parse.
_PARSED: dict[int, tuple] = {}


def _parse(scheme) -> dict:
    """Validate ``scheme`` and return its rules with Fractions in place of strings (read-only)."""
    hit = _PARSED.get(id(scheme))
    if hit is not None and hit[0] is scheme and hit[1] == scheme:
        return hit[2]
    rules = _parse_rules(scheme)
    if len(_PARSED) >= 8:
        _PARSED.clear()
    _PARSED[id(scheme)] = (scheme, copy.deepcopy(scheme), rules)
    return rules


def _parse_rules(scheme) -> dict:
    if not isinstance(scheme, Mapping):
        raise ValueError("a grading scheme must be a JSON object")
    sid, version = scheme.get("id"), scheme.get("version")
    if not isinstance(sid, str) or not _ID_RE.fullmatch(sid):
        raise ValueError(f"scheme id must be a lowercase slug, got {sid!r}")
    if not isinstance(version, str) or not _VERSION_RE.fullmatch(version):
        raise ValueError(f"scheme {sid}: version must be like '1' or '1.2', got {version!r}")
    where = f"scheme {sid} v{version}"

    def section(name: str) -> Mapping:
        value = scheme.get(name)
        if not isinstance(value, Mapping):
            raise ValueError(f"{where}: '{name}' must be an object")
        return value

    grades_raw = section("footprint").get("grades")
    if not isinstance(grades_raw, list) or not grades_raw:
        raise ValueError(f"{where}: footprint.grades must be a non-empty list")
    grades: list[tuple[str, Fraction | None]] = []
    for i, entry in enumerate(grades_raw):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("grade"), str) \
                or not entry["grade"]:
            raise ValueError(f"{where}: footprint.grades[{i}] needs a grade name")
        limit = _ratio_or_none(entry.get("maxRatio"), f"{where}: footprint.grades[{i}].maxRatio")
        if grades and grades[-1][1] is None:
            raise ValueError(f"{where}: only the last footprint grade may have maxRatio null")
        if limit is not None and (limit <= 0 or (grades and limit <= grades[-1][1])):
            raise ValueError(f"{where}: footprint maxRatio values must be positive and ascend")
        grades.append((entry["grade"], limit))
    names = [g for g, _ in grades]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: footprint grade names must be unique")

    allowed = section("lowCarbon").get("allowedGrades")
    if not isinstance(allowed, list) or not allowed or not set(allowed) <= set(names):
        raise ValueError(f"{where}: lowCarbon.allowedGrades must list footprint grades")

    reduced = section("reducedCarbon")
    places = reduced.get("places", REDUCTION_PLACES)
    if isinstance(places, bool) or not isinstance(places, int) or not 0 <= places <= 12:
        raise ValueError(f"{where}: reducedCarbon.places must be an integer 0-12")
    tiers_raw = reduced.get("tiers")
    if not isinstance(tiers_raw, list) or not tiers_raw:
        raise ValueError(f"{where}: reducedCarbon.tiers must be a non-empty list")
    tiers: list[tuple[str, Fraction]] = []
    for i, entry in enumerate(tiers_raw):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("tier"), str) \
                or not entry["tier"]:
            raise ValueError(f"{where}: reducedCarbon.tiers[{i}] needs a tier name")
        minimum = _ratio_or_none(entry.get("minReduction"),
                                 f"{where}: reducedCarbon.tiers[{i}].minReduction")
        if minimum is None or minimum <= 0 or minimum >= 1 \
                or (tiers and minimum <= tiers[-1][1]):
            raise ValueError(f"{where}: minReduction values must be in (0, 1) and ascend")
        tiers.append((entry["tier"], minimum))

    levels_raw = section("carbonNeutral").get("levels")
    if not isinstance(levels_raw, list) or not levels_raw:
        raise ValueError(f"{where}: carbonNeutral.levels must be a non-empty list")
    levels: list[tuple[str, dict]] = []
    for i, entry in enumerate(levels_raw):
        here = f"{where}: carbonNeutral.levels[{i}]"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("level"), str) \
                or not entry["level"]:
            raise ValueError(f"{here} needs a level name")
        requires = entry.get("requires")
        if not isinstance(requires, Mapping):
            raise ValueError(f"{here}.requires must be an object")
        unknown = set(requires) - _LEVEL_REQUIREMENTS
        if unknown:
            raise ValueError(f"{here}: unknown requirement(s) {sorted(unknown)}")
        coverage = _ratio_or_none(requires.get("minOffsetCoverage"), f"{here}.minOffsetCoverage")
        if coverage is None or coverage < 1:
            raise ValueError(f"{here}: minOffsetCoverage must be given and at least 1")
        share = _ratio_or_none(requires.get("minRenewableElectricityShare", "0"),
                               f"{here}.minRenewableElectricityShare")
        if not 0 <= share <= 1:
            raise ValueError(f"{here}: minRenewableElectricityShare must be in [0, 1]")
        removal = requires.get("allOffsetsRemoval", False)
        if not isinstance(removal, bool):
            raise ValueError(f"{here}: allOffsetsRemoval must be true or false")
        levels.append((entry["level"], {"coverage": coverage, "share": share,
                                        "removal": removal}))
    if len({name for name, _ in levels}) != len(levels):
        raise ValueError(f"{where}: carbonNeutral level names must be unique")

    return {"grades": grades, "allowed": list(allowed), "places": places,
            "tiers": tiers, "levels": levels}


def validate_scheme(scheme: Mapping) -> None:
    """Check that ``scheme`` is a well-formed grading scheme this module can apply.

    Raises:
        ValueError: a member is missing or malformed, thresholds do not ascend, or a
            carbon-neutral level names a requirement this verifier does not know.
    """
    _parse(scheme)


@functools.lru_cache(maxsize=1)
def _shipped() -> dict[tuple[str, str], dict]:
    schemes: dict[tuple[str, str], dict] = {}
    folder = resources.files(__package__ or "verifier").joinpath("schemes")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        scheme = json.loads(entry.read_text(encoding="utf-8"))
        validate_scheme(scheme)
        expected = f"{scheme['id']}-{scheme['version']}.json"
        if entry.name != expected:
            raise ValueError(f"grading scheme file {entry.name} should be named {expected}")
        schemes[(scheme["id"], scheme["version"])] = scheme
    return schemes


def load_scheme(scheme_id: str = DEFAULT_SCHEME_ID, version: str | None = None) -> dict:
    """The grading scheme ``scheme_id`` at ``version`` (the latest version when None).

    Returns a fresh copy: changing it does not change what later calls return.

    Raises:
        UnknownScheme: no shipped scheme has that id, or not that version.
        ValueError: a shipped scheme file is malformed (a packaging error).
    """
    shipped = _shipped()
    if version is None:
        versions = [v for (sid, v) in shipped if sid == scheme_id]
        if not versions:
            raise UnknownScheme(f"unknown grading scheme {scheme_id!r}")
        version = max(versions, key=_version_key)
    try:
        return copy.deepcopy(shipped[(scheme_id, version)])
    except KeyError:
        raise UnknownScheme(f"unknown grading scheme {scheme_id!r} version {version!r}") from None


def list_schemes() -> list[dict]:
    """Every shipped grading scheme (full copies), ordered by id, then version.

    Raises:
        ValueError: a shipped scheme file is malformed (a packaging error).
    """
    shipped = _shipped()
    keys = sorted(shipped, key=lambda k: (k[0], _version_key(k[1])))
    return [copy.deepcopy(shipped[k]) for k in keys]


# --------------------------------------------------------------------------- footprint

def _footprint_terms(pcf, benchmark, declared_unit_amount) -> tuple[int, int]:
    """The exact ratio (pcf ÷ declared_unit_amount) ÷ benchmark as numerator and denominator
    (positive), not reduced: comparing integers is exact too, and cheaper than Fractions."""
    pcf = _num(pcf, "pcf")
    benchmark = _num(benchmark, "benchmark")
    amount = _num(declared_unit_amount, "declared_unit_amount")
    if pcf < 0:
        raise ValueError(f"pcf must not be negative, got {pcf}")
    if benchmark <= 0:
        raise ValueError(f"benchmark must be positive, got {benchmark}")
    if amount <= 0:
        raise ValueError(f"declared_unit_amount must be positive, got {amount}")
    pn, pd = pcf.as_integer_ratio()
    an, ad = amount.as_integer_ratio()
    bn, bd = benchmark.as_integer_ratio()
    return pn * ad * bd, pd * an * bn


def _footprint_ratio(pcf, benchmark, declared_unit_amount) -> Fraction:
    return Fraction(*_footprint_terms(pcf, benchmark, declared_unit_amount))


def footprint_ratio(pcf: Decimal, benchmark: Decimal, *,
                    declared_unit_amount: Decimal = Decimal(1)) -> Decimal:
    """r = (pcf ÷ declared_unit_amount) ÷ benchmark, rounded half-even to 4 places.

    For display only: :func:`footprint_grade` compares the exact ratio.

    Raises:
        TypeError: an argument is a float or not a number.
        ValueError: pcf is negative, or benchmark or declared_unit_amount is not positive.
    """
    return _round_half_even(_footprint_ratio(pcf, benchmark, declared_unit_amount),
                            RATIO_PLACES)


def footprint_grade(pcf: Decimal, benchmark: Decimal | None, scheme: Mapping, *,
                    declared_unit_amount: Decimal = Decimal(1)) -> str | None:
    """The footprint grade of ``pcf`` against ``benchmark`` under ``scheme``.

    The first grade whose ``maxRatio`` is null or ≥ the exact ratio
    (pcf ÷ declared_unit_amount) ÷ benchmark. None when there is no benchmark, or when
    the ratio exceeds every limit of a scheme without a catch-all grade.

    Raises:
        TypeError: an argument is a float or not a number.
        ValueError: pcf is negative, benchmark or declared_unit_amount is not positive,
            or the scheme is malformed.
    """
    rules = _parse(scheme)
    if benchmark is None:
        _num(pcf, "pcf")
        return None
    n, d = _footprint_terms(pcf, benchmark, declared_unit_amount)
    for grade, limit in rules["grades"]:
        if limit is None or n * limit.denominator <= limit.numerator * d:  # n / d <= limit, d > 0
            return grade
    return None


# --------------------------------------------------------------------------- reduction

def reduction_of(baseline: Decimal, current: Decimal, *,
                 places: int = REDUCTION_PLACES) -> Decimal:
    """(baseline − current) ÷ baseline, rounded half-even to ``places`` (4) places.

    Exact: ``reduction_of(Decimal("1.20"), Decimal("1.068"))`` is ``Decimal("0.1100")``.
    A footprint that grew gives a negative reduction.

    Raises:
        TypeError: an argument is a float or not a number.
        ValueError: baseline is not positive or current is negative.
    """
    baseline = _num(baseline, "baseline")
    current = _num(current, "current")
    if baseline <= 0:
        raise ValueError(f"baseline footprint must be positive, got {baseline}")
    if current < 0:
        raise ValueError(f"current footprint must not be negative, got {current}")
    exact = (Fraction(baseline) - Fraction(current)) / Fraction(baseline)
    return _round_half_even(exact, places)


def minimum_reduction(scheme: Mapping) -> Decimal:
    """The smallest reduction a reduced-carbon certificate needs under ``scheme``.

    Raises:
        ValueError: the scheme is malformed.
    """
    _parse(scheme)
    return Decimal(scheme["reducedCarbon"]["tiers"][0]["minReduction"])


def reduction_tier(reduction: Decimal, scheme: Mapping) -> str | None:
    """The highest tier whose ``minReduction`` ≤ ``reduction``; None below the minimum.

    Raises:
        TypeError: reduction is a float or not a number.
        ValueError: the scheme is malformed.
    """
    rules = _parse(scheme)
    value = Fraction(_num(reduction, "reduction"))
    tier = None
    for name, minimum in rules["tiers"]:
        if value >= minimum:
            tier = name
    return tier


# --------------------------------------------------------------------------- neutrality

def emissions_covered(pcf: Decimal, covered_quantity: Decimal,
                      declared_unit_amount: Decimal) -> Decimal:
    """kg CO2e to offset: pcf × covered_quantity ÷ declared_unit_amount.

    Rounded up to 3 decimal places (whole grams), trailing zeros dropped
    (``0.82 × 1000 ÷ 1`` → ``Decimal("820")``).

    Raises:
        TypeError: an argument is a float or not a number.
        ValueError: pcf is negative, or covered_quantity or declared_unit_amount is
            not positive.
    """
    pcf = _num(pcf, "pcf")
    covered = _num(covered_quantity, "covered_quantity")
    amount = _num(declared_unit_amount, "declared_unit_amount")
    if pcf < 0:
        raise ValueError(f"pcf must not be negative, got {pcf}")
    if covered <= 0:
        raise ValueError(f"covered_quantity must be positive, got {covered}")
    if amount <= 0:
        raise ValueError(f"declared_unit_amount must be positive, got {amount}")
    exact = Fraction(pcf) * Fraction(covered) / Fraction(amount)
    return _strip_zeros(_round_up(exact, EMISSIONS_PLACES))


def offsets_total(quantities: Iterable[Decimal]) -> Decimal:
    """The exact sum of offset quantities (t CO2e), with the places of the most precise.

    Raises:
        TypeError: a quantity is a float or not a number.
        ValueError: no quantities, or one is not positive.
    """
    total = Fraction(0)
    places = 0
    count = 0
    for i, quantity in enumerate(quantities):
        quantity = _num(quantity, f"quantities[{i}]")
        if quantity <= 0:
            raise ValueError(f"offset quantity must be positive, got {quantity}")
        total += Fraction(quantity)
        places = max(places, -quantity.as_tuple().exponent)
        count += 1
    if not count:
        raise ValueError("at least one offset quantity is needed")
    return _scaled(int(total * 10**places), places)


def neutrality_level(*, emissions_covered_kg: Decimal, offsets_total_t: Decimal,
                     renewable_share: Decimal, all_removal: bool,
                     scheme: Mapping) -> str | None:
    """The highest carbon-neutral level of ``scheme`` all of whose requirements hold.

    None when no level holds, in particular when the offsets do not cover the
    emissions (offsets_total_t × 1000 < emissions_covered_kg).

    Raises:
        TypeError: a quantity is a float or not a number, or all_removal is not a bool.
        ValueError: a quantity is negative, renewable_share is outside [0, 1], or the
            scheme is malformed.
    """
    rules = _parse(scheme)
    emissions = _num(emissions_covered_kg, "emissions_covered_kg")
    offsets = _num(offsets_total_t, "offsets_total_t")
    share = _num(renewable_share, "renewable_share")
    if not isinstance(all_removal, bool):
        raise TypeError("all_removal must be a bool")
    if emissions < 0 or offsets < 0:
        raise ValueError("emissions and offsets must not be negative")
    if not 0 <= share <= 1:
        raise ValueError(f"renewable_share must be in [0, 1], got {share}")
    offsets_kg = Fraction(offsets) * 1000
    level = None
    for name, needs in rules["levels"]:
        if offsets_kg >= Fraction(emissions) * needs["coverage"] \
                and Fraction(share) >= needs["share"] \
                and (all_removal or not needs["removal"]):
            level = name
    return level


# --------------------------------------------------------------------------- credentials

def _member(container: Mapping, name: str, where: str) -> Mapping:
    value = container.get(name)
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}{name} must be an object")
    return value


def _check_scheme_named(subject: Mapping, scheme: Mapping) -> None:
    grade = subject.get("grade")
    if grade is None:
        return
    if not isinstance(grade, Mapping):
        raise ValueError("grade must be an object")
    named = (grade.get("scheme"), grade.get("schemeVersion"))
    if named != (scheme.get("id"), scheme.get("version")):
        raise ValueError(f"the subject was graded under {named[0]} v{named[1]}, "
                         f"not {scheme.get('id')} v{scheme.get('version')}")


def grade_for_subject(kind: str, subject: Mapping, scheme: Mapping) -> str | None:
    """Recompute the grade value a credentialSubject must carry under ``scheme``.

    Only stated inputs are read; stated results are recomputed (docs/formats.md):

    * carbon-footprint, low-carbon: ``footprint.pcfExcludingBiogenicUptake`` and
      ``footprint.declaredUnitAmount`` against ``benchmark.value``. No benchmark → None
      (carbon-footprint). For low-carbon, a grade outside ``allowedGrades`` gives None,
      which no valid low-carbon credential carries.
    * reduced-carbon: the tier of ``reduction_of(reduction.baseline.pcf,
      reduction.current.pcf)``; ``reduction.reduction`` is not read. Below the minimum
      → None.
    * carbon-neutral: ``emissions_covered(footprint pcf, neutrality.coveredQuantity,
      footprint.declaredUnitAmount)`` against the sum of ``neutrality.offsets[].quantity``,
      with ``neutrality.renewableElectricityShare`` and the offsets' kinds; the stated
      ``emissionsCovered`` and ``offsetsTotal`` are not read. Not covered → None.

    Compare the result with ``subject["grade"]["value"]``: a mismatch means the grade
    was not earned under the named scheme.

    Raises:
        ValueError: unknown kind; the subject names another kind or another scheme; a
            member is missing or malformed (a quantity that is not a decimal string, a
            low-carbon subject without benchmark, reduction.current.pcf differing from
            the footprint's pcf, an offset kind other than removal/avoidance); or the
            scheme is malformed.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown certificate kind {kind!r}")
    if not isinstance(subject, Mapping):
        raise ValueError("credentialSubject must be an object")
    stated_kind = subject.get("certificateType")
    if stated_kind is not None and stated_kind != kind:
        raise ValueError(f"the subject is a {stated_kind} certificate, not {kind}")
    rules = _parse(scheme)
    _check_scheme_named(subject, scheme)

    if kind in ("carbon-footprint", "low-carbon"):
        footprint = _member(subject, "footprint", "")
        pcf = _from_json(footprint.get("pcfExcludingBiogenicUptake"),
                         "footprint.pcfExcludingBiogenicUptake")
        amount = _from_json(footprint.get("declaredUnitAmount"), "footprint.declaredUnitAmount")
        if subject.get("benchmark") is None:
            if kind == "low-carbon":
                raise ValueError("a low-carbon subject must state its benchmark")
            return footprint_grade(pcf, None, scheme)
        benchmark = _from_json(_member(subject, "benchmark", "").get("value"), "benchmark.value")
        grade = footprint_grade(pcf, benchmark, scheme, declared_unit_amount=amount)
        if kind == "low-carbon" and grade not in rules["allowed"]:
            return None
        return grade

    if kind == "reduced-carbon":
        reduction = _member(subject, "reduction", "")
        baseline = _from_json(_member(reduction, "baseline", "reduction.").get("pcf"),
                              "reduction.baseline.pcf")
        current = _from_json(_member(reduction, "current", "reduction.").get("pcf"),
                             "reduction.current.pcf")
        footprint = subject.get("footprint")
        if footprint is not None:
            if not isinstance(footprint, Mapping):
                raise ValueError("footprint must be an object")
            stated = _from_json(footprint.get("pcfExcludingBiogenicUptake"),
                                "footprint.pcfExcludingBiogenicUptake")
            if stated != current:
                raise ValueError("footprint.pcfExcludingBiogenicUptake differs from "
                                 "reduction.current.pcf")
        return reduction_tier(reduction_of(baseline, current, places=rules["places"]), scheme)

    footprint = _member(subject, "footprint", "")
    neutrality = _member(subject, "neutrality", "")
    pcf = _from_json(footprint.get("pcfExcludingBiogenicUptake"),
                     "footprint.pcfExcludingBiogenicUptake")
    amount = _from_json(footprint.get("declaredUnitAmount"), "footprint.declaredUnitAmount")
    covered = _from_json(neutrality.get("coveredQuantity"), "neutrality.coveredQuantity")
    share = _from_json(neutrality.get("renewableElectricityShare"),
                       "neutrality.renewableElectricityShare")
    offsets = neutrality.get("offsets")
    if not isinstance(offsets, list) or not offsets:
        raise ValueError("neutrality.offsets must be a non-empty list")
    quantities = []
    kinds = []
    for i, offset in enumerate(offsets):
        if not isinstance(offset, Mapping):
            raise ValueError(f"neutrality.offsets[{i}] must be an object")
        quantities.append(_from_json(offset.get("quantity"), f"neutrality.offsets[{i}].quantity"))
        if offset.get("kind") not in _OFFSET_KINDS:
            raise ValueError(f"neutrality.offsets[{i}].kind must be removal or avoidance")
        kinds.append(offset["kind"])
    return neutrality_level(
        emissions_covered_kg=emissions_covered(pcf, covered, amount),
        offsets_total_t=offsets_total(quantities),
        renewable_share=share,
        all_removal=all(k == "removal" for k in kinds),
        scheme=scheme,
    )
