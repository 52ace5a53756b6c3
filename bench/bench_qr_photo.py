"""The smallest offline QR module that scans from a phone photo: decodes of degraded photos.

    python bench/bench_qr_photo.py            # table: decodes per module size and condition

Offline codes of every kind (signed sample credentials: versions 17 to 19) and a version-22
code (the limit) are photographed as ``registry.labels.photo`` simulates (1080p frame, 7.5 px per
mm of label) under each condition — clean, defocus blur, JPEG, rotation, perspective, low
contrast, all at once — at module sizes from 0.25 to 0.50 mm, and decoded with zxing-cpp. The
minimum module is the smallest size at which every code decodes under every condition, and
so do all larger sizes measured; ``min_offline_module_mm`` in designs.json is set from it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_labels import make_items  # noqa: E402

from registry.labels import _qr  # noqa: E402
from registry.labels._render import qr_segments, render_svg  # noqa: E402
from registry.labels.photo import CAMERAS, CONDITIONS, decodes, photo  # noqa: E402

SIZES = [0.25, 0.275, 0.30, 0.325, 0.35, 0.375, 0.40, 0.45]


def codes():
    items, _ = make_items()
    seen, out = set(), []
    for data in items:
        r = render_svg(data, "zh-en", "offline", None)
        if r.qr.version not in seen:
            seen.add(r.qr.version)
            out.append((f"v{r.qr.version} {data.kind}", r.qr))
    # The limit: pad the numeric segment up to version 22.
    (prefix, digits) = (seg[1] for seg in qr_segments(items[0], "offline"))
    pad = digits
    while (_qr.min_version((("byte", prefix), ("numeric", pad)), "M") or 41) < 22:
        pad += "7" * 10
    out.append(("v22 (limit)", _qr.encode((("byte", prefix), ("numeric", pad)), ec="M", max_version=22)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.parse_args(argv)
    t0 = time.perf_counter()
    all_codes = codes()
    print(f"cameras: {', '.join(f'{c:g}' for c in CAMERAS)} px per mm of label; "
          f"codes: {', '.join(n for n, _ in all_codes)}; cells: decodes of codes × cameras")
    header = f"{'module mm':>9} " + " ".join(f"{c.name[:17]:>17}" for c in CONDITIONS)
    print(header)
    ok_sizes = []
    for size in SIZES:
        cells, all_ok = [], True
        for cond in CONDITIONS:
            good = sum(decodes(photo(m, size, cond, camera_px_per_mm=cam), m.text)
                       for _, m in all_codes for cam in CAMERAS)
            all_ok &= good == len(all_codes) * len(CAMERAS)
            cells.append(f"{good}/{len(all_codes) * len(CAMERAS)}")
        ok_sizes.append((size, all_ok))
        print(f"{size:>9.3f} " + " ".join(f"{c:>17}" for c in cells), flush=True)
    minimum = None
    for i, (size, _) in enumerate(ok_sizes):
        if all(ok for _, ok in ok_sizes[i:]):
            minimum = size
            break
    print(f"smallest module at which every code decodes under every condition (and above): {minimum} mm")
    print(f"({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
