"""VC-JOSE-COSE and Bitstring Status List conformance of verify_credential, with real signatures."""

from __future__ import annotations

import datetime as dt
import json

import jwt
import pytest

from verifier import (
    StaticResolver,
    build_status_list_credential,
    encode_list,
    jws_header,
    set_bit,
    verify_credential,
)

from .helpers import BASE, DAY, REGISTRY_DID, sign
from .test_credential import assert_only, verify


def signed(world, payload=None, header_change=None):
    """A credential signed with cqc's current key, its header optionally changed before signing."""
    key = world.cqc.keys[1]
    payload = payload or world.payload()
    header = jws_header(alg="ES256", kid=key.kid)
    if header_change:
        header_change(header)
    return jwt.PyJWS().encode(json.dumps(payload).encode(), key.private, algorithm="ES256", headers=header)


def with_claims(world, **claims):
    payload = world.payload()
    payload.update(claims)
    return world.issue(payload=payload, key=world.cqc.keys[1])


def ts(t: dt.datetime) -> int:
    return int(t.timestamp())


# -- JWT claims (VC-JOSE-COSE §3.1.2) ------------------------------------------------------------

def test_iss_equal_to_the_issuer_is_accepted(world):
    assert verify(world, with_claims(world, iss=world.cqc.did)).verified


@pytest.mark.parametrize("iss", ["did:web:labels.test:bodies:paused", "https://labels.test", 7])
def test_iss_other_than_the_issuer_is_malformed(world, iss):
    result = verify(world, with_claims(world, iss=iss))
    assert_only(result, "MALFORMED", "structure")
    assert "iss" in result.errors[0].message


@pytest.mark.parametrize("claim", ["vc", "vp"])
def test_vc_and_vp_claims_are_malformed(world, claim):
    result = verify(world, with_claims(world, **{claim: {"type": ["VerifiableCredential"]}}))
    assert_only(result, "MALFORMED", "structure")
    assert claim in result.errors[0].message


def test_exp_in_the_past_is_expired(world):
    result = verify(world, with_claims(world, exp=ts(world.now - DAY)))
    assert_only(result, "EXPIRED", "validity")
    assert "(exp)" in result.errors[0].message


def test_exp_is_exclusive(world):
    token = with_claims(world, exp=ts(world.now))
    assert_only(verify(world, token), "EXPIRED", "validity")
    assert verify(world, token, now=world.now - dt.timedelta(seconds=1)).verified


def test_nbf_in_the_future_is_not_yet_valid(world):
    result = verify(world, with_claims(world, nbf=ts(world.now + DAY)))
    assert_only(result, "NOT_YET_VALID", "validity")
    assert "(nbf)" in result.errors[0].message


def test_exp_and_nbf_around_now_verify(world):
    result = verify(world, with_claims(world, nbf=ts(world.now - DAY), exp=ts(world.now + DAY), iat=ts(world.now)))
    assert result.verified, result.to_dict()
    assert "exp" in result.check("validity").detail


@pytest.mark.parametrize("value", ["2030-01-01T00:00:00Z", True, None, 1e300, -1e300, [1]])
def test_exp_that_is_not_a_numeric_date_is_malformed(world, value):
    assert_only(verify(world, with_claims(world, exp=value)), "MALFORMED", "structure")


# -- header (VC-JOSE-COSE §3.1.1, RFC 7515 §4.1.9) ------------------------------------------------

@pytest.mark.parametrize("change", [
    lambda h: h.update(typ="application/vc+jwt"),
    lambda h: h.update(typ="VC+JWT"),
    lambda h: h.update(cty="application/vc"),
    lambda h: h.pop("cty"),
])
def test_equivalent_media_types_and_an_absent_cty_verify(world, change):
    result = verify(world, signed(world, header_change=change))
    assert result.verified, result.to_dict()


@pytest.mark.parametrize("change", [
    lambda h: h.update(typ="application/jwt"),
    lambda h: h.update(typ="vp+jwt"),
    lambda h: h.update(cty="application/vp"),
    lambda h: h.update(cty=None),
])
def test_other_media_types_are_malformed(world, change):
    assert_only(verify(world, signed(world, header_change=change)), "MALFORMED", "structure")


# -- credentialStatus ----------------------------------------------------------------------------

def test_status_entries_of_unknown_types_or_purposes_are_ignored(world):
    payload = world.payload()
    payload["credentialStatus"] += [
        {"id": "https://status.example/1#5", "type": "ExampleStatusMethod2030", "statusPurpose": "revocation"},
        {"id": f"{BASE}/status/m1#5", "type": "BitstringStatusListEntry", "statusPurpose": "refresh",
         "statusListIndex": "5", "statusListCredential": f"{BASE}/status/m1"},
    ]
    result = verify(world, world.issue(payload=payload, key=world.cqc.keys[1]))
    assert result.verified, result.to_dict()
    assert "ignored 2 credentialStatus entries" in result.check("structure").detail


def test_our_revocation_and_suspension_entries_are_still_required(world):
    payload = world.payload()
    payload["credentialStatus"][1]["type"] = "ExampleStatusMethod2030"  # the suspension entry
    result = verify(world, world.issue(payload=payload, key=world.cqc.keys[1]))
    assert_only(result, "MALFORMED", "structure")
    assert "suspension" in result.errors[0].message


# -- status lists with several purposes (Bitstring Status List §2.2) -----------------------------

def _list_serving_both(world, list_id: str, bits: bytes) -> str:
    url = f"{BASE}/status/{list_id}"
    payload = build_status_list_credential(list_url=url, issuer=REGISTRY_DID, purpose="revocation",
                                           encoded_list=encode_list(bits), valid_from=world.now - DAY,
                                           valid_until=world.now + DAY)
    payload["credentialSubject"]["statusPurpose"] = ["revocation", "suspension"]
    return sign(payload, world.registry_key, jws_header(alg="EdDSA", kid=world.registry_kid))


def _resolver(world, revocation: bytes, suspension: bytes) -> StaticResolver:
    return StaticResolver.from_jws(registry_jwks=world.jwks, trust_list_jws=world.trust_list_jws(), now=world.now,
                                   status_list_jws={f"{BASE}/status/r1": _list_serving_both(world, "r1", revocation),
                                                    f"{BASE}/status/s1": _list_serving_both(world, "s1", suspension)})


def test_a_status_list_with_an_array_status_purpose_is_used(world):
    token = world.issue()
    clear = bytes(len(world.revocation))
    assert verify_credential(token, _resolver(world, clear, clear), now=world.now).verified
    revoked = bytearray(clear)
    set_bit(revoked, world.last_index, True)
    assert_only(verify_credential(token, _resolver(world, bytes(revoked), clear), now=world.now),
                "REVOKED", "status")


def test_a_status_list_whose_purposes_do_not_include_the_entry_is_unavailable(world):
    token = world.issue()
    clear = bytes(len(world.revocation))
    url = f"{BASE}/status/s1"
    payload = build_status_list_credential(list_url=url, issuer=REGISTRY_DID, purpose="revocation",
                                           encoded_list=encode_list(clear), valid_from=world.now - DAY,
                                           valid_until=world.now + DAY)
    payload["credentialSubject"]["statusPurpose"] = ["revocation", "message"]
    resolver = StaticResolver.from_jws(
        registry_jwks=world.jwks, trust_list_jws=world.trust_list_jws(), now=world.now,
        status_list_jws={f"{BASE}/status/r1": _list_serving_both(world, "r1", clear),
                         url: sign(payload, world.registry_key, jws_header(alg="EdDSA", kid=world.registry_kid))})
    assert_only(verify_credential(token, resolver, now=world.now), "STATUS_UNAVAILABLE", "status")
