"""Label rendering throughput, and the QR encodings compared.

    python bench/bench_labels.py            # throughput table (~40 s on 2 cores)
    python bench/bench_labels.py --qr-modes # QR version per kind for byte/alphanumeric/numeric
    python bench/bench_labels.py --json bench/results/labels.json

Throughput is labels per second for SVG, PNG (300 dpi) and PDF, in link and offline mode:

- cold: every per-label cache emptied before each render (rendered outputs, SVGs, QR
  matrices, laid-out text runs); the font stays open and glyph outlines stay cached, as in a
  long-running server (they depend on the font only). "cold, glyphs too" also forgets the
  glyph outlines before each render.
- cached: the same labels rendered again (an LRU hit).

Credentials are signed with a fresh Ed25519 key, 15 of them (every kind × grade), rotated.
Each figure runs for a bounded time (--seconds), so the whole run stays under a minute.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jwt  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from registry.labels import (  # noqa: E402
    clear_caches,
    label_data_from_credential,
    render_label,
)
from registry.labels import _qr  # noqa: E402
from registry.labels.samples import GRADES, KINDS, sample_credential, sample_header  # noqa: E402
from verifier.offline import pack  # noqa: E402

ISSUER = {"issuer_name": "Huaxia Carbon Certification Centre", "issuer_name_zh": "华夏碳认证中心"}


def make_items():
    key = Ed25519PrivateKey.generate()
    items, tokens = [], {}
    for i, (kind, grade) in enumerate([(k, g) for k in KINDS for g in GRADES[k]]):
        payload = sample_credential(kind, grade, serial=500 + i)
        token = jwt.encode(payload, key, algorithm="EdDSA", headers=sample_header(body_did=payload["issuer"]))
        items.append(label_data_from_credential(payload, compact_jws=token,
                                                verify_url=payload["credentialSubject"]["id"], **ISSUER))
        tokens.setdefault(kind, (payload, token))
    return items, tokens


def measure(fn, seconds: float, min_n: int = 3, max_n: int = 5000) -> tuple[float, int]:
    n = 0
    start = time.perf_counter()
    while n < min_n or (time.perf_counter() - start < seconds and n < max_n):
        fn(n)
        n += 1
    return n / (time.perf_counter() - start), n


def throughput(items, seconds: float) -> list[dict]:
    rows = []
    # Warm the process once (font open, templates compiled, QR layouts of the versions used).
    for mode in ("link", "offline"):
        for fmt in ("svg", "png", "pdf"):
            render_label(items[0], fmt=fmt, mode=mode)
    for mode in ("link", "offline"):
        for fmt in ("svg", "png", "pdf"):
            def cold(i, fmt=fmt, mode=mode):
                clear_caches(glyphs=False)
                render_label(items[i % len(items)], fmt=fmt, mode=mode)

            def cached(i, fmt=fmt, mode=mode):
                render_label(items[i % 5], fmt=fmt, mode=mode)

            budget = seconds if fmt == "svg" else seconds * 1.5
            cold_rate, cold_n = measure(cold, budget)
            for it in items[:5]:  # fill the cache (the cold run emptied it), then hit it
                render_label(it, fmt=fmt, mode=mode)
            cached_rate, cached_n = measure(cached, min(1.0, seconds))
            rows.append({"format": fmt, "mode": mode, "cold_per_s": round(cold_rate, 1), "cold_n": cold_n,
                         "cached_per_s": round(cached_rate, 1), "cached_n": cached_n})

    def colder(i):
        clear_caches(glyphs=True)
        render_label(items[i % len(items)], fmt="svg", mode="link")

    rate, n = measure(colder, seconds)
    rows.append({"format": "svg", "mode": "link (cold, glyphs too)", "cold_per_s": round(rate, 1), "cold_n": n,
                 "cached_per_s": None, "cached_n": None})
    return rows


def qr_speed(tokens, seconds: float) -> dict:
    """Encoding the offline QR of a footprint credential: this module vs qrcode's own make()."""
    import qrcode
    from qrcode import constants, util

    payload, token = tokens["carbon-footprint"]
    url = payload["credentialSubject"]["id"]
    segments = (("byte", url + "#"), ("numeric", pack(token)))

    def ours(i):
        _qr.encode.cache_clear()
        _qr.encode(segments, max_version=22)

    def theirs(i):
        qr = qrcode.QRCode(error_correction=constants.ERROR_CORRECT_M)
        qr.add_data(util.QRData(segments[0][1].encode(), mode=util.MODE_8BIT_BYTE))
        qr.add_data(util.QRData(segments[1][1], mode=util.MODE_NUMBER))
        qr.make()

    a, _ = measure(ours, seconds)
    b, _ = measure(theirs, seconds, min_n=2)
    return {"version": _qr.encode(segments).version, "ours_per_s": round(a, 1), "qrcode_per_s": round(b, 1)}


_B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def base45(raw: bytes) -> str:
    out = []
    for i in range(0, len(raw) - 1, 2):
        n = raw[i] * 256 + raw[i + 1]
        c, n = divmod(n, 45 * 45)
        b, a = divmod(n, 45)
        out += [_B45[a], _B45[b], _B45[c]]
    if len(raw) % 2:
        b, a = divmod(raw[-1], 45)
        out += [_B45[a], _B45[b]]
    return "".join(out)


def qr_modes(tokens) -> list[dict]:
    """The same credential as a QR code four ways, at error correction M."""
    import base64

    rows = []
    for kind, (payload, token) in tokens.items():
        url = payload["credentialSubject"]["id"]
        digits = pack(token)
        n = int(digits[1:])
        packed = n.to_bytes((n.bit_length() + 7) // 8, "big")[1:]
        b64 = base64.urlsafe_b64encode(packed).rstrip(b"=").decode()
        variants = {
            "byte: URL#compact JWS (no compression)": (("byte", f"{url}#{token}"),),
            "byte: URL#base64url(packed)": (("byte", f"{url}#{b64}"),),
            "alphanumeric: URL# + base45(packed)": (("byte", url + "#"), ("alphanumeric", base45(packed))),
            "numeric: URL# + digits (format 1)": (("byte", url + "#"), ("numeric", digits)),
            "link: URL only": (("byte", url),),
        }
        for name, segments in variants.items():
            version = _qr.min_version(segments, "M")
            rows.append({"kind": kind, "encoding": name, "chars": sum(len(t) for _, t in segments),
                         "bits": _qr.segment_bits(segments, version or 40),
                         "version": version if version else "> 40"})
        rows.append({"kind": kind, "encoding": "(sizes)", "jws_chars": len(token),
                     "packed_bytes": len(packed), "digits": len(digits)})
    return rows


def main(argv=None) -> int:
    t0 = time.perf_counter()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=2.0, help="time per cold measurement (default 2)")
    ap.add_argument("--qr-modes", action="store_true", help="only print the QR encoding comparison")
    ap.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = ap.parse_args(argv)
    items, tokens = make_items()
    result: dict = {"python": platform.python_version(), "machine": platform.machine()}
    if args.qr_modes:
        result["qr_modes"] = rows = qr_modes(tokens)
        print(f"{'kind':18} {'encoding':42} {'chars':>6} {'bits':>6} {'version':>7}")
        for r in rows:
            if r["encoding"] == "(sizes)":
                print(f"{r['kind']:18} {'(JWS chars / packed bytes / digits)':42} "
                      f"{r['jws_chars']} / {r['packed_bytes']} / {r['digits']}")
            else:
                print(f"{r['kind']:18} {r['encoding']:42} {r['chars']:>6} {r['bits']:>6} {r['version']:>7}")
    else:
        result["throughput"] = rows = throughput(items, args.seconds)
        print(f"{'format':6} {'mode':26} {'cold/s':>8} {'cached/s':>9}")
        for r in rows:
            cached = "" if r["cached_per_s"] is None else f"{r['cached_per_s']:>9.1f}"
            print(f"{r['format']:6} {r['mode']:26} {r['cold_per_s']:>8.1f} {cached}")
        result["qr_encode"] = q = qr_speed(tokens, 1.0)
        print(f"offline QR (footprint, version {q['version']}): this module {q['ours_per_s']}/s, "
              f"qrcode make() {q['qrcode_per_s']}/s")
        svg_link = next(r for r in rows if r["format"] == "svg" and r["mode"] == "link")
        print(f"target ≥ 100 cold SVG labels/s in link mode: "
              f"{'met' if svg_link['cold_per_s'] >= 100 else 'NOT met'} ({svg_link['cold_per_s']}/s)")
    print(f"({time.perf_counter() - t0:.1f} s)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
