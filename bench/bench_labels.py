"""Label rendering throughput, and the QR encodings compared.

    python bench/bench_labels.py            # throughput table (~40 s on 2 cores)
    python bench/bench_labels.py --qr-modes # QR version per kind for byte/alphanumeric/numeric
    python bench/bench_labels.py --json bench/results/labels.json
    python bench/bench_labels.py --print-speed  # issue 13: cold PNG/PDF against the whole-SVG
                                                # baseline, and a 1,000-label sheet

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


def measure(fn, seconds: float, min_n: int = 3, max_n: int = 5000, cpu: bool = False) -> tuple[float, int]:
    """Calls per second of wall time (or, with ``cpu``, of this process's CPU time: on a shared
    machine that is what the code costs, whatever else runs)."""
    n = 0
    start = time.perf_counter()
    cpu0 = time.process_time()
    while n < min_n or (time.perf_counter() - start < seconds and n < max_n):
        fn(n)
        n += 1
    if cpu:
        return n / max(time.process_time() - cpu0, 1e-9), n
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


def distinct_items(n: int):
    """``n`` labels with distinct certificate numbers and ids (every kind and grade in turn)."""
    key = Ed25519PrivateKey.generate()
    combos = [(k, g) for k in KINDS for g in GRADES[k]]
    out = []
    for i in range(n):
        kind, grade = combos[i % len(combos)]
        payload = sample_credential(kind, grade, serial=10_000 + i)
        token = jwt.encode(payload, key, algorithm="EdDSA", headers=sample_header(body_did=payload["issuer"]))
        out.append(label_data_from_credential(payload, compact_jws=token,
                                              verify_url=payload["credentialSubject"]["id"], **ISSUER))
    return out


def print_speed(seconds: float, sheet_n: int) -> dict:
    """Cold PNG (300 dpi) and PDF rates, each against the whole-SVG path (resvg on the full SVG,
    fpdf2 parsing it) in the same process on the same labels; then one ``sheet_n``-label sheet."""
    import resource

    from registry.labels import render_sheet
    from registry.labels._render import render_svg, svg_to_pdf, svg_to_png

    items = distinct_items(400)
    result: dict = {}
    for mode in ("link", "offline"):
        for fmt in ("png", "pdf"):
            render_label(items[0], fmt=fmt, mode=mode)  # design layers, templates, font: once per process

            def new(i, fmt=fmt, mode=mode):
                clear_caches(glyphs=False)
                render_label(items[i % len(items)], fmt=fmt, mode=mode)

            def old(i, fmt=fmt, mode=mode):
                clear_caches(glyphs=False)
                r = render_svg(items[i % len(items)], "zh-en", mode, None)
                if fmt == "png":
                    svg_to_png(r.svg, 300, r.width_mm, r.height_mm)
                else:
                    svg_to_pdf(r.svg, r.width_mm, r.height_mm, "baseline")

            base_rate, base_n = measure(old, seconds, min_n=3, max_n=40, cpu=True)
            rate, n = measure(new, seconds, min_n=10, cpu=True)
            wall, _ = measure(new, seconds / 2, min_n=5)
            result[f"{fmt}_{mode}"] = {"per_cpu_s": round(rate, 1), "n": n, "per_wall_s": round(wall, 1),
                                       "baseline_per_cpu_s": round(base_rate, 2), "baseline_n": base_n,
                                       "ratio": round(rate / base_rate, 1)}
    many = distinct_items(sheet_n)
    clear_caches(glyphs=False)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu0, t0 = time.process_time(), time.perf_counter()
    pdf = render_sheet(many, lang="zh-en", mode="link")
    result["sheet"] = {"labels": sheet_n, "seconds": round(time.perf_counter() - t0, 2),
                       "cpu_seconds": round(time.process_time() - cpu0, 2), "mb": round(len(pdf) / 1e6, 2),
                       "max_rss_mb": round(max(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024)}
    return result


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
    ap.add_argument("--print-speed", action="store_true",
                    help="cold PNG/PDF against the whole-SVG baseline, and a sheet (issue 13 targets)")
    ap.add_argument("--sheet", type=int, default=1000, help="labels on the sheet (--print-speed)")
    args = ap.parse_args(argv)
    items, tokens = make_items()
    result: dict = {"python": platform.python_version(), "machine": platform.machine()}
    if args.print_speed:
        result["print_speed"] = r = print_speed(args.seconds, args.sheet)
        print("labels per second of CPU time (and of wall time), cold, against the whole-SVG baseline")
        print(f"{'format':6} {'mode':8} {'cold/CPU s':>11} {'(wall)':>8} {'baseline':>9} {'ratio':>6}")
        for key, row in r.items():
            if key == "sheet":
                continue
            fmt, mode = key.split("_")
            print(f"{fmt:6} {mode:8} {row['per_cpu_s']:>11.1f} {row['per_wall_s']:>8.1f} "
                  f"{row['baseline_per_cpu_s']:>9.2f} {row['ratio']:>5.1f}×")
        sh = r["sheet"]
        print(f"sheet: {sh['labels']} labels in {sh['seconds']} s ({sh['cpu_seconds']} s CPU), "
              f"{sh['mb']} MB, max RSS {sh['max_rss_mb']} MB")
        targets = [("cold PDF ≥ 100/s", r["pdf_link"]["per_cpu_s"] >= 100),
                   ("cold PNG 300 dpi ≥ 30/s", r["png_link"]["per_cpu_s"] >= 30),
                   ("sheet < 15 s CPU and < 15 MB", sh["cpu_seconds"] < 15 and sh["mb"] < 15)]
        for name, ok in targets:
            print(f"target {name} (CPU time): {'met' if ok else 'NOT met'}")
    elif args.qr_modes:
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
