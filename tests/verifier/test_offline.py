"""Offline QR payload (format "1"): pack/unpack round trips, errors, the frozen dictionary."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifier import offline
from verifier.offline import (
    OfflineFormatError,
    UnsupportedOfflineVersion,
    extract_jws,
    offline_url,
    pack,
    unpack,
)

BASE = "https://labels.example.org"
#: Format version 1's dictionary. Changing a byte breaks every offline label in circulation:
#: a new dictionary needs a new format version digit instead (docs/labels.md).
PINNED_ZDICT_V1_SHA256 = "3fccb87514b55a35b22be7746b241c0c901446d458a1b0b73f893ac262f4fa61"


def _credential(kind: str, **extra) -> dict:
    cid = str(uuid.uuid4())
    body = f"did:web:labels.example.org:bodies:{uuid.uuid4()}"
    subject = {
        "id": f"{BASE}/v/{cid}", "type": "CarbonLabelledProduct",
        "certificateNumber": "CQC-2026-000777", "certificateType": kind,
        "product": {"name": "P.O 42.5 cement", "nameZh": "普通硅酸盐水泥 P.O 42.5",
                    "category": "cement", "gtin": "06901234567892",
                    "manufacturer": {"name": "Jiangnan Cement Co., Ltd.", "id": "urn:uscc:91310000MA1FL0XX1Q"}},
        "footprint": {"declaredUnitOfMeasurement": "kilogram", "declaredUnitAmount": "1",
                      "pcfExcludingBiogenicUptake": "0.82", "pcfIncludingBiogenicUptake": "0.82",
                      "referencePeriodStart": "2025-01-01T00:00:00Z",
                      "referencePeriodEnd": "2025-12-31T23:59:59Z", "boundary": "cradle-to-gate",
                      "ipccCharacterizationFactors": ["AR6"], "crossSectoralStandards": ["ISO14067"],
                      "gases": {"CO2": "0.80", "CH4": "0.01", "N2O": "0.01", "HFCs": "0",
                                "PFCs": "0", "SF6": "0", "NF3": "0"}},
        "grade": {"scheme": "cn-carbon-label", "schemeVersion": "1", "value": "B"},
        **extra,
    }
    kinds = {"carbon-footprint": "CarbonFootprintCertificate", "low-carbon": "LowCarbonCertificate",
             "reduced-carbon": "ReducedCarbonCertificate",
             "carbon-neutral": "CarbonNeutralCertificate"}
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2", f"{BASE}/contexts/carbon-label/v1"],
        "id": f"urn:uuid:{cid}", "type": ["VerifiableCredential", kinds[kind]],
        "issuer": body, "validFrom": "2026-01-15T08:00:00Z", "validUntil": "2028-12-31T23:59:59Z",
        "credentialSubject": subject,
        "credentialStatus": [
            {"id": f"{BASE}/status/r1#94567", "type": "BitstringStatusListEntry",
             "statusPurpose": "revocation", "statusListIndex": "94567",
             "statusListCredential": f"{BASE}/status/r1"},
            {"id": f"{BASE}/status/s1#23452", "type": "BitstringStatusListEntry",
             "statusPurpose": "suspension", "statusListIndex": "23452",
             "statusListCredential": f"{BASE}/status/s1"}],
    }


REDUCTION = {"reduction": {
    "basedOn": [f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"],
    "baseline": {"id": f"urn:uuid:{uuid.uuid4()}", "certificateNumber": "CQC-2022-000001",
                 "referencePeriodStart": "2021-01-01T00:00:00Z",
                 "referencePeriodEnd": "2021-12-31T23:59:59Z", "pcf": "1.20"},
    "current": {"id": f"urn:uuid:{uuid.uuid4()}", "certificateNumber": "CQC-2023-000002",
                "referencePeriodStart": "2022-01-01T00:00:00Z",
                "referencePeriodEnd": "2022-12-31T23:59:59Z", "pcf": "1.068"},
    "reduction": "0.1100"}}
NEUTRALITY = {"neutrality": {
    "coveredQuantity": "1000", "emissionsCovered": "820.000", "offsetsTotal": "0.900",
    "renewableElectricityShare": "1",
    "offsets": [{"registry": "CCER", "serialNumber": "CCER-2024-00001-0001", "quantity": "0.900",
                 "vintage": "2024", "kind": "removal", "retiredAt": "2025-06-30T00:00:00Z",
                 "project": "Guangdong mangrove restoration"}]}}
BENCHMARK = {"benchmark": {"value": "1.00", "standard": "GB/T 32151", "source": "2025"}}
KINDS = {"carbon-footprint": BENCHMARK, "low-carbon": BENCHMARK,
         "reduced-carbon": REDUCTION, "carbon-neutral": NEUTRALITY}


@pytest.fixture(scope="module")
def ed_key():
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def tokens(ed_key):
    out = {}
    for kind, extra in KINDS.items():
        payload = _credential(kind, **extra)
        header = {"typ": "vc+jwt", "cty": "vc", "kid": payload["issuer"] + "#key-1"}
        out[kind] = (payload, jwt.encode(payload, ed_key, algorithm="EdDSA", headers=header))
    return out


@pytest.mark.parametrize("kind", list(KINDS))
def test_round_trip_is_byte_for_byte(kind, tokens, ed_key):
    payload, token = tokens[kind]
    digits = pack(token)
    assert digits[0] == "1" and digits.isdigit()
    assert unpack(digits) == token
    assert jwt.decode(unpack(digits), ed_key.public_key(), algorithms=["EdDSA"]) == payload
    # Compression: the token's JSON shrinks to well under half, so the fragment fits a QR
    # numeric segment at version ≤ 22 (1,872 digits at error correction M) with the URL.
    assert len(digits) < len(token) * 0.5
    assert len(digits) < 1700


def test_es256_round_trip():
    key = ec.generate_private_key(ec.SECP256R1())
    payload = _credential("carbon-footprint", **BENCHMARK)
    token = jwt.encode(payload, key, algorithm="ES256", headers={"kid": "did:web:x#key-1"})
    assert unpack(pack(token)) == token
    assert jwt.decode(unpack(pack(token)), key.public_key(), algorithms=["ES256"]) == payload


def test_leading_zero_bytes_survive():
    # A signature whose first bytes are zero: the 0x01 sentinel keeps them.
    header = base64.urlsafe_b64encode(b'{"alg":"EdDSA"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(b'{"a":1}').rstrip(b"=").decode()
    sig = base64.urlsafe_b64encode(b"\x00" * 64).rstrip(b"=").decode()
    token = f"{header}.{body}.{sig}"
    assert unpack(pack(token)) == token


def test_offline_url_and_extract(tokens):
    payload, token = tokens["carbon-neutral"]
    url = payload["credentialSubject"]["id"]
    text = offline_url(url, token)
    assert text.startswith(url + "#1")
    assert extract_jws(text) == token
    assert extract_jws(f"  {text}\n") == token
    assert extract_jws(text.split("#", 1)[1]) == token  # bare digits
    assert extract_jws(f" {token}\n") == token           # a raw compact JWS
    assert extract_jws(url) is None                       # link-mode label
    assert extract_jws(url + "#") is None
    with pytest.raises(OfflineFormatError, match="must not have a fragment"):
        offline_url(url + "#x", token)


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("hello world", "neither a label URL"),
    ("https://labels.example.org/v/abc#top", "decimal digits only"),
    ("ftp://labels.example.org/v/abc#1234", "not an http"),
    ("2" + "1" * 80, "format version '2' is not supported"),
    ("1", "truncated"),
    ("10123", "truncated or has leading zeros"),
    ("1" + str(int.from_bytes(b"\xff" * 80, "big")), "sentinel"),
    ("1" + "1" * (offline.MAX_DIGITS + 1), "at most"),
    ("a.b", "neither"),
])
def test_garbage_raises_value_errors(text, message):
    with pytest.raises(ValueError, match=message):
        extract_jws(text)


def test_unknown_version_is_its_own_error():
    with pytest.raises(UnsupportedOfflineVersion):
        unpack("9" + "1" * 40)


def test_damaged_payloads_are_refused(tokens):
    _, token = tokens["carbon-footprint"]
    digits = pack(token)
    n = int(digits[1:])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    # Corrupt the DEFLATE stream (first compressed byte) and re-encode.
    bad = raw[:1] + bytes([raw[1] ^ 0xFF]) + raw[2:]
    with pytest.raises(OfflineFormatError):
        unpack("1" + str(int.from_bytes(bad, "big")))
    # Drop a byte of the signature: the split no longer lands on the stream's end.
    short = raw[:-1]
    with pytest.raises(OfflineFormatError):
        unpack("1" + str(int.from_bytes(short, "big")))
    with pytest.raises(OfflineFormatError, match="too short"):
        unpack("1" + str(int.from_bytes(b"\x01" + b"\x00" * 10, "big")))


@pytest.mark.parametrize("token, message", [
    ("a.b", "three parts"),
    ("e30.e30.!!", "not base64url"),
    ("e30.e30.AA", "signature is 1 bytes"),
    ("e30.e30.AB", "not canonical"),
    ("e30.e30.A", "not base64url"),
])
def test_pack_refuses_what_it_cannot_rebuild(token, message):
    with pytest.raises(OfflineFormatError, match=message):
        pack(token)


def test_pack_refuses_other_signature_sizes_and_non_canonical_base64():
    hs = jwt.encode({"a": 1}, "k" * 32, algorithm="HS256")  # 32-byte MAC
    with pytest.raises(OfflineFormatError, match="signature is 32 bytes"):
        pack(hs)
    h, p, s = jwt.encode({"a": 1}, Ed25519PrivateKey.generate(), algorithm="EdDSA").split(".")
    # "e30" is "{}"; "e31" decodes to the same bytes but is not canonical.
    assert base64.urlsafe_b64decode("e31=") == b"{}"
    with pytest.raises(OfflineFormatError, match="canonical"):
        pack(f"{h}.e31.{s}")


def test_dictionary_is_frozen():
    assert hashlib.sha256(offline.ZDICT_V1).hexdigest() == offline.ZDICT_V1_SHA256
    assert offline.ZDICT_V1_SHA256 == PINNED_ZDICT_V1_SHA256
    assert len(offline.ZDICT_V1) <= 32 * 1024  # DEFLATE's window
    # The header template is last: it is what a credential starts with.
    assert offline.ZDICT_V1.endswith(b'#key-1","typ":"vc+jwt"}\x00')


def test_dictionary_earns_its_keep(tokens):
    import zlib

    for _, token in tokens.values():
        h, p, _ = token.split(".")
        raw = (base64.urlsafe_b64decode(h + "==") + b"\x00" + base64.urlsafe_b64decode(p + "=="))
        plain = zlib.compressobj(9, zlib.DEFLATED, -15)
        without = len(plain.compress(raw) + plain.flush())
        with_dict = (len(pack(token)) - 1) * 0.4153 - 64 - 1  # digits → bytes, less sig+sentinel
        assert with_dict < 0.6 * without


def test_standalone_stdlib_only():
    """verifier.offline itself adds nothing but the standard library to what the package loads."""
    code = ("import sys, verifier; before = set(sys.modules); import verifier.offline; "
            "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
            "bad = sorted(m for m in new if m not in sys.stdlib_module_names and m != 'verifier'); "
            "bad += [m for m in ('flask', 'sqlalchemy', 'registry') if m in sys.modules]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_json_payload_with_unicode_escapes_is_preserved(ed_key):
    # pyjwt writes \\uXXXX escapes; a signer may also write raw UTF-8. Both round-trip.
    payload = _credential("carbon-footprint", **BENCHMARK)
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    token = jwt.api_jws.encode(raw, ed_key, algorithm="EdDSA")
    assert unpack(pack(token)) == token


# The test vector in docs/labels.md: a credential signed with the Ed25519 key whose seed is
# SHA-256("carbon-label offline test vector 1"). Decoding is what the format fixes (another
# DEFLATE implementation may compress differently and still be valid format 1).
VECTOR_PUBLIC_KEY = "8A-v02qmL6E37jAblDSpy4KvNqVy2hLuxpOq-_jnSbU"
VECTOR_TOKEN = (
    "eyJhbGciOiJFZERTQSIsImN0eSI6InZjIiwia2lkIjoiZGlkOndlYjpsYWJlbHMuZXhhbXBsZS5vcmc6Ym9kaWVz"
    "OjdjMWU1YjJhLTRmM2QtNGU4YS1iNmM5LTBkMmYxYTNlNWI3YyNrZXktMSIsInR5cCI6InZjK2p3dCJ9.eyJAY29"
    "udGV4dCI6WyJodHRwczovL3d3dy53My5vcmcvbnMvY3JlZGVudGlhbHMvdjIiLCJodHRwczovL2xhYmVscy5leGF"
    "tcGxlLm9yZy9jb250ZXh0cy9jYXJib24tbGFiZWwvdjEiXSwiaWQiOiJ1cm46dXVpZDozZjJjOWE0ZS04ZDFiLTR"
    "jNmUtOWE3Zi0yYjVkOGUxYzBhOTQiLCJ0eXBlIjpbIlZlcmlmaWFibGVDcmVkZW50aWFsIiwiQ2FyYm9uRm9vdHB"
    "yaW50Q2VydGlmaWNhdGUiXSwiaXNzdWVyIjoiZGlkOndlYjpsYWJlbHMuZXhhbXBsZS5vcmc6Ym9kaWVzOjdjMWU"
    "1YjJhLTRmM2QtNGU4YS1iNmM5LTBkMmYxYTNlNWI3YyIsInZhbGlkRnJvbSI6IjIwMjYtMDEtMTVUMDg6MDA6MDB"
    "aIiwidmFsaWRVbnRpbCI6IjIwMjgtMTItMzFUMjM6NTk6NTlaIiwiY3JlZGVudGlhbFN1YmplY3QiOnsiaWQiOiJ"
    "odHRwczovL2xhYmVscy5leGFtcGxlLm9yZy92LzNmMmM5YTRlLThkMWItNGM2ZS05YTdmLTJiNWQ4ZTFjMGE5NCI"
    "sInR5cGUiOiJDYXJib25MYWJlbGxlZFByb2R1Y3QiLCJjZXJ0aWZpY2F0ZU51bWJlciI6IkNRQy0yMDI2LTAwMDE"
    "yMyIsImNlcnRpZmljYXRlVHlwZSI6ImNhcmJvbi1mb290cHJpbnQiLCJwcm9kdWN0Ijp7Im5hbWUiOiJQLk8gNDI"
    "uNSBjZW1lbnQiLCJjYXRlZ29yeSI6ImNlbWVudCIsIm1hbnVmYWN0dXJlciI6eyJuYW1lIjoiSmlhbmduYW4gQ2V"
    "tZW50IENvLiwgTHRkLiIsImlkIjoidXJuOnVzY2M6OTEzMTAwMDBNQTFGTDBYWDFRIn19LCJmb290cHJpbnQiOns"
    "iZGVjbGFyZWRVbml0T2ZNZWFzdXJlbWVudCI6ImtpbG9ncmFtIiwiZGVjbGFyZWRVbml0QW1vdW50IjoiMSIsInB"
    "jZkV4Y2x1ZGluZ0Jpb2dlbmljVXB0YWtlIjoiMC44MiIsInBjZkluY2x1ZGluZ0Jpb2dlbmljVXB0YWtlIjoiMC4"
    "4MiIsInJlZmVyZW5jZVBlcmlvZFN0YXJ0IjoiMjAyNS0wMS0wMVQwMDowMDowMFoiLCJyZWZlcmVuY2VQZXJpb2R"
    "FbmQiOiIyMDI1LTEyLTMxVDIzOjU5OjU5WiIsImJvdW5kYXJ5IjoiY3JhZGxlLXRvLWdhdGUiLCJpcGNjQ2hhcmF"
    "jdGVyaXphdGlvbkZhY3RvcnMiOlsiQVI2Il0sImNyb3NzU2VjdG9yYWxTdGFuZGFyZHMiOlsiSVNPMTQwNjciXX0"
    "sImJlbmNobWFyayI6eyJ2YWx1ZSI6IjEuMDAiLCJzdGFuZGFyZCI6IkdCL1QgMzIxNTEiLCJzb3VyY2UiOiJjbi1"
    "jYXJib24tbGFiZWwgMjAyNSJ9LCJncmFkZSI6eyJzY2hlbWUiOiJjbi1jYXJib24tbGFiZWwiLCJzY2hlbWVWZXJ"
    "zaW9uIjoiMSIsInZhbHVlIjoiQiJ9fSwiY3JlZGVudGlhbFN0YXR1cyI6W3siaWQiOiJodHRwczovL2xhYmVscy5"
    "leGFtcGxlLm9yZy9zdGF0dXMvcjEjOTQ1NjciLCJ0eXBlIjoiQml0c3RyaW5nU3RhdHVzTGlzdEVudHJ5Iiwic3R"
    "hdHVzUHVycG9zZSI6InJldm9jYXRpb24iLCJzdGF0dXNMaXN0SW5kZXgiOiI5NDU2NyIsInN0YXR1c0xpc3RDcmV"
    "kZW50aWFsIjoiaHR0cHM6Ly9sYWJlbHMuZXhhbXBsZS5vcmcvc3RhdHVzL3IxIn0seyJpZCI6Imh0dHBzOi8vbGF"
    "iZWxzLmV4YW1wbGUub3JnL3N0YXR1cy9zMSMyMzQ1MiIsInR5cGUiOiJCaXRzdHJpbmdTdGF0dXNMaXN0RW50cnk"
    "iLCJzdGF0dXNQdXJwb3NlIjoic3VzcGVuc2lvbiIsInN0YXR1c0xpc3RJbmRleCI6IjIzNDUyIiwic3RhdHVzTGl"
    "zdENyZWRlbnRpYWwiOiJodHRwczovL2xhYmVscy5leGFtcGxlLm9yZy9zdGF0dXMvczEifV19.aHq7asUOIQQEsE"
    "C58lfzSpD3puY4j4ODibAdvXCxk84e8M_5ulbHyhiBIbamunG8POPPwaGsdS-DxQSKsXHACQ"
)
VECTOR_DIGITS = (
    "1474005778113252494192642064438428550049394121145956560642022706276336693774578677127689"
    "0220623311310690639455539940470651455593222033762406035462595010138224448035829746740316"
    "7033866159083195071929578748282340588656839278455369287796033574441875465797300146566792"
    "2010546288840703156052635636976325613885996275487302230079876580860671479463030490953549"
    "0964299234518760080335335757095697179412031940021790936512339970206255326966561051413776"
    "4854445413857856591426768868625867758232858956683808308841936027509003514374260740246814"
    "2299269976185335662693926202665361926255794064272629790136456460127133202117113176672399"
    "5997143398235730526215731746594680998540673080051028286216196665784634122461546451504240"
    "4020462186070125454509785758495889516913206767602821940494345"
)


def test_documented_vector_decodes():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    assert unpack(VECTOR_DIGITS) == VECTOR_TOKEN
    raw = base64.urlsafe_b64decode(VECTOR_PUBLIC_KEY + "=")
    claims = jwt.decode(VECTOR_TOKEN, Ed25519PublicKey.from_public_bytes(raw), algorithms=["EdDSA"])
    assert claims["credentialSubject"]["certificateNumber"] == "CQC-2026-000123"
    assert extract_jws("https://labels.example.org/v/3f2c9a4e-8d1b-4c6e-9a7f-2b5d8e1c0a94#"
                       + VECTOR_DIGITS) == VECTOR_TOKEN
