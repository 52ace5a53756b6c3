"""registry.schemas.certificates: what a certificate request must look like."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from marshmallow import ValidationError

from registry.schemas.certificates import CertificateIn, CertificateStatusChangeIn, normalise_gtin

UTC = timezone.utc
ID_1 = "0f8fad5b-d9cb-469f-a165-70867728950e"
ID_2 = "7c9e6679-7425-40de-944b-e07fc1f90ae7"

FOOTPRINT_REQUEST = {
    "type": "carbon-footprint",
    "product": {"name": "P.O 42.5 cement", "nameZh": "普通硅酸盐水泥 P.O 42.5",
                "category": "cement", "gtin": "06901234567892", "model": "PO42.5",
                "manufacturer": {"name": "Anhui Conch", "id": "urn:uscc:91310000XXXXXXXXXX"}},
    "footprint": {"declaredUnitOfMeasurement": "kilogram", "declaredUnitAmount": "1",
                  "pcfExcludingBiogenicUptake": "0.82", "pcfIncludingBiogenicUptake": "0.82",
                  "referencePeriodStart": "2025-01-01T00:00:00Z",
                  "referencePeriodEnd": "2025-12-31T23:59:59Z",
                  "boundary": "cradle-to-gate", "ipccCharacterizationFactors": ["AR6"],
                  "crossSectoralStandards": ["ISO14067"],
                  "stages": {"rawMaterialAcquisition": "0.10", "rawMaterialTransport": "0.02",
                             "manufacturing": "0.70", "distribution": None, "use": None,
                             "endOfLife": None},
                  "gases": {"CO2": "0.80", "CH4": "0.01", "N2O": "0.01", "HFCs": "0", "PFCs": "0",
                            "SF6": "0", "NF3": "0"}},
    "validUntil": "2028-12-31T23:59:59Z",
}
OFFSET = {"registry": "CCER", "serialNumber": "CCER-2024-000123", "quantity": "0.900",
          "vintage": "2024", "kind": "removal", "retiredAt": "2025-06-01T08:00:00+08:00",
          "project": "Mangrove planting"}


def make(kind="carbon-footprint", **overrides):
    body = copy.deepcopy(FOOTPRINT_REQUEST)
    body["type"] = kind
    if kind == "reduced-carbon":
        del body["footprint"]
        body["basedOn"] = [ID_1, ID_2]
    if kind == "carbon-neutral":
        body.update(offsets=[dict(OFFSET)], coveredQuantity="1000", renewableElectricityShare="1")
    for key, value in overrides.items():
        if value is ...:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def set_path(body, path, value):
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


def messages_at(body, *path, schema=CertificateIn):
    """The error messages at ``path`` of the ValidationError the body raises."""
    with pytest.raises(ValidationError) as info:
        schema().load(body)
    found = info.value.messages
    for key in path:
        assert isinstance(found, dict) and key in found, (path, info.value.messages)
        found = found[key]
    assert found
    return found


# --------------------------------------------------------------------------- valid requests

def test_the_contract_example_loads():
    data = CertificateIn().load(make())
    fp = data["footprint"]
    assert fp["pcfExcludingBiogenicUptake"] == Decimal("0.82")
    assert isinstance(fp["declaredUnitAmount"], Decimal)
    assert fp["referencePeriodEnd"] == datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert fp["stages"]["use"] is None
    assert data["validUntil"].tzinfo is not None
    assert data["product"]["gtin"] == "06901234567892"


def test_low_carbon_loads():
    assert CertificateIn().load(make("low-carbon"))["type"] == "low-carbon"


def test_reduced_carbon_loads():
    data = CertificateIn().load(make("reduced-carbon", basedOn=[ID_1, f"urn:uuid:{ID_2.upper()}"]))
    assert data["basedOn"] == [ID_1, ID_2]
    assert "footprint" not in data


def test_carbon_neutral_loads_with_a_footprint():
    data = CertificateIn().load(make("carbon-neutral"))
    assert data["coveredQuantity"] == Decimal("1000")
    offset = data["offsets"][0]
    assert offset["quantity"] == Decimal("0.900") and str(offset["quantity"]) == "0.900"
    assert offset["retiredAt"] == datetime(2025, 6, 1, 0, 0, tzinfo=UTC)


def test_carbon_neutral_loads_with_one_footprint_certificate():
    data = CertificateIn().load(make("carbon-neutral", footprint=..., basedOn=[ID_1]))
    assert data["basedOn"] == [ID_1]


def test_optional_members_may_be_left_out_or_null():
    body = make(supersedes=ID_2)
    for name in ("nameZh", "gtin", "model"):
        del body["product"][name]
    del body["footprint"]["stages"], body["footprint"]["gases"]
    data = CertificateIn().load(body)
    assert data["supersedes"] == ID_2
    body["product"].update(nameZh=None, gtin=None, model=None)
    body["footprint"].update(stages=None, gases=None)
    CertificateIn().load(body)


# --------------------------------------------------------------------------- quantities

@pytest.mark.parametrize("value", [0.82, 1, 0, True])
def test_json_numbers_are_refused(value):
    body = set_path(make(), ("footprint", "pcfExcludingBiogenicUptake"), value)
    (message,) = messages_at(body, "footprint", "pcfExcludingBiogenicUptake")
    assert "string" in message


def test_a_float_message_says_why():
    body = set_path(make(), ("footprint", "declaredUnitAmount"), 1.0)
    (message,) = messages_at(body, "footprint", "declaredUnitAmount")
    assert "JSON numbers are refused" in message


@pytest.mark.parametrize("value, fragment", [
    ("NaN", "finite"), ("Infinity", "finite"), ("-inf", "finite"), ("sNaN", "finite"),
    ("1e3", "exponent"), ("8.2E-1", "exponent"),
    ("+0.82", "plain decimal"), (" 0.82", "plain decimal"), ("0.82\n", "plain decimal"),
    ("1,000", "plain decimal"), ("0x10", "plain decimal"), ("", "plain decimal"),
    (".5", "plain decimal"), ("5.", "plain decimal"), ("٣", "plain decimal"),
    ("-0.5", "negative"),
    ("1234567890123456", "15 digits"), ("0.1234567890123", "12 after"),
])
def test_decimal_strings_must_be_plain(value, fragment):
    body = set_path(make(), ("footprint", "pcfExcludingBiogenicUptake"), value)
    (message,) = messages_at(body, "footprint", "pcfExcludingBiogenicUptake")
    assert fragment in message


def test_limits_of_a_decimal_string_are_accepted():
    body = set_path(make(), ("footprint", "pcfExcludingBiogenicUptake"), "000123456789012345.123456789012")
    assert CertificateIn().load(body)["footprint"]["pcfExcludingBiogenicUptake"] == \
        Decimal("123456789012345.123456789012")


def test_only_biogenic_including_footprint_may_be_negative():
    body = set_path(make(), ("footprint", "pcfIncludingBiogenicUptake"), "-1.30")
    assert CertificateIn().load(body)["footprint"]["pcfIncludingBiogenicUptake"] == Decimal("-1.30")
    body = set_path(make(), ("footprint", "stages", "manufacturing"), "-0.1")
    messages_at(body, "footprint", "stages", "manufacturing")


@pytest.mark.parametrize("path", [
    ("footprint", "declaredUnitAmount"), ("coveredQuantity",), ("offsets", 0, "quantity"),
])
def test_amounts_must_be_positive(path):
    body = set_path(make("carbon-neutral"), path, "0")
    assert messages_at(body, *path) == ["Must be greater than zero."]


@pytest.mark.parametrize("value, ok", [("0", True), ("1", True), ("0.35", True),
                                       ("1.01", False), ("-0.1", False)])
def test_renewable_share_is_a_fraction(value, ok):
    body = make("carbon-neutral", renewableElectricityShare=value)
    if ok:
        CertificateIn().load(body)
    else:
        messages_at(body, "renewableElectricityShare")


# --------------------------------------------------------------------------- times

@pytest.mark.parametrize("value, expected", [
    ("2025-01-01T08:00:00+08:00", datetime(2025, 1, 1, tzinfo=UTC)),
    ("2025-01-01t00:00:00z", datetime(2025, 1, 1, tzinfo=UTC)),
    ("2025-01-01T00:00:00.000Z", datetime(2025, 1, 1, tzinfo=UTC)),
])
def test_times_load_as_aware_utc(value, expected):
    body = set_path(make(), ("footprint", "referencePeriodStart"), value)
    loaded = CertificateIn().load(body)["footprint"]["referencePeriodStart"]
    assert loaded == expected and loaded.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("value", [
    "2025-01-01T00:00:00", "2025-01-01", "2025-02-30T00:00:00Z", "2025-01-01 00:00:00Z",
    "2025-01-01T00:00:00Z\n", "1735689600", 1735689600, "2025-01-01T00:00:00.5Z",
    "2025-01-01T00:00:00+0800",
])
def test_times_must_be_rfc3339_with_a_zone(value):
    body = set_path(make(), ("footprint", "referencePeriodStart"), value)
    messages_at(body, "footprint", "referencePeriodStart")


def test_reference_period_end_after_start():
    body = set_path(make(), ("footprint", "referencePeriodEnd"), "2025-01-01T00:00:00Z")
    messages_at(body, "footprint", "referencePeriodEnd")


# --------------------------------------------------------------------------- product

@pytest.mark.parametrize("gtin, normalised", [
    ("06901234567892", "06901234567892"), ("6901234567892", "06901234567892"),
    ("036000291452", "00036000291452"), ("96385074", "00000096385074"),
])
def test_gtins_are_checked_and_normalised(gtin, normalised):
    body = make()
    body["product"]["gtin"] = gtin
    assert CertificateIn().load(body)["product"]["gtin"] == normalised
    assert normalise_gtin(gtin) == normalised


@pytest.mark.parametrize("gtin", ["06901234567893", "6901234567", "0690123456789X", 6901234567892,
                                  "069012345678920"])
def test_bad_gtins_are_refused(gtin):
    body = make()
    body["product"]["gtin"] = gtin
    messages_at(body, "product", "gtin")


@pytest.mark.parametrize("path, value", [
    (("product", "category"), "Cement"),
    (("product", "name"), "   "),
    (("product", "name"), ...),
    (("product", "manufacturer", "id"), "Anhui Conch"),
    (("product", "manufacturer", "id"), ...),
    (("product", "manufacturer"), ...),
    (("product",), ...),
])
def test_product_fields(path, value):
    messages_at(set_path(make(), path, value), *path)


# --------------------------------------------------------------------------- footprint

@pytest.mark.parametrize("path, value", [
    (("footprint", "declaredUnitOfMeasurement"), "kg"),
    (("footprint", "boundary"), "gate-to-gate"),
    (("footprint", "ipccCharacterizationFactors"), []),
    (("footprint", "crossSectoralStandards"), []),
    (("footprint", "ipccCharacterizationFactors"), ["AR6", "AR6"]),
    (("footprint", "gases", "NF3"), ...),
    (("footprint", "gases", "NF3"), None),
    (("footprint", "pcfExcludingBiogenicUptake"), ...),
    (("footprint", "referencePeriodEnd"), ...),
])
def test_footprint_fields(path, value):
    messages_at(set_path(make(), path, value), *path)


@pytest.mark.parametrize("path, value", [
    (("footprint", "ipccCharacterizationFactors"), ["AR4"]),
    (("footprint", "crossSectoralStandards"), ["ISO 14067"]),
])
def test_enumerated_list_items(path, value):
    messages_at(set_path(make(), path, value), *path, 0)


@pytest.mark.parametrize("unit", ["liter", "kilogram", "cubic meter", "kilowatt hour", "megajoule",
                                  "ton kilometer", "square meter", "piece", "hour", "megabit second"])
def test_pact_declared_units(unit):
    CertificateIn().load(set_path(make(), ("footprint", "declaredUnitOfMeasurement"), unit))


@pytest.mark.parametrize("standard", ["ISO14067", "GB/T24067", "PAS2050", "GHGP-Product", "PEF",
                                      "ISO14044", "TS-Q0010", "ITU-L.1410", "ISO14040-44", "PACT-3.0"])
def test_cross_sectoral_standards(standard):
    body = set_path(make(), ("footprint", "crossSectoralStandards"), [standard])
    CertificateIn().load(body)


# --------------------------------------------------------------------------- unknown members

@pytest.mark.parametrize("path", [
    ("grade",), ("product", "brand"), ("product", "manufacturer", "country"),
    ("footprint", "pCfExcludingBiogenic"), ("footprint", "stages", "landUse"),
    ("footprint", "gases", "H2O"),
])
def test_unknown_members_are_refused(path):
    body = set_path(make(), path, "x")
    assert messages_at(body, *path) == ["Unknown field."]


def test_unknown_offset_members_are_refused():
    body = make("carbon-neutral")
    body["offsets"][0]["price"] = "12"
    assert messages_at(body, "offsets", 0, "price") == ["Unknown field."]


# --------------------------------------------------------------------------- per type

@pytest.mark.parametrize("kind, overrides, field", [
    ("carbon-footprint", {"footprint": ...}, "footprint"),
    ("low-carbon", {"footprint": None}, "footprint"),
    ("carbon-footprint", {"basedOn": [ID_1, ID_2]}, "basedOn"),
    ("low-carbon", {"offsets": [OFFSET]}, "offsets"),
    ("carbon-footprint", {"coveredQuantity": "1"}, "coveredQuantity"),
    ("low-carbon", {"renewableElectricityShare": "1"}, "renewableElectricityShare"),
    ("reduced-carbon", {"footprint": FOOTPRINT_REQUEST["footprint"]}, "footprint"),
    ("reduced-carbon", {"offsets": [OFFSET]}, "offsets"),
    ("carbon-neutral", {"offsets": ...}, "offsets"),
    ("carbon-neutral", {"offsets": []}, "offsets"),
    ("carbon-neutral", {"coveredQuantity": ...}, "coveredQuantity"),
    ("carbon-neutral", {"renewableElectricityShare": ...}, "renewableElectricityShare"),
    ("carbon-neutral", {"footprint": ...}, "footprint"),
    ("carbon-neutral", {"basedOn": [ID_1]}, "basedOn"),
    ("carbon-neutral", {"footprint": ..., "basedOn": [ID_1, ID_2]}, "basedOn"),
])
def test_members_each_kind_requires_or_forbids(kind, overrides, field):
    messages_at(make(kind, **overrides), field)


def test_based_on_ids_are_distinct_uuids():
    (message,) = messages_at(make("reduced-carbon", basedOn=[ID_1, f"urn:uuid:{ID_1.upper()}"]),
                             "basedOn")
    assert "more than once" in message
    messages_at(make("reduced-carbon", basedOn=[ID_1, "CQC-2025-000001"]), "basedOn", 1)
    messages_at(make(supersedes="not-a-uuid"), "supersedes")


@pytest.mark.parametrize("field, value", [("type", "eco-label"), ("type", ...), ("validUntil", ...)])
def test_top_level_fields(field, value):
    messages_at(make(**{field: value}), field)


@pytest.mark.parametrize("member, value", [
    ("vintage", "24"), ("vintage", "2024.0"), ("vintage", True), ("kind", "planting"),
    ("retiredAt", "2025-06-01"), ("registry", ""), ("serialNumber", ...), ("project", "  "),
])
def test_offset_fields(member, value):
    body = make("carbon-neutral")
    set_path(body, ("offsets", 0, member), value)
    messages_at(body, "offsets", 0, member)


def test_offset_vintage_may_be_an_integer():
    body = make("carbon-neutral")
    body["offsets"][0]["vintage"] = 2024
    assert CertificateIn().load(body)["offsets"][0]["vintage"] == "2024"


# --------------------------------------------------------------------------- status changes

def test_status_change_reason():
    assert CertificateStatusChangeIn().load({"reason": "x" * 500}) == {"reason": "x" * 500}
    for body, path in (({}, "reason"), ({"reason": ""}, "reason"), ({"reason": "   "}, "reason"),
                       ({"reason": "x" * 501}, "reason"), ({"reason": None}, "reason"),
                       ({"reason": "ok", "until": "2027"}, "until")):
        messages_at(body, path, schema=CertificateStatusChangeIn)


def _hostile_requests():
    base = copy.deepcopy(FOOTPRINT_REQUEST)
    neutral = {**copy.deepcopy(FOOTPRINT_REQUEST), "type": "carbon-neutral", "offsets": [dict(OFFSET), {"x": 1}],
               "coveredQuantity": "1000", "renewableElectricityShare": "2"}
    yield base
    yield neutral
    yield {**base, "extra": 1, "product": "cement"}
    yield {**base, "footprint": {**base["footprint"], "stages": {"use": 1, "other": "0"}, "gases": [], "x": None}}
    yield {**base, "product": {**base["product"], "manufacturer": None, "gtin": 6901234567892, "y": "z"}}
    yield {k: v for k, v in base.items() if k != "footprint"}
    yield {"type": None, "validUntil": "2028-12-31T23:59:59.5Z", "basedOn": [ID_1, ID_1, "x"], "supersedes": 7}
    yield ["not", "an", "object"]
    yield {}


@pytest.mark.parametrize("index", range(9))
def test_strict_schemas_load_as_marshmallow_does(index, monkeypatch):
    """StrictSchema's leaner field loop gives what marshmallow's own gives: data, errors, valid data."""
    from marshmallow import Schema

    from registry.schemas.common import StrictSchema

    def outcome(raw):
        try:
            return "ok", CertificateIn().load(raw)
        except ValidationError as err:
            return "error", err.messages, err.valid_data

    raw = list(_hostile_requests())[index]
    ours = outcome(copy.deepcopy(raw))
    monkeypatch.setattr(StrictSchema, "_deserialize", Schema._deserialize)
    assert ours == outcome(copy.deepcopy(raw))
