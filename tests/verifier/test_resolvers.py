"""HttpResolver, OfflineResolver and save_for_offline, with only the network faked."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from verifier import (
    HttpResolver,
    InputError,
    OfflineResolver,
    StatusUnavailable,
    public_jwk,
    save_for_offline,
    verify_credential,
)
from verifier import did_web_url

from .helpers import BASE, REGISTRY_DID, no_network


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def urls(world):
    return [u for u, _ in world.requests]


def http(world, clock=None, **kw):
    kw.setdefault("fetch", world.fetch)
    return HttpResolver(BASE, clock=clock or Clock(world.now), **kw)


# -- HttpResolver ---------------------------------------------------------------------------------


def test_http_resolver_verifies_and_caches(world):
    token = world.issue()
    resolver = http(world)
    assert verify_credential(token, resolver, now=world.now).verified
    assert sorted(urls(world)) == sorted([f"{BASE}/trust-list", f"{BASE}/.well-known/jwks.json",
                                          f"{BASE}/status/r1", f"{BASE}/status/s1"])
    world.requests.clear()
    for _ in range(3):
        assert verify_credential(token, resolver, now=world.now).verified
    assert world.requests == []  # everything fresh in memory


def test_pinned_registry_keys_are_not_fetched(world):
    resolver = http(world, registry_jwks=world.jwks)
    assert verify_credential(world.issue(), resolver, now=world.now).verified
    assert f"{BASE}/.well-known/jwks.json" not in urls(world)


def test_wrong_pinned_registry_keys_fail_the_trust_list(world):
    other = ed25519.Ed25519PrivateKey.generate()
    jwks = {"keys": [dict(public_jwk(other), kid=world.registry_kid)]}
    result = verify_credential(world.issue(), http(world, registry_jwks=jwks), now=world.now)
    assert result.codes == ["STATUS_UNAVAILABLE"] and not result.check("issuer").ok
    assert "trust list" in result.errors[0].message


def test_revalidation_with_etag_keeps_the_verified_objects(world):
    clock = Clock(world.now)
    resolver = http(world, clock=clock)
    trust = resolver.trust_list()
    snap = resolver.status_list(f"{BASE}/status/r1")
    world.requests.clear()
    clock.now += dt.timedelta(seconds=301)  # the trust list (max-age 300) and status lists (60) are stale
    assert resolver.trust_list() is trust  # 304: not re-verified
    new_snap = resolver.status_list(f"{BASE}/status/r1")
    assert new_snap.bits is snap.bits and new_snap.fetched_at == clock.now.replace(microsecond=0)
    sent = dict(world.requests)
    assert sent[f"{BASE}/trust-list"]["If-None-Match"].startswith('"')
    assert sent[f"{BASE}/status/r1"]["If-None-Match"].startswith('"')


def test_new_status_list_content_is_picked_up_after_max_age(world):
    from verifier import set_bit

    clock = Clock(world.now)
    resolver = http(world, clock=clock)
    token = world.issue()
    assert verify_credential(token, resolver, now=world.now).verified
    set_bit(world.revocation, world.last_index, True)
    assert verify_credential(token, resolver, now=world.now).verified  # still fresh (max-age 60)
    clock.now += dt.timedelta(seconds=61)
    assert verify_credential(token, resolver, now=clock.now).codes == ["REVOKED"]


def test_status_list_unreachable_is_status_unavailable(world):
    token = world.issue()

    def fetch(url, headers):
        if "/status/" in url:
            raise OSError("connection refused")
        return world.fetch(url, headers)

    result = verify_credential(token, http(world, fetch=fetch), now=world.now)
    assert result.codes == ["STATUS_UNAVAILABLE", "STATUS_UNAVAILABLE"]
    assert "connection refused" in result.errors[0].message


def test_status_list_with_bad_signature_is_status_unavailable(world):
    token = world.issue()
    world.extra_routes[f"{BASE}/status/r1"] = (
        200, {}, world.status_list_jws("revocation", key=ed25519.Ed25519PrivateKey.generate()).encode())
    result = verify_credential(token, http(world), now=world.now)
    assert result.codes == ["STATUS_UNAVAILABLE"]
    assert "did not verify" in result.errors[0].message


def test_status_list_http_error_is_status_unavailable(world):
    world.extra_routes[f"{BASE}/status/s1"] = (503, {}, b"")
    result = verify_credential(world.issue(), http(world), now=world.now)
    assert result.codes == ["STATUS_UNAVAILABLE"] and "503" in result.errors[0].message


def test_trust_list_unreachable_fails_the_issuer_check(world):
    result = verify_credential(world.issue(), http(world, fetch=no_network), now=world.now)
    assert result.codes == ["STATUS_UNAVAILABLE"]
    assert result.check("issuer").ok is False and result.check("signature").skipped


def test_stale_copy_is_used_when_the_registry_is_down_and_its_age_reported(world):
    clock = Clock(world.now)
    live = {"up": True}

    def fetch(url, headers):
        if not live["up"]:
            raise OSError("network unreachable")
        return world.fetch(url, headers)

    resolver = http(world, clock=clock, fetch=fetch)
    token = world.issue()
    assert verify_credential(token, resolver, now=world.now).verified
    live["up"] = False
    clock.now += dt.timedelta(hours=2)
    result = verify_credential(token, resolver, now=clock.now)
    assert result.verified
    assert result.status_checked_at == world.now and result.status_age == dt.timedelta(hours=2)


def test_status_lists_are_fetched_only_from_the_registry(world):
    payload = world.payload()
    payload["credentialStatus"][0]["statusListCredential"] = "https://evil.example/status/r1"
    token = world.issue(payload=payload, key=world.cqc.keys[1])
    result = verify_credential(token, http(world), now=world.now)
    assert result.codes == ["STATUS_UNAVAILABLE"]
    assert "not published by the registry" in result.errors[0].message
    assert not any("evil.example" in u for u in urls(world))


def test_disk_cache_serves_a_second_process(world, tmp_path):
    token = world.issue()
    assert verify_credential(token, http(world, cache_dir=tmp_path), now=world.now).verified
    assert len(list(tmp_path.glob("*.json"))) == 4
    again = http(world, cache_dir=tmp_path, fetch=no_network)
    assert verify_credential(token, again, now=world.now).verified


def test_no_store_responses_are_not_written_to_disk(world, tmp_path):
    world.extra_routes[f"{BASE}/status"] = (200, {"Cache-Control": "no-store"}, b'{"lists": []}')
    resolver = http(world, cache_dir=tmp_path)
    assert resolver.status_index() == []
    assert list(tmp_path.glob("*.json")) == []


def test_registry_key_rotation_is_followed_when_keys_are_not_pinned(world):
    clock = Clock(world.now)
    resolver = http(world, clock=clock)
    token = world.issue()
    assert verify_credential(token, resolver, now=world.now).verified
    world.registry_key = ed25519.Ed25519PrivateKey.generate()
    world.registry_kid = f"{REGISTRY_DID}#key-2"
    clock.now += dt.timedelta(seconds=301)  # trust list stale, JWKS still fresh (max-age 3600)
    assert verify_credential(token, resolver, now=clock.now).verified
    assert urls(world).count(f"{BASE}/.well-known/jwks.json") == 2


def test_fetch_credential_and_did_document(world):
    token = world.issue()
    cert_id = next(iter(world.certificates))
    resolver = http(world)
    assert resolver.fetch_credential(cert_id) == token
    with pytest.raises(InputError):
        resolver.fetch_credential("0b7c2a64-3b6e-4c1e-9b57-1c0e6f0d2a11")
    did = world.cqc.did
    doc = {"id": did, "verificationMethod": []}
    world.extra_routes[f"{BASE}/bodies/cqc/did.json"] = (200, {}, json.dumps(doc).encode())
    assert resolver.did_document(did) == doc
    with pytest.raises(StatusUnavailable):
        resolver.did_document("did:web:evil.example:bodies:x")


def test_a_one_argument_fetch_is_accepted(world):
    resolver = HttpResolver(BASE, fetch=lambda url: world.fetch(url), clock=Clock(world.now))
    assert verify_credential(world.issue(), resolver, now=world.now).verified
    assert all(headers == {} for _, headers in world.requests)


def test_did_web_url():
    assert did_web_url("did:web:labels.example.org") == "https://labels.example.org/.well-known/did.json"
    assert did_web_url("did:web:localhost%3A5000:bodies:b1") == "https://localhost:5000/bodies/b1/did.json"
    with pytest.raises(ValueError):
        did_web_url("did:key:z6Mk")


# -- offline --------------------------------------------------------------------------------------


def saved(world, tmp_path, **kw):
    directory = tmp_path / "offline"
    manifest = save_for_offline(BASE, directory, fetch=world.fetch, **kw)
    return directory, manifest


def test_save_and_verify_offline_without_network(world, tmp_path):
    token = world.issue()
    directory, manifest = saved(world, tmp_path)
    assert (directory / "jwks.json").is_file() and (directory / "trust-list.jwt").is_file()
    assert sorted(p.name for p in (directory / "status").iterdir()) == ["r1.jwt", "s1.jwt"]
    assert manifest["registry"] == BASE and set(manifest["statusLists"]) == {f"{BASE}/status/r1",
                                                                              f"{BASE}/status/s1"}
    resolver = OfflineResolver(directory, clock=Clock(world.now))
    result = verify_credential(token, resolver, now=world.now)
    assert result.verified, result.to_dict()
    assert result.status_checked_at is not None and "statusAsOf" in result.to_dict()


def test_offline_result_reports_the_age_of_status_information(world, tmp_path):
    directory, manifest = saved(world, tmp_path)
    info = manifest["statusLists"]
    info[f"{BASE}/status/r1"]["fetchedAt"] = (world.now - dt.timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (directory / "manifest.json").write_text(json.dumps(manifest))
    result = verify_credential(world.issue(), OfflineResolver(directory), now=world.now)
    assert result.verified
    assert result.status_age == dt.timedelta(hours=5)
    assert result.to_dict()["statusAgeSeconds"] == 5 * 3600


def test_offline_missing_status_list_is_unavailable(world, tmp_path):
    directory, _ = saved(world, tmp_path)
    (directory / "status" / "s1.jwt").unlink()
    result = verify_credential(world.issue(), OfflineResolver(directory), now=world.now)
    assert result.codes == ["STATUS_UNAVAILABLE"]
    assert "--save-offline" in result.errors[0].message


def test_offline_tampered_status_list_is_unavailable(world, tmp_path):
    directory, _ = saved(world, tmp_path)
    path = directory / "status" / "r1.jwt"
    h, p, s = path.read_text().strip().split(".")
    path.write_text(f"{h}.{p[:-2]}{'A' if p[-2] != 'A' else 'B'}{p[-1]}.{s}")
    result = verify_credential(world.issue(), OfflineResolver(directory), now=world.now)
    assert result.codes == ["STATUS_UNAVAILABLE"]


def test_offline_without_data_fails_the_issuer_check(world, tmp_path):
    result = verify_credential(world.issue(), OfflineResolver(tmp_path / "empty"), now=world.now)
    assert result.codes == ["STATUS_UNAVAILABLE"]
    assert "not in the offline data" in result.errors[0].message


def test_offline_expired_trust_list_is_refused(world, tmp_path):
    directory, _ = saved(world, tmp_path)
    later = Clock(world.trust_exp + dt.timedelta(seconds=1))
    result = verify_credential(world.issue(), OfflineResolver(directory, clock=later), now=later.now)
    assert result.codes == ["STATUS_UNAVAILABLE"] and "expired" in result.errors[0].message


def test_save_without_index_saves_the_lists_of_given_credentials(world, tmp_path):
    world.extra_routes[f"{BASE}/status"] = (404, {}, b"")
    token = world.issue()
    directory, manifest = saved(world, tmp_path, credentials=[token])
    assert set(manifest["statusLists"]) == {f"{BASE}/status/r1", f"{BASE}/status/s1"}
    assert verify_credential(token, OfflineResolver(directory), now=world.now).verified


def test_save_again_refreshes_previously_saved_lists(world, tmp_path):
    world.extra_routes[f"{BASE}/status"] = (404, {}, b"")
    token = world.issue()
    directory, _ = saved(world, tmp_path, credentials=[token])
    _, manifest = saved(world, tmp_path)  # no credentials, no index: keeps and refreshes r1, s1
    assert set(manifest["statusLists"]) == {f"{BASE}/status/r1", f"{BASE}/status/s1"}


def test_save_refuses_an_unverifiable_trust_list(world, tmp_path):
    from verifier import TrustListUnavailable

    other = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(TrustListUnavailable):
        save_for_offline(BASE, tmp_path / "x", fetch=world.fetch,
                         registry_jwks={"keys": [dict(public_jwk(other), kid=world.registry_kid)]})
    assert not (tmp_path / "x" / "trust-list.jwt").exists()
