"""verifier.grading: schemes as data, exact Decimal arithmetic, grades from credentials."""

from __future__ import annotations

import copy
from decimal import Decimal as D

import pytest

from verifier import grading
from verifier.grading import (UnknownScheme, emissions_covered, footprint_grade, footprint_ratio,
                              format_decimal, grade_for_subject, list_schemes, load_scheme,
                              minimum_reduction, neutrality_level, offsets_total, reduction_of,
                              reduction_tier, validate_scheme)


@pytest.fixture
def scheme():
    return load_scheme()


# --------------------------------------------------------------------------- schemes

def test_default_scheme_is_cn_carbon_label_v1(scheme):
    assert (scheme["id"], scheme["version"]) == ("cn-carbon-label", "1")
    assert scheme["name"] and scheme["nameZh"] and scheme["description"]
    assert [g["grade"] for g in scheme["footprint"]["grades"]] == ["A", "B", "C", "D", "E"]
    assert load_scheme("cn-carbon-label", "1") == scheme


def test_load_scheme_returns_a_copy(scheme):
    scheme["footprint"]["grades"][0]["maxRatio"] = "0.99"
    assert load_scheme()["footprint"]["grades"][0]["maxRatio"] == "0.70"


@pytest.mark.parametrize("args", [("no-such-scheme",), ("cn-carbon-label", "99")])
def test_unknown_scheme_is_a_key_error(args):
    with pytest.raises(UnknownScheme) as info:
        load_scheme(*args)
    assert isinstance(info.value, KeyError)


def test_list_schemes_lists_the_shipped_scheme():
    listed = list_schemes()
    assert [(s["id"], s["version"]) for s in listed] == [("cn-carbon-label", "1")]
    for s in listed:
        validate_scheme(s)


def test_latest_version_is_compared_numerically(monkeypatch, scheme):
    versions = {}
    for version in ("1", "2", "10", "9.5"):
        versions[("cn-carbon-label", version)] = dict(copy.deepcopy(scheme), version=version)
    monkeypatch.setattr(grading, "_shipped", lambda: versions)
    assert load_scheme()["version"] == "10"
    assert [s["version"] for s in list_schemes()] == ["1", "2", "9.5", "10"]


def _broken(scheme, path, value):
    broken = copy.deepcopy(scheme)
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return broken


@pytest.mark.parametrize("path, value", [
    (("id",), "CN Carbon"),
    (("version",), "v1"),
    (("footprint", "grades"), []),
    (("footprint", "grades"), [{"grade": "A", "maxRatio": "0.9"}, {"grade": "B", "maxRatio": "0.8"}]),
    (("footprint", "grades"), [{"grade": "A", "maxRatio": None}, {"grade": "B", "maxRatio": "0.8"}]),
    (("footprint", "grades"), [{"grade": "A", "maxRatio": 0.7}, {"grade": "B", "maxRatio": None}]),
    (("footprint", "grades"), [{"grade": "A", "maxRatio": "0.7"}, {"grade": "A", "maxRatio": None}]),
    (("lowCarbon", "allowedGrades"), ["A", "Z"]),
    (("reducedCarbon", "tiers"), [{"tier": "1", "minReduction": "0.10"}, {"tier": "2", "minReduction": "0.05"}]),
    (("reducedCarbon", "tiers"), [{"tier": "1", "minReduction": "0"}]),
    (("reducedCarbon", "places"), "4"),
    (("carbonNeutral", "levels"), [{"level": "1", "requires": {"minOffsetCoverage": "0.5"}}]),
    (("carbonNeutral", "levels"), [{"level": "1", "requires": {}}]),
    (("carbonNeutral", "levels"), [{"level": "1", "requires": {"minOffsetCoverage": "1",
                                                               "minScore": "3"}}]),
    (("carbonNeutral", "levels"), [{"level": "1", "requires": {"minOffsetCoverage": "1",
                                                               "allOffsetsRemoval": "yes"}}]),
])
def test_malformed_schemes_are_refused(scheme, path, value):
    with pytest.raises(ValueError):
        validate_scheme(_broken(scheme, path, value))


# --------------------------------------------------------------------------- footprint

@pytest.mark.parametrize("pcf, grade", [
    ("0", "A"), ("0.70", "A"), ("0.7001", "B"),
    ("0.85", "B"), ("0.8501", "C"),
    ("1.00", "C"), ("1.0001", "D"),
    ("1.15", "D"), ("1.1501", "E"), ("40", "E"),
])
def test_every_footprint_grade_boundary(scheme, pcf, grade):
    assert footprint_grade(D(pcf), D("1.00"), scheme) == grade


@pytest.mark.parametrize("pcf, grade", [("1.40", "A"), ("1.4001", "B"), ("2.30", "D"), ("2.3001", "E")])
def test_grade_uses_the_ratio_to_the_benchmark(scheme, pcf, grade):
    assert footprint_grade(D(pcf), D("2.00"), scheme) == grade


@pytest.mark.parametrize("pcf, grade", [("700", "A"), ("700.1", "B"), ("1000", "C")])
def test_grade_is_per_one_declared_unit(scheme, pcf, grade):
    assert footprint_grade(D(pcf), D("1.00"), scheme, declared_unit_amount=D("1000")) == grade


def test_grade_boundary_is_exact_beyond_decimal_context_precision(scheme):
    # 2.1 / 3 is exactly 0.7; one unit in the 28th decimal place more is above it,
    # which a 28-digit context division (or a float) would round back onto 0.7.
    assert footprint_grade(D("2.1"), D("3"), scheme) == "A"
    assert footprint_grade(D("2.1000000000000000000000000001"), D("3"), scheme) == "B"


def test_no_benchmark_no_grade(scheme):
    assert footprint_grade(D("0.82"), None, scheme) is None


def test_scheme_without_catch_all_grades_none_above_its_limits(scheme):
    scheme["footprint"]["grades"] = scheme["footprint"]["grades"][:3]
    assert footprint_grade(D("1.00"), D("1"), scheme) == "C"
    assert footprint_grade(D("1.01"), D("1"), scheme) is None


def test_footprint_arguments_are_checked(scheme):
    with pytest.raises(TypeError):
        footprint_grade(0.82, D("1"), scheme)
    with pytest.raises(TypeError):
        footprint_grade(D("0.82"), 1.0, scheme)
    with pytest.raises(ValueError):
        footprint_grade(D("0.82"), D("0"), scheme)
    with pytest.raises(ValueError):
        footprint_grade(D("-0.1"), D("1"), scheme)
    with pytest.raises(ValueError):
        footprint_grade(D("NaN"), D("1"), scheme)
    with pytest.raises(ValueError):
        footprint_grade(D("1"), D("1"), scheme, declared_unit_amount=D("0"))


def test_footprint_ratio_for_display():
    assert footprint_ratio(D("0.82"), D("1.00")) == D("0.8200")
    assert str(footprint_ratio(D("2"), D("3"))) == "0.6667"
    assert footprint_ratio(D("820"), D("1"), declared_unit_amount=D("1000")) == D("0.82")
    with pytest.raises(ValueError):
        footprint_ratio(D("1"), D("-1"))


# --------------------------------------------------------------------------- reduction

def test_reduction_of_the_documented_example():
    assert str(reduction_of(D("1.20"), D("1.068"))) == "0.1100"


@pytest.mark.parametrize("baseline, current, expected", [
    ("1", "0.99995", "0.0000"),   # exactly half: to the even 0
    ("1", "0.99985", "0.0002"),   # exactly half: to the even 2
    ("1", "0.99975", "0.0002"),   # exactly half: to the even 2
    ("3", "2", "0.3333"),
    ("3", "1", "0.6667"),
    ("1", "1.5", "-0.5000"),      # the footprint grew
    ("1.2", "1.2", "0.0000"),
])
def test_reduction_rounds_half_even_to_four_places(baseline, current, expected):
    assert str(reduction_of(D(baseline), D(current))) == expected


def test_reduction_arguments_are_checked():
    with pytest.raises(ValueError):
        reduction_of(D("0"), D("1"))
    with pytest.raises(ValueError):
        reduction_of(D("1"), D("-1"))
    with pytest.raises(TypeError):
        reduction_of(1.2, D("1"))


@pytest.mark.parametrize("reduction, tier", [
    ("-0.5", None), ("0", None), ("0.0299", None), ("0.03", "1"), ("0.0999", "1"),
    ("0.10", "2"), ("0.1999", "2"), ("0.20", "3"), ("0.95", "3"),
])
def test_every_reduction_tier_boundary(scheme, reduction, tier):
    assert reduction_tier(D(reduction), scheme) == tier


def test_minimum_reduction(scheme):
    assert minimum_reduction(scheme) == D("0.03")


# --------------------------------------------------------------------------- neutrality

def test_emissions_covered_rounds_up_to_grams():
    assert str(emissions_covered(D("0.82"), D("1000"), D("1"))) == "820"
    assert str(emissions_covered(D("1"), D("1"), D("3"))) == "0.334"
    assert str(emissions_covered(D("1.2341"), D("1"), D("1"))) == "1.235"
    assert str(emissions_covered(D("0.82"), D("3"), D("1000"))) == "0.003"
    assert emissions_covered(D("0"), D("5"), D("1")) == 0
    with pytest.raises(ValueError):
        emissions_covered(D("1"), D("0"), D("1"))
    with pytest.raises(ValueError):
        emissions_covered(D("1"), D("1"), D("0"))


def test_offsets_total_keeps_the_finest_places():
    assert str(offsets_total([D("0.900")])) == "0.900"
    assert str(offsets_total([D("0.9"), D("0.100")])) == "1.000"
    assert str(offsets_total([D("12"), D("0.5")])) == "12.5"
    with pytest.raises(ValueError):
        offsets_total([])
    with pytest.raises(ValueError):
        offsets_total([D("1"), D("0")])
    with pytest.raises(TypeError):
        offsets_total([0.9])


@pytest.mark.parametrize("offsets, share, removal, level", [
    ("0.820", "0", False, "1"),
    ("0.819999", "1", True, None),    # does not cover: no level at all
    ("0.820", "0.99", True, "1"),
    ("0.820", "1", False, "2"),
    ("0.820", "1", True, "3"),
    ("5", "1.0", True, "3"),
])
def test_every_neutrality_level(scheme, offsets, share, removal, level):
    assert neutrality_level(emissions_covered_kg=D("820"), offsets_total_t=D(offsets),
                            renewable_share=D(share), all_removal=removal, scheme=scheme) == level


def test_neutrality_arguments_are_checked(scheme):
    with pytest.raises(ValueError):
        neutrality_level(emissions_covered_kg=D("1"), offsets_total_t=D("1"),
                         renewable_share=D("1.01"), all_removal=False, scheme=scheme)
    with pytest.raises(TypeError):
        neutrality_level(emissions_covered_kg=D("1"), offsets_total_t=D("1"),
                         renewable_share=D("1"), all_removal="yes", scheme=scheme)
    with pytest.raises(TypeError):
        neutrality_level(emissions_covered_kg=820.0, offsets_total_t=D("1"),
                         renewable_share=D("1"), all_removal=False, scheme=scheme)


def test_format_decimal():
    assert format_decimal(D("1E+3")) == "1000"
    assert format_decimal(D("5E-7")) == "0.0000005"
    assert format_decimal(D("0.820")) == "0.820"
    assert format_decimal(D("-0.00")) == "0.00"
    with pytest.raises(ValueError):
        format_decimal(D("Infinity"))
    with pytest.raises(TypeError):
        format_decimal(0.5)


# --------------------------------------------------------------------------- credentials

def _footprint(pcf="0.82", amount="1"):
    return {"declaredUnitOfMeasurement": "kilogram", "declaredUnitAmount": amount,
            "pcfExcludingBiogenicUptake": pcf, "pcfIncludingBiogenicUptake": pcf,
            "referencePeriodStart": "2025-01-01T00:00:00Z", "referencePeriodEnd": "2025-12-31T23:59:59Z",
            "boundary": "cradle-to-gate", "ipccCharacterizationFactors": ["AR6"],
            "crossSectoralStandards": ["ISO14067"]}


def _subject(kind, value, **members):
    subject = {"certificateType": kind,
               "grade": {"scheme": "cn-carbon-label", "schemeVersion": "1", "value": value}}
    subject.update(members)
    return subject


BENCHMARK = {"value": "1.00", "standard": "GB 16780", "source": "catalogue"}


def test_footprint_subject_grades_against_its_benchmark(scheme):
    subject = _subject("carbon-footprint", "B", footprint=_footprint(), benchmark=BENCHMARK)
    assert grade_for_subject("carbon-footprint", subject, scheme) == "B"
    per_tonne = _subject("carbon-footprint", "B", footprint=_footprint("820", "1000"),
                         benchmark=BENCHMARK)
    assert grade_for_subject("carbon-footprint", per_tonne, scheme) == "B"
    assert grade_for_subject("carbon-footprint",
                             _subject("carbon-footprint", None, footprint=_footprint()),
                             scheme) is None


def test_a_tampered_footprint_subject_regrades_differently(scheme):
    # The label claims A, but 0.82 against 1.00 is a B; an inflated benchmark shows too.
    claimed = _subject("carbon-footprint", "A", footprint=_footprint(), benchmark=BENCHMARK)
    assert grade_for_subject("carbon-footprint", claimed, scheme) != "A"
    inflated = _subject("carbon-footprint", "B", footprint=_footprint(),
                        benchmark=dict(BENCHMARK, value="1.20"))
    assert grade_for_subject("carbon-footprint", inflated, scheme) == "A"


def test_low_carbon_subject(scheme):
    ok = _subject("low-carbon", "C", footprint=_footprint("1.00"), benchmark=BENCHMARK)
    assert grade_for_subject("low-carbon", ok, scheme) == "C"
    # D is a footprint grade but no low-carbon grade: nothing valid carries it.
    over = _subject("low-carbon", "D", footprint=_footprint("1.10"), benchmark=BENCHMARK)
    assert grade_for_subject("low-carbon", over, scheme) is None
    with pytest.raises(ValueError):
        grade_for_subject("low-carbon", _subject("low-carbon", "B", footprint=_footprint()), scheme)


def _reduction(baseline="1.20", current="1.068", stated="0.1100"):
    def summary(pcf, year):
        return {"id": f"urn:uuid:0000000{year}-0000-4000-8000-000000000000",
                "certificateNumber": f"CQC-{year}", "pcf": pcf,
                "referencePeriodStart": f"{year}-01-01T00:00:00Z",
                "referencePeriodEnd": f"{year + 1}-01-01T00:00:00Z"}
    return {"basedOn": [], "baseline": summary(baseline, 2021), "current": summary(current, 2022),
            "reduction": stated}


def test_reduced_carbon_subject_recomputes_the_reduction(scheme):
    subject = _subject("reduced-carbon", "2", footprint=_footprint("1.068"), reduction=_reduction())
    assert grade_for_subject("reduced-carbon", subject, scheme) == "2"
    # An inflated stated reduction is not read: still tier 2, not the claimed 3.
    inflated = _subject("reduced-carbon", "3", footprint=_footprint("1.068"),
                        reduction=_reduction(stated="0.2500"))
    assert grade_for_subject("reduced-carbon", inflated, scheme) == "2"
    below = _subject("reduced-carbon", "1", reduction=_reduction("1.00", "0.98"))
    assert grade_for_subject("reduced-carbon", below, scheme) is None
    with pytest.raises(ValueError):
        grade_for_subject("reduced-carbon", _subject("reduced-carbon", "2",
                          footprint=_footprint("1.00"), reduction=_reduction()), scheme)


def _neutrality(quantities=("0.900",), kind="removal", share="1", covered="1000",
                emissions="820", total="0.900"):
    return {"coveredQuantity": covered, "emissionsCovered": emissions, "offsetsTotal": total,
            "renewableElectricityShare": share,
            "offsets": [{"registry": "CCER", "serialNumber": f"S{i}", "quantity": q, "vintage": "2024",
                         "kind": kind, "retiredAt": "2025-06-01T00:00:00Z", "project": "p"}
                        for i, q in enumerate(quantities)]}


@pytest.mark.parametrize("neutrality, level", [
    (_neutrality(), "3"),
    (_neutrality(kind="avoidance"), "2"),
    (_neutrality(share="0.5"), "1"),
    (_neutrality(quantities=("0.5", "0.32")), "3"),
    (_neutrality(quantities=("0.5", "0.3")), None),
])
def test_carbon_neutral_subject(scheme, neutrality, level):
    subject = _subject("carbon-neutral", level, footprint=_footprint(), neutrality=neutrality)
    assert grade_for_subject("carbon-neutral", subject, scheme) == level


def test_carbon_neutral_subject_does_not_trust_stated_totals(scheme):
    # Stated totals say covered; the offsets themselves (0.1 t) do not cover 820 kg.
    tampered = _neutrality(quantities=("0.1",), emissions="100", total="0.900")
    subject = _subject("carbon-neutral", "3", footprint=_footprint(), neutrality=tampered)
    assert grade_for_subject("carbon-neutral", subject, scheme) is None


@pytest.mark.parametrize("kind, subject", [
    ("carbon-footprint", {"footprint": dict(_footprint(), pcfExcludingBiogenicUptake=0.82),
                          "benchmark": BENCHMARK}),
    ("carbon-footprint", {"footprint": dict(_footprint(), pcfExcludingBiogenicUptake="8.2e-1"),
                          "benchmark": BENCHMARK}),
    ("carbon-footprint", {"benchmark": BENCHMARK}),
    ("carbon-footprint", {"footprint": _footprint(), "benchmark": {"value": "NaN"}}),
    ("reduced-carbon", {"reduction": {"baseline": {"pcf": "1"}}}),
    ("carbon-neutral", {"footprint": _footprint(), "neutrality": dict(_neutrality(), offsets=[])}),
    ("carbon-neutral", {"footprint": _footprint(), "neutrality": _neutrality(kind="planting")}),
    ("carbon-neutral", {"footprint": _footprint(), "neutrality": dict(_neutrality(),
                                                                      renewableElectricityShare="2")}),
    ("carbon-footprint", {"certificateType": "low-carbon", "footprint": _footprint()}),
    ("carbon-footprint", {"footprint": _footprint(),
                          "grade": {"scheme": "other", "schemeVersion": "1", "value": None}}),
    ("eco-label", {"footprint": _footprint()}),
])
def test_malformed_subjects_raise_value_error(scheme, kind, subject):
    with pytest.raises(ValueError):
        grade_for_subject(kind, subject, scheme)
