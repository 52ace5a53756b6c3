"""The credential format's builders and key helpers (what the registry signs)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from verifier import (
    KIND_TYPES,
    UnsupportedKey,
    alg_for_key,
    build_credential,
    context_url,
    format_time,
    jws_header,
    key_from_jwk,
    parse_time,
    public_jwk,
    status_entry,
)
from verifier import parse_verification_link

from .helpers import BASE, b64e, footprint_subject

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 24, 17, 0, 0, 987654, tzinfo=UTC)
CERT = "0B7C2A64-3B6E-4C1E-9B57-1C0E6F0D2A11"


def _build(**kw):
    args = dict(
        certificate_id=CERT, kind="carbon-footprint", issuer="did:web:labels.test:bodies:b1",
        valid_from=T0, valid_until=dt.datetime(2028, 12, 31, 23, 59, 59, tzinfo=UTC),
        subject=footprint_subject(), public_url=BASE + "/",
        status_entries=[status_entry(list_url=f"{BASE}/status/r1", index=94567, purpose="revocation"),
                        status_entry(list_url=f"{BASE}/status/s1", index=23452, purpose="suspension")],
    )
    args.update(kw)
    return build_credential(**args)


def test_build_credential_matches_formats_md():
    c = _build()
    cert = CERT.lower()
    assert c["@context"] == ["https://www.w3.org/ns/credentials/v2", f"{BASE}/contexts/carbon-label/v1"]
    assert c["id"] == f"urn:uuid:{cert}"
    assert c["type"] == ["VerifiableCredential", "CarbonFootprintCertificate"]
    assert c["issuer"] == "did:web:labels.test:bodies:b1"
    assert c["validFrom"] == "2026-11-24T17:00:00Z"  # whole seconds, Z
    assert c["validUntil"] == "2028-12-31T23:59:59Z"
    s = c["credentialSubject"]
    assert s["id"] == f"{BASE}/v/{cert}"
    assert s["type"] == "CarbonLabelledProduct"
    assert s["certificateType"] == "carbon-footprint"
    assert s["grade"] == {"scheme": "cn-carbon-label", "schemeVersion": "1", "value": "B"}
    # null stage values are omitted, the rest kept
    assert s["footprint"]["stages"] == {"rawMaterialAcquisition": "0.10", "rawMaterialTransport": "0.02",
                                        "manufacturing": "0.70"}
    assert c["credentialStatus"] == [
        {"id": f"{BASE}/status/r1#94567", "type": "BitstringStatusListEntry", "statusPurpose": "revocation",
         "statusListIndex": "94567", "statusListCredential": f"{BASE}/status/r1"},
        {"id": f"{BASE}/status/s1#23452", "type": "BitstringStatusListEntry", "statusPurpose": "suspension",
         "statusListIndex": "23452", "statusListCredential": f"{BASE}/status/s1"},
    ]
    assert list(c) == ["@context", "id", "type", "issuer", "validFrom", "validUntil", "credentialSubject",
                       "credentialStatus"]


@pytest.mark.parametrize("kind", sorted(KIND_TYPES))
def test_kind_sets_the_type(kind):
    assert _build(kind=kind)["type"][1] == KIND_TYPES[kind]


def test_optional_members_are_dropped_but_grade_value_null_is_kept():
    subject = footprint_subject(benchmark=None, grade=None)
    subject["product"]["gtin"] = None
    subject["footprint"]["stages"] = {"distribution": None, "use": None}
    subject["precedingIds"] = None
    s = _build(subject=subject)["credentialSubject"]
    assert "benchmark" not in s and "precedingIds" not in s and "gtin" not in s["product"]
    assert "stages" not in s["footprint"]  # emptied by the pruning: dropped
    assert s["grade"] == {"scheme": "cn-carbon-label", "schemeVersion": "1", "value": None}


def test_decimals_and_datetimes_are_stringified_and_floats_refused():
    subject = footprint_subject()
    subject["footprint"]["pcfExcludingBiogenicUptake"] = Decimal("0.820")
    subject["footprint"]["referencePeriodStart"] = dt.datetime(2025, 1, 1, tzinfo=UTC)
    s = _build(subject=subject)["credentialSubject"]
    assert s["footprint"]["pcfExcludingBiogenicUptake"] == "0.820"
    assert s["footprint"]["referencePeriodStart"] == "2025-01-01T00:00:00Z"
    subject["footprint"]["pcfExcludingBiogenicUptake"] = 0.82
    with pytest.raises(ValueError, match="float"):
        _build(subject=subject)


@pytest.mark.parametrize("kw, match", [
    ({"kind": "green"}, "kind"),
    ({"certificate_id": "nope"}, "UUID"),
    ({"valid_until": T0}, "validUntil"),
    ({"subject": {**footprint_subject(), "certificateType": "low-carbon"}}, "certificateType"),
    ({"subject": {k: v for k, v in footprint_subject().items() if k != "grade"}}, "grade"),
])
def test_build_credential_refuses_inconsistent_input(kw, match):
    with pytest.raises(ValueError, match=match):
        _build(**kw)


def test_status_entry_bounds():
    with pytest.raises(ValueError):
        status_entry(list_url=f"{BASE}/status/r1", index=131072, purpose="revocation")
    with pytest.raises(ValueError):
        status_entry(list_url=f"{BASE}/status/r1", index=-1, purpose="revocation")
    with pytest.raises(ValueError):
        status_entry(list_url=f"{BASE}/status/r1", index=1, purpose="refresh")
    assert status_entry(list_url="u", index=0, purpose="suspension")["statusListIndex"] == "0"


def test_jws_header():
    assert jws_header(alg="EdDSA", kid="did:web:x#key-1") == {
        "alg": "EdDSA", "typ": "vc+jwt", "cty": "vc", "kid": "did:web:x#key-1"}
    assert jws_header(alg="ES256", kid="k", typ="trust-list+jwt", cty=None) == {
        "alg": "ES256", "typ": "trust-list+jwt", "kid": "k"}
    for alg in ("none", "HS256", "RS256"):
        with pytest.raises(ValueError):
            jws_header(alg=alg, kid="k")


def test_context_url():
    assert context_url("https://labels.example.org/") == "https://labels.example.org/contexts/carbon-label/v1"


def test_format_and_parse_time():
    assert format_time(T0) == "2026-11-24T17:00:00Z"
    assert format_time(T0.replace(tzinfo=None)) == "2026-11-24T17:00:00Z"  # naive = UTC
    plus8 = dt.timezone(dt.timedelta(hours=8))
    assert format_time(dt.datetime(2026, 11, 25, 1, 0, tzinfo=plus8)) == "2026-11-24T17:00:00Z"
    assert parse_time("2026-11-24T17:00:00Z") == T0.replace(microsecond=0)
    assert parse_time("2026-11-25T01:00:00+08:00") == T0.replace(microsecond=0)
    assert parse_time("2026-11-24T17:00:00.123456789Z").microsecond == 123456
    for bad in ("2026-11-24", "2026-11-24T17:00:00", "yesterday", 1764000000, None):
        with pytest.raises(ValueError):
            parse_time(bad)


# -- keys ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("make, alg, kty", [
    (ed25519.Ed25519PrivateKey.generate, "EdDSA", "OKP"),
    (lambda: ec.generate_private_key(ec.SECP256R1()), "ES256", "EC"),
])
def test_public_jwk_round_trip(make, alg, kty):
    private = make()
    assert alg_for_key(private) == alg == alg_for_key(private.public_key())
    jwk = public_jwk(private)
    assert jwk["kty"] == kty and "d" not in jwk
    assert public_jwk(key_from_jwk(jwk)) == jwk == public_jwk(private.public_key())
    assert public_jwk(key_from_jwk({**jwk, "kid": "k", "alg": alg, "use": "sig"})) == jwk


@pytest.mark.parametrize("make", [
    lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    lambda: ec.generate_private_key(ec.SECP384R1()),
    ed448.Ed448PrivateKey.generate,
    lambda: b"secret",
])
def test_other_key_types_are_refused(make):
    key = make()
    with pytest.raises(UnsupportedKey):
        alg_for_key(key)
    with pytest.raises(UnsupportedKey):
        public_jwk(key)


def _ec_jwk():
    return public_jwk(ec.generate_private_key(ec.SECP256R1()))


@pytest.mark.parametrize("jwk", [
    {"kty": "oct", "k": b64e(b"0123456789abcdef")},
    {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
    {"kty": "OKP", "crv": "Ed448", "x": b64e(bytes(57))},
    {"kty": "OKP", "crv": "X25519", "x": b64e(bytes(32))},
    {"kty": "EC", "crv": "P-384", "x": b64e(bytes(48)), "y": b64e(bytes(48))},
    {"kty": "OKP", "crv": "Ed25519", "x": b64e(bytes(31))},
    {"kty": "OKP", "crv": "Ed25519", "x": "not base64!"},
    {"kty": "EC", "crv": "P-256", "x": b64e(bytes(32)), "y": b64e(bytes(32))},  # not on the curve
    {**public_jwk(ed25519.Ed25519PrivateKey.generate()), "alg": "HS256"},
    {**public_jwk(ed25519.Ed25519PrivateKey.generate()), "use": "enc"},
    {**public_jwk(ed25519.Ed25519PrivateKey.generate()), "d": b64e(bytes(32))},
    "not a dict",
])
def test_key_from_jwk_refuses(jwk):
    with pytest.raises(UnsupportedKey):
        key_from_jwk(jwk)


def test_unsupported_key_is_a_value_error_with_contract_code():
    with pytest.raises(ValueError) as info:
        key_from_jwk({"kty": "oct", "k": "AA"})
    assert info.value.code == "UNKNOWN_KEY"


def test_parse_verification_link():
    cid = "0b7c2a64-3b6e-4c1e-9b57-1c0e6f0d2a11"
    assert parse_verification_link(f"{BASE}/v/{cid}") == (BASE, cid)
    assert parse_verification_link(f"{BASE}/v/{cid.upper()}#123") == (BASE, cid)
    assert parse_verification_link(f"http://localhost:5000/v/{cid}/") == ("http://localhost:5000", cid)
    assert parse_verification_link(f"{BASE}/certificates/{cid}") is None
    assert parse_verification_link("eyJ.eyJ.sig") is None
