"""registry.domain: every certification rule and every refusal type, without a database."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from registry.domain import (FootprintRecord, build_subject, check_basis, check_footprint,
                             check_low_carbon, check_offsets, check_offsets_unused,
                             footprint_subject, offset_key, select_baseline, sum_tolerance)
from registry.domain.neutrality import assess_neutrality
from registry.errors import Conflict, InvalidInput
from verifier.grading import grade_for_subject, load_scheme

UTC = timezone.utc
NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
MANUFACTURER = "urn:uscc:91310000XXXXXXXXXX"


def at(year, month=1, day=1):
    return datetime(year, month, day, tzinfo=UTC)


@pytest.fixture
def scheme():
    return load_scheme()


CEMENT = {"code": "cement", "declaredUnitOfMeasurement": "kilogram",
          "benchmark": {"value": "1.00", "standard": "GB/T 24067", "source": "catalogue 2025"}}
NO_BENCHMARK = {"code": "cement", "declaredUnitOfMeasurement": "kilogram", "benchmark": None}


def footprint(**overrides):
    value = {"declaredUnitOfMeasurement": "kilogram", "declaredUnitAmount": D("1"),
             "pcfExcludingBiogenicUptake": D("0.82"), "pcfIncludingBiogenicUptake": D("0.82"),
             "referencePeriodStart": at(2025), "referencePeriodEnd": at(2025, 12, 31),
             "boundary": "cradle-to-gate", "ipccCharacterizationFactors": ["AR6"],
             "crossSectoralStandards": ["ISO14067"],
             "stages": {"rawMaterialAcquisition": D("0.10"), "rawMaterialTransport": D("0.02"),
                        "manufacturing": D("0.70"), "distribution": None, "use": None,
                        "endOfLife": None},
             "gases": {"CO2": D("0.80"), "CH4": D("0.01"), "N2O": D("0.01"), "HFCs": D("0"),
                       "PFCs": D("0"), "SF6": D("0"), "NF3": D("0")}}
    value.update(overrides)
    return value


def product(**overrides):
    value = {"name": "P.O 42.5 cement", "nameZh": "普通硅酸盐水泥 P.O 42.5", "category": "cement",
             "gtin": "06901234567892", "model": "PO42.5",
             "manufacturer": {"name": "Conch", "id": MANUFACTURER}}
    value.update(overrides)
    return value


def request(kind="carbon-footprint", **overrides):
    value = {"type": kind, "product": product(), "footprint": footprint(),
             "validUntil": at(2028, 12, 31)}
    value.update(overrides)
    return value


def refusal(call, *args, **kwargs) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        call(*args, **kwargs)
    assert info.value.status == 422
    return info.value


def errors_of(error: InvalidInput) -> dict:
    return error.extra["errors"]


def check(fp, **kwargs):
    kwargs.setdefault("now", NOW)
    return check_footprint(fp, **kwargs)


# --------------------------------------------------------------------------- footprint

def test_a_valid_footprint_passes():
    assert check(footprint(), valid_until=at(2028)) is None


@pytest.mark.parametrize("overrides, path", [
    ({"declaredUnitAmount": D("0")}, "footprint.declaredUnitAmount"),
    ({"pcfExcludingBiogenicUptake": D("-0.01")}, "footprint.pcfExcludingBiogenicUptake"),
    ({"pcfExcludingBiogenicUptake": 0.82}, "footprint.pcfExcludingBiogenicUptake"),
    ({"pcfIncludingBiogenicUptake": D("0.83")}, "footprint.pcfIncludingBiogenicUptake"),
    ({"referencePeriodEnd": at(2025)}, "footprint.referencePeriodEnd"),
    ({"referencePeriodStart": at(2026)}, "footprint.referencePeriodEnd"),
    ({"referencePeriodEnd": NOW + timedelta(seconds=1)}, "footprint.referencePeriodEnd"),
    ({"referencePeriodStart": datetime(2025, 1, 1)}, "footprint.referencePeriodStart"),
    ({"boundary": "gate-to-gate"}, "footprint.boundary"),
])
def test_footprint_field_rules(overrides, path):
    error = refusal(check, footprint(**overrides))
    assert error.type == "invalid-input"
    assert path in errors_of(error)


def test_including_biogenic_uptake_may_be_lower_and_negative():
    check(footprint(pcfIncludingBiogenicUptake=D("0.70")))
    check(footprint(pcfIncludingBiogenicUptake=D("-1.30")))


def test_reference_period_may_end_now():
    check(footprint(referencePeriodEnd=NOW))


def test_all_broken_rules_are_reported_at_once():
    error = refusal(check, footprint(declaredUnitAmount=D("0"), boundary="x",
                                     pcfIncludingBiogenicUptake=D("9")))
    assert {"footprint.declaredUnitAmount", "footprint.boundary",
            "footprint.pcfIncludingBiogenicUptake"} <= set(errors_of(error))


def test_tolerance_is_half_a_percent_or_a_gram():
    assert sum_tolerance(D("0.82")) == D("0.0041")
    assert sum_tolerance(D("0.1")) == D("0.001")
    assert sum_tolerance(D("1000")) == D("5")


def _stages(acquisition, transport="0.02", manufacturing="0.70"):
    return {"rawMaterialAcquisition": D(acquisition), "rawMaterialTransport": D(transport),
            "manufacturing": D(manufacturing)}


@pytest.mark.parametrize("acquisition, ok", [
    ("0.1041", True),    # 0.8241: +0.0041, the tolerance
    ("0.0959", True),    # 0.8159: -0.0041
    ("0.1042", False),
    ("0.0958", False),
])
def test_stages_sum_to_the_total_within_tolerance(acquisition, ok):
    fp = footprint(stages=_stages(acquisition))
    if ok:
        check(fp)
    else:
        error = refusal(check, fp)
        assert error.type == "invalid-input"
        assert list(errors_of(error)) == ["footprint.stages"]


def test_small_totals_get_the_absolute_tolerance():
    fp = footprint(pcfExcludingBiogenicUptake=D("0.1"), pcfIncludingBiogenicUptake=D("0.1"),
                   gases=None)
    check(dict(fp, stages=_stages("0.001", "0", "0.1")))
    error = refusal(check, dict(fp, stages=_stages("0.0011", "0", "0.1")))
    assert "footprint.stages" in errors_of(error)


@pytest.mark.parametrize("stage", ["distribution", "use", "endOfLife"])
def test_cradle_to_gate_carries_no_downstream_stage(stage):
    stages = dict(footprint()["stages"], **{stage: D("0")})
    error = refusal(check, footprint(stages=stages))
    assert f"footprint.stages.{stage}" in errors_of(error)


def test_stages_inside_the_boundary_must_be_given():
    stages = dict(footprint()["stages"], manufacturing=None)
    error = refusal(check, footprint(stages=stages))
    assert "footprint.stages.manufacturing" in errors_of(error)


def test_cradle_to_grave_needs_all_six_stages():
    six = {"rawMaterialAcquisition": D("0.10"), "rawMaterialTransport": D("0.02"),
           "manufacturing": D("0.60"), "distribution": D("0.05"), "use": D("0.05"),
           "endOfLife": D("0")}
    check(footprint(boundary="cradle-to-grave", stages=six))
    error = refusal(check, footprint(boundary="cradle-to-grave", stages=dict(six, endOfLife=None)))
    assert "footprint.stages.endOfLife" in errors_of(error)


def test_stages_are_optional_and_not_negative():
    check(footprint(stages=None))
    error = refusal(check, footprint(stages=_stages("-0.1", "0.22", "0.70")))
    assert "footprint.stages.rawMaterialAcquisition" in errors_of(error)
    error = refusal(check, footprint(stages=dict(_stages("0.10"), landUse=D("0"))))
    assert "footprint.stages.landUse" in errors_of(error)


def test_gases_sum_to_the_total():
    gases = dict(footprint()["gases"], CO2=D("0.70"))
    error = refusal(check, footprint(gases=gases))
    assert list(errors_of(error)) == ["footprint.gases"]
    check(footprint(gases=None))


def test_all_seven_gases_are_given():
    gases = dict(footprint()["gases"])
    del gases["NF3"]
    error = refusal(check, footprint(gases=gases))
    assert "footprint.gases.NF3" in errors_of(error)
    error = refusal(check, footprint(gases=dict(footprint()["gases"], CO2=D("0.79"), H2O=D("0.01"))))
    assert "footprint.gases.H2O" in errors_of(error)


def test_valid_until_in_the_future_and_after_the_period():
    error = refusal(check, footprint(), valid_until=NOW)
    assert errors_of(error)["validUntil"] == ["Must be in the future."]
    error = refusal(check, footprint(referencePeriodEnd=NOW), valid_until=NOW)
    assert len(errors_of(error)["validUntil"]) == 2


def test_now_must_be_aware():
    with pytest.raises(ValueError):
        check_footprint(footprint(), now=datetime(2026, 1, 1))


# --------------------------------------------------------------------------- carbon-footprint

def test_footprint_subject(scheme):
    subject = footprint_subject(request(), category=CEMENT, scheme=scheme, now=NOW)
    assert set(subject) == {"product", "footprint", "benchmark", "grade"}
    assert subject["grade"] == {"scheme": "cn-carbon-label", "schemeVersion": "1", "value": "B"}
    assert subject["benchmark"] == {"value": "1.00", "standard": "GB/T 24067",
                                    "source": "catalogue 2025"}
    assert subject["product"]["gtin"] == "06901234567892"
    fp = subject["footprint"]
    assert fp["pcfExcludingBiogenicUptake"] == "0.82"
    assert fp["referencePeriodEnd"] == "2025-12-31T00:00:00Z"
    assert fp["stages"] == {"rawMaterialAcquisition": "0.10", "rawMaterialTransport": "0.02",
                            "manufacturing": "0.70"}
    assert fp["gases"]["HFCs"] == "0"
    assert grade_for_subject("carbon-footprint", subject, scheme) == "B"


def test_decimal_strings_keep_given_places_without_exponents(scheme):
    data = request(footprint=footprint(declaredUnitAmount=D("1E+3"),
                                       pcfExcludingBiogenicUptake=D("820.0"),
                                       pcfIncludingBiogenicUptake=D("8.2E+2"),
                                       stages=None, gases=None))
    fp = footprint_subject(data, category=CEMENT, scheme=scheme, now=NOW)["footprint"]
    assert (fp["declaredUnitAmount"], fp["pcfExcludingBiogenicUptake"],
            fp["pcfIncludingBiogenicUptake"]) == ("1000", "820.0", "820")


def test_optional_members_are_omitted(scheme):
    data = request(product=product(nameZh=None, gtin=None, model=None),
                   footprint=footprint(stages=None, gases=None))
    subject = footprint_subject(data, category=NO_BENCHMARK, scheme=scheme, now=NOW)
    assert set(subject["product"]) == {"name", "category", "manufacturer"}
    assert "stages" not in subject["footprint"] and "gases" not in subject["footprint"]
    assert "benchmark" not in subject
    assert subject["grade"]["value"] is None


def test_a_footprint_certificate_may_grade_e(scheme):
    data = request(footprint=footprint(pcfExcludingBiogenicUptake=D("2"),
                                       pcfIncludingBiogenicUptake=D("2"), stages=None, gases=None))
    assert footprint_subject(data, category=CEMENT, scheme=scheme, now=NOW)["grade"]["value"] == "E"


@pytest.mark.parametrize("category, path", [
    (dict(CEMENT, code="flat-glass"), "product.category"),
    (dict(CEMENT, declaredUnitOfMeasurement="square meter"), "footprint.declaredUnitOfMeasurement"),
])
def test_footprint_must_fit_its_category(scheme, category, path):
    error = refusal(footprint_subject, request(), category=category, scheme=scheme, now=NOW)
    assert error.type == "invalid-input"
    assert path in errors_of(error)


@pytest.mark.parametrize("member, value", [
    ("basedOn", ["0f8fad5b-d9cb-469f-a165-70867728950e"]),
    ("offsets", []),
    ("coveredQuantity", D("1")),
    ("renewableElectricityShare", D("1")),
])
def test_footprint_certificates_carry_no_other_kind_members(scheme, member, value):
    error = refusal(footprint_subject, request(**{member: value}), category=CEMENT,
                    scheme=scheme, now=NOW)
    assert member in errors_of(error)


def test_footprint_and_valid_until_are_required(scheme):
    error = refusal(footprint_subject, request(footprint=None), category=CEMENT, scheme=scheme, now=NOW)
    assert "footprint" in errors_of(error)
    error = refusal(footprint_subject, request(validUntil=None), category=CEMENT, scheme=scheme, now=NOW)
    assert "validUntil" in errors_of(error)


# --------------------------------------------------------------------------- low-carbon

def test_low_carbon_subject(scheme):
    subject = build_subject("low-carbon", request("low-carbon"), category=CEMENT, scheme=scheme, now=NOW)
    assert subject["grade"]["value"] == "B"
    assert subject["benchmark"]["value"] == "1.00"


def test_low_carbon_needs_a_benchmark(scheme):
    for category in (NO_BENCHMARK, {"code": "cement"}, None):
        error = refusal(build_subject, "low-carbon", request("low-carbon"), category=category,
                        scheme=scheme, now=NOW)
        assert error.type == "benchmark-missing"
        assert "product.category" in errors_of(error)


@pytest.mark.parametrize("pcf, amount, grade", [
    ("1.00", "1", "C"), ("1.0001", "1", None),
    ("1000", "1000", "C"), ("1000.1", "1000", None),   # per one declared unit
])
def test_low_carbon_footprint_at_or_under_the_benchmark(scheme, pcf, amount, grade):
    fp = footprint(pcfExcludingBiogenicUptake=D(pcf), pcfIncludingBiogenicUptake=D(pcf),
                   declaredUnitAmount=D(amount), stages=None, gases=None)
    if grade:
        assert check_low_carbon(fp, CEMENT, scheme) == grade
    else:
        error = refusal(check_low_carbon, fp, CEMENT, scheme)
        assert error.type == "benchmark-not-met"
        assert "footprint.pcfExcludingBiogenicUptake" in errors_of(error)
        assert pcf in error.detail and "1.00" in error.detail


def test_low_carbon_grade_must_be_admitted_by_the_scheme(scheme):
    strict = copy.deepcopy(scheme)
    strict["lowCarbon"]["allowedGrades"] = ["A", "B"]
    fp = footprint(pcfExcludingBiogenicUptake=D("0.90"), pcfIncludingBiogenicUptake=D("0.90"),
                   stages=None, gases=None)
    error = refusal(check_low_carbon, fp, CEMENT, strict)
    assert error.type == "benchmark-not-met"
    assert "Grade C" in error.detail


def test_low_carbon_checks_the_footprint_first(scheme):
    error = refusal(build_subject, "low-carbon", request("low-carbon", footprint=footprint(
        declaredUnitAmount=D("0"))), category=NO_BENCHMARK, scheme=scheme, now=NOW)
    assert error.type == "invalid-input"


# --------------------------------------------------------------------------- reduced-carbon

def record(year, pcf, **overrides) -> FootprintRecord:
    value = dict(certificate_id=f"0000{year}-0000-4000-8000-000000000000", number=f"CQC-{year}-000001",
                 status="active", kind="carbon-footprint", manufacturer_id=MANUFACTURER,
                 category="cement", gtin="06901234567892", declared_unit="kilogram",
                 declared_unit_amount=D("1"), boundary="cradle-to-gate",
                 reference_period_start=at(year), reference_period_end=at(year + 1),
                 pcf=D(pcf))
    value.update(overrides)
    return FootprintRecord(**value)


def test_select_baseline_takes_earliest_and_latest(scheme):
    result = select_baseline([record(2022, "1.068"), record(2021, "1.20")], scheme=scheme)
    assert result.baseline.number == "CQC-2021-000001"
    assert result.current.number == "CQC-2022-000001"
    assert result.reduction == D("0.1100") and result.tier == "2"
    member = result.member()
    assert member["reduction"] == "0.1100"
    assert member["basedOn"] == ["urn:uuid:00002021-0000-4000-8000-000000000000",
                                 "urn:uuid:00002022-0000-4000-8000-000000000000"]
    assert member["baseline"] == {"id": "urn:uuid:00002021-0000-4000-8000-000000000000",
                                  "certificateNumber": "CQC-2021-000001",
                                  "referencePeriodStart": "2021-01-01T00:00:00Z",
                                  "referencePeriodEnd": "2022-01-01T00:00:00Z", "pcf": "1.20"}
    assert member["current"]["pcf"] == "1.068"


def test_three_footprints_compare_first_and_last(scheme):
    result = select_baseline([record(2022, "0.5"), record(2023, "0.95"), record(2021, "1.00")],
                             scheme=scheme)
    assert (result.baseline.pcf, result.current.pcf, result.tier) == (D("1.00"), D("0.95"), "1")
    assert len(result.based_on) == 3


def _insufficient(records, scheme, rule, **kwargs):
    error = refusal(select_baseline, records, scheme=scheme, **kwargs)
    assert error.type == "insufficient-baseline"
    assert error.extra["rule"] == rule
    assert errors_of(error)["basedOn"] == [error.detail]
    return error


def test_at_least_two_footprints(scheme):
    _insufficient([record(2021, "1.2")], scheme, "count")
    _insufficient([], scheme, "count")


def test_a_footprint_twice_is_a_field_error(scheme):
    error = refusal(select_baseline, [record(2021, "1.2"), record(2021, "1.2")], scheme=scheme)
    assert error.type == "invalid-input"
    assert "basedOn" in errors_of(error)


def test_only_carbon_footprint_certificates(scheme):
    error = _insufficient([record(2021, "1.2"), record(2022, "1", kind="low-carbon")], scheme, "kind")
    assert "CQC-2022-000001" in error.detail and "low-carbon" in error.detail


@pytest.mark.parametrize("status", ["suspended", "revoked", "expired"])
def test_only_active_certificates(scheme, status):
    error = _insufficient([record(2021, "1.2", status=status), record(2022, "1")], scheme, "status")
    assert status in error.detail


@pytest.mark.parametrize("overrides, what", [
    ({"manufacturer_id": "urn:uscc:OTHER"}, "manufacturer id"),
    ({"category": "flat-glass"}, "category"),
    ({"declared_unit": "piece"}, "declared unit of measurement"),
    ({"declared_unit_amount": D("1000")}, "declared unit amount"),
    ({"boundary": "cradle-to-grave"}, "system boundary"),
    ({"gtin": "00000000000017"}, "GTIN"),
])
def test_same_product(scheme, overrides, what):
    error = _insufficient([record(2021, "1.2"), record(2022, "1", **overrides)], scheme, "product")
    assert what in error.detail


def test_gtin_compared_only_where_both_have_one(scheme):
    select_baseline([record(2021, "1.2", gtin=None), record(2022, "1")], scheme=scheme)
    select_baseline([record(2021, "1.2"), record(2022, "1", declared_unit_amount=D("1.0"))],
                    scheme=scheme)


def test_footprints_must_be_of_the_requested_product(scheme):
    records = [record(2021, "1.2"), record(2022, "1")]
    select_baseline(records, scheme=scheme, product=product())
    error = _insufficient(records, scheme, "product",
                          product=product(manufacturer={"name": "x", "id": "urn:uscc:OTHER"}))
    assert "in the request" in error.detail
    _insufficient(records, scheme, "product", product=product(gtin="00000000000017"))


@pytest.mark.parametrize("second", [
    dict(reference_period_start=at(2021), reference_period_end=at(2022)),     # the same period
    dict(reference_period_start=at(2021, 7), reference_period_end=at(2022, 7)),
    dict(reference_period_start=at(2020), reference_period_end=at(2023)),     # contains it
])
def test_reference_periods_must_not_overlap(scheme, second):
    error = _insufficient([record(2021, "1.2"), record(2022, "1", **second)], scheme, "periods")
    assert "overlap" in error.detail


def test_adjacent_periods_do_not_overlap(scheme):
    # Half-open periods: [2021, 2022) and [2022, 2023).
    select_baseline([record(2021, "1.2"), record(2022, "1")], scheme=scheme)


@pytest.mark.parametrize("baseline, current, ok", [
    ("1.00", "0.97", True), ("1.00", "0.9701", False), ("1.00", "0.98", False),
    ("1.00", "1.10", False),
])
def test_reduction_must_reach_the_minimum(scheme, baseline, current, ok):
    records = [record(2021, baseline), record(2022, current)]
    if ok:
        assert select_baseline(records, scheme=scheme).tier == "1"
        return
    error = refusal(select_baseline, records, scheme=scheme)
    assert error.type == "reduction-below-minimum"
    assert error.extra["minimum"] == "0.03"
    assert error.extra["reduction"] in error.detail
    assert "basedOn" in errors_of(error)


def test_baseline_footprint_must_not_be_zero(scheme):
    _insufficient([record(2021, "0"), record(2022, "0")], scheme, "baseline-zero")


def _footprint_certificate(year, pcf, scheme):
    data = request(footprint=footprint(pcfExcludingBiogenicUptake=D(pcf),
                                       pcfIncludingBiogenicUptake=D(pcf),
                                       referencePeriodStart=at(year), referencePeriodEnd=at(year + 1),
                                       stages=None, gases=None))
    subject = footprint_subject(data, category=CEMENT, scheme=scheme, now=NOW)
    subject.update(certificateNumber=f"CQC-{year}-000009", certificateType="carbon-footprint")
    return FootprintRecord.from_subject(certificate_id=f"urn:uuid:0000{year}-0000-4000-8000-00000000000A",
                                        status="active", subject=subject)


def test_record_from_a_stored_subject(scheme):
    rec = _footprint_certificate(2021, "1.20", scheme)
    assert rec.certificate_id == "00002021-0000-4000-8000-00000000000a"
    assert (rec.number, rec.kind, rec.pcf, rec.gtin) == ("CQC-2021-000009", "carbon-footprint",
                                                         D("1.20"), "06901234567892")
    assert rec.reference_period_end == at(2022)


def test_reduced_carbon_subject(scheme):
    records = [_footprint_certificate(2021, "1.20", scheme), _footprint_certificate(2022, "1.068", scheme)]
    data = request("reduced-carbon", footprint=None, basedOn=[r.certificate_id for r in records])
    subject = build_subject("reduced-carbon", data, category=CEMENT, scheme=scheme, now=NOW,
                            footprints=records)
    assert set(subject) == {"product", "footprint", "grade", "reduction"}
    assert subject["footprint"] == records[1].footprint
    assert subject["grade"]["value"] == "2"
    assert subject["reduction"]["reduction"] == "0.1100"
    assert grade_for_subject("reduced-carbon", subject, scheme) == "2"


def test_reduced_carbon_request_rules(scheme):
    records = [record(2021, "1.20"), record(2022, "1.068")]
    ids = [r.certificate_id for r in records]
    error = refusal(build_subject, "reduced-carbon", request("reduced-carbon", basedOn=ids),
                    category=CEMENT, scheme=scheme, now=NOW, footprints=records)
    assert "footprint" in errors_of(error)
    data = request("reduced-carbon", footprint=None, basedOn=ids, validUntil=at(2026))
    error = refusal(build_subject, "reduced-carbon", data, category=CEMENT, scheme=scheme,
                    now=NOW, footprints=records)
    assert "validUntil" in errors_of(error)
    data = request("reduced-carbon", footprint=None, basedOn=ids + [ids[0].upper()])
    error = refusal(build_subject, "reduced-carbon", data, category=CEMENT, scheme=scheme,
                    now=NOW, footprints=records)
    assert error.type == "invalid-input" and "basedOn" in errors_of(error)
    data = request("reduced-carbon", footprint=None, basedOn=ids)
    error = refusal(build_subject, "reduced-carbon", data, scheme=scheme, now=NOW, footprints=records,
                    category=dict(CEMENT, declaredUnitOfMeasurement="piece"))
    assert "basedOn" in errors_of(error)
    with pytest.raises(ValueError):
        build_subject("reduced-carbon", data, category=CEMENT, scheme=scheme, now=NOW,
                      footprints=records[:1] + [record(2023, "1")])


def test_an_inconsistent_stored_footprint_is_not_signed(scheme):
    records = [record(2021, "1.20"),
               record(2022, "1.068", footprint={"pcfExcludingBiogenicUptake": "0.5",
                                                "declaredUnitAmount": "1"})]
    data = request("reduced-carbon", footprint=None, basedOn=[r.certificate_id for r in records])
    with pytest.raises(ValueError):
        build_subject("reduced-carbon", data, category=CEMENT, scheme=scheme, now=NOW,
                      footprints=records)


# --------------------------------------------------------------------------- carbon-neutral

def offset(serial="CCER-001", **overrides):
    value = {"registry": "CCER", "serialNumber": serial, "quantity": D("0.900"), "vintage": "2024",
             "kind": "removal", "retiredAt": at(2025, 6), "project": "Mangrove planting, Zhanjiang"}
    value.update(overrides)
    return value


def neutral_request(**overrides):
    value = request("carbon-neutral", coveredQuantity=D("1000"), renewableElectricityShare=D("1"),
                    offsets=[offset()])
    value.update(overrides)
    return value


def test_carbon_neutral_subject_matches_the_documented_member(scheme):
    subject = build_subject("carbon-neutral", neutral_request(), category=CEMENT, scheme=scheme, now=NOW)
    assert subject["grade"]["value"] == "3"
    assert subject["neutrality"] == {
        "coveredQuantity": "1000", "emissionsCovered": "820", "offsetsTotal": "0.900",
        "renewableElectricityShare": "1",
        "offsets": [{"registry": "CCER", "serialNumber": "CCER-001", "quantity": "0.900",
                     "vintage": "2024", "kind": "removal", "retiredAt": "2025-06-01T00:00:00Z",
                     "project": "Mangrove planting, Zhanjiang"}]}
    assert "benchmark" not in subject


@pytest.mark.parametrize("overrides, level", [
    ({"offsets": [offset(kind="avoidance")]}, "2"),
    ({"renewableElectricityShare": D("0.6")}, "1"),
    ({"offsets": [offset(quantity=D("0.820"))]}, "3"),
    ({"offsets": [offset("a", quantity=D("0.5")), offset("b", quantity=D("0.32"), kind="avoidance")]}, "2"),
])
def test_carbon_neutral_levels(scheme, overrides, level):
    subject = build_subject("carbon-neutral", neutral_request(**overrides), category=CEMENT,
                            scheme=scheme, now=NOW)
    assert subject["grade"]["value"] == level


def test_offsets_must_cover_the_emissions(scheme):
    error = refusal(build_subject, "carbon-neutral", neutral_request(offsets=[offset(quantity=D("0.819"))]),
                    category=CEMENT, scheme=scheme, now=NOW)
    assert error.type == "insufficient-offsets"
    assert error.extra["emissionsCovered"] == "820" and error.extra["offsetsTotal"] == "0.819"
    assert "820" in error.detail and "0.819" in error.detail
    assert "offsets" in errors_of(error)


def test_a_scheme_level_that_asks_for_more_coverage(scheme):
    demanding = copy.deepcopy(scheme)
    for level in demanding["carbonNeutral"]["levels"]:
        level["requires"]["minOffsetCoverage"] = "1.1"
    error = refusal(build_subject, "carbon-neutral", neutral_request(), category=CEMENT,
                    scheme=demanding, now=NOW)
    assert error.type == "insufficient-offsets"


def test_duplicate_offsets_in_one_request(scheme):
    offsets = [offset("S-1"), offset("S-2"), offset(" s-1 ", registry="ccer")]
    error = refusal(build_subject, "carbon-neutral", neutral_request(offsets=offsets),
                    category=CEMENT, scheme=scheme, now=NOW)
    assert error.type == "duplicate-offset"
    assert list(errors_of(error)) == ["offsets.2.serialNumber"]
    assert offset_key(offsets[2]) == offset_key(offsets[0]) == ("ccer", "s-1")


@pytest.mark.parametrize("overrides, path", [
    ({"quantity": D("0")}, "offsets.0.quantity"),
    ({"quantity": 0.9}, "offsets.0.quantity"),
    ({"vintage": "2027"}, "offsets.0.vintage"),
    ({"vintage": "2025", "retiredAt": at(2024, 12)}, "offsets.0.vintage"),
    ({"vintage": "24"}, "offsets.0.vintage"),
    ({"vintage": "1980"}, "offsets.0.vintage"),
    ({"retiredAt": NOW + timedelta(days=1)}, "offsets.0.retiredAt"),
    ({"retiredAt": datetime(2025, 6, 1)}, "offsets.0.retiredAt"),
    ({"kind": "planting"}, "offsets.0.kind"),
    ({"registry": "  "}, "offsets.0.registry"),
    ({"serialNumber": ""}, "offsets.0.serialNumber"),
    ({"project": None}, "offsets.0.project"),
])
def test_offset_rules(overrides, path):
    error = refusal(check_offsets, [offset(**overrides)], now=NOW)
    assert error.type == "invalid-input"
    assert path in errors_of(error)


def test_an_offset_backs_one_certificate_registry_wide():
    used = {offset_key(offset("CCER-9")): "CQC-2025-000042"}
    check_offsets_unused([offset("CCER-1")], used)
    with pytest.raises(Conflict) as info:
        check_offsets_unused([offset("CCER-1"), offset("ccer-9 ", registry="ccer")], used)
    assert info.value.status == 409 and info.value.type == "offset-already-used"
    assert "CQC-2025-000042" in info.value.detail
    assert info.value.extra["offset"] == {"registry": "ccer", "serialNumber": "ccer-9 "}


def test_vintage_may_be_an_integer_year():
    check_offsets([offset(vintage=2024)], now=NOW)


def test_no_offsets_at_all(scheme):
    error = refusal(build_subject, "carbon-neutral", neutral_request(offsets=[]),
                    category=CEMENT, scheme=scheme, now=NOW)
    assert error.type == "invalid-input" and "offsets" in errors_of(error)


@pytest.mark.parametrize("overrides, path", [
    ({"renewableElectricityShare": D("1.01")}, "renewableElectricityShare"),
    ({"renewableElectricityShare": D("-0.1")}, "renewableElectricityShare"),
    ({"renewableElectricityShare": None}, "renewableElectricityShare"),
    ({"coveredQuantity": D("0")}, "coveredQuantity"),
])
def test_neutral_request_fields(scheme, overrides, path):
    error = refusal(build_subject, "carbon-neutral", neutral_request(**overrides),
                    category=CEMENT, scheme=scheme, now=NOW)
    assert error.type == "invalid-input" and path in errors_of(error)


def test_emissions_per_declared_unit_amount(scheme):
    result = assess_neutrality(footprint={"pcfExcludingBiogenicUptake": D("820"),
                                          "declaredUnitAmount": D("1000")},
                               covered_quantity=D("3"), renewable_share=D("0"),
                               offsets=[offset(quantity=D("0.003"))], now=NOW, scheme=scheme)
    assert result.member["emissionsCovered"] == "2.46"
    assert result.level == "1"


def test_carbon_neutral_based_on_a_footprint_certificate(scheme):
    base = _footprint_certificate(2025, "0.82", scheme)
    data = neutral_request(footprint=None, basedOn=[base.certificate_id])
    subject = build_subject("carbon-neutral", data, category=CEMENT, scheme=scheme, now=NOW,
                            footprints=[base])
    assert subject["neutrality"]["basedOn"] == base.urn
    assert subject["footprint"] == base.footprint
    assert subject["grade"]["value"] == "3"


def test_carbon_neutral_basis_rules(scheme):
    base = record(2025, "0.82")
    data = neutral_request(footprint=None, basedOn=[base.certificate_id])
    for bad, rule in ((dict(status="suspended"), "status"), (dict(kind="low-carbon"), "kind"),
                      (dict(category="steel"), "product")):
        broken = record(2025, "0.82", **bad)
        error = refusal(build_subject, "carbon-neutral", data, category=CEMENT, scheme=scheme,
                        now=NOW, footprints=[broken])
        assert error.type == "insufficient-baseline" and error.extra["rule"] == rule
    two = [record(2024, "0.9"), base]
    error = refusal(check_basis, two, minimum=1, maximum=1)
    assert error.type == "insufficient-baseline" and error.extra["rule"] == "count"
    error = refusal(build_subject, "carbon-neutral", neutral_request(basedOn=[base.certificate_id]),
                    category=CEMENT, scheme=scheme, now=NOW, footprints=[base])
    assert error.type == "invalid-input" and "basedOn" in errors_of(error)


def test_carbon_neutral_checks_its_footprint(scheme):
    data = neutral_request(footprint=footprint(referencePeriodEnd=NOW + timedelta(days=1)))
    error = refusal(build_subject, "carbon-neutral", data, category=CEMENT, scheme=scheme, now=NOW)
    assert "footprint.referencePeriodEnd" in errors_of(error)


def test_unknown_kind(scheme):
    with pytest.raises(ValueError):
        build_subject("eco-label", request(), category=CEMENT, scheme=scheme, now=NOW)
