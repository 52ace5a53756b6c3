"""verify_credential against real signatures: every failure code and both algorithms."""

from __future__ import annotations

import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from verifier import (
    CHECK_NAMES,
    ERROR_CODES,
    StaticResolver,
    StatusListSnapshot,
    TrustList,
    jws_header,
    public_jwk,
    set_bit,
    verify_credential,
)
from verifier.offline import offline_url
from verifier import verify_trust_list

from .helpers import (
    BASE,
    DAY,
    BodyKey,
    b64d,
    b64e,
    footprint_subject,
    tamper_header,
    tamper_payload,
)


def verify(world, token, resolver=None, **kw):
    kw.setdefault("now", world.now)
    return verify_credential(token, resolver or world.resolver(), **kw)


def assert_only(result, code, check):
    assert not result.verified
    assert result.codes == [code], result.to_dict()
    failed = [c.name for c in result.checks if not c.ok and not c.skipped]
    assert failed == [check]
    assert [c.name for c in result.checks] == list(CHECK_NAMES)


def skipped(result):
    return [c.name for c in result.checks if c.skipped]


# -- happy paths ---------------------------------------------------------------------------------


def test_es256_credential_verifies(world):
    token = world.issue()
    assert json.loads(b64d(token.split(".")[0]))["alg"] == "ES256"
    result = verify(world, token)
    assert result.verified, result.to_dict()
    assert result.errors == []
    assert all(c.ok and not c.skipped for c in result.checks)
    assert result.credential["issuer"] == world.cqc.did
    assert result.issuer_name == "CQC Certification"
    # pyjwt, with the algorithm pinned, agrees on the signature.
    jwt.PyJWS().decode_complete(token, world.cqc.keys[1].private.public_key(), algorithms=["ES256"])


def test_eddsa_credential_signed_before_rotation_still_verifies(world):
    token = world.issue(valid_from=world.now - 200 * DAY)  # key-1 (Ed25519) was active then
    assert json.loads(b64d(token.split(".")[0]))["alg"] == "EdDSA"
    result = verify(world, token)
    assert result.verified, result.to_dict()
    jwt.PyJWS().decode_complete(token, world.cqc.keys[0].private.public_key(), algorithms=["EdDSA"])


def test_result_to_dict_has_contract_shape(world):
    d = verify(world, world.issue()).to_dict()
    assert {"verified", "checks", "errors", "credential"} <= set(d)
    assert d["verified"] is True and d["errors"] == []
    assert [c["name"] for c in d["checks"]] == list(CHECK_NAMES)
    assert all(set(c) == {"name", "ok", "detail"} for c in d["checks"])
    assert d["statusAsOf"] and d["trustListAsOf"] and d["statusAgeSeconds"] == 0
    assert "code" not in d
    json.dumps(d)  # serialisable
    failed = verify(world, world.issue(subject=footprint_subject(grade="A"))).to_dict()
    assert failed["verified"] is False and failed["code"] == "GRADE_MISMATCH"
    assert failed["errors"] == [{"code": "GRADE_MISMATCH", "message": failed["errors"][0]["message"]}]


def test_qr_text_with_offline_credential_verifies(world):
    token = world.issue()
    cert_id = json.loads(b64d(token.split(".")[1]))["id"][9:]
    text = offline_url(f"{BASE}/v/{cert_id}", token)
    assert verify(world, text).verified


def test_whitespace_around_token_is_ignored(world):
    assert verify(world, "\n  " + world.issue() + " \n").verified


def test_signature_cache_only_skips_the_crypto(world):
    resolver = world.resolver()
    token = world.issue()
    assert verify(world, token, resolver).check("signature").detail == "ES256 signature verified"
    again = verify(world, token, resolver)
    assert again.verified and "cached" in again.check("signature").detail
    # a cached signature does not hide a later revocation
    set_bit(world.revocation, world.last_index, True)
    resolver.add_status_list(StatusListSnapshot("revocation", bytes(world.revocation), world.now,
                                                world.now + DAY, url=f"{BASE}/status/r1"))
    assert verify(world, token, resolver).codes == ["REVOKED"]


# -- structure ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "", "   ", "not a token", "a.b", "a.b.c.d", "eyJhbGciOiJFZERTQSJ9.!!!.sig", "x" * 70000,
])
def test_garbage_is_malformed(world, text):
    result = verify(world, text)
    assert_only(result, "MALFORMED", "structure")
    assert skipped(result) == list(CHECK_NAMES[1:])


def test_plain_link_is_malformed_with_fetch_hint(world):
    result = verify(world, f"{BASE}/v/0b7c2a64-3b6e-4c1e-9b57-1c0e6f0d2a11")
    assert_only(result, "MALFORMED", "structure")
    msg = result.errors[0].message
    assert "link" in msg and f"{BASE}/api/v1/certificates/0b7c2a64-3b6e-4c1e-9b57-1c0e6f0d2a11" in msg


def test_damaged_offline_payload_is_malformed(world):
    result = verify(world, f"{BASE}/v/0b7c2a64-3b6e-4c1e-9b57-1c0e6f0d2a11#1234567")
    assert_only(result, "MALFORMED", "structure")


@pytest.mark.parametrize("change, needle", [
    (lambda h: h.update(typ="JWT"), "typ"),
    (lambda h: h.pop("typ"), "typ"),
    (lambda h: h.update(cty="json"), "cty"),
    (lambda h: h.pop("kid"), "kid"),
    (lambda h: h.update(crit=["urn:example:policy"]), "crit"),
])
def test_bad_header_is_malformed(world, change, needle):
    payload = world.payload()
    key = world.cqc.keys[1]
    header = jws_header(alg="ES256", kid=key.kid)
    change(header)
    token = jwt.PyJWS().encode(json.dumps(payload).encode(), key.private, algorithm="ES256", headers=header)
    if needle == "typ" and "typ" not in header:  # pyjwt adds typ "JWT" when none is given
        token = tamper_header(token, lambda h: h.pop("typ", None))
    result = verify(world, token)
    assert_only(result, "MALFORMED", "structure")
    assert needle in result.errors[0].message


@pytest.mark.parametrize("change", [
    lambda p: p.update({"@context": ["https://www.w3.org/2018/credentials/v1"]}),
    lambda p: p["@context"].pop(),
    lambda p: p.update(type=["VerifiableCredential"]),
    lambda p: p.update(type=["VerifiableCredential", "LowCarbonCertificate"]),  # != certificateType
    lambda p: p.pop("issuer"),
    lambda p: p.update(validFrom="yesterday"),
    lambda p: p.update(validUntil="2020-01-01"),
    lambda p: p.update(validUntil=p["validFrom"]),
    lambda p: p.pop("credentialSubject"),
    lambda p: p["credentialSubject"].update(certificateType="green"),
    lambda p: p["credentialSubject"].pop("grade"),
    lambda p: p["credentialSubject"]["product"].pop("category"),
    lambda p: p["credentialSubject"]["product"].update(name=None),
    lambda p: p["credentialSubject"].pop("certificateNumber"),
    lambda p: p["credentialSubject"].update(footprint="0.82"),
    lambda p: p["credentialSubject"].update(certificateType=["carbon-footprint"]),
    lambda p: p.update(type=["VerifiableCredential", ["CarbonFootprintCertificate"]]),
    lambda p: p.pop("credentialStatus"),
    lambda p: p["credentialStatus"].pop(),  # no suspension entry
    lambda p: p["credentialStatus"][0].update(statusListIndex=5),
    lambda p: p.update(id="urn:uuid:not-a-uuid"),
])
def test_payload_without_required_members_is_malformed(world, change):
    payload = world.payload()
    change(payload)
    token = world.issue(payload=payload, key=world.cqc.keys[1])  # properly signed: only the structure is wrong
    assert_only(verify(world, token), "MALFORMED", "structure")


def test_json_constants_are_malformed(world):
    key = world.cqc.keys[1]
    body = json.dumps(world.payload()).replace('"0.82"', "NaN", 1).encode()
    assert b"NaN" in body
    token = jwt.PyJWS().encode(body, key.private, algorithm="ES256", headers=jws_header(alg="ES256", kid=key.kid))
    assert_only(verify(world, token), "MALFORMED", "structure")


def test_payload_that_is_not_an_object_is_malformed(world):
    key = world.cqc.keys[1]
    token = jwt.PyJWS().encode(b"[1,2]", key.private, algorithm="ES256", headers=jws_header(alg="ES256", kid=key.kid))
    assert_only(verify(world, token), "MALFORMED", "structure")


# -- issuer and key ----------------------------------------------------------------------------


def test_unknown_issuer(world):
    token = world.issue(body=world.rogue)
    result = verify(world, token)
    assert_only(result, "UNKNOWN_ISSUER", "issuer")
    assert skipped(result) == list(CHECK_NAMES[2:])
    assert result.credential["issuer"] == world.rogue.did  # what it claimed, for display


def test_second_key_not_in_trust_list_is_unknown_key(world):
    extra = BodyKey(f"{world.cqc.did}#key-9", ed25519.Ed25519PrivateKey.generate(), world.now - 10 * DAY, None)
    result = verify(world, world.issue(key=extra))
    assert_only(result, "UNKNOWN_KEY", "key")
    assert "key-9" in result.errors[0].message
    assert skipped(result) == list(CHECK_NAMES[3:])


def test_key_of_another_body_is_unknown_key(world):
    # signed by "paused"'s genuine key but claiming to be issued by cqc
    result = verify(world, world.issue(key=world.paused.keys[0]))
    assert_only(result, "UNKNOWN_KEY", "key")
    assert "does not belong" in result.errors[0].message


def test_key_rotated_out_before_valid_from_is_unknown_key(world):
    old = world.cqc.keys[0]  # active until 100 days ago
    result = verify(world, world.issue(key=old, valid_from=world.now - 50 * DAY))
    assert_only(result, "UNKNOWN_KEY", "key")
    assert "not active" in result.errors[0].message


def test_key_not_yet_active_at_valid_from_is_unknown_key(world):
    new = world.cqc.keys[1]  # active from 100 days ago
    result = verify(world, world.issue(key=new, valid_from=world.now - 150 * DAY))
    assert_only(result, "UNKNOWN_KEY", "key")


def test_unusable_key_in_trust_list_is_unknown_key(world):
    token = world.issue()
    payload = world.trust_payload()
    payload["bodies"][0]["keys"][1]["jwk"] = {"kty": "oct", "k": b64e(b"secret")}
    resolver = StaticResolver(TrustList(payload), [])
    result = verify(world, token, resolver)
    assert_only(result, "UNKNOWN_KEY", "key")


# -- signature ---------------------------------------------------------------------------------


def test_wrong_key_under_a_genuine_kid_is_signature_invalid(world):
    forger = BodyKey(world.cqc.keys[1].kid, ec.generate_private_key(ec.SECP256R1()), world.now - 100 * DAY, None)
    result = verify(world, world.issue(key=forger))
    assert_only(result, "SIGNATURE_INVALID", "signature")
    assert skipped(result) == list(CHECK_NAMES[4:])


def test_eddsa_key_claiming_es256_kid_is_signature_invalid(world):
    forger = BodyKey(world.cqc.keys[1].kid, ed25519.Ed25519PrivateKey.generate(), world.now - 100 * DAY, None)
    result = verify(world, world.issue(key=forger))
    assert_only(result, "SIGNATURE_INVALID", "signature")
    assert "EdDSA" in result.errors[0].message and "ES256" in result.errors[0].message


def test_alg_none_is_signature_invalid(world):
    payload = world.payload()
    header = {"alg": "none", "typ": "vc+jwt", "cty": "vc", "kid": world.cqc.keys[1].kid}
    token = f"{b64e(json.dumps(header).encode())}.{b64e(json.dumps(payload).encode())}."
    result = verify(world, token)
    assert_only(result, "SIGNATURE_INVALID", "signature")
    assert "'none'" in result.errors[0].message


def _hs256(header: dict, payload: dict, secret: bytes) -> str:
    signing_input = f"{b64e(json.dumps(header).encode())}.{b64e(json.dumps(payload).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64e(mac)}"


@pytest.mark.parametrize("secret_form", ["pem", "jwk", "raw"])
def test_hs256_with_the_public_key_as_secret_is_signature_invalid(world, secret_form):
    key = world.cqc.keys[1]
    public = key.private.public_key()
    secret = {
        "pem": public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "jwk": json.dumps(public_jwk(public)).encode(),
        "raw": public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint),
    }[secret_form]
    header = {"alg": "HS256", "typ": "vc+jwt", "cty": "vc", "kid": key.kid}
    result = verify(world, _hs256(header, world.payload(), secret))
    assert_only(result, "SIGNATURE_INVALID", "signature")


def test_tampered_payload_is_signature_invalid(world):
    token = world.issue()

    def cheaper(p):
        p["credentialSubject"]["footprint"]["pcfExcludingBiogenicUptake"] = "0.42"
        p["credentialSubject"]["grade"]["value"] = "A"

    result = verify(world, tamper_payload(token, cheaper))
    assert_only(result, "SIGNATURE_INVALID", "signature")
    # the claimed (tampered) payload is reported for display, but not verified
    assert result.credential["credentialSubject"]["grade"]["value"] == "A"


def test_tampered_header_is_signature_invalid(world):
    token = world.issue()
    result = verify(world, tamper_header(token, lambda h: h.update(x5u="https://evil.example/key")))
    assert_only(result, "SIGNATURE_INVALID", "signature")


def test_truncated_signature_is_signature_invalid(world):
    token = world.issue()
    h, p, s = token.split(".")
    result = verify(world, f"{h}.{p}.{s[:-4]}")
    assert_only(result, "SIGNATURE_INVALID", "signature")


def test_signature_from_another_credential_is_signature_invalid(world):
    a, b = world.issue(), world.issue()
    result = verify(world, ".".join(a.split(".")[:2] + b.split(".")[2:]))
    assert_only(result, "SIGNATURE_INVALID", "signature")


# -- accreditation -----------------------------------------------------------------------------


def test_body_suspended_at_issuance_is_not_accredited(world):
    token = world.issue(body=world.paused, valid_from=world.now - 25 * DAY)
    result = verify(world, token)
    assert_only(result, "ISSUER_NOT_ACCREDITED", "accreditation")
    assert "suspended" in result.errors[0].message and "surveillance" in result.errors[0].message


def test_body_issuing_after_reinstatement_is_accredited(world):
    assert verify(world, world.issue(body=world.paused, valid_from=world.now - 10 * DAY)).verified


def test_body_withdrawn_with_no_end_is_not_accredited(world):
    world.paused.interruptions.append({"status": "withdrawn", "from": "2026-01-01T00:00:00Z", "until": None,
                                       "reason": "withdrawn"})
    world.paused.interruptions[-1]["from"] = (world.now - 5 * DAY).strftime("%Y-%m-%dT%H:%M:%SZ")
    token = world.issue(body=world.paused, valid_from=world.now - DAY)
    assert_only(verify(world, token), "ISSUER_NOT_ACCREDITED", "accreditation")


def test_issued_after_the_accreditation_ended_is_not_accredited(world):
    world.cqc.accreditations[0]["validUntil"] = (world.now - 5 * DAY).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = verify(world, world.issue(valid_from=world.now - DAY))
    assert_only(result, "ISSUER_NOT_ACCREDITED", "accreditation")
    assert "no accreditation valid" in result.errors[0].message
    # what it signed while accredited still verifies
    assert verify(world, world.issue(valid_from=world.now - 6 * DAY)).verified


def test_out_of_scope_category(world):
    subject = footprint_subject(category="steel")
    result = verify(world, world.issue(subject=subject))
    assert_only(result, "OUT_OF_SCOPE", "accreditation")
    assert "'steel'" in result.errors[0].message


def test_out_of_scope_kind(world):
    subject = footprint_subject()
    subject["neutrality"] = {"coveredQuantity": "1000", "emissionsCovered": "820", "offsetsTotal": "0.900",
                             "renewableElectricityShare": "1",
                             "offsets": [{"registry": "CCER", "serialNumber": "X-1", "quantity": "0.900",
                                          "vintage": "2024", "kind": "removal",
                                          "retiredAt": "2026-01-01T00:00:00Z", "project": "mangroves"}]}
    subject["grade"]["value"] = "3"
    result = verify(world, world.issue(kind="carbon-neutral", subject=subject))
    assert_only(result, "OUT_OF_SCOPE", "accreditation")
    assert "'carbon-neutral'" in result.errors[0].message


# -- validity ----------------------------------------------------------------------------------


def test_not_yet_valid(world):
    result = verify(world, world.issue(valid_from=world.now + DAY))
    assert_only(result, "NOT_YET_VALID", "validity")


def test_expired(world):
    token = world.issue(valid_from=world.now - 300 * DAY, valid_until=world.now - DAY)
    result = verify(world, token)
    assert_only(result, "EXPIRED", "validity")


def test_valid_until_is_exclusive(world):
    token = world.issue(valid_from=world.now - 300 * DAY, valid_until=world.now)
    assert verify(world, token).codes == ["EXPIRED"]
    assert verify(world, token, now=world.now - DAY / 24).verified


def test_later_checks_still_run_after_validity_fails(world):
    token = world.issue(valid_from=world.now - 300 * DAY, valid_until=world.now - DAY)
    set_bit(world.revocation, world.last_index, True)
    result = verify(world, token)
    assert result.codes == ["EXPIRED", "REVOKED"]
    assert skipped(result) == []


# -- status ------------------------------------------------------------------------------------


def test_revoked(world):
    token = world.issue()
    set_bit(world.revocation, world.last_index, True)
    result = verify(world, token)
    assert_only(result, "REVOKED", "status")


def test_suspended(world):
    token = world.issue()
    set_bit(world.suspension, world.last_index, True)
    assert_only(verify(world, token), "SUSPENDED", "status")


def test_neighbouring_bits_do_not_matter(world):
    token = world.issue()
    set_bit(world.revocation, world.last_index - 1, True)
    set_bit(world.revocation, world.last_index + 1, True)
    assert verify(world, token).verified


def test_status_list_unreachable(world):
    token = world.issue()
    trust = verify_trust_list(world.trust_list_jws(), world.jwks, now=world.now)
    resolver = StaticResolver(trust, {})
    result = verify(world, token, resolver)
    assert not result.verified
    assert result.codes == ["STATUS_UNAVAILABLE", "STATUS_UNAVAILABLE"]
    assert [c.name for c in result.checks if not c.ok] == ["status"]


def test_status_list_of_the_wrong_purpose(world):
    token = world.issue()
    trust = verify_trust_list(world.trust_list_jws(), world.jwks, now=world.now)
    zero = bytes(len(world.revocation))
    resolver = StaticResolver(trust, {
        f"{BASE}/status/r1": StatusListSnapshot("suspension", zero, world.now, world.now + DAY),
        f"{BASE}/status/s1": StatusListSnapshot("suspension", zero, world.now, world.now + DAY),
    })
    assert_only(verify(world, token, resolver), "STATUS_UNAVAILABLE", "status")


def test_expired_status_list_is_unavailable(world):
    token = world.issue()
    trust = verify_trust_list(world.trust_list_jws(), world.jwks, now=world.now)
    zero = bytes(len(world.revocation))
    resolver = StaticResolver(trust, {
        f"{BASE}/status/r1": StatusListSnapshot("revocation", zero, world.now - 3 * DAY, world.now - DAY),
        f"{BASE}/status/s1": StatusListSnapshot("suspension", zero, world.now, world.now + DAY),
    })
    result = verify(world, token, resolver)
    assert_only(result, "STATUS_UNAVAILABLE", "status")
    assert "expired" in result.errors[0].message


def test_index_beyond_the_list_is_unavailable(world):
    token = world.issue()
    trust = verify_trust_list(world.trust_list_jws(), world.jwks, now=world.now)
    short = bytes(0)
    resolver = StaticResolver(trust, {
        f"{BASE}/status/r1": StatusListSnapshot("revocation", short, world.now, world.now + DAY),
        f"{BASE}/status/s1": StatusListSnapshot("suspension", short, world.now, world.now + DAY),
    })
    assert verify(world, token, resolver).codes == ["STATUS_UNAVAILABLE"] * 2


def test_status_age_is_reported(world):
    token = world.issue()
    trust = verify_trust_list(world.trust_list_jws(), world.jwks, now=world.now)
    zero = bytes(len(world.revocation))
    resolver = StaticResolver(trust, {
        f"{BASE}/status/r1": StatusListSnapshot("revocation", zero, world.now - 3 * DAY / 24, world.now + DAY),
        f"{BASE}/status/s1": StatusListSnapshot("suspension", zero, world.now - DAY / 24, world.now + DAY),
    })
    result = verify(world, token, resolver)
    assert result.verified
    assert result.status_checked_at == world.now - 3 * DAY / 24  # the oldest
    assert result.to_dict()["statusAgeSeconds"] == 3 * 3600


# -- grade -------------------------------------------------------------------------------------


def test_inflated_grade_is_grade_mismatch(world):
    result = verify(world, world.issue(subject=footprint_subject(grade="A")))
    assert_only(result, "GRADE_MISMATCH", "grade")
    assert "'A'" in result.errors[0].message and "'B'" in result.errors[0].message


def test_ungraded_footprint_without_benchmark_verifies(world):
    assert verify(world, world.issue(subject=footprint_subject(benchmark=None, grade=None))).verified


def test_unknown_grading_scheme_is_grade_mismatch(world):
    subject = footprint_subject()
    subject["grade"]["scheme"] = "made-up-scheme"
    result = verify(world, world.issue(subject=subject))
    assert_only(result, "GRADE_MISMATCH", "grade")
    assert "unknown grading scheme" in result.errors[0].message


def test_low_carbon_above_benchmark_is_grade_mismatch_even_when_ungraded(world):
    # a footprint over the benchmark does not earn a low-carbon certificate, whatever grade it states
    subject = footprint_subject(pcf="1.10", grade=None)
    result = verify(world, world.issue(kind="low-carbon", subject=subject))
    assert_only(result, "GRADE_MISMATCH", "grade")
    assert "do not earn" in result.errors[0].message


# -- trust list ---------------------------------------------------------------------------------


def test_every_code_is_a_contract_code(world):
    seen = set()
    token = world.issue(valid_from=world.now - 300 * DAY, valid_until=world.now - DAY,
                        subject=footprint_subject(grade="A", category="steel"))
    set_bit(world.revocation, world.last_index, True)
    set_bit(world.suspension, world.last_index, True)
    result = verify(world, token)
    seen.update(result.codes)
    assert seen == {"OUT_OF_SCOPE", "EXPIRED", "REVOKED", "SUSPENDED", "GRADE_MISMATCH"}
    assert seen <= set(ERROR_CODES)


class _BrokenResolver:
    def trust_list(self):
        from verifier import TrustListUnavailable

        raise TrustListUnavailable("trust list expired at 2026-01-01T00:00:00Z")

    def status_list(self, url):  # pragma: no cover - never reached
        raise AssertionError("status must not be consulted without a trust list")


def test_trust_list_unavailable_fails_issuer_check(world):
    result = verify(world, world.issue(), _BrokenResolver())
    assert_only(result, "STATUS_UNAVAILABLE", "issuer")
    assert "trust list" in result.errors[0].message


def test_unsigned_edits_to_a_valid_token_never_verify(world):
    """Flip each character of the signed part: nothing may verify."""
    token = world.issue()
    resolver = world.resolver()
    sig_start = token.rindex(".")
    for i in range(0, sig_start, 97):
        ch = token[i]
        if ch == ".":
            continue
        flipped = token[:i] + ("A" if ch != "A" else "B") + token[i + 1:]
        assert not verify(world, flipped, resolver).verified, i
