"""The trust list and registry-signed status lists."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from verifier import (
    StatusUnavailable,
    TrustList,
    TrustListUnavailable,
    format_time,
    jws_header,
    public_jwk,
    verify_status_list_credential,
    verify_trust_list,
)
from verifier import snapshot_from_jws

from .helpers import BASE, DAY, REGISTRY_DID, b64e, sign


def test_trust_list_verifies_and_indexes(world):
    trust = verify_trust_list(world.trust_list_jws(), world.jwks, now=world.now)
    assert trust.registry_did == REGISTRY_DID and trust.public_url == BASE
    assert trust.body(world.cqc.did).name == "CQC Certification"
    assert trust.body(world.rogue.did) is None
    key = trust.key(world.cqc.keys[0].kid)
    assert key.body_did == world.cqc.did and key.alg == "EdDSA"
    assert key.active_at(world.now - 200 * DAY) and not key.active_at(world.now - 100 * DAY)
    assert trust.key(world.cqc.keys[1].kid).active_at(world.now + 1000 * DAY)  # still active
    assert trust.expires_at == dt.datetime.fromtimestamp(int(world.trust_exp.timestamp()), dt.timezone.utc)


def test_registry_key_may_be_p256(world):
    world.registry_key = ec.generate_private_key(ec.SECP256R1())
    jwks = {"keys": [dict(public_jwk(world.registry_key), kid=world.registry_kid)]}
    assert verify_trust_list(world.trust_list_jws(), jwks, now=world.now).body(world.cqc.did)


def test_trust_list_signed_by_another_key_is_refused(world):
    jws = world.trust_list_jws(key=ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(TrustListUnavailable, match="did not verify"):
        verify_trust_list(jws, world.jwks, now=world.now)


def test_trust_list_with_unknown_registry_kid_is_refused(world):
    jwks = {"keys": [dict(world.jwks["keys"][0], kid=f"{REGISTRY_DID}#key-7")]}
    with pytest.raises(TrustListUnavailable, match="not in the registry JWKS"):
        verify_trust_list(world.trust_list_jws(), jwks, now=world.now)


def test_trust_list_with_wrong_typ_is_refused(world):
    with pytest.raises(TrustListUnavailable, match="typ"):
        verify_trust_list(world.trust_list_jws(typ="JWT"), world.jwks, now=world.now)


def test_expired_trust_list_is_refused_with_a_clear_message(world):
    world.trust_exp = world.now - dt.timedelta(seconds=1)
    with pytest.raises(TrustListUnavailable) as info:
        verify_trust_list(world.trust_list_jws(), world.jwks, now=world.now)
    assert "expired at " + format_time(world.trust_exp) in str(info.value)
    assert info.value.code == "STATUS_UNAVAILABLE"


def test_trust_list_iss_must_be_the_signing_registry(world):
    payload = world.trust_payload()
    payload["iss"] = "did:web:evil.example"
    with pytest.raises(TrustListUnavailable, match="iss"):
        verify_trust_list(world.trust_list_jws(payload=payload), world.jwks, now=world.now)


def test_trust_list_hs256_with_registry_public_key_is_refused(world):
    import hashlib
    import hmac
    import json

    header = {"alg": "HS256", "typ": "trust-list+jwt", "kid": world.registry_kid}
    signing_input = f"{b64e(json.dumps(header).encode())}.{b64e(json.dumps(world.trust_payload()).encode())}"
    secret = json.dumps(world.jwks["keys"][0]).encode()
    jws = f"{signing_input}.{b64e(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"
    with pytest.raises(TrustListUnavailable, match="HS256"):
        verify_trust_list(jws, world.jwks, now=world.now)


@pytest.mark.parametrize("change", [
    lambda p: p.pop("bodies"),
    lambda p: p["bodies"][0].pop("did"),
    lambda p: p["bodies"][0]["keys"][0].update(kid="did:web:elsewhere#key-1"),
    lambda p: p["bodies"][0]["accreditations"][0].update(validFrom="soon"),
    lambda p: p["bodies"][0]["interruptions"].append({"status": "paused", "from": "2026-01-01T00:00:00Z"}),
    lambda p: p["bodies"].append(dict(p["bodies"][0])),
])
def test_malformed_trust_list_payload(world, change):
    payload = world.trust_payload()
    change(payload)
    with pytest.raises(TrustListUnavailable, match="malformed"):
        TrustList(payload)


def test_accredited_at(world):
    trust = TrustList(world.trust_payload())
    did, now = world.cqc.did, world.now
    assert trust.accredited_at(did, now, "carbon-footprint", "cement")[:2] == (True, None)
    assert trust.accredited_at(did, now, "carbon-neutral", "cement")[1] == "OUT_OF_SCOPE"
    assert trust.accredited_at(did, now, "carbon-footprint", "steel")[1] == "OUT_OF_SCOPE"
    ok, code, detail = trust.accredited_at(did, now, "carbon-neutral", "steel")
    assert code == "OUT_OF_SCOPE" and "carbon-neutral" in detail and "steel" in detail
    assert trust.accredited_at(did, now - 900 * DAY, "carbon-footprint", "cement")[1] == "ISSUER_NOT_ACCREDITED"
    assert trust.accredited_at(did, now + 800 * DAY, "carbon-footprint", "cement")[1] == "ISSUER_NOT_ACCREDITED"
    paused = world.paused.did
    assert trust.accredited_at(paused, now - 30 * DAY, "carbon-footprint", "cement")[1] == "ISSUER_NOT_ACCREDITED"
    assert trust.accredited_at(paused, now - 20 * DAY, "carbon-footprint", "cement")[0]  # until is exclusive
    assert trust.accredited_at(paused, now - 31 * DAY, "carbon-footprint", "cement")[0]
    assert trust.accredited_at(world.rogue.did, now, "carbon-footprint", "cement")[1] == "UNKNOWN_ISSUER"


# -- status list credentials ----------------------------------------------------------------------


def test_status_list_credential_verifies(world):
    url = f"{BASE}/status/r1"
    payload = verify_status_list_credential(world.status_list_jws("revocation"), world.jwks, url=url, now=world.now)
    assert payload["credentialSubject"]["statusPurpose"] == "revocation"
    snap = snapshot_from_jws(world.status_list_jws("revocation"), world.jwks, url=url, now=world.now)
    assert snap.purpose == "revocation" and len(snap.bits) == 16384 and snap.issuer == REGISTRY_DID


def test_status_list_with_a_bad_signature_is_unavailable(world):
    jws = world.status_list_jws("revocation", key=ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(StatusUnavailable, match="did not verify"):
        verify_status_list_credential(jws, world.jwks, url=f"{BASE}/status/r1", now=world.now)


def test_status_list_served_at_another_url_is_unavailable(world):
    with pytest.raises(StatusUnavailable, match="has id"):
        verify_status_list_credential(world.status_list_jws("revocation"), world.jwks,
                                      url=f"{BASE}/status/r2", now=world.now)


def test_expired_status_list_is_unavailable(world):
    jws = world.status_list_jws("revocation", valid_until=world.now - dt.timedelta(seconds=1))
    with pytest.raises(StatusUnavailable, match="expired"):
        verify_status_list_credential(jws, world.jwks, url=f"{BASE}/status/r1", now=world.now)


def test_status_list_by_a_body_key_is_unavailable(world):
    """A certification body cannot publish status lists: only registry keys count."""
    body_key = world.cqc.keys[1]
    from verifier import build_status_list_credential, encode_list

    payload = build_status_list_credential(
        list_url=f"{BASE}/status/r1", issuer=world.cqc.did, purpose="revocation",
        encoded_list=encode_list(bytes(16384)), valid_from=world.now - DAY, valid_until=world.now + DAY)
    jws = sign(payload, body_key.private, jws_header(alg="ES256", kid=body_key.kid))
    with pytest.raises(StatusUnavailable):
        verify_status_list_credential(jws, world.jwks, url=f"{BASE}/status/r1", now=world.now)


def test_short_status_list_is_unavailable(world):
    world.revocation = bytearray(16)
    with pytest.raises(StatusUnavailable, match="fewer than"):
        snapshot_from_jws(world.status_list_jws("revocation"), world.jwks, url=f"{BASE}/status/r1", now=world.now)


# -- builders (what the registry publishes) ------------------------------------------------------


def test_dids():
    from verifier import body_did, registry_did

    assert registry_did("https://labels.example.org/") == "did:web:labels.example.org"
    assert registry_did("http://localhost:5000") == "did:web:localhost%3A5000"
    assert body_did("https://labels.example.org", "b3f1") == "did:web:labels.example.org:bodies:b3f1"
    with pytest.raises(ValueError):
        registry_did("https://labels.example.org/registry")
    with pytest.raises(ValueError):
        registry_did("ftp://labels.example.org")


def test_built_trust_list_signs_verifies_and_matches_formats(world):
    from verifier import (accreditation_entry, build_did_document, build_trust_list, interruption_entry,
                          jwks_entry, trust_list_body, trust_list_key)

    now = world.now
    key1, key2 = ed25519.Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP256R1())
    did = "did:web:labels.test:bodies:b1"
    keys = [trust_list_key(kid=f"{did}#key-1", public_key=key1.public_key(), active_from=now - 10 * DAY,
                           active_until=now - DAY),
            trust_list_key(kid=f"{did}#key-2", public_key=key2, active_from=now - DAY)]
    body = trust_list_body(
        id="b1", did=did, name="Body One", name_zh="一号机构", country="CN", status="active",
        accreditations=[accreditation_entry(number="CNCA-R-1", valid_from=now - 10 * DAY,
                                            valid_until=now + 10 * DAY, certificate_types=["carbon-footprint"],
                                            product_categories=["cement"])],
        interruptions=[interruption_entry(status="suspended", start=now - 5 * DAY, end=now - 4 * DAY,
                                          reason="audit")],
        keys=keys)
    payload = build_trust_list(public_url=BASE, bodies=[body], issued_at=now, expires_at=now + DAY)
    assert set(payload) == {"iss", "iat", "exp", "registry", "bodies"}
    assert payload["registry"] == {"did": REGISTRY_DID, "publicUrl": BASE}
    assert keys[0]["alg"] == "EdDSA" and keys[1]["alg"] == "ES256" and keys[1]["activeUntil"] is None
    assert set(body) == {"id", "did", "name", "nameZh", "country", "status", "accreditations", "interruptions",
                         "keys"}
    assert body["interruptions"][0] == {"status": "suspended", "from": format_time(now - 5 * DAY),
                                        "until": format_time(now - 4 * DAY), "reason": "audit"}
    jwks = {"keys": [jwks_entry(world.registry_key.public_key(), world.registry_kid)]}
    assert jwks["keys"][0]["use"] == "sig" and "d" not in jwks["keys"][0]
    trust = verify_trust_list(world.trust_list_jws(payload=payload), jwks, now=now)
    assert trust.key(f"{did}#key-2").active_at(now)
    assert trust.accredited_at(did, now - 4.5 * DAY, "carbon-footprint", "cement")[1] == "ISSUER_NOT_ACCREDITED"
    doc = build_did_document(did=did, keys=keys, current_kid=f"{did}#key-2")
    assert doc["assertionMethod"] == [f"{did}#key-2", f"{did}#key-1"]
    assert [m["id"] for m in doc["verificationMethod"]] == [f"{did}#key-1", f"{did}#key-2"]
    assert {m["type"] for m in doc["verificationMethod"]} == {"JsonWebKey"}
    assert doc["verificationMethod"][0]["activeUntil"] == format_time(now - DAY)
    assert "activeUntil" not in doc["verificationMethod"][1]
    assert doc["@context"] == ["https://www.w3.org/ns/did/v1", "https://www.w3.org/ns/cid/v1",
                               "https://labels.test/contexts/carbon-label/v1"]
    with pytest.raises(ValueError):
        build_did_document(did="did:web:other", keys=keys)
    with pytest.raises(ValueError):
        build_trust_list(public_url=BASE, bodies=[dict(body, did="not-a-did")], issued_at=now, expires_at=now + DAY)
    with pytest.raises(ValueError):
        accreditation_entry(number="x", valid_from=now, valid_until=now + DAY, certificate_types=["green"],
                            product_categories=[])


def test_later_accreditation_defines_the_scope_from_its_start(world):
    """Same rule as the registry: the last decision in force narrows or widens the scope."""
    payload = world.trust_payload()
    entry = payload["bodies"][0]
    first = dict(entry["accreditations"][0])
    narrowed_from = world.now - 10 * DAY
    entry["accreditations"] = [first, {**first, "number": "NARROWED", "validFrom": format_time(narrowed_from),
                                       "productCategories": ["steel"]}]
    trust = TrustList(payload)
    did = entry["did"]
    assert trust.accredited_at(did, narrowed_from - DAY, "carbon-footprint", "cement")[:2] == (True, None)
    ok, code, detail = trust.accredited_at(did, narrowed_from + DAY, "carbon-footprint", "cement")
    assert (ok, code) == (False, "OUT_OF_SCOPE") and "NARROWED" in detail
    assert trust.accredited_at(did, narrowed_from + DAY, "carbon-footprint", "steel")[0]
