"""Offline verification throughput of the standalone verifier, against a bare ``jwt.decode``.

    python bench/bench_verifier_offline.py [--seconds 0.4] [--repeats 5]

For each algorithm (EdDSA, ES256) it times, on the same token in the same process:

* ``jwt.decode(token, key, algorithms=[alg])`` — pyjwt's decode + signature check, nothing else;
* ``verify_credential(token, resolver)`` with the signature cache off — every check, including
  the public-key operation, on every call;
* ``verify_credential`` with the signature cache on — the same token again, so the public-key
  operation is skipped (issuer, key period, accreditation, validity, status and grade still run).

The resolver is a :class:`verifier.StaticResolver` holding a verified trust list and decoded
status lists (the offline case: no I/O). Figures are medians of ``--repeats`` timed runs of
about ``--seconds`` each; the ratio column is ops/s relative to ``jwt.decode``. Runtime is
bounded (about 2 × 3 × repeats × seconds, plus warm-up: ~15 s with the defaults).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jwt  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519  # noqa: E402

from verifier import (  # noqa: E402
    LIST_SIZE,
    StaticResolver,
    build_credential,
    build_status_list_credential,
    encode_list,
    format_time,
    jws_header,
    public_jwk,
    status_entry,
    verify_credential,
)

UTC = dt.timezone.utc
BASE = "https://labels.example.org"
REGISTRY_DID = "did:web:labels.example.org"
BODY_DID = f"{REGISTRY_DID}:bodies:b3f1c2d4"
DAY = dt.timedelta(days=1)


def _sign(payload: dict, key, header: dict) -> str:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return jwt.PyJWS().encode(body, key, algorithm=header["alg"], headers=header)


def build_world():
    now = dt.datetime.now(UTC).replace(microsecond=0)
    registry_key = ed25519.Ed25519PrivateKey.generate()
    registry_kid = f"{REGISTRY_DID}#key-1"
    jwks = {"keys": [dict(public_jwk(registry_key), kid=registry_kid, alg="EdDSA", use="sig")]}
    keys = {"EdDSA": ed25519.Ed25519PrivateKey.generate(), "ES256": ec.generate_private_key(ec.SECP256R1())}
    kids = {"EdDSA": f"{BODY_DID}#key-1", "ES256": f"{BODY_DID}#key-2"}
    trust = {
        "iss": REGISTRY_DID, "iat": int(now.timestamp()), "exp": int((now + DAY).timestamp()),
        "registry": {"did": REGISTRY_DID, "publicUrl": BASE},
        "bodies": [{
            "id": "b3f1c2d4", "did": BODY_DID, "name": "Huaxia Carbon Certification Centre",
            "nameZh": "华夏碳认证中心", "country": "CN", "status": "active",
            "accreditations": [{"number": "CNCA-R-2021-001", "validFrom": format_time(now - 400 * DAY),
                                "validUntil": format_time(now + 400 * DAY),
                                "certificateTypes": ["carbon-footprint", "low-carbon"],
                                "productCategories": ["cement", "flat-glass", "steel"]}],
            "interruptions": [],
            "keys": [{"kid": kids[a], "alg": a, "jwk": public_jwk(k), "activeFrom": format_time(now - 400 * DAY),
                      "activeUntil": None} for a, k in keys.items()],
        }],
    }
    trust_jws = _sign(trust, registry_key, jws_header(alg="EdDSA", kid=registry_kid, typ="trust-list+jwt", cty=None))
    status = {}
    for list_id, purpose in (("r1", "revocation"), ("s1", "suspension")):
        url = f"{BASE}/status/{list_id}"
        payload = build_status_list_credential(list_url=url, issuer=REGISTRY_DID, purpose=purpose,
                                               encoded_list=encode_list(bytes(LIST_SIZE // 8)),
                                               valid_from=now - DAY, valid_until=now + DAY)
        status[url] = _sign(payload, registry_key, jws_header(alg="EdDSA", kid=registry_kid))
    subject = {
        "certificateNumber": "CQC-2026-000123",
        "product": {"name": "P.O 42.5 cement", "nameZh": "普通硅酸盐水泥 P.O 42.5", "category": "cement",
                    "gtin": "06901234567892", "model": "PO42.5",
                    "manufacturer": {"name": "Example Cement Co.", "id": "urn:uscc:91310000XXXXXXXXXX"}},
        "footprint": {"declaredUnitOfMeasurement": "kilogram", "declaredUnitAmount": "1",
                      "pcfExcludingBiogenicUptake": "0.82", "pcfIncludingBiogenicUptake": "0.82",
                      "referencePeriodStart": "2025-01-01T00:00:00Z", "referencePeriodEnd": "2025-12-31T23:59:59Z",
                      "boundary": "cradle-to-gate", "ipccCharacterizationFactors": ["AR6"],
                      "crossSectoralStandards": ["ISO14067"],
                      "stages": {"rawMaterialAcquisition": "0.10", "rawMaterialTransport": "0.02",
                                 "manufacturing": "0.70"},
                      "gases": {"CO2": "0.80", "CH4": "0.01", "N2O": "0.01"}},
        "benchmark": {"value": "1.00", "standard": "GB 16780-2021", "source": "CNCA"},
        "grade": {"scheme": "cn-carbon-label", "schemeVersion": "1", "value": "B"},
    }
    tokens = {}
    for alg, key in keys.items():
        payload = build_credential(
            certificate_id=str(uuid.uuid4()), kind="carbon-footprint", issuer=BODY_DID,
            valid_from=now - DAY, valid_until=now + 700 * DAY, subject=subject, public_url=BASE,
            status_entries=[status_entry(list_url=f"{BASE}/status/r1", index=94567, purpose="revocation"),
                            status_entry(list_url=f"{BASE}/status/s1", index=23452, purpose="suspension")])
        tokens[alg] = _sign(payload, key, jws_header(alg=alg, kid=kids[alg]))
    return jwks, trust_jws, status, tokens, {a: k.public_key() for a, k in keys.items()}, now


def _calibrate(fn, seconds: float) -> int:
    """Calls per timed run: about *seconds* long."""
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed > seconds / 8 or n > 1 << 20:
            return max(1, int(n * seconds / elapsed))
        n *= 2


def ops_per_second(fns: dict, seconds: float, repeats: int) -> dict:
    """Median ops/s of each function; runs are interleaved so that background load on a shared
    machine affects every function alike (the ratios are what matter)."""
    counts = {name: _calibrate(fn, seconds) for name, fn in fns.items()}
    rates: dict = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            n = counts[name]
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            rates[name].append(n / (time.perf_counter() - t0))
    return {name: statistics.median(r) for name, r in rates.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.4, help="length of one timed run")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure (median)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    jwks, trust_jws, status, tokens, public, now = build_world()
    rows = []
    for alg in ("EdDSA", "ES256"):
        token, key = tokens[alg], public[alg]
        cold = StaticResolver.from_jws(registry_jwks=jwks, trust_list_jws=trust_jws, status_list_jws=status,
                                       signature_cache_size=0)
        warm = StaticResolver.from_jws(registry_jwks=jwks, trust_list_jws=trust_jws, status_list_jws=status)
        for resolver in (cold, warm):
            result = verify_credential(token, resolver)
            assert result.verified, result.to_dict()
        jwt.decode(token, key, algorithms=[alg])
        r = ops_per_second({
            "base": lambda: jwt.decode(token, key, algorithms=[alg]),
            "full": lambda: verify_credential(token, cold),
            "cached": lambda: verify_credential(token, warm),
        }, args.seconds, args.repeats)
        base, full, cached = r["base"], r["full"], r["cached"]
        rows.append((alg, len(token), "jwt.decode (bare, alg pinned)", base, 1.0))
        rows.append((alg, len(token), "verify_credential, no signature cache", full, full / base))
        rows.append((alg, len(token), "verify_credential, signature cache hit", cached, cached / base))
    print(f"Python {platform.python_version()}, pyjwt {jwt.__version__}, {platform.machine()}; "
          f"{args.repeats} interleaved runs of ~{args.seconds}s, medians")
    print(f"{'alg':<6} {'token':>6}  {'operation':<40} {'ops/s':>9} {'µs/op':>8} {'× jwt.decode':>12}")
    for alg, size, name, rate, ratio in rows:
        print(f"{alg:<6} {size:>6}  {name:<40} {rate:>9,.0f} {1e6 / rate:>8.1f} {ratio:>12.2f}")
    print(f"total {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
